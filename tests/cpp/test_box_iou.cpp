#include <vector>

#include "check.h"
#include "core/box_iou.h"
#include "core/parallel.h"

using detkit::IouKind;

int main() {
  // Hand-computed cases: half overlap, disjoint, identical, two empty boxes (union 0 -> 0).
  const std::vector<double> a = {0, 0, 2, 2, 5, 5, 5, 5};
  const std::vector<double> b = {1, 0, 3, 2, 4, 4, 5, 5, 0, 0, 2, 2, 5, 5, 5, 5};
  std::vector<double> out(8);
  detkit::box_iou_pairwise(a.data(), 2, b.data(), 4, IouKind::kIou, 0.0, 0.0, out.data());
  CHECK_NEAR(out[0], 2.0 / 6.0, 1e-15);
  CHECK(out[1] == 0.0);
  CHECK(out[2] == 1.0);
  CHECK(out[7] == 0.0);  // empty vs empty

  // Legacy +1 convention: [0,0,1,1] vs [1,1,2,2] share one pixel out of 4 + 4 - 1.
  const std::vector<double> p = {0, 0, 1, 1}, q = {1, 1, 2, 2};
  double v = -1;
  detkit::box_iou_pairwise(p.data(), 1, q.data(), 1, IouKind::kIou, 1.0, 0.0, &v);
  CHECK_NEAR(v, 1.0 / 7.0, 1e-15);

  // GIoU of disjoint unit boxes two apart: iou 0, enclosing 3, union 2 -> -1/3.
  const std::vector<float> g1 = {0, 0, 1, 1}, g2 = {2, 0, 3, 1};
  float gv = 0;
  detkit::box_iou_aligned(g1.data(), g2.data(), 1, IouKind::kGeneralized, 0.f, 0.f, &gv);
  CHECK_NEAR(gv, -1.0 / 3.0, 1e-7);
  // GIoU of two identical empty boxes: enclosing area 0, defined as IoU = 0.
  const std::vector<float> e = {3, 3, 3, 3};
  detkit::box_iou_aligned(e.data(), e.data(), 1, IouKind::kGeneralized, 0.f, 0.f, &gv);
  CHECK(gv == 0.f);
  // DIoU: same size, centres 1 apart horizontally, enclosing 3x1 -> iou 0 - 1/(9+1).
  const std::vector<double> d1 = {0, 0, 1, 1}, d2 = {1, 0, 2, 1};
  detkit::box_iou_aligned(d1.data(), d2.data(), 1, IouKind::kDistance, 0.0, 0.0, &v);
  CHECK_NEAR(v, -1.0 / 5.0, 1e-15);
  // CIoU of identical boxes is 1; zero-height boxes stay finite (atan2 form).
  const std::vector<double> c1 = {0, 0, 2, 1}, c2 = {0, 0, 2, 0};
  detkit::box_iou_aligned(c1.data(), c1.data(), 1, IouKind::kComplete, 0.0, 1e-7, &v);
  CHECK_NEAR(v, 1.0, 1e-12);
  detkit::box_iou_aligned(c1.data(), c2.data(), 1, IouKind::kComplete, 0.0, 1e-7, &v);
  CHECK(std::isfinite(v));

  // Multi-threaded result equals single-threaded on a larger grid of boxes.
  const int n = 300;
  std::vector<float> boxes(4 * n);
  for (int i = 0; i < n; ++i) {
    const float x = float(i % 17) * 3.f, y = float(i % 13) * 2.f;
    boxes[4 * i] = x;
    boxes[4 * i + 1] = y;
    boxes[4 * i + 2] = x + 5.f + float(i % 5);
    boxes[4 * i + 3] = y + 4.f + float(i % 3);
  }
  std::vector<float> one(n * n), two(n * n);
  detkit::set_num_threads(1);
  detkit::box_iou_pairwise(boxes.data(), n, boxes.data(), n, IouKind::kComplete, 0.f, 1e-7f, one.data());
  detkit::set_num_threads(2);
  detkit::box_iou_pairwise(boxes.data(), n, boxes.data(), n, IouKind::kComplete, 0.f, 1e-7f, two.data());
  CHECK(one == two);
  // Empty inputs write nothing and do not crash.
  detkit::box_iou_pairwise<float>(nullptr, 0, boxes.data(), n, IouKind::kIou, 0.f, 0.f, nullptr);
  TEST_MAIN_END();
}
