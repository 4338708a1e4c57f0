"""Reference detection losses and their gradients (numpy only).

Formulas as in :mod:`detkit.ops.losses`; gradients are written out by hand from the chain rule.
``grad_output`` is the upstream gradient: an array shaped like the per-element loss, or a scalar
(1 for a summed loss, 1/N for a mean).
"""

import numpy as np


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean() if loss.size else loss.dtype.type(np.nan)
    if reduction == "sum":
        return loss.sum()
    return loss


def _focal_parts(inputs, targets, alpha):
    """Cross-entropy with logits, sigmoid, 1 - sigmoid, 1 - p_t and alpha_t (numerically stable)."""
    x, t = np.asarray(inputs), np.asarray(targets)
    one = x.dtype.type(1)
    p = np.exp(-np.logaddexp(0, -x)).astype(x.dtype)  # sigmoid(x) = exp(-softplus(-x))
    q = np.exp(-np.logaddexp(0, x)).astype(x.dtype)  # 1 - sigmoid(x) = sigmoid(-x)
    ce = np.logaddexp(0, x).astype(x.dtype) - x * t  # softplus(x) - x t
    base = p * (one - t) + q * t
    alpha_t = alpha * t + (1 - alpha) * (one - t) if alpha >= 0 else np.ones_like(x)
    return x, t, ce, p, q, base, alpha_t.astype(x.dtype)


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """alpha_t * BCE-with-logits * (1 - p_t) ** gamma; alpha < 0 disables the alpha weighting."""
    x, t, ce, p, q, base, alpha_t = _focal_parts(inputs, targets, alpha)
    return _reduce(alpha_t * (ce * base ** x.dtype.type(gamma)), reduction)


def sigmoid_focal_loss_grad(inputs, targets, alpha=0.25, gamma=2.0, grad_output=1.0):
    """d(focal loss)/d(inputs) times grad_output."""
    x, t, ce, p, q, base, alpha_t = _focal_parts(inputs, targets, alpha)
    g = x.dtype.type(gamma)
    modulator = base ** g
    if gamma == 0:
        d_modulator = np.zeros_like(base)
    else:
        with np.errstate(divide="ignore"):
            d_modulator = np.where(base > 0, g * base ** (g - 1), 1.0 if gamma == 1 else 0.0).astype(x.dtype)
    d_base = (1 - 2 * t) * (p * q)
    grad = alpha_t * ((p - t) * modulator + ce * (d_modulator * d_base))
    return (grad * grad_output).astype(x.dtype)


