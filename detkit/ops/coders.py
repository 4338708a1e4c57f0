"""Box coders and training-target assignment.

* :class:`BoxCoder` (R-CNN deltas, torchvision's detection ``BoxCoder``) and :class:`SSDBoxCoder`
  (centre-size offsets with variances, priors in cxcywh).
* YOLO: :func:`yolo_decode` (v2/v3 sigmoid/exp, v5 2*sigmoid), :func:`dist2bbox` /
  :func:`bbox2dist` (anchor-free ltrb distances) and :func:`dfl_decode` (distribution focal loss
  bins to distances).
* :class:`Matcher` and :class:`BalancedPositiveNegativeSampler`, as torchvision defines them.

Boxes are (N, 4) xyxy unless stated; float32 and float64 are kept. Decoders return the dtype of the
network output they decode (anchors, grids and priors are converted to it, as torchvision does);
encoders return float64 when their arguments differ.
"""

from __future__ import annotations

import math
import numbers
from typing import Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from detkit import _C
from detkit._validation import as_boxes, as_choice, as_float_array, as_real, check_finite

__all__ = [
    "BoxCoder",
    "SSDBoxCoder",
    "yolo_decode",
    "dist2bbox",
    "bbox2dist",
    "dfl_decode",
    "Matcher",
    "BalancedPositiveNegativeSampler",
]

ArrayLike = npt.ArrayLike


def _as_columns(value: ArrayLike, n: int, width: int, name: str) -> np.ndarray:
    """A finite (n, width) float array."""
    arr = as_float_array(value, name)
    if arr.ndim != 2 or arr.shape != (n, width):
        raise ValueError(f"{name} must have shape ({n}, {width}), got {arr.shape}")
    check_finite(arr, name)
    return arr


def _common(*arrays: np.ndarray) -> list:
    dtype = np.result_type(*arrays)
    return [a.astype(dtype, copy=False) for a in arrays]


def _like(pred: np.ndarray, *arrays: np.ndarray) -> list:
    """The arrays converted to the dtype of the prediction being decoded."""
    return [pred] + [a.astype(pred.dtype, copy=False) for a in arrays]


def _xyxy_out(cx, cy, w, h, out_fmt: str) -> np.ndarray:
    if out_fmt == "cxcywh":
        return np.stack([cx, cy, w, h], axis=-1)
    half_w, half_h = w * w.dtype.type(0.5), h * h.dtype.type(0.5)
    return np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=-1)


