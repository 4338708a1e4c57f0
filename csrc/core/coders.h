// R-CNN box deltas (torchvision's detection BoxCoder), elementwise over aligned rows.
//
// With anchor/proposal width wa = x2 - x1, centre xa = x1 + 0.5 wa (likewise y, h):
//   encode: dx = wx (x - xa) / wa, dy = wy (y - ya) / ha, dw = ww log(w / wa), dh = wh log(h / ha)
//   decode: dw' = min(dw / ww, clip), cx = dx / wx * wa + xa, w = exp(dw') * wa, and the box
//           (cx - 0.5 w, cy - 0.5 h, cx + 0.5 w, cy + 0.5 h)
// computed in T in torchvision's operation order (shared with detkit.reference.coders); float32
// uses the vectorisable exp/log of core/fastmath.h, float64 libm.
#pragma once

#include <cstdint>

namespace detkit {

// gt, anchors: (n, 4) xyxy; out: (n, 4) deltas. weights: (wx, wy, ww, wh).
template <class T>
void box_encode(const T* gt, const T* anchors, int64_t n, const double* weights, T* out);

// deltas: (n, classes, 4); anchors: (n, 4); out: (n, classes, 4) xyxy boxes.
template <class T>
void box_decode(const T* deltas, const T* anchors, int64_t n, int64_t classes, const double* weights,
                double clip, T* out);

}  // namespace detkit
