"""Detection losses with their gradients: sigmoid focal loss, smooth L1 and the GIoU/DIoU/CIoU losses.

Every loss has a ``*_grad`` companion that returns the gradient with respect to the first argument,
so the losses can sit inside any autograd system (wrap the pair in a custom function whose
backward calls ``*_grad`` with the incoming gradient as ``grad_output``).

Shared conventions:

* float32 and float64 are kept (float64 when the two arguments differ); other real dtypes become
  float64. Inputs must be finite.
* ``reduction`` is ``"none"`` (per-element losses, the input's shape), ``"mean"`` or ``"sum"``
  (a 0-d value of the input dtype, accumulated in float64 whatever the dtype).
* ``grad_output`` is the gradient of the final objective with respect to the loss: an array of the
  per-element loss shape for ``reduction="none"``, a scalar otherwise; it defaults to ones / 1.
* Reduced values do not depend on the thread count.
* float32 kernels use vectorised exp/log1p/atan approximations accurate to a few ulp (float64 uses
  the C library), so float32 results agree with torch to about 1e-6 relative, not bit for bit.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import numpy.typing as npt

from detkit import _C
from detkit._validation import as_boxes, as_choice, as_float_array, as_real, check_finite

__all__ = [
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_grad",
    "smooth_l1_loss",
    "smooth_l1_loss_grad",
    "giou_loss",
    "giou_loss_grad",
    "diou_loss",
    "diou_loss_grad",
    "ciou_loss",
    "ciou_loss_grad",
]

ArrayLike = npt.ArrayLike
_REDUCTIONS = ("none", "mean", "sum")
_GIOU, _DIOU, _CIOU = 1, 2, 3


def _same_shape_pair(inputs: ArrayLike, targets: ArrayLike, names: tuple) -> tuple:
    x = as_float_array(inputs, names[0]).reshape(np.shape(inputs))  # keeps 0-d inputs 0-d
    t = as_float_array(targets, names[1]).reshape(np.shape(targets))
    if x.shape != t.shape:
        raise ValueError(f"{names[1]} must have the shape of {names[0]} {x.shape}, got {t.shape}")
    check_finite(x, names[0])
    check_finite(t, names[1])
    if x.dtype != t.dtype:
        x, t = x.astype(np.float64), t.astype(np.float64)
    return x, t


def _finish(losses: Optional[np.ndarray], total: float, count: int, shape: tuple, dtype,
            reduction: str, empty_mean: float) -> np.ndarray:
    if reduction == "none":
        return losses.reshape(shape)
    if reduction == "sum":
        return np.asarray(total, dtype=dtype)
    return np.asarray(total / count if count else empty_mean, dtype=dtype)


def _grad_scale(grad_output, shape: tuple, dtype, reduction: str, count: int) -> tuple:
    """(per-element upstream gradient or None, scalar upstream gradient) for the kernels."""
    if reduction == "none":
        if grad_output is None:
            return None, 1.0
        go = as_float_array(grad_output, "grad_output").reshape(np.shape(grad_output))
        if go.shape != shape:
            raise ValueError(f"grad_output must have the loss shape {shape} for reduction='none', "
                             f"got {go.shape}")
        check_finite(go, "grad_output")
        return np.ascontiguousarray(go.reshape(-1), dtype=dtype), 1.0
    scale = 1.0 if grad_output is None else as_real(grad_output, "grad_output")
    return None, scale / count if reduction == "mean" and count else scale


def _focal_args(inputs, targets, alpha, gamma, reduction):
    x, t = _same_shape_pair(inputs, targets, ("inputs", "targets"))
    alpha = as_real(alpha, "alpha")
    if alpha > 1:
        raise ValueError(f"alpha must be in [0, 1], or negative to disable the weighting, got {alpha}")
    return x, t, alpha, as_real(gamma, "gamma", low=0.0), as_choice(reduction, "reduction", _REDUCTIONS)


def sigmoid_focal_loss(inputs: ArrayLike, targets: ArrayLike, alpha: float = 0.25, gamma: float = 2.0,
                       reduction: str = "none") -> np.ndarray:
    """Focal loss of RetinaNet (Lin et al., 2017), as ``torchvision.ops.sigmoid_focal_loss``.

    ``loss = alpha_t * BCE_with_logits(x, t) * (1 - p_t) ** gamma`` with ``p = sigmoid(x)``,
    ``p_t = p t + (1 - p)(1 - t)`` and ``alpha_t = alpha t + (1 - alpha)(1 - t)``. Computed
    stably from ``exp(-|x|)`` (log-sigmoid via softplus), so large logits give finite losses.

    Parameters
    ----------
    inputs : array_like of any shape
        Logits.
    targets : array_like, same shape
        Binary labels (soft labels in [0, 1] work too).
    alpha : float <= 1
        Weight of the positives; a negative value disables the weighting (torchvision uses -1).
    gamma : float >= 0
        Focusing exponent (0 gives the plain binary cross-entropy, times alpha_t).
    reduction : {"none", "mean", "sum"}
        The mean of an empty input is NaN, as in torch.

    Returns
    -------
    ndarray
        Per-element losses (the shape of ``inputs``) or a 0-d reduced loss.

    Examples
    --------
    >>> sigmoid_focal_loss([2.0, -1.0], [1.0, 0.0]).round(5)
    array([0.00045, 0.01699])
    """
    x, t, alpha, gamma, reduction = _focal_args(inputs, targets, alpha, gamma, reduction)
    losses, total = _C.sigmoid_focal_loss(x.reshape(-1), t.reshape(-1), alpha, gamma, reduction == "none")
    return _finish(losses, total, x.size, x.shape, x.dtype, reduction, np.nan)


def sigmoid_focal_loss_grad(inputs: ArrayLike, targets: ArrayLike, alpha: float = 0.25,
                            gamma: float = 2.0, reduction: str = "none",
                            grad_output: Optional[ArrayLike] = None) -> np.ndarray:
    """Gradient of :func:`sigmoid_focal_loss` with respect to ``inputs``.

    Parameters
    ----------
    inputs, targets, alpha, gamma, reduction
        As in :func:`sigmoid_focal_loss`.
    grad_output : array_like or float, optional
        Upstream gradient: the loss shape for ``reduction="none"``, a scalar otherwise (default 1).
        Where ``1 - p_t`` is exactly 0 and ``0 < gamma < 1`` the derivative is taken as 0.

    Returns
    -------
    ndarray, the shape and dtype of ``inputs``

    Examples
    --------
    >>> sigmoid_focal_loss_grad([0.0], [1.0], reduction="sum").round(5)
    array([-0.07457])
    """
    x, t, alpha, gamma, reduction = _focal_args(inputs, targets, alpha, gamma, reduction)
    go, scale = _grad_scale(grad_output, x.shape, x.dtype, reduction, x.size)
    grad = _C.sigmoid_focal_loss_backward(x.reshape(-1), t.reshape(-1), alpha, gamma, go, scale)
    return grad.reshape(x.shape)


def _smooth_args(input, target, beta, reduction):
    x, t = _same_shape_pair(input, target, ("input", "target"))
    return x, t, as_real(beta, "beta", low=0.0), as_choice(reduction, "reduction", _REDUCTIONS)


def smooth_l1_loss(input: ArrayLike, target: ArrayLike, beta: float = 1.0,
                   reduction: str = "mean") -> np.ndarray:
    """Smooth L1 (Huber-like) loss, as ``torch.nn.functional.smooth_l1_loss``.

    ``0.5 * d**2 / beta`` where ``|d| < beta`` and ``|d| - 0.5 * beta`` elsewhere, ``d = input -
    target``; ``beta = 0`` gives the L1 loss.

    Parameters
    ----------
    input, target : array_like, same shape
    beta : float >= 0
    reduction : {"none", "mean", "sum"}
        The mean of an empty input is NaN, as in torch.

    Returns
    -------
    ndarray
        Per-element losses or a 0-d reduced loss.

    Examples
    --------
    >>> smooth_l1_loss([0.5, 3.0], [0.0, 0.0], reduction="none")
    array([0.125, 2.5  ])
    """
    x, t, beta, reduction = _smooth_args(input, target, beta, reduction)
    losses, total = _C.smooth_l1_loss(x.reshape(-1), t.reshape(-1), beta, reduction == "none")
    return _finish(losses, total, x.size, x.shape, x.dtype, reduction, np.nan)


def smooth_l1_loss_grad(input: ArrayLike, target: ArrayLike, beta: float = 1.0, reduction: str = "mean",
                        grad_output: Optional[ArrayLike] = None) -> np.ndarray:
    """Gradient of :func:`smooth_l1_loss` with respect to ``input``.

    ``d / beta`` where ``|d| < beta``, else ``sign(d)`` (0 at ``d == 0``), times the upstream
    gradient (see the module notes).

    Examples
    --------
    >>> smooth_l1_loss_grad([0.5, 3.0], [0.0, 0.0], reduction="sum")
    array([0.5, 1. ])
    """
    x, t, beta, reduction = _smooth_args(input, target, beta, reduction)
    go, scale = _grad_scale(grad_output, x.shape, x.dtype, reduction, x.size)
    return _C.smooth_l1_loss_backward(x.reshape(-1), t.reshape(-1), beta, go, scale).reshape(x.shape)


def _box_args(boxes1, boxes2, reduction, eps):
    a = as_boxes(boxes1, "boxes1")
    b = as_boxes(boxes2, "boxes2")
    if len(a) != len(b):
        raise ValueError(f"boxes1 and boxes2 must be matched pairs of equal length, got {len(a)} and {len(b)}")
    if a.dtype != b.dtype:
        a, b = a.astype(np.float64), b.astype(np.float64)
    return a, b, as_choice(reduction, "reduction", _REDUCTIONS), as_real(eps, "eps", low=0.0)


def _box_loss(kind, boxes1, boxes2, reduction, eps):
    a, b, reduction, eps = _box_args(boxes1, boxes2, reduction, eps)
    losses, total = _C.box_loss(a, b, kind, eps, reduction == "none")
    return _finish(losses, total, len(a), (len(a),), a.dtype, reduction, 0.0)


def _box_loss_grad(kind, boxes1, boxes2, reduction, eps, grad_output):
    a, b, reduction, eps = _box_args(boxes1, boxes2, reduction, eps)
    go, scale = _grad_scale(grad_output, (len(a),), a.dtype, reduction, len(a))
    return _C.box_loss_backward(a, b, kind, eps, go, scale)


def giou_loss(boxes1: ArrayLike, boxes2: ArrayLike, reduction: str = "none", eps: float = 1e-7) -> np.ndarray:
    """Generalized IoU loss of matched xyxy boxes, as ``torchvision.ops.generalized_box_iou_loss``.

    ``1 - (iou - (C - union) / (C + eps))`` with ``iou = inter / (union + eps)`` and C the area of
    the smallest box enclosing both.

    Parameters
    ----------
    boxes1, boxes2 : (N, 4) array_like
        Predicted and target xyxy boxes, ``boxes1[i]`` matched with ``boxes2[i]``.
    reduction : {"none", "mean", "sum"}
        The mean of no boxes is 0, as in torchvision.
    eps : float >= 0

    Returns
    -------
    (N,) ndarray or 0-d ndarray

    Examples
    --------
    >>> giou_loss([[0, 0, 2, 2]], [[1, 0, 3, 2]]).round(4)
    array([0.6667])
    """
    return _box_loss(_GIOU, boxes1, boxes2, reduction, eps)


def giou_loss_grad(boxes1: ArrayLike, boxes2: ArrayLike, reduction: str = "none", eps: float = 1e-7,
                   grad_output: Optional[ArrayLike] = None) -> np.ndarray:
    """(N, 4) gradient of :func:`giou_loss` with respect to ``boxes1``.

    At ties of the min/max defining the intersection and the enclosing box (aligned edges) each
    box gets half of the derivative, as torch's autograd does, so gradients match torchvision's
    losses under autograd everywhere.

    Examples
    --------
    >>> giou_loss_grad([[0, 0, 2, 2]], [[1, 0, 3, 2]]).round(4) + 0.0
    array([[-0.1111,  0.    , -0.3333,  0.    ]])
    """
    return _box_loss_grad(_GIOU, boxes1, boxes2, reduction, eps, grad_output)


def diou_loss(boxes1: ArrayLike, boxes2: ArrayLike, reduction: str = "none", eps: float = 1e-7) -> np.ndarray:
    """Distance IoU loss of matched xyxy boxes, as ``torchvision.ops.distance_box_iou_loss``.

    ``1 - iou + d**2 / (c**2 + eps)`` with d the distance between the centres and c the diagonal
    of the enclosing box. Parameters as :func:`giou_loss`.

    Examples
    --------
    >>> diou_loss([[0, 0, 2, 2]], [[1, 0, 3, 2]]).round(4)
    array([0.7436])
    """
    return _box_loss(_DIOU, boxes1, boxes2, reduction, eps)


def diou_loss_grad(boxes1: ArrayLike, boxes2: ArrayLike, reduction: str = "none", eps: float = 1e-7,
                   grad_output: Optional[ArrayLike] = None) -> np.ndarray:
    """(N, 4) gradient of :func:`diou_loss` with respect to ``boxes1`` (ties as :func:`giou_loss_grad`).

    Examples
    --------
    >>> diou_loss_grad([[0, 0, 2, 2]], [[1, 0, 3, 2]]).round(4)
    array([[-0.1525,  0.0118, -0.4103, -0.0118]])
    """
    return _box_loss_grad(_DIOU, boxes1, boxes2, reduction, eps, grad_output)


def ciou_loss(boxes1: ArrayLike, boxes2: ArrayLike, reduction: str = "none", eps: float = 1e-7) -> np.ndarray:
    """Complete IoU loss of matched xyxy boxes, as ``torchvision.ops.complete_box_iou_loss``.

    ``diou_loss + alpha * v`` with ``v = 4 / pi**2 * (atan(w2 / h2) - atan(w1 / h1))**2`` and
    ``alpha = v / (1 - iou + v + eps)``. The angle difference is computed as
    ``atan2(w2 h1 - w1 h2, h2 h1 + w2 w1)``, equal for positive sizes and finite (instead of NaN)
    for zero-height or empty boxes. Parameters as :func:`giou_loss`.

    Examples
    --------
    >>> ciou_loss([[0, 0, 2, 2]], [[0, 0, 4, 2]]).round(4)
    array([0.5532])
    """
    return _box_loss(_CIOU, boxes1, boxes2, reduction, eps)


def ciou_loss_grad(boxes1: ArrayLike, boxes2: ArrayLike, reduction: str = "none", eps: float = 1e-7,
                   grad_output: Optional[ArrayLike] = None) -> np.ndarray:
    """(N, 4) gradient of :func:`ciou_loss` with respect to ``boxes1``.

    ``alpha`` is held constant, as torchvision computes it under ``no_grad``; ties as
    :func:`giou_loss_grad`.

    Examples
    --------
    >>> ciou_loss_grad([[0, 0, 2, 2]], [[0, 0, 4, 2]]).round(4)
    array([[ 0.0275,  0.0625, -0.305 , -0.0625]])
    """
    return _box_loss_grad(_CIOU, boxes1, boxes2, reduction, eps, grad_output)