class BoxCoder:
    """R-CNN box deltas, as ``torchvision.models.detection._utils.BoxCoder``.

    With anchor width ``wa = x2 - x1`` (no "+1"), centre ``xa = x1 + 0.5 wa`` and likewise for the
    target: ``dx = wx (x - xa) / wa``, ``dw = ww log(w / wa)`` (same for y, h). Decoding inverts
    this after clamping ``dw, dh`` at ``bbox_xform_clip`` and returns
    ``(cx - 0.5 w, cy - 0.5 h, cx + 0.5 w, cy + 0.5 h)``. Same operations in the same order as
    torchvision (native kernels; float32 uses a vectorised exp/log accurate to a few ulp).

    Parameters
    ----------
    weights : 4 floats
        ``(wx, wy, ww, wh)``; (10, 10, 5, 5) for Fast R-CNN heads, (1, 1, 1, 1) for the RPN.
    bbox_xform_clip : float
        Upper clamp of the decoded log-scale deltas.

    Examples
    --------
    >>> coder = BoxCoder()
    >>> deltas = coder.encode([[10, 10, 30, 50]], [[0, 0, 20, 40]])
    >>> deltas
    array([[5. , 2.5, 0. , 0. ]])
    >>> coder.decode(deltas, [[0, 0, 20, 40]])
    array([[10., 10., 30., 50.]])
    """

    def __init__(self, weights: Sequence[float] = (10.0, 10.0, 5.0, 5.0),
                 bbox_xform_clip: float = math.log(1000.0 / 16)) -> None:
        if not isinstance(weights, (tuple, list, np.ndarray)) or len(weights) != 4:
            raise ValueError(f"weights must be 4 numbers (wx, wy, ww, wh), got {weights!r}")
        self.weights = tuple(as_real(w, f"weights[{i}]", low=0.0, low_open=True) for i, w in enumerate(weights))
        self.bbox_xform_clip = as_real(bbox_xform_clip, "bbox_xform_clip")

    def encode(self, reference_boxes: ArrayLike, proposals: ArrayLike) -> np.ndarray:
        """Deltas that move each proposal (anchor) onto its reference (ground-truth) box.

        Parameters
        ----------
        reference_boxes : (N, 4) array_like
            Target xyxy boxes (torchvision's argument order: targets first).
        proposals : (N, 4) array_like
            Anchors or proposals, with positive widths and heights.

        Returns
        -------
        (N, 4) ndarray
            ``(dx, dy, dw, dh)``; a zero-size reference box gives ``-inf`` log terms.
        """
        gt = as_boxes(reference_boxes, "reference_boxes")
        ex = as_boxes(proposals, "proposals")
        if len(gt) != len(ex):
            raise ValueError("reference_boxes and proposals must have equal length, "
                             f"got {len(gt)} and {len(ex)}")
        gt, ex = _common(gt, ex)
        ex_w, ex_h = ex[:, 2] - ex[:, 0], ex[:, 3] - ex[:, 1]
        if (ex_w <= 0).any() or (ex_h <= 0).any():
            i = int(np.flatnonzero((ex_w <= 0) | (ex_h <= 0))[0])
            raise ValueError(f"proposals must have positive widths and heights; box {i} is {ex[i].tolist()}")
        return _C.box_encode(gt, ex, self.weights)

    def decode(self, rel_codes: ArrayLike, boxes: ArrayLike) -> np.ndarray:
        """Boxes from deltas relative to ``boxes`` (torchvision's ``decode_single``).

        Parameters
        ----------
        rel_codes : (N, 4 * C) or (N, C, 4) array_like
            Deltas, C classes (or 1) per box.
        boxes : (N, 4) array_like
            Anchors or proposals (converted to the dtype of ``rel_codes``, as torchvision).

        Returns
        -------
        ndarray, the shape of ``rel_codes``
            xyxy boxes, one per class.
        """
        codes = as_float_array(rel_codes, "rel_codes")
        check_finite(codes, "rel_codes")
        if not (codes.ndim == 2 and codes.shape[1] % 4 == 0) and not (codes.ndim == 3 and codes.shape[2] == 4):
            raise ValueError(f"rel_codes must have shape (N, 4 * C) or (N, C, 4), got {codes.shape}")
        anchors = as_boxes(boxes).astype(codes.dtype, copy=False)
        if len(anchors) != len(codes):
            raise ValueError(f"boxes must have one row per row of rel_codes ({len(codes)}), got {len(anchors)}")
        classes = codes.shape[1] // 4 if codes.ndim == 2 else codes.shape[1]
        flat = np.ascontiguousarray(codes.reshape(len(codes), classes, 4))
        return _C.box_decode(flat, anchors, self.weights, self.bbox_xform_clip).reshape(codes.shape)