def smooth_l1_loss(input, target, beta=1.0, reduction="mean"):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (plain L1 when beta == 0)."""
    x, t = np.asarray(input), np.asarray(target)
    d = np.abs(x - t)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        loss = np.where(d < beta, 0.5 * d * d / x.dtype.type(beta), d - x.dtype.type(0.5 * beta))
    return _reduce(loss.astype(x.dtype), reduction)


def smooth_l1_loss_grad(input, target, beta=1.0, grad_output=1.0):
    """d(smooth L1)/d(input) times grad_output: d / beta inside the quadratic zone, else sign(d)."""
    x, t = np.asarray(input), np.asarray(target)
    d = x - t
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        grad = np.where(np.abs(d) < beta, d / x.dtype.type(beta), np.sign(d))
    return (grad * grad_output).astype(x.dtype)


def _box_terms(boxes1, boxes2, eps):
    """The geometric pieces shared by the GIoU, DIoU and CIoU losses, as columns."""
    a, b = np.asarray(boxes1), np.asarray(boxes2)
    x1, y1, x2, y2 = a.T
    g1, h1, g2, h2 = b.T
    ix1, iy1 = np.maximum(x1, g1), np.maximum(y1, h1)
    ix2, iy2 = np.minimum(x2, g2), np.minimum(y2, h2)
    overlap = (ix2 > ix1) & (iy2 > iy1)
    iw, ih = np.where(overlap, ix2 - ix1, 0), np.where(overlap, iy2 - iy1, 0)
    inter = iw * ih
    w, h = x2 - x1, y2 - y1
    union = w * h + (g2 - g1) * (h2 - h1) - inter
    iou = inter / (union + eps)
    cw = np.maximum(x2, g2) - np.minimum(x1, g1)
    ch = np.maximum(y2, h2) - np.minimum(y1, h1)
    dx = (x2 + x1) / 2 - (g1 + g2) / 2
    dy = (y2 + y1) / 2 - (h1 + h2) / 2
    return dict(a=a, b=b, overlap=overlap, iw=iw, ih=ih, inter=inter, w=w, h=h, union=union,
                iou=iou, cw=cw, ch=ch, dx=dx, dy=dy)


def _ciou_v_alpha(k, eps):
    b = k["b"]
    wg, hg = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    # atan(wg / hg) - atan(w / h), as one atan2 (both angles lie in [0, pi/2]).
    angle_diff = np.arctan2(wg * k["h"] - k["w"] * hg, hg * k["h"] + wg * k["w"])
    v = (4 / np.pi**2) * angle_diff**2
    alpha = v / (1 - k["iou"] + v + eps)
    return angle_diff, v, alpha


def box_loss(boxes1, boxes2, kind, eps=1e-7, reduction="none"):
    """GIoU ("giou"), DIoU ("diou") or CIoU ("ciou") loss of matched xyxy pairs (torchvision's formulas)."""
    dtype = np.asarray(boxes1).dtype
    eps = dtype.type(eps)
    k = _box_terms(boxes1, boxes2, eps)
    if kind == "giou":
        enclose = k["cw"] * k["ch"]
        loss = 1 - (k["iou"] - (enclose - k["union"]) / (enclose + eps))
    else:
        loss = 1 - k["iou"] + (k["dx"] ** 2 + k["dy"] ** 2) / (k["cw"] ** 2 + k["ch"] ** 2 + eps)
        if kind == "ciou":
            _, v, alpha = _ciou_v_alpha(k, eps)
            loss = loss + alpha * v
    loss = loss.astype(dtype)
    if reduction == "mean":
        return loss.mean() if loss.size else dtype.type(0)
    return _reduce(loss, reduction)


def _wins(a, b, larger):
    """d max(a, b)/da (larger=True) or d min(a, b)/da: 1 if a wins, 0 if b wins, 1/2 on ties."""
    return np.where(a == b, 0.5, (a > b) if larger else (a < b)).astype(a.dtype)


def box_loss_grad(boxes1, boxes2, kind, eps=1e-7, grad_output=1.0):
    """(N, 4) gradient of the GIoU/DIoU/CIoU loss w.r.t. boxes1 (CIoU's alpha held constant).

    At ties of the min/max terms each box gets half of the derivative (torch's convention).
    """
    dtype = np.asarray(boxes1).dtype
    eps = dtype.type(eps)
    k = _box_terms(boxes1, boxes2, eps)
    a, b, on = k["a"], k["b"], k["overlap"].astype(dtype)
    x1, y1, x2, y2 = a.T
    g1, h1, g2, h2 = b.T
    # d/d(x1, y1, x2, y2) of the intersection, the first box's area and the enclosing width/height.
    d_inter = np.stack([-on * k["ih"] * _wins(x1, g1, True), -on * k["iw"] * _wins(y1, h1, True),
                        on * k["ih"] * _wins(x2, g2, False), on * k["iw"] * _wins(y2, h2, False)], axis=1)
    d_area = np.stack([-k["h"], -k["w"], k["h"], k["w"]], axis=1)
    zero = np.zeros_like(x1)
    d_cw = np.stack([-_wins(x1, g1, False), zero, _wins(x2, g2, True), zero], axis=1)
    d_ch = np.stack([zero, -_wins(y1, h1, False), zero, _wins(y2, h2, True)], axis=1)
    ue = (k["union"] + eps)[:, None]
    iou = k["iou"][:, None]
    cw, ch = k["cw"][:, None], k["ch"][:, None]
    d_union = d_area - d_inter
    grad = -(d_inter - iou * d_union) / ue
    if kind == "giou":
        enclose = cw * ch
        penalty = (enclose - k["union"][:, None]) / (enclose + eps)
        d_enclose = ch * d_cw + cw * d_ch
        grad = grad + ((d_enclose - d_union) - penalty * d_enclose) / (enclose + eps)
    else:
        c2 = cw**2 + ch**2 + eps
        d2 = (k["dx"] ** 2 + k["dy"] ** 2)[:, None]
        d_d2 = np.stack([k["dx"], k["dy"], k["dx"], k["dy"]], axis=1)
        d_c2 = 2 * (cw * d_cw + ch * d_ch)
        grad = grad + (d_d2 - (d2 / c2) * d_c2) / c2
        if kind == "ciou":
            angle_diff, _, alpha = _ciou_v_alpha(k, eps)
            s = k["w"] ** 2 + k["h"] ** 2
            with np.errstate(divide="ignore", invalid="ignore"):
                coef = np.where(s > 0, -2 * (4 / np.pi**2) * angle_diff / s, 0)
            dv_dw, dv_dh = coef * k["h"], -coef * k["w"]
            d_v = np.stack([-dv_dw, -dv_dh, dv_dw, dv_dh], axis=1)
            grad = grad + alpha[:, None] * d_v
    go = np.asarray(grad_output)
    return (grad * (go[:, None] if go.ndim else go)).astype(dtype)
