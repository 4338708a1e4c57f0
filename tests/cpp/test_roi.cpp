#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "check.h"
#include "core/parallel.h"
#include "core/roi_align.h"
#include "core/roi_pool.h"

namespace {

using detkit::RoiShape;

// Direct RoIAlign: every sample with its four bilinear taps, as the definition in roi_align.h.
double naive_align_bin(const std::vector<double>& x, const RoiShape& s, const double* r, int64_t c,
                       int64_t ph, int64_t pw, double scale, int64_t ratio, bool aligned) {
  const double shift = aligned ? 0.5 : 0.0;
  const double sx = r[1] * scale - shift, sy = r[2] * scale - shift;
  double rw = r[3] * scale - shift - sx, rh = r[4] * scale - shift - sy;
  if (!aligned) {
    rw = std::max(rw, 1.0);
    rh = std::max(rh, 1.0);
  }
  const double bh = rh / double(s.pooled_height), bw = rw / double(s.pooled_width);
  const int64_t gh = ratio > 0 ? ratio : int64_t(std::ceil(rh / double(s.pooled_height)));
  const int64_t gw = ratio > 0 ? ratio : int64_t(std::ceil(rw / double(s.pooled_width)));
  if (gh <= 0 || gw <= 0) return 0.0;
  const double* plane = x.data() + (int64_t(r[0]) * s.channels + c) * s.plane();
  double sum = 0;
  for (int64_t iy = 0; iy < gh; ++iy) {
    double y = sy + ph * bh + (iy + 0.5) * bh / double(gh);
    for (int64_t ix = 0; ix < gw; ++ix) {
      double xx = sx + pw * bw + (ix + 0.5) * bw / double(gw);
      if (y < -1 || y > double(s.height) || xx < -1 || xx > double(s.width)) continue;
      double yc = std::max(y, 0.0), xc = std::max(xx, 0.0);
      int64_t y0 = int64_t(yc), x0 = int64_t(xc), y1 = y0 + 1, x1 = x0 + 1;
      if (y0 >= s.height - 1) y0 = y1 = s.height - 1, yc = double(y0);
      if (x0 >= s.width - 1) x0 = x1 = s.width - 1, xc = double(x0);
      const double ly = yc - y0, lx = xc - x0;
      sum += (1 - ly) * (1 - lx) * plane[y0 * s.width + x0] + (1 - ly) * lx * plane[y0 * s.width + x1] +
             ly * (1 - lx) * plane[y1 * s.width + x0] + ly * lx * plane[y1 * s.width + x1];
    }
  }
  return sum / double(gh * gw);
}

struct Problem {
  RoiShape shape;
  std::vector<double> x, rois;
  int64_t k = 0;
};

Problem random_problem(std::mt19937_64& rng, int trial) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Problem p;
  p.shape.batch = 1 + trial % 2;
  p.shape.channels = 1 + trial % 3;
  p.shape.height = 1 + int64_t(u(rng) * 12);
  p.shape.width = 1 + int64_t(u(rng) * 12);
  p.shape.pooled_height = 1 + trial % 4;
  p.shape.pooled_width = 1 + (trial / 4) % 3;
  p.x.resize(size_t(p.shape.batch * p.shape.channels * p.shape.plane()));
  for (double& v : p.x) v = u(rng) * 10 - 5;
  p.k = 1 + int64_t(u(rng) * 12);
  for (int64_t i = 0; i < p.k; ++i) {
    const double x1 = u(rng) * 40 - 10, y1 = u(rng) * 40 - 10;
    const double w = i % 5 == 0 ? 0.0 : u(rng) * 40, h = i % 7 == 0 ? -3.0 : u(rng) * 40;
    p.rois.insert(p.rois.end(), {double(i % p.shape.batch), x1, y1, x1 + w, y1 + h});
  }
  return p;
}

}  // namespace