class SSDBoxCoder:
    """SSD centre-size offsets with variances, priors in relative cxcywh (the original SSD form).

    ``encode``: ``((gx - px) / (v0 pw), (gy - py) / (v0 ph), log(gw / pw) / v1, log(gh / ph) / v1)``
    from xyxy ground truth; ``decode`` inverts it and returns xyxy. With variances (0.1, 0.2) this is
    :class:`BoxCoder` with weights (10, 10, 5, 5) on priors converted to xyxy (torchvision's SSD),
    up to rounding and without the clamp.

    Parameters
    ----------
    variances : (float, float)
        Centre and size variances.

    Examples
    --------
    >>> coder = SSDBoxCoder()
    >>> priors = [[0.5, 0.5, 0.2, 0.4]]
    >>> loc = coder.encode([[0.42, 0.3, 0.6, 0.7]], priors)
    >>> loc.round(3) + 0.0  # + 0.0 turns -0.0 into 0.0
    array([[ 0.5  ,  0.   , -0.527,  0.   ]])
    >>> coder.decode(loc, priors).round(6)
    array([[0.42, 0.3 , 0.6 , 0.7 ]])
    """

    def __init__(self, variances: Sequence[float] = (0.1, 0.2)) -> None:
        if not isinstance(variances, (tuple, list, np.ndarray)) or len(variances) != 2:
            raise ValueError(f"variances must be 2 numbers (centre, size), got {variances!r}")
        self.variances = tuple(as_real(v, f"variances[{i}]", low=0.0, low_open=True)
                               for i, v in enumerate(variances))

    def _priors(self, priors: ArrayLike, n: int) -> np.ndarray:
        p = as_boxes(priors, "priors", fmt="cxcywh")
        if len(p) != n:
            raise ValueError(f"priors must have {n} rows, got {len(p)}")
        if (p[:, 2] <= 0).any() or (p[:, 3] <= 0).any():
            raise ValueError("priors must have positive widths and heights")
        return p

    def encode(self, boxes: ArrayLike, priors: ArrayLike) -> np.ndarray:
        """(N, 4) offsets of xyxy ``boxes`` relative to cxcywh ``priors``."""
        gt = as_boxes(boxes)
        gt, p = _common(gt, self._priors(priors, len(gt)))
        v0, v1 = (gt.dtype.type(v) for v in self.variances)
        gw, gh = gt[:, 2] - gt[:, 0], gt[:, 3] - gt[:, 1]
        gx, gy = (gt[:, 0] + gt[:, 2]) / 2, (gt[:, 1] + gt[:, 3]) / 2
        with np.errstate(divide="ignore"):
            return np.stack([(gx - p[:, 0]) / (v0 * p[:, 2]), (gy - p[:, 1]) / (v0 * p[:, 3]),
                             np.log(gw / p[:, 2]) / v1, np.log(gh / p[:, 3]) / v1], axis=1)

    def decode(self, loc: ArrayLike, priors: ArrayLike, out_fmt: str = "xyxy") -> np.ndarray:
        """(N, 4) boxes (``"xyxy"`` or ``"cxcywh"``) from offsets ``loc`` and cxcywh ``priors``."""
        d = as_float_array(loc, "loc")
        if d.ndim != 2 or d.shape[1] != 4:
            raise ValueError(f"loc must have shape (N, 4), got {d.shape}")
        check_finite(d, "loc")
        d, p = _like(d, self._priors(priors, len(d)))
        v0, v1 = (d.dtype.type(v) for v in self.variances)
        return _xyxy_out(p[:, 0] + d[:, 0] * v0 * p[:, 2], p[:, 1] + d[:, 1] * v0 * p[:, 3],
                         p[:, 2] * np.exp(d[:, 2] * v1), p[:, 3] * np.exp(d[:, 3] * v1),
                         as_choice(out_fmt, "out_fmt", ("xyxy", "cxcywh")))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0, -x)).astype(x.dtype, copy=False)


def yolo_decode(pred: ArrayLike, grid: ArrayLike, anchor_wh: ArrayLike, strides: ArrayLike,
                version: str = "v5", out_fmt: str = "xyxy") -> np.ndarray:
    """Boxes from raw YOLO box outputs (logits) of anchor-based heads.

    * ``"v2"`` / ``"v3"`` (also v4): ``xy = (sigmoid(t_xy) + grid) * stride``,
      ``wh = exp(t_wh) * anchor``.
    * ``"v5"`` (also v7): ``xy = (2 sigmoid(t_xy) - 0.5 + grid) * stride``,
      ``wh = (2 sigmoid(t_wh))**2 * anchor``.

    Parameters
    ----------
    pred : (N, 4) array_like
        Raw ``(tx, ty, tw, th)``.
    grid : (N, 2) array_like
        Cell indices (x, y), e.g. from :func:`detkit.ops.anchors.yolo_grid`.
    anchor_wh : (N, 2) array_like
        Anchor sizes in pixels.
    strides : (N,) array_like or float
    version : {"v2", "v3", "v5"}
    out_fmt : {"xyxy", "cxcywh"}

    Returns
    -------
    (N, 4) ndarray, in pixels

    Examples
    --------
    >>> yolo_decode([[0, 0, 0, 0]], [[2, 1]], [[16, 30]], 8, version="v5", out_fmt="cxcywh")
    array([[20., 12., 16., 30.]])
    """
    p = as_float_array(pred, "pred")
    if p.ndim != 2 or p.shape[1] != 4:
        raise ValueError(f"pred must have shape (N, 4), got {p.shape}")
    check_finite(p, "pred")
    n = len(p)
    g = _as_columns(grid, n, 2, "grid")
    a = _as_columns(anchor_wh, n, 2, "anchor_wh")
    s = as_float_array(strides, "strides")
    if np.ndim(strides) == 0:  # as_float_array returns a scalar as shape (1,)
        s = np.full(n, s[0], dtype=s.dtype)
    if s.shape != (n,):
        raise ValueError(f"strides must be a number or have shape ({n},), got {s.shape}")
    check_finite(s, "strides")
    version = as_choice(version, "version", ("v2", "v3", "v5"))
    out_fmt = as_choice(out_fmt, "out_fmt", ("xyxy", "cxcywh"))
    p, g, a, s = _like(p, g, a, s)
    t = p.dtype.type
    if version == "v5":
        xy = (t(2) * _sigmoid(p[:, :2]) - t(0.5) + g) * s[:, None]
        wh = (t(2) * _sigmoid(p[:, 2:])) ** 2 * a
    else:
        xy = (_sigmoid(p[:, :2]) + g) * s[:, None]
        wh = np.exp(p[:, 2:]) * a
    return _xyxy_out(xy[:, 0], xy[:, 1], wh[:, 0], wh[:, 1], out_fmt)


