#include "core/box_iou.h"

#include <cmath>
#include <vector>

#include "core/dispatch.h"
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

template <class T>
inline T aspect_angle(const T* b) {
  return std::atan2(b[2] - b[0], b[3] - b[1]);
}

// Column-major copy of the second operand so the inner loop reads unit-stride arrays; the CIoU
// aspect angle depends on one box only, so it is computed once per box, not once per pair.
template <class T>
struct BoxColumns {
  std::vector<T> x1, y1, x2, y2, area, angle;
  BoxColumns(const T* boxes, int64_t m, T offset, bool with_angle)
      : x1(m), y1(m), x2(m), y2(m), area(m), angle(with_angle ? m : 0) {
    for (int64_t j = 0; j < m; ++j) {
      x1[j] = boxes[4 * j];
      y1[j] = boxes[4 * j + 1];
      x2[j] = boxes[4 * j + 2];
      y2[j] = boxes[4 * j + 3];
      area[j] = (x2[j] - x1[j] + offset) * (y2[j] - y1[j] + offset);
      if (with_angle) angle[j] = aspect_angle(boxes + 4 * j);
    }
  }
};

// The measure between box a (with its area and aspect angle) and box b, branch-free so the
// pairwise loop vectorises. `angle_*` are only read for the complete IoU.
template <IouKind K, class T>
inline T measure(T ax1, T ay1, T ax2, T ay2, T area_a, T angle_a, T bx1, T by1, T bx2, T by2,
                 T area_b, T angle_b, T offset, T eps) {
  T w = min_of(ax2, bx2) - max_of(ax1, bx1) + offset;
  T h = min_of(ay2, by2) - max_of(ay1, by1) + offset;
  w = w > T(0) ? w : T(0);
  h = h > T(0) ? h : T(0);
  const T inter = w * h;
  const T uni = area_a + area_b - inter;
  // union == 0 implies inter == 0, so dividing by 1 there yields the documented 0.
  const T iou = inter / (uni > T(0) ? uni : T(1));
  if constexpr (K == IouKind::kIou) {
    return iou;
  } else {
    const T cw = max_of(ax2, bx2) - min_of(ax1, bx1);
    const T ch = max_of(ay2, by2) - min_of(ay1, by1);
    if constexpr (K == IouKind::kGeneralized) {
      const T enclose = cw * ch;
      return iou - (enclose > T(0) ? (enclose - uni) / enclose : T(0));
    } else {
      const T diag = cw * cw + ch * ch + eps;
      const T dx = (ax1 + ax2) / T(2) - (bx1 + bx2) / T(2);
      const T dy = (ay1 + ay2) / T(2) - (by1 + by2) / T(2);
      const T diou = iou - (dx * dx + dy * dy) / diag;
      if constexpr (K == IouKind::kDistance) {
        return diou;
      } else {
        const T angle = angle_b - angle_a;
        const T v = T(kFourOverPiSquared) * (angle * angle);
        const T alpha = v / (T(1) - iou + v + eps);
        return diou - alpha * v;
      }
    }
  }
}

template <IouKind K, class T>
DETKIT_VECTOR_CLONES void measure_row(const T* a, const BoxColumns<T>& b, int64_t m, T offset, T eps, T* out) {
  const T ax1 = a[0], ay1 = a[1], ax2 = a[2], ay2 = a[3];
  const T area_a = (ax2 - ax1 + offset) * (ay2 - ay1 + offset);
  const T angle_a = K == IouKind::kComplete ? aspect_angle(a) : T(0);
  const T* bx1 = b.x1.data();
  const T* by1 = b.y1.data();
  const T* bx2 = b.x2.data();
  const T* by2 = b.y2.data();
  const T* barea = b.area.data();
  const T* bangle = K == IouKind::kComplete ? b.angle.data() : b.area.data();
  for (int64_t j = 0; j < m; ++j)
    out[j] = measure<K>(ax1, ay1, ax2, ay2, area_a, angle_a, bx1[j], by1[j], bx2[j], by2[j],
                        barea[j], bangle[j], offset, eps);
}

template <IouKind K, class T>
void pairwise_kind(const T* a, int64_t n, const T* b, int64_t m, T offset, T eps, T* out) {
  const BoxColumns<T> cols(b, m, offset, K == IouKind::kComplete);
  const int64_t grain = std::max<int64_t>(1, 65536 / m);
  parallel_for(n, grain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) measure_row<K>(a + 4 * i, cols, m, offset, eps, out + i * m);
  });
}

template <IouKind K, class T>
void aligned_kind(const T* a, const T* b, int64_t n, T offset, T eps, T* out) {
  parallel_for(n, 65536, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const T* p = a + 4 * i;
      const T* q = b + 4 * i;
      const bool angles = K == IouKind::kComplete;
      out[i] = measure<K>(p[0], p[1], p[2], p[3], (p[2] - p[0] + offset) * (p[3] - p[1] + offset),
                          angles ? aspect_angle(p) : T(0), q[0], q[1], q[2], q[3],
                          (q[2] - q[0] + offset) * (q[3] - q[1] + offset),
                          angles ? aspect_angle(q) : T(0), offset, eps);
    }
  });
}

}  // namespace

template <class T>
void box_iou_pairwise(const T* a, int64_t n, const T* b, int64_t m, IouKind kind, T offset, T eps,
                      T* out) {
  if (n == 0 || m == 0) return;
  switch (kind) {
    case IouKind::kIou: return pairwise_kind<IouKind::kIou>(a, n, b, m, offset, eps, out);
    case IouKind::kGeneralized: return pairwise_kind<IouKind::kGeneralized>(a, n, b, m, offset, eps, out);
    case IouKind::kDistance: return pairwise_kind<IouKind::kDistance>(a, n, b, m, offset, eps, out);
    case IouKind::kComplete: return pairwise_kind<IouKind::kComplete>(a, n, b, m, offset, eps, out);
  }
}

template <class T>
void box_iou_aligned(const T* a, const T* b, int64_t n, IouKind kind, T offset, T eps, T* out) {
  switch (kind) {
    case IouKind::kIou: return aligned_kind<IouKind::kIou>(a, b, n, offset, eps, out);
    case IouKind::kGeneralized: return aligned_kind<IouKind::kGeneralized>(a, b, n, offset, eps, out);
    case IouKind::kDistance: return aligned_kind<IouKind::kDistance>(a, b, n, offset, eps, out);
    case IouKind::kComplete: return aligned_kind<IouKind::kComplete>(a, b, n, offset, eps, out);
  }
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
