// RoIPool (Girshick, Fast R-CNN, 2015) forward and backward, with torchvision's CPU semantics.
//
// For RoI [b, x1, y1, x2, y2], corners are scaled by spatial_scale in T and rounded half away
// from zero to integers (sx, sy, ex, ey); the RoI spans roi_w = max(ex - sx + 1, 1) columns (rows
// likewise). Bin (ph, pw) covers rows [floor(ph * bin_h), ceil((ph + 1) * bin_h)) + sy with
// bin_h = T(roi_h) / pooled_height (columns likewise), clipped to the map. An empty bin outputs 0;
// otherwise the output is the first value, in row-major order, greater than every value before
// it starting from -FLT_MAX (NaN never wins; a bin with no value above -FLT_MAX outputs -FLT_MAX).
// argmax is its index h * W + w in the plane, or -1 when nothing was selected.
#pragma once

#include <cstdint>

#include "core/roi_common.h"

namespace detkit {

// output and argmax: (K, C, pooled_height, pooled_width); argmax may be null (not computed). Throws std::invalid_argument when
// check_rois rejects the RoIs or shape.
template <class T>
void roi_pool_forward(const T* input, const T* rois, int64_t num_rois, const RoiShape& shape,
                      double spatial_scale, T* output, int64_t* argmax);

// Gradient w.r.t. the input: grad_input (N, C, H, W) is overwritten with grad_output (K, C,
// pooled_height, pooled_width) routed to the argmax cells (entries with argmax -1 are skipped).
// Throws std::invalid_argument unless every argmax is in [-1, H * W) and every RoI batch index
// is an integer in [0, N). Threads split the work by plane.
template <class T>
void roi_pool_backward(const T* grad_output, const int64_t* argmax, const T* rois, int64_t num_rois,
                       const RoiShape& shape, T* grad_input);

}  // namespace detkit