def _points(points: ArrayLike, n: int) -> np.ndarray:
    return _as_columns(points, n, 2, "points")


def dist2bbox(distance: ArrayLike, points: ArrayLike, out_fmt: str = "xyxy") -> np.ndarray:
    """Boxes from (left, top, right, bottom) distances to anchor points (FCOS, YOLOv8).

    ``x1 = px - l, y1 = py - t, x2 = px + r, y2 = py + b``. Use the same units for both (pixels, or
    grid units then multiply by the stride).

    Parameters
    ----------
    distance : (N, 4) array_like
        Non-negative ltrb distances.
    points : (N, 2) array_like
    out_fmt : {"xyxy", "cxcywh"}

    Returns
    -------
    (N, 4) ndarray

    Examples
    --------
    >>> dist2bbox([[1, 2, 3, 4]], [[10, 10]])
    array([[ 9.,  8., 13., 14.]])
    """
    d = as_float_array(distance, "distance")
    if d.ndim != 2 or d.shape[1] != 4:
        raise ValueError(f"distance must have shape (N, 4), got {d.shape}")
    check_finite(d, "distance")
    d, p = _like(d, _points(points, len(d)))
    out_fmt = as_choice(out_fmt, "out_fmt", ("xyxy", "cxcywh"))
    box = np.stack([p[:, 0] - d[:, 0], p[:, 1] - d[:, 1], p[:, 0] + d[:, 2], p[:, 1] + d[:, 3]], axis=1)
    if out_fmt == "xyxy":
        return box
    return np.stack([(box[:, 0] + box[:, 2]) / 2, (box[:, 1] + box[:, 3]) / 2,
                     box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]], axis=1)


def bbox2dist(points: ArrayLike, boxes: ArrayLike, max_dist: Optional[float] = None) -> np.ndarray:
    """(left, top, right, bottom) distances from anchor points to xyxy boxes; inverse of :func:`dist2bbox`.

    Parameters
    ----------
    points : (N, 2) array_like
    boxes : (N, 4) array_like
    max_dist : float, optional
        Clip the distances to ``[0, max_dist]`` (YOLOv8 uses ``reg_max - 1 - 0.01`` in grid units).

    Returns
    -------
    (N, 4) ndarray

    Examples
    --------
    >>> bbox2dist([[10, 10]], [[9, 8, 13, 14]])
    array([[1., 2., 3., 4.]])
    """
    b = as_boxes(boxes)
    p, b = _common(_points(points, len(b)), b)
    dist = np.stack([p[:, 0] - b[:, 0], p[:, 1] - b[:, 1], b[:, 2] - p[:, 0], b[:, 3] - p[:, 1]], axis=1)
    if max_dist is not None:
        dist = np.clip(dist, 0, b.dtype.type(as_real(max_dist, "max_dist", low=0.0)))
    return dist