int main() {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 60; ++trial) {
    const Problem p = random_problem(rng, trial);
    const RoiShape& s = p.shape;
    const int64_t out_size = p.k * s.channels * s.bins();
    for (int64_t ratio : {-1, 0, 1, 2, 3}) {
      for (bool aligned : {false, true}) {
        detkit::RoiAlignOptions opt;
        opt.spatial_scale = 0.5;
        opt.sampling_ratio = ratio;
        opt.aligned = aligned;
        std::vector<double> out(static_cast<size_t>(out_size), -1.0);
        detkit::roi_align_forward(p.x.data(), p.rois.data(), p.k, s, opt, out.data());
        for (int64_t k = 0; k < p.k; ++k)
          for (int64_t c = 0; c < s.channels; ++c)
            for (int64_t ph = 0; ph < s.pooled_height; ++ph)
              for (int64_t pw = 0; pw < s.pooled_width; ++pw)
                CHECK_NEAR(out[size_t(((k * s.channels + c) * s.pooled_height + ph) * s.pooled_width + pw)],
                           naive_align_bin(p.x, s, &p.rois[size_t(5 * k)], c, ph, pw, 0.5, ratio, aligned), 1e-9);
        // The backward pass is the adjoint: <g, A x> == <A^T g, x>.
        std::vector<double> g(static_cast<size_t>(out_size)), gx(p.x.size(), -1.0);
        for (double& v : g) v = std::uniform_real_distribution<double>(-1, 1)(rng);
        detkit::roi_align_backward(g.data(), p.rois.data(), p.k, s, opt, gx.data());
        double lhs = 0, rhs = 0;
        for (size_t i = 0; i < g.size(); ++i) lhs += g[i] * out[i];
        for (size_t i = 0; i < gx.size(); ++i) rhs += gx[i] * p.x[i];
        CHECK_NEAR(lhs, rhs, 1e-9 * (1 + std::fabs(lhs)));
      }
    }
    // RoIPool: output and argmax agree with each other, and the backward routes to argmax.
    std::vector<double> out(static_cast<size_t>(out_size)), out_only(static_cast<size_t>(out_size));
    std::vector<int64_t> arg(static_cast<size_t>(out_size));
    detkit::roi_pool_forward(p.x.data(), p.rois.data(), p.k, s, 0.5, out.data(), arg.data());
    detkit::roi_pool_forward(p.x.data(), p.rois.data(), p.k, s, 0.5, out_only.data(), nullptr);
    CHECK(out == out_only);
    for (int64_t i = 0; i < out_size; ++i) {
      const int64_t k = i / (s.channels * s.bins()), c = (i / s.bins()) % s.channels;
      if (arg[size_t(i)] >= 0) {
        CHECK(arg[size_t(i)] < s.plane());
        CHECK(out[size_t(i)] == p.x[size_t((int64_t(p.rois[size_t(5 * k)]) * s.channels + c) * s.plane() + arg[size_t(i)])]);
      } else {
        CHECK(out[size_t(i)] == 0.0);
      }
    }
    std::vector<double> ones(static_cast<size_t>(out_size), 1.0), gx(p.x.size());
    detkit::roi_pool_backward(ones.data(), arg.data(), p.rois.data(), p.k, s, gx.data());
    double total = 0;
    for (double v : gx) total += v;
    CHECK_NEAR(total, double(std::count_if(arg.begin(), arg.end(), [](int64_t a) { return a >= 0; })), 1e-12);
  }

  // RoIPool semantics on a hand-made plane: first maximum in row-major order, ties included.
  {
    RoiShape s;
    s.batch = s.channels = 1;
    s.height = 3;
    s.width = 4;
    s.pooled_height = s.pooled_width = 1;
    const std::vector<float> x = {0, 5, 1, 5,   //
                                  5, 2, 5, 0,   //
                                  1, 1, 1, 1};
    const std::vector<float> roi = {0, 0, 0, 3, 2};
    float out = 0;
    int64_t arg = 0;
    detkit::roi_pool_forward(x.data(), roi.data(), 1, s, 1.0, &out, &arg);
    CHECK(out == 5.0f && arg == 1);
    const std::vector<float> low(12, -FLT_MAX);  // nothing exceeds -FLT_MAX: value -FLT_MAX, argmax -1
    detkit::roi_pool_forward(low.data(), roi.data(), 1, s, 1.0, &out, &arg);
    CHECK(out == -FLT_MAX && arg == -1);
  }

  // Thread count never changes results.
  {
    RoiShape s;
    s.batch = 2;
    s.channels = 9;
    s.height = 40;
    s.width = 50;
    s.pooled_height = s.pooled_width = 7;
    std::vector<float> x(size_t(s.batch * s.channels * s.plane())), rois;
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (float& v : x) v = u(rng);
    for (int i = 0; i < 300; ++i) {
      const float x1 = u(rng) * 180, y1 = u(rng) * 140;
      rois.insert(rois.end(), {float(i % 2), x1, y1, x1 + u(rng) * 60, y1 + u(rng) * 60});
    }
    detkit::RoiAlignOptions opt;
    opt.spatial_scale = 0.25;
    std::vector<std::vector<float>> results;
    for (int threads : {1, 2, 4}) {
      detkit::set_num_threads(threads);
      std::vector<float> a(static_cast<size_t>(300 * s.channels * s.bins())), p(a.size()), g(x.size());
      std::vector<int64_t> arg(a.size());
      detkit::roi_align_forward(x.data(), rois.data(), 300, s, opt, a.data());
      detkit::roi_pool_forward(x.data(), rois.data(), 300, s, 0.25, p.data(), arg.data());
      detkit::roi_align_backward(a.data(), rois.data(), 300, s, opt, g.data());
      a.insert(a.end(), p.begin(), p.end());
      a.insert(a.end(), g.begin(), g.end());
      results.push_back(a);
    }
    CHECK(results[0] == results[1] && results[0] == results[2]);
  }

  // Preconditions are enforced: bad RoIs or shapes throw instead of reading out of bounds.
  {
    RoiShape s;
    s.batch = 1;
    s.channels = 1;
    s.height = s.width = 4;
    std::vector<double> x(16), out(4);
    std::vector<int64_t> arg(4);
    auto throws = [&](std::vector<double> roi, RoiShape shape) {
      try {
        detkit::roi_pool_forward(x.data(), roi.data(), 1, shape, 1.0, out.data(), arg.data());
      } catch (const std::invalid_argument&) {
        return true;
      }
      return false;
    };
    CHECK(throws({1, 0, 0, 1, 1}, s));            // batch index out of range
    CHECK(throws({0.5, 0, 0, 1, 1}, s));          // non-integer batch index
    CHECK(throws({0, 0, NAN, 1, 1}, s));          // NaN corner
    CHECK(throws({0, 0, 0, 3e9, 1}, s));          // beyond 2**30 after scaling
    RoiShape empty = s;
    empty.height = 0;
    CHECK(throws({0, 0, 0, 1, 1}, empty));        // empty map
    CHECK(!throws({0, -5, -5, 100, 100}, s));     // outside the map is fine
    std::vector<int64_t> bad_arg = {16};
    std::vector<double> g(1), gx(16);
    RoiShape one = s;
    one.pooled_height = one.pooled_width = 1;
    bool threw = false;
    try {
      detkit::roi_pool_backward(g.data(), bad_arg.data(), std::vector<double>{0, 0, 0, 1, 1}.data(), 1, one, gx.data());
    } catch (const std::invalid_argument&) {
      threw = true;
    }
    CHECK(threw);
  }
  TEST_MAIN_END();
}
