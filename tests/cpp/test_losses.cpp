#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "check.h"
#include "core/fastmath.h"
#include "core/losses.h"
#include "core/parallel.h"

namespace {

// Largest error of f against g in float32 ulps (of g's value) over the sweep.
template <class F, class G>
double max_ulp_error(F f, G g, float lo, float hi, int steps) {
  double worst = 0;
  for (int i = 0; i <= steps; ++i) {
    const float x = lo + (hi - lo) * static_cast<float>(i) / static_cast<float>(steps);
    const double want = g(static_cast<double>(x));
    const double got = f(x);
    if (want == 0 || !std::isfinite(want)) continue;
    const double ulp = std::nextafter(static_cast<float>(std::fabs(want)), INFINITY) - static_cast<float>(std::fabs(want));
    worst = std::max(worst, std::fabs(got - want) / ulp);
  }
  return worst;
}

double focal_naive(double x, double t, double alpha, double gamma) {
  const double p = 1 / (1 + std::exp(-x));
  const double ce = -(t * std::log(p) + (1 - t) * std::log(1 - p));
  const double pt = p * t + (1 - p) * (1 - t);
  const double at = alpha >= 0 ? alpha * t + (1 - alpha) * (1 - t) : 1;
  return at * ce * std::pow(1 - pt, gamma);
}

}  // namespace

int main() {
  using namespace detkit;
  // Vectorisable float32 functions against libm in double.
  CHECK(max_ulp_error([](float v) { return fastmath::exp_nonpositive(v); }, [](double x) { return std::exp(x); }, -87.0f, 0.0f, 200000) < 3);
  CHECK(max_ulp_error([](float v) { return fastmath::exp_any(v); }, [](double x) { return std::exp(x); }, -87.0f, 88.5f, 200000) < 3);
  CHECK(max_ulp_error([](float v) { return fastmath::log1p_unit(v); }, [](double x) { return std::log1p(x); }, 0.0f, 1.0f, 200000) < 3);
  CHECK(max_ulp_error([](float v) { return fastmath::log_any(v); }, [](double x) { return std::log(x); }, 1e-6f, 1e6f, 200000) < 3);
  CHECK(max_ulp_error([](float y) { return fastmath::atan2_right(y, 1.7f); },
                      [](double y) { return std::atan2(y, static_cast<double>(1.7f)); }, -50.0f, 50.0f, 200000) < 4);
  CHECK(fastmath::exp_nonpositive(-100.0f) == 0.0f && fastmath::exp_any(100.0f) == INFINITY);
  CHECK(fastmath::exp_any(0.0f) == 1.0f && fastmath::log_any(1.0f) == 0.0f);
  CHECK(fastmath::log_any(0.0f) == -INFINITY && std::isnan(fastmath::log_any(-1.0f)));
  CHECK_NEAR(fastmath::log_any(1e-40f), std::log(static_cast<double>(1e-40f)), 1e-4);
  CHECK(fastmath::atan2_right(0.0f, 0.0f) == 0.0f);
  CHECK_NEAR(fastmath::atan2_right(-3.0f, 0.0f), -M_PI / 2, 1e-6);

  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0.0, 3.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const int64_t n = 100000;
  std::vector<double> x(n), t(n), out(n), grad(n);
  std::vector<float> xf(n), tf(n), outf(n);
  for (int64_t i = 0; i < n; ++i) {
    x[i] = normal(rng);
    t[i] = i % 3 == 0 ? unit(rng) : static_cast<double>(i % 2);
    xf[i] = static_cast<float>(x[i]);
    tf[i] = static_cast<float>(t[i]);
  }
  // Focal loss: values against the textbook formula, gradient against central differences.
  for (double gamma : {0.0, 1.0, 1.5, 2.0}) {
    const double total = sigmoid_focal_loss<double>(x.data(), t.data(), n, 0.25, gamma, out.data());
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      sum += out[i];
      if (std::fabs(x[i]) < 15) CHECK_NEAR(out[i], focal_naive(x[i], t[i], 0.25, gamma), 1e-10);
    }
    CHECK_NEAR(total, sum, 1e-8 * std::fabs(sum));
    sigmoid_focal_loss_backward<double>(x.data(), t.data(), n, 0.25, gamma, nullptr, 1.0, grad.data());
    for (int64_t i = 0; i < n; i += 97) {
      const double h = 1e-6;
      const double numeric = (focal_naive(x[i] + h, t[i], 0.25, gamma) - focal_naive(x[i] - h, t[i], 0.25, gamma)) / (2 * h);
      if (std::fabs(x[i]) < 15) CHECK_NEAR(grad[i], numeric, 1e-6);
    }
    const double total_f = sigmoid_focal_loss<float>(xf.data(), tf.data(), n, 0.25f, static_cast<float>(gamma), outf.data());
    CHECK_NEAR(total_f, total, 1e-5 * std::fabs(total) + 1e-3);
  }
  // Reduced sums do not depend on the thread count; null `out` gives the same sum.
  const int before = get_num_threads();
  set_num_threads(1);
  const double one = smooth_l1_loss<float>(xf.data(), tf.data(), n, 0.5f, nullptr);
  set_num_threads(3);
  const double three = smooth_l1_loss<float>(xf.data(), tf.data(), n, 0.5f, outf.data());
  set_num_threads(before);
  CHECK(one == three);
  // Smooth L1 with beta 0 is L1; its gradient is sign(d).
  smooth_l1_loss<double>(x.data(), t.data(), n, 0.0, out.data());
  smooth_l1_loss_backward<double>(x.data(), t.data(), n, 0.0, nullptr, 2.0, grad.data());
  for (int64_t i = 0; i < n; i += 101) {
    CHECK(out[i] == std::fabs(x[i] - t[i]));
    CHECK(grad[i] == 2.0 * ((x[i] > t[i]) - (x[i] < t[i])));
  }
  // Box losses: identical boxes cost 0; gradients match central differences.
  std::vector<double> a = {0, 0, 4, 2, 1, 1, 3, 6, 10, 10, 12, 13};
  std::vector<double> b = {0, 0, 4, 2, 2, 0, 5, 4, 0, 0, 1, 1};
  std::vector<double> loss(3), g(12);
  for (BoxLossKind kind : {BoxLossKind::kGeneralized, BoxLossKind::kDistance, BoxLossKind::kComplete}) {
    box_loss<double>(a.data(), b.data(), 3, kind, 1e-7, loss.data());
    CHECK_NEAR(loss[0], 0.0, 1e-6);
    box_loss_backward<double>(a.data(), b.data(), 3, kind, 1e-7, nullptr, 1.0, g.data());
    for (int i = 1; i < 3; ++i) {
      for (int c = 0; c < 4; ++c) {
        std::vector<double> plus(a.begin() + 4 * i, a.begin() + 4 * i + 4), minus = plus;
        plus[c] += 1e-6;
        minus[c] -= 1e-6;
        double lp, lm;
        box_loss<double>(plus.data(), b.data() + 4 * i, 1, kind, 1e-7, &lp);
        box_loss<double>(minus.data(), b.data() + 4 * i, 1, kind, 1e-7, &lm);
        // CIoU holds alpha constant in its gradient: compare loosely there.
        CHECK_NEAR(g[4 * i + c], (lp - lm) / 2e-6, kind == BoxLossKind::kComplete ? 0.05 : 1e-6);
      }
    }
  }
  CHECK(sigmoid_focal_loss<float>(nullptr, nullptr, 0, 0.25f, 2.0f, nullptr) == 0.0);
  TEST_MAIN_END();
}