def dfl_decode(logits: ArrayLike, reg_max: Optional[int] = None) -> np.ndarray:
    """Distances from distribution-focal-loss bins: the expectation of a softmax over the bins.

    ``d = sum_k k softmax(logits)_k`` over ``reg_max + 1`` bins ``k = 0..reg_max`` for each of the
    four sides (ultralytics' DFL layer; its ``reg_max=16`` means 16 bins, i.e. ``reg_max=15`` here).

    Parameters
    ----------
    logits : (N, 4, B) or (N, 4 * B) array_like
        Side-major bins (left bins, then top, right, bottom), B = reg_max + 1.
    reg_max : int, optional
        Required for the flat (N, 4 * B) layout when it is ambiguous; checked against B otherwise.

    Returns
    -------
    (N, 4) ndarray
        ltrb distances in bin units (multiply by the stride for pixels).

    Examples
    --------
    >>> dfl_decode([[[0, 0, 0]] * 4]).tolist()
    [[1.0, 1.0, 1.0, 1.0]]
    """
    x = as_float_array(logits, "logits")
    check_finite(x, "logits")
    if x.ndim == 2 and x.shape[1] % 4 == 0 and x.shape[1] > 0:
        x = x.reshape(len(x), 4, x.shape[1] // 4)
    if x.ndim != 3 or x.shape[1] != 4 or x.shape[2] < 1:
        raise ValueError(f"logits must have shape (N, 4, B) or (N, 4 * B), got {np.shape(logits)}")
    if reg_max is not None:
        if isinstance(reg_max, bool) or not isinstance(reg_max, numbers.Integral) or reg_max + 1 != x.shape[2]:
            raise ValueError(f"reg_max must equal the number of bins minus 1 ({x.shape[2] - 1}), "
                             f"got {reg_max!r}")
    z = x - x.max(axis=2, keepdims=True)
    e = np.exp(z)
    bins = np.arange(x.shape[2], dtype=x.dtype)
    return (e @ bins) / e.sum(axis=2)


class Matcher:
    """Assigns each prediction its best ground truth, as torchvision's detection ``Matcher``.

    For each prediction (column of the quality matrix) the ground truth with the highest quality
    (first on ties) is matched when the quality is ``>= high_threshold``; otherwise the match is
    ``BETWEEN_THRESHOLDS`` (-2) when ``>= low_threshold`` and ``BELOW_LOW_THRESHOLD`` (-1) below.
    With ``allow_low_quality_matches``, each ground truth's best predictions (all ties of its row
    maximum) get their best ground truth back even below the thresholds (Faster R-CNN's RPN rule).

    Parameters
    ----------
    high_threshold, low_threshold : float
        ``low_threshold <= high_threshold``.
    allow_low_quality_matches : bool

    Examples
    --------
    >>> iou = np.array([[0.9, 0.45, 0.1], [0.2, 0.35, 0.2]])
    >>> Matcher(0.7, 0.3)(iou)
    array([ 0, -2, -1])
    >>> Matcher(0.7, 0.3, allow_low_quality_matches=True)(iou)
    array([ 0,  0, -1])
    """

    BELOW_LOW_THRESHOLD = -1
    BETWEEN_THRESHOLDS = -2

    def __init__(self, high_threshold: float, low_threshold: float,
                 allow_low_quality_matches: bool = False) -> None:
        self.high_threshold = as_real(high_threshold, "high_threshold")
        self.low_threshold = as_real(low_threshold, "low_threshold")
        if self.low_threshold > self.high_threshold:
            raise ValueError(f"low_threshold must be <= high_threshold, got {low_threshold} > {high_threshold}")
        self.allow_low_quality_matches = bool(allow_low_quality_matches)

    def __call__(self, match_quality_matrix: ArrayLike) -> np.ndarray:
        """Matches for an (M ground truths, N predictions) quality matrix: (N,) int64.

        Raises ValueError when M or N is 0 (nothing to train on, as torchvision).
        """
        q = as_float_array(match_quality_matrix, "match_quality_matrix")
        if q.ndim != 2:
            raise ValueError("match_quality_matrix must be 2-D (ground truths x predictions), "
                             f"got shape {q.shape}")
        if q.shape[0] == 0:
            raise ValueError("match_quality_matrix has no ground-truth rows (no ground-truth boxes)")
        if q.shape[1] == 0:
            raise ValueError("match_quality_matrix has no prediction columns (no proposals)")
        check_finite(q, "match_quality_matrix")
        all_matches = q.argmax(axis=0)
        best = q[all_matches, np.arange(q.shape[1])]
        matches = all_matches.astype(np.int64)
        matches[best < self.low_threshold] = self.BELOW_LOW_THRESHOLD
        matches[(best >= self.low_threshold) & (best < self.high_threshold)] = self.BETWEEN_THRESHOLDS
        if self.allow_low_quality_matches:
            best_per_gt = q.max(axis=1, keepdims=True)
            _, preds = np.nonzero(q == best_per_gt)
            matches[preds] = all_matches[preds]
        return matches


class BalancedPositiveNegativeSampler:
    """Samples a fixed fraction of positives per image, as torchvision's sampler.

    Positives are ``matched_idxs >= 1``, negatives ``== 0``, the rest (-1) ignored. Per image,
    ``min(#positives, int(batch_size_per_image * positive_fraction))`` positives and
    ``min(#negatives, batch_size_per_image - that)`` negatives are drawn uniformly without
    replacement from a numpy ``Generator``, so a seed makes the draw reproducible.

    Parameters
    ----------
    batch_size_per_image : int >= 0
    positive_fraction : float in [0, 1]
    seed : int, numpy.random.Generator or None

    Examples
    --------
    >>> sampler = BalancedPositiveNegativeSampler(4, 0.5, seed=0)
    >>> pos, neg = sampler([np.array([1, 0, 0, -1, 2, 0, 3])])
    >>> int(pos[0].sum()), int(neg[0].sum()), bool((neg[0] & pos[0]).any())
    (2, 2, False)
    """

    def __init__(self, batch_size_per_image: int, positive_fraction: float,
                 seed: Union[int, np.random.Generator, None] = None) -> None:
        if isinstance(batch_size_per_image, bool) or not isinstance(batch_size_per_image, numbers.Integral):
            raise TypeError("batch_size_per_image must be a non-negative integer, "
                            f"got {batch_size_per_image!r}")
        if batch_size_per_image < 0:
            raise ValueError(f"batch_size_per_image must be a non-negative integer, got {batch_size_per_image}")
        self.batch_size_per_image = int(batch_size_per_image)
        self.positive_fraction = as_real(positive_fraction, "positive_fraction", low=0.0, high=1.0)
        if isinstance(seed, np.random.Generator):
            self.rng = seed
        else:
            try:
                self.rng = np.random.default_rng(seed)
            except (TypeError, ValueError):
                raise TypeError(f"seed must be a non-negative integer, a numpy.random.Generator or None, "
                                f"got {seed!r}") from None

    def __call__(self, matched_idxs: Sequence[ArrayLike]) -> tuple:
        """Boolean masks ``(positive masks, negative masks)``, one pair per image.

        Parameters
        ----------
        matched_idxs : sequence of (N_i,) integer arrays
            Per image: -1 ignore, 0 background, >= 1 foreground label.
        """
        if not isinstance(matched_idxs, (list, tuple)):
            raise TypeError("matched_idxs must be a list of per-image integer arrays, "
                            f"got {type(matched_idxs).__name__}")
        pos_masks, neg_masks = [], []
        for i, m in enumerate(matched_idxs):
            labels = np.asarray(m)
            if labels.ndim != 1 or (labels.size and labels.dtype.kind not in "iu"):
                raise ValueError(f"matched_idxs[{i}] must be a 1-D integer array, got shape {labels.shape} "
                                 f"and dtype {labels.dtype}")
            positive = np.flatnonzero(labels >= 1)
            negative = np.flatnonzero(labels == 0)
            num_pos = min(len(positive), int(self.batch_size_per_image * self.positive_fraction))
            num_neg = min(len(negative), self.batch_size_per_image - num_pos)
            pos = np.zeros(labels.shape, dtype=bool)
            neg = np.zeros(labels.shape, dtype=bool)
            pos[positive[self.rng.permutation(len(positive))[:num_pos]]] = True
            neg[negative[self.rng.permutation(len(negative))[:num_neg]]] = True
            pos_masks.append(pos)
            neg_masks.append(neg)
        return pos_masks, neg_masks
