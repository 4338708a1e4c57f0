#include "core/box_iou.h"

#include <cmath>
#include <vector>

#include "core/parallel.h"

namespace detkit {

namespace {

// Written as comparisons (not std::min/max) in the same form as the SSE min/max instructions, so
// GCC vectorises the inner loops without -ffast-math.
template <class T>
inline T min_of(T a, T b) { return a < b ? a : b; }
template <class T>
inline T max_of(T a, T b) { return a > b ? a : b; }

constexpr double kFourOverPiSquared = 4.0 / (M_PI * M_PI);

// Column-major copy of the second operand so the inner loop reads unit-stride arrays.
template <class T>
struct BoxColumns {
  std::vector<T> x1, y1, x2, y2, area;
  BoxColumns(const T* boxes, int64_t m, T offset) : x1(m), y1(m), x2(m), y2(m), area(m) {
    for (int64_t j = 0; j < m; ++j) {
      x1[j] = boxes[4 * j];
      y1[j] = boxes[4 * j + 1];
      x2[j] = boxes[4 * j + 2];
      y2[j] = boxes[4 * j + 3];
      area[j] = (x2[j] - x1[j] + offset) * (y2[j] - y1[j] + offset);
    }
  }
};

// The measure between one box `a` and one box `b`; the scalar form shared by the aligned kernel
// and the non-IoU pairwise kernels.
template <class T>
inline T measure(const T* a, T b1, T b2, T b3, T b4, IouKind kind, T offset, T eps) {
  const T area_a = (a[2] - a[0] + offset) * (a[3] - a[1] + offset);
  const T area_b = (b3 - b1 + offset) * (b4 - b2 + offset);
  T w = min_of(a[2], b3) - max_of(a[0], b1) + offset;
  T h = min_of(a[3], b4) - max_of(a[1], b2) + offset;
  w = w > T(0) ? w : T(0);
  h = h > T(0) ? h : T(0);
  const T inter = w * h;
  const T uni = area_a + area_b - inter;
  const T iou = uni > T(0) ? inter / uni : T(0);
  if (kind == IouKind::kIou) return iou;
  const T cw = max_of(a[2], b3) - min_of(a[0], b1);
  const T ch = max_of(a[3], b4) - min_of(a[1], b2);
  if (kind == IouKind::kGeneralized) {
    const T enclose = cw * ch;
    return enclose > T(0) ? iou - (enclose - uni) / enclose : iou;
  }
  const T diag = cw * cw + ch * ch + eps;
  const T dx = (a[0] + a[2]) / T(2) - (b1 + b3) / T(2);
  const T dy = (a[1] + a[3]) / T(2) - (b2 + b4) / T(2);
  const T diou = iou - (dx * dx + dy * dy) / diag;
  if (kind == IouKind::kDistance) return diou;
  const T angle = std::atan2(b3 - b1, b4 - b2) - std::atan2(a[2] - a[0], a[3] - a[1]);
  const T v = T(kFourOverPiSquared) * (angle * angle);
  const T alpha = v / (T(1) - iou + v + eps);
  return diou - alpha * v;
}

template <class T>
void iou_row(const T* a, const BoxColumns<T>& b, int64_t m, T offset, T* out) {
  const T ax1 = a[0], ay1 = a[1], ax2 = a[2], ay2 = a[3];
  const T area_a = (ax2 - ax1 + offset) * (ay2 - ay1 + offset);
  const T* bx1 = b.x1.data();
  const T* by1 = b.y1.data();
  const T* bx2 = b.x2.data();
  const T* by2 = b.y2.data();
  const T* barea = b.area.data();
  for (int64_t j = 0; j < m; ++j) {
    T w = min_of(ax2, bx2[j]) - max_of(ax1, bx1[j]) + offset;
    T h = min_of(ay2, by2[j]) - max_of(ay1, by1[j]) + offset;
    w = w > T(0) ? w : T(0);
    h = h > T(0) ? h : T(0);
    const T inter = w * h;
    const T uni = area_a + barea[j] - inter;
    // union == 0 implies inter == 0, so dividing by 1 there yields the documented 0.
    out[j] = inter / (uni > T(0) ? uni : T(1));
  }
}

}  // namespace

template <class T>
void box_iou_pairwise(const T* a, int64_t n, const T* b, int64_t m, IouKind kind, T offset, T eps,
                      T* out) {
  if (n == 0 || m == 0) return;
  const BoxColumns<T> cols(b, m, offset);
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(m, 1));
  parallel_for(n, grain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      T* row = out + i * m;
      if (kind == IouKind::kIou) {
        iou_row(a + 4 * i, cols, m, offset, row);
      } else {
        for (int64_t j = 0; j < m; ++j)
          row[j] = measure(a + 4 * i, cols.x1[j], cols.y1[j], cols.x2[j], cols.y2[j], kind, offset, eps);
      }
    }
  });
}

template <class T>
void box_iou_aligned(const T* a, const T* b, int64_t n, IouKind kind, T offset, T eps, T* out) {
  parallel_for(n, 65536, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const T* bi = b + 4 * i;
      out[i] = measure(a + 4 * i, bi[0], bi[1], bi[2], bi[3], kind, offset, eps);
    }
  });
}

template void box_iou_pairwise<float>(const float*, int64_t, const float*, int64_t, IouKind, float,
                                      float, float*);
template void box_iou_pairwise<double>(const double*, int64_t, const double*, int64_t, IouKind,
                                       double, double, double*);
template void box_iou_aligned<float>(const float*, const float*, int64_t, IouKind, float, float,
                                     float*);
template void box_iou_aligned<double>(const double*, const double*, int64_t, IouKind, double,
                                      double, double*);

}  // namespace detkit
