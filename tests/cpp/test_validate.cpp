#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "check.h"
#include "core/validate.h"

int main() {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  // Offenders planted on both sides of the 1024-row block boundary, found in row order.
  for (int64_t planted : {int64_t(0), int64_t(1023), int64_t(1024), int64_t(2999)}) {
    std::vector<double> boxes(4 * 3000);
    for (int64_t i = 0; i < 3000; ++i) {
      boxes[4 * i] = double(i);
      boxes[4 * i + 1] = -double(i);
      boxes[4 * i + 2] = double(i) + 1;
      boxes[4 * i + 3] = -double(i) + 2;
    }
    CHECK(detkit::first_invalid_box(boxes.data(), 3000, true) == -1);
    boxes[4 * planted + 2] = boxes[4 * planted] - 0.5;  // x2 < x1
    CHECK(detkit::first_invalid_box(boxes.data(), 3000, true) == planted);
    boxes[4 * planted + 2] = boxes[4 * planted] + 1;
    boxes[4 * planted + 3] = inf;
    CHECK(detkit::first_invalid_box(boxes.data(), 3000, true) == planted);
    CHECK(detkit::first_non_finite(boxes.data(), 4 * 3000) == 4 * planted + 3);
  }
  // Widths and heights: negative is invalid, -0.0 is not; NaN anywhere is invalid.
  const std::vector<float> wh = {5, 5, 0, -0.0f, 5, 5, 1, -1, 0, 0, float(nan), 1};
  CHECK(detkit::first_invalid_box(wh.data(), 1, false) == -1);
  CHECK(detkit::first_invalid_box(wh.data(), 3, false) == 1);
  CHECK(detkit::first_invalid_box(wh.data() + 8, 1, false) == 0);
  CHECK(detkit::first_non_finite<float>(nullptr, 0) == -1);
  CHECK(detkit::first_invalid_box<float>(nullptr, 0, true) == -1);
  TEST_MAIN_END();
}
