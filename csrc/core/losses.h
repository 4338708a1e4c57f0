// Detection losses and their gradients, elementwise over flat arrays (or over aligned box pairs).
//
// Every forward kernel writes the per-element loss to `out` when it is not null and returns the sum
// of the losses in double precision. Sums are formed per fixed-size chunk and the chunk sums added
// in order, so results do not depend on the thread count. Every backward kernel writes
// d(loss)/d(input) scaled by the upstream gradient: `grad_out[i]` when `grad_out` is not null,
// else the scalar `grad_scalar` for every element (the gradient of a sum or mean reduction).
//
// Formulas (shared with detkit.reference.losses; float32 kernels use the vectorisable exp, log1p
// and atan of core/fastmath.h, float64 ones libm):
//   sigmoid focal loss:  p = sigmoid(x), ce = max(x, 0) - x t + log1p(exp(-|x|)),
//                        1 - p_t = p (1 - t) + (1 - p) t,  loss = alpha_t ce (1 - p_t)^gamma,
//                        alpha_t = alpha t + (1 - alpha)(1 - t), or 1 when alpha < 0.
//   smooth L1:           d = x - t;  0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta.
//   box losses (xyxy pairs, as torchvision's generalized/distance/complete_box_iou_loss):
//     iou = inter / (union + eps)
//     GIoU loss = 1 - (iou - (C - union) / (C + eps)),  C the enclosing box area
//     DIoU loss = 1 - iou + d^2 / (c^2 + eps),  d the centre distance, c the enclosing diagonal
//     CIoU loss = DIoU loss + alpha v,  v = 4/pi^2 (atan(w2 / h2) - atan(w1 / h1))^2, the angle
//                 difference computed as atan2(w2 h1 - w1 h2, h2 h1 + w2 w1),
//                 alpha = v / (1 - iou + v + eps) treated as a constant in the gradient.
//   Box gradients are with respect to the first box; at ties of min/max each side gets half of
//   the derivative, as torch's autograd does for minimum/maximum.
#pragma once

#include <cstdint>

namespace detkit {

enum class BoxLossKind : int { kGeneralized = 1, kDistance = 2, kComplete = 3 };

template <class T>
double sigmoid_focal_loss(const T* x, const T* t, int64_t n, T alpha, T gamma, T* out);

template <class T>
void sigmoid_focal_loss_backward(const T* x, const T* t, int64_t n, T alpha, T gamma,
                                 const T* grad_out, T grad_scalar, T* grad_in);

template <class T>
double smooth_l1_loss(const T* x, const T* t, int64_t n, T beta, T* out);

template <class T>
void smooth_l1_loss_backward(const T* x, const T* t, int64_t n, T beta, const T* grad_out,
                             T grad_scalar, T* grad_in);

// boxes1 and boxes2 are (n, 4) C-contiguous xyxy arrays.
template <class T>
double box_loss(const T* boxes1, const T* boxes2, int64_t n, BoxLossKind kind, T eps, T* out);

// grad_in is (n, 4): d(loss)/d(boxes1).
template <class T>
void box_loss_backward(const T* boxes1, const T* boxes2, int64_t n, BoxLossKind kind, T eps,
                       const T* grad_out, T grad_scalar, T* grad_in);

}  // namespace detkit
