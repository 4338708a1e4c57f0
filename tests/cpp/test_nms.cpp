#include <cstdint>
#include <random>
#include <vector>

#include "check.h"
#include "core/nms.h"
#include "core/parallel.h"
#include "core/sort.h"

namespace {

// Quadratic greedy NMS, the definition the fast kernel must reproduce.
std::vector<int64_t> naive_nms(const std::vector<double>& boxes, const std::vector<double>& scores,
                               double thr) {
  const int64_t n = static_cast<int64_t>(scores.size());
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return scores[a] > scores[b]; });
  std::vector<int64_t> keep;
  for (int64_t c : order) {
    bool ok = true;
    for (int64_t k : keep) {
      const double* a = &boxes[4 * k];
      const double* b = &boxes[4 * c];
      const double w = std::max(0.0, std::min(a[2], b[2]) - std::max(a[0], b[0]));
      const double h = std::max(0.0, std::min(a[3], b[3]) - std::max(a[1], b[1]));
      const double inter = w * h;
      const double uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
      if (uni > 0 && inter / uni > thr) ok = false;
    }
    if (ok) keep.push_back(c);
  }
  return keep;
}

}  // namespace

int main() {
  // Radix sort: descending doubles with ties in index order, -0.0 tied with +0.0.
  {
    const std::vector<double> s = {0.5, -0.0, 2.0, 0.0, 0.5, -3.0};
    std::vector<uint64_t> keys;
    std::vector<int64_t> items;
    for (size_t i = 0; i < s.size(); ++i) {
      keys.push_back(detkit::descending_key(s[i]));
      items.push_back(static_cast<int64_t>(i));
    }
    detkit::stable_radix_sort(keys, items);
    CHECK((items == std::vector<int64_t>{2, 0, 4, 1, 3, 5}));
  }
  // Random clustered boxes: the grid NMS equals the quadratic definition, at several thresholds.
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int trial = 0; trial < 40; ++trial) {
    const int n = 1 + trial * 13;
    std::vector<double> boxes(4 * n), scores(n);
    for (int i = 0; i < n; ++i) {
      const double cx = std::floor(u(rng) * 5) * 40 + u(rng) * 8, cy = u(rng) * 100;
      const double w = 1 + u(rng) * (trial % 7 == 0 ? 400 : 30), h = 1 + u(rng) * 30;
      boxes[4 * i] = cx;
      boxes[4 * i + 1] = cy;
      boxes[4 * i + 2] = cx + w;
      boxes[4 * i + 3] = cy + h;
      scores[i] = std::floor(u(rng) * 10) / 10;  // many ties
    }
    for (double thr : {0.0, 0.3, 0.5, 0.9, 1.0}) {
      detkit::NmsOptions opt;
      opt.iou_threshold = thr;
      CHECK(detkit::nms(boxes.data(), scores.data(), n, opt) == naive_nms(boxes, scores, thr));
    }
    // Batched NMS with one class equals NMS; multi-threaded equals single-threaded.
    std::vector<int64_t> classes(n, 3), many(n);
    for (int i = 0; i < n; ++i) many[i] = i % 4 - 2;
    detkit::NmsOptions opt;
    CHECK(detkit::batched_nms(boxes.data(), scores.data(), classes.data(), n, opt) ==
          detkit::nms(boxes.data(), scores.data(), n, opt));
    detkit::set_num_threads(1);
    const auto single = detkit::batched_nms(boxes.data(), scores.data(), many.data(), n, opt);
    detkit::set_num_threads(2);
    CHECK(detkit::batched_nms(boxes.data(), scores.data(), many.data(), n, opt) == single);
  }
  // Soft-NMS: linear decay of an overlapping pair; scores returned are non-increasing.
  {
    const std::vector<float> boxes = {0, 0, 10, 10, 0, 0, 10, 9, 50, 50, 60, 60};
    const std::vector<double> scores = {0.9, 0.8, 0.1};
    detkit::SoftNmsOptions opt;
    opt.method = detkit::SoftNmsMethod::kLinear;
    std::vector<int64_t> keep;
    std::vector<double> kept;
    detkit::soft_nms(boxes.data(), scores.data(), nullptr, 3, opt, keep, kept);
    CHECK((keep == std::vector<int64_t>{0, 2, 1}));
    CHECK_NEAR(kept[2], 0.8 * 0.1, 1e-7);
    const std::vector<int64_t> classes = {0, 1, 0};
    detkit::soft_nms(boxes.data(), scores.data(), classes.data(), 3, opt, keep, kept);
    CHECK((keep == std::vector<int64_t>{0, 1, 2}));
    detkit::soft_nms<float>(nullptr, nullptr, nullptr, 0, opt, keep, kept);
    CHECK(keep.empty());
  }
  TEST_MAIN_END();
}
