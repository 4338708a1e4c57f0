// Pairwise (N x M) and aligned (N vs N) overlap measures between xyxy boxes.
//
// Conventions (shared with detkit.reference.boxes, which computes the same operations in the same
// order so float results agree bit for bit where no transcendental function is involved):
//   width  = x2 - x1 + offset, height = y2 - y1 + offset          (offset is 0 or 1)
//   inter  = max(0, min(x2a, x2b) - max(x1a, x1b) + offset) * (same for y)
//   union  = area_a + area_b - inter;  IoU = inter / union, and 0 where union == 0
//   GIoU   = IoU - (enclose - union) / enclose, the fraction taken as 0 where enclose == 0
//   DIoU   = IoU - centre_dist^2 / (enclose_diag^2 + eps)
//   CIoU   = DIoU - alpha * v,  v = 4/pi^2 (atan2(wb, hb) - atan2(wa, ha))^2,
//            alpha = v / (1 - IoU + v + eps)
// GIoU, DIoU and CIoU ignore offset (they have no legacy "+1" form).
#pragma once

#include <cstdint>

namespace detkit {

enum class IouKind : int { kIou = 0, kGeneralized = 1, kDistance = 2, kComplete = 3 };

// out[i * m + j] = measure(a[i], b[j]); a is (n, 4), b is (m, 4), both C-contiguous xyxy.
template <class T>
void box_iou_pairwise(const T* a, int64_t n, const T* b, int64_t m, IouKind kind, T offset, T eps,
                      T* out);

// out[i] = measure(a[i], b[i]) for i < n.
template <class T>
void box_iou_aligned(const T* a, const T* b, int64_t n, IouKind kind, T offset, T eps, T* out);

}  // namespace detkit
