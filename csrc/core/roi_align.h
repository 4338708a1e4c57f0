// RoIAlign (He et al., Mask R-CNN, 2017) forward and backward, with torchvision's CPU semantics.
//
// For RoI [b, x1, y1, x2, y2], all arithmetic in T: corners are scaled by spatial_scale and, when
// aligned, shifted by -0.5; the RoI size is (end - start), forced to >= 1 unless aligned. Each of
// the pooled_height x pooled_width bins averages a grid of gh x gw bilinear samples, where gh is
// sampling_ratio if > 0 and else ceil(roi_height / pooled_height) (likewise gw); a bin whose grid
// is empty is 0. Sample iy of bin row ph sits at
//   y = start_y + ph * bin_h + T(float(iy) + 0.5f) * bin_h / gh.
// A sample with y < -1 or y > H (or x outside [-1, W]) contributes 0 but still counts in the
// average; otherwise coordinates below 0 are clamped to 0 and samples at or beyond the last row
// (column) read that row (column) only.
//
// The sample weights are separable (one table of merged taps per axis and RoI, shared by all
// channels): the kernels combine a bin row's rows into one line of the RoI's columns, then each
// bin's columns of that line, instead of four taps per sample. Results equal torchvision's up to
// floating-point rounding (a few ulp), not bit for bit.
#pragma once

#include <cstdint>

#include "core/roi_common.h"

namespace detkit {

struct RoiAlignOptions {
  double spatial_scale = 1.0;
  int64_t sampling_ratio = -1;  // <= 0: adaptive, ceil(roi size / pooled size) per axis
  bool aligned = false;         // true: half-pixel shift, no minimum RoI size
};

// output: (K, C, pooled_height, pooled_width). Throws std::invalid_argument when check_rois
// rejects the RoIs or shape.
template <class T>
void roi_align_forward(const T* input, const T* rois, int64_t num_rois, const RoiShape& shape,
                       const RoiAlignOptions& opt, T* output);

// Gradient of roi_align_forward w.r.t. its input: grad_input (N, C, H, W) is overwritten with
// the sum over RoIs of grad_output (K, C, pooled_height, pooled_width) spread back through the
// bilinear weights. Threads split the work by plane, so no two threads write the same cell.
template <class T>
void roi_align_backward(const T* grad_output, const T* rois, int64_t num_rois, const RoiShape& shape,
                        const RoiAlignOptions& opt, T* grad_input);

}  // namespace detkit
