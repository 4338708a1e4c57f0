"""Pascal VOC detection evaluation: per-class average precision and mAP, as the VOC devkit.

The rules (VOCdevkit ``VOCevaldet.m``, as transcribed in py-faster-rcnn's ``voc_eval.py``):

1. Classes are evaluated independently. A class's positives are its ground-truth boxes not marked
   ``difficult``.
2. A class's detections, over all images, are visited by decreasing score; equal scores keep their
   input order (a stable sort, as MATLAB's ``sort``; ``voc_eval.py`` uses numpy's unstable sort).
3. Each detection is compared with every ground-truth box of its class in its image, difficult and
   already-matched ones included, and takes the one of largest IoU (the first one on ties). IoU
   uses widths ``x2 - x1 + offset``: ``offset=1`` is the devkit's inclusive-pixel convention. The IoU
   of two boxes whose union is 0 is 0.
4. If that IoU is above ``iou_threshold``: a difficult box makes the detection neither a true nor a
   false positive; an unmatched box is matched (true positive); an already-matched box makes it a
   false positive (duplicate). Otherwise the detection is a false positive. Matching never falls
   back to the second-best box. "Above" is ``IoU > iou_threshold`` by default (``strict=True``:
   py-faster-rcnn's ``voc_eval.py``, detectron2, torchvision's references); the MATLAB devkit
   (``VOCevaldet.m``: ``ovmax >= minoverlap``) and mmdetection use ``>=``: ``strict=False``. A
   detection that does not intersect any box never matches, even at threshold 0.
5. Along the score order, ``recall = TP / positives`` and ``precision = TP / (TP + FP)`` (ignored
   detections repeat the previous point; before the first counted detection precision is 0, as
   ``voc_eval.py``'s ``tp / max(tp + fp, eps)``).
6. AP: VOC2010+ (``use_07_metric=False``) is the area under the precision envelope (precision made
   non-increasing from the right) over the recall steps, with sentinels (0, 0) and (1, 0); VOC2007
   (``use_07_metric=True``) is the mean over the 11 thresholds ``t = 0.1 * i`` (computed as
   ``numpy.arange(0., 1.1, 0.1)``, so the 4th, 7th and 8th thresholds are a hair above 0.3, 0.6 and
   0.7) of the largest precision at recall ``>= t`` (0 when none).
7. A class without positives (no ground truth, or only difficult boxes) has undefined recall: its AP
   is NaN and it is left out of the mAP (the devkit divides by zero there). A class with positives
   but no detections has AP 0 and counts in the mAP.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from detkit import _cy_voc
from detkit._validation import (as_boxes, as_float_array, as_labels, as_offset, as_scores, as_threshold,
                                check_finite)

__all__ = ["evaluate_voc", "VOCResult", "voc_ap"]


@dataclasses.dataclass(frozen=True)
class VOCResult:
    """Result of :func:`evaluate_voc`; index ``i`` of every per-class field is class ``classes[i]``.

    Attributes
    ----------
    classes : (C,) ndarray of int64
        The evaluated class labels, increasing.
    ap : (C,) ndarray of float64
        Average precision per class; NaN for a class without positives.
    n_positives : (C,) ndarray of int64
        Non-difficult ground-truth boxes per class.
    precision, recall, scores : list of C ndarrays of float64
        The precision/recall curve of each class along its detections sorted by decreasing score,
        and those scores. Recall is NaN for a class without positives.
    mAP : float
        Mean of ``ap`` over the classes with positives (NaN when there are none).
    iou_threshold, use_07_metric, offset, strict
        The settings used.
    """

    classes: np.ndarray
    ap: np.ndarray
    n_positives: np.ndarray
    precision: List[np.ndarray]
    recall: List[np.ndarray]
    scores: List[np.ndarray]
    mAP: float
    iou_threshold: float
    use_07_metric: bool
    offset: int
    strict: bool

    def to_dict(self) -> Dict[str, Any]:
        """``{"mAP": float, "AP": {label: float}, "n_positives": {label: int}}``."""
        return {"mAP": self.mAP,
                "AP": {int(c): float(a) for c, a in zip(self.classes, self.ap)},
                "n_positives": {int(c): int(n) for c, n in zip(self.classes, self.n_positives)}}

    def __str__(self) -> str:
        rule = ">" if self.strict else ">="
        kind = "2007 11-point" if self.use_07_metric else "all-point"
        lines = [f"VOC {kind} AP @ IoU {rule} {self.iou_threshold:g}"]
        lines += [f"  class {int(c):>4}: AP {a:.4f}  ({int(n)} positives)"
                  for c, a, n in zip(self.classes, self.ap, self.n_positives)]
        lines.append(f"  mAP {self.mAP:.4f}")
        return "\n".join(lines)


def voc_ap(recall: Any, precision: Any, use_07_metric: bool = False) -> float:
    """Average precision of one precision/recall curve (rule 6 of the module docstring).

    Parameters
    ----------
    recall, precision : (K,) array_like
        The curve along the detections sorted by decreasing score.
    use_07_metric : bool
        VOC2007 11-point interpolation instead of the VOC2010+ area under the envelope.

    Returns
    -------
    float

    Examples
    --------
    >>> voc_ap([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3])
    0.8333333333333333
    >>> voc_ap([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3], use_07_metric=True)
    0.848484848484848...
    """
    rec = as_float_array(recall, "recall").astype(np.float64, copy=False)
    prec = as_float_array(precision, "precision").astype(np.float64, copy=False)
    if rec.ndim != 1 or rec.shape != prec.shape:
        raise ValueError("recall and precision must be 1-D of the same length, "
                         f"got shapes {rec.shape} and {prec.shape}")
    check_finite(rec, "recall")
    check_finite(prec, "precision")
    if use_07_metric:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            reached = rec >= t
            ap += (prec[reached].max() if reached.any() else 0.0) / 11.0
        return float(ap)
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


# ------------------------------------------------------------------------------------------------
# input normalisation: per-image records or flat arrays -> flat arrays with image indices

def _field(record: Any, key: str, position: int, where: str, default: Any = None) -> Any:
    if isinstance(record, dict):
        if key in record:
            return record[key]
    elif position < len(record):
        return record[position]
    if default is not None:
        return default
    raise ValueError(f"{where} must have '{key}' (a dict key or tuple item {position})")


def _as_difficult(value: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.size == 0:
        arr = arr.astype(bool)
    if arr.dtype.kind not in "biu":
        raise TypeError(f"{name} must hold booleans or 0/1 integers, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match the boxes, got shape {arr.shape}")
    return arr != 0


def _columns(boxes: Any, labels: Any, extra: Any, is_gt: bool, name_of) -> tuple:
    """Validated (boxes float64, labels int64, difficult bool / scores float64); name_of(field)
    names a field in the error messages. A missing difficult column (None) is all False."""
    b = as_boxes(boxes, name_of("boxes")).astype(np.float64, copy=False)
    n = len(b)
    lab = as_labels(labels, n, name_of("labels"))
    if is_gt:
        ext = np.zeros(n, bool) if extra is None else _as_difficult(extra, n, name_of("difficult"))
    else:
        ext = as_scores(extra, n, name_of("scores"))
    return b, lab, ext


def _record_fields(rec: Any, where: str, is_gt: bool) -> tuple:
    """Raw (boxes, labels, difficult-or-scores) of one per-image record (dict or tuple)."""
    if not isinstance(rec, (dict, tuple, list)):
        raise TypeError(f"{where} must be a dict or a tuple, got {type(rec).__name__}")
    boxes = _field(rec, "boxes", 0, where)
    if is_gt:
        return boxes, _field(rec, "labels", 1, where), _field(rec, "difficult", 2, where, _ABSENT)
    return boxes, _field(rec, "labels", 2, where), _field(rec, "scores", 1, where)


_ABSENT = np.zeros(0, bool)  # marks a missing difficult column


def _as_column(value: Any, n: Optional[int]) -> Optional[np.ndarray]:
    """Quick shape-checked array for the fast path; None if it needs the full (slow) checks."""
    arr = np.asarray(value)
    if n is None:  # boxes
        if arr.size == 0:
            return arr.reshape(0, 4).astype(np.float64)
        return arr if arr.ndim == 2 and arr.shape[1] == 4 else None
    if arr.size == 0:
        return arr.reshape(0).astype(np.int64)
    return arr if arr.shape == (n,) else None


def _flatten(records: Any, name: str, is_gt: bool):
    """(image ids, boxes, labels, difficult-or-scores) as flat validated arrays."""
    if isinstance(records, dict):  # flat form
        if "image_ids" not in records:
            raise ValueError(f"{name} given as a dict of flat arrays must have 'image_ids'")
        fields = ("boxes", "labels", "difficult" if is_gt else "scores")
        raw = [records.get(f, np.zeros((0, 4)) if f == "boxes" else None) for f in fields]
        if not is_gt and raw[2] is None or raw[1] is None:
            raise ValueError(f"{name} must have '{'labels' if raw[1] is None else 'scores'}'")
        boxes, labels, extra = _columns(*raw, is_gt, lambda f: f"{name}['{f}']")
        return as_labels(records["image_ids"], len(boxes), f"{name}['image_ids']"), boxes, labels, extra
    if not isinstance(records, (list, tuple)):
        raise TypeError(f"{name} must be a list with one record per image or a dict of flat arrays "
                        f"with 'image_ids', got {type(records).__name__}")
    # Fast path: stack the raw columns and validate them once; on any problem, validate record by
    # record so that the error names the image.
    cols: list = [[], [], []]
    try:
        for i, rec in enumerate(records):
            boxes, labels, extra = _record_fields(rec, name, is_gt)  # errors: see the except
            b = _as_column(boxes, None)
            if b is None:
                raise ValueError
            lab = _as_column(labels, len(b))
            absent = extra is _ABSENT or (is_gt and extra is None)
            ext = np.zeros(len(b), bool) if absent else _as_column(extra, len(b))
            if lab is None or ext is None:
                raise ValueError
            for col, v in zip(cols, (b, lab, ext)):
                col.append(v)
        sizes = [len(b) for b in cols[0]]
        stacked = [np.concatenate(c) if c else np.zeros((0, 4) if k == 0 else 0) for k, c in enumerate(cols)]
        boxes, labels, extra = _columns(*stacked, is_gt, lambda f: f"{name} {f}")
    except (TypeError, ValueError):
        checked = []
        for i, rec in enumerate(records):
            where = f"{name}[{i}]"
            fields = list(_record_fields(rec, where, is_gt))
            if fields[2] is _ABSENT:
                fields[2] = None
            checked.append(_columns(*fields, is_gt, lambda f: f"{where} {f}"))
        # Every record is valid on its own (the fast path only failed to stack them): use them.
        sizes = [len(c[0]) for c in checked]
        boxes, labels, extra = (np.concatenate([c[k] for c in checked]) for k in range(3))
    return np.repeat(np.arange(len(sizes), dtype=np.int64), sizes), boxes, labels, extra


# ------------------------------------------------------------------------------------------------

def evaluate_voc(gt: Any, detections: Any, iou_threshold: float = 0.5, use_07_metric: bool = False,
                 offset: int = 1, classes: Optional[Sequence[int]] = None, strict: bool = True) -> VOCResult:
    """Pascal VOC per-class AP and mAP (see the module docstring for every rule).

    Parameters
    ----------
    gt : list of per-image records, or dict of flat arrays
        Per image: a dict ``{"boxes": (n, 4), "labels": (n,), "difficult": (n,)}`` or a tuple
        ``(boxes, labels[, difficult])``; ``difficult`` defaults to all False. Flat: a dict with
        ``"image_ids"``, ``"boxes"``, ``"labels"`` and optionally ``"difficult"``, all of length n.
        Boxes are xyxy.
    detections : list of per-image records, or dict of flat arrays
        Per image (same order and length as a per-image ``gt``): ``{"boxes", "scores", "labels"}``
        or ``(boxes, scores, labels)``. Flat: ``"image_ids"``, ``"boxes"``, ``"scores"``,
        ``"labels"``. With per-image records the image id is the list position. Ties in score
        keep this input order (per-image lists are read image by image).
    iou_threshold : float in [0, 1]
        A detection can match when its IoU is greater than this (or equal, see ``strict``).
    use_07_metric : bool
        VOC2007 11-point AP instead of the VOC2010+ all-point AP.
    offset : {1, 0}
        1: the devkit's "+1" pixel convention for widths and heights; 0: continuous coordinates.
    classes : sequence of int, optional
        The labels to evaluate (default: every label found in ``gt`` or ``detections``); other
        labels are ignored.
    strict : bool
        True: a match needs ``IoU > iou_threshold`` (voc_eval.py); False: ``IoU >= iou_threshold``
        (the MATLAB devkit).

    Returns
    -------
    VOCResult

    Examples
    --------
    >>> gt = [{"boxes": [[0, 0, 9, 9], [20, 20, 29, 29]], "labels": [1, 1], "difficult": [0, 1]}]
    >>> dets = [{"boxes": [[0, 0, 9, 9], [1, 1, 9, 9], [20, 20, 29, 29]],
    ...          "scores": [0.9, 0.8, 0.7], "labels": [1, 1, 1]}]
    >>> r = evaluate_voc(gt, dets)
    >>> r.ap, r.n_positives, r.precision[0]
    (array([1.]), array([1]), array([1. , 0.5, 0.5]))
    """
    thr = as_threshold(iou_threshold, "iou_threshold")
    off = as_offset(offset)
    g_img, g_boxes, g_lab, g_diff = _flatten(gt, "gt", True)
    d_img, d_boxes, d_lab, d_score = _flatten(detections, "detections", False)
    if isinstance(gt, (list, tuple)) and isinstance(detections, (list, tuple)) and len(gt) != len(detections):
        raise ValueError("gt and detections must list the same images: "
                         f"got {len(gt)} and {len(detections)} records")
    if classes is None:
        labels = np.union1d(g_lab, d_lab)
    else:
        labels = np.unique(as_labels(np.asarray(classes).ravel(), np.asarray(classes).size, "classes"))
    n_cls = len(labels)

    # Keep the evaluated classes; class index c and a dense image index give the matching key.
    if classes is not None:
        g_keep = np.isin(g_lab, labels)
        d_keep = np.isin(d_lab, labels)
        g_img, g_boxes, g_lab, g_diff = g_img[g_keep], g_boxes[g_keep], g_lab[g_keep], g_diff[g_keep]
        d_img, d_boxes, d_lab, d_score = d_img[d_keep], d_boxes[d_keep], d_lab[d_keep], d_score[d_keep]
    g_cls, d_cls = np.searchsorted(labels, g_lab), np.searchsorted(labels, d_lab)
    all_img = np.concatenate([g_img, d_img])
    lo = int(all_img.min()) if all_img.size else 0
    n_images = int(all_img.max()) - lo + 1 if all_img.size else 0
    if n_images * max(n_cls, 1) < 2**62:  # image ids as they are (shifted to start at 0)
        img_index = all_img - lo
    else:  # ids spread too far apart for a combined key: number them densely
        img_index = np.unique(all_img, return_inverse=True)[1].reshape(-1)
        n_images = int(img_index.max()) + 1
    g_key = g_cls * n_images + img_index[: len(g_img)]
    d_key = d_cls * n_images + img_index[len(g_img):]

    n_pos = np.bincount(g_cls[~g_diff], minlength=n_cls)

    # Ground truth sorted by key, input order kept inside a key (rule 3: first gt on ties).
    g_order = np.argsort(g_key, kind="stable")
    g_key, g_boxes, g_diff = g_key[g_order], g_boxes[g_order], g_diff[g_order]

    # Detections by class, then decreasing score, ties in input order (rule 2).
    d_order = np.argsort(-d_score, kind="stable")
    d_order = d_order[np.argsort(d_cls[d_order], kind="stable")]
    d_key, d_cls, d_score = d_key[d_order], d_cls[d_order], d_score[d_order]

    # Rules 3-4: each detection against the gt of its key (a contiguous range of the sorted gt).
    n_keys = n_cls * n_images
    if n_keys <= 4 * (len(g_key) + len(d_key)):  # a table of where each key's gt starts
        first = np.concatenate(([0], np.cumsum(np.bincount(g_key, minlength=n_keys))))
        start, count = first[d_key], first[d_key + 1] - first[d_key]
    else:
        start = np.searchsorted(g_key, d_key, side="left")
        count = np.searchsorted(g_key, d_key, side="right") - start
    tp, fp = _cy_voc.match(d_order, start, count, d_boxes, g_boxes, g_diff.view(np.uint8), thr, off,
                           bool(strict))

    # Rules 5-7 per class.
    bounds = np.searchsorted(d_cls, np.arange(n_cls + 1))
    ap = np.full(n_cls, np.nan)
    precision, recall, scores = [], [], []
    for c in range(n_cls):
        lo, hi = bounds[c], bounds[c + 1]
        ctp, cfp = np.cumsum(tp[lo:hi]), np.cumsum(fp[lo:hi])
        prec = ctp / np.maximum(ctp + cfp, np.finfo(np.float64).eps)
        rec = ctp / n_pos[c] if n_pos[c] else np.full(hi - lo, np.nan)
        if n_pos[c]:
            ap[c] = voc_ap(rec, prec, use_07_metric)
        precision.append(prec)
        recall.append(rec)
        scores.append(d_score[lo:hi].copy())
    with_pos = n_pos > 0
    mAP = float(ap[with_pos].mean()) if with_pos.any() else float("nan")
    return VOCResult(classes=labels.astype(np.int64), ap=ap, n_positives=n_pos.astype(np.int64),
                     precision=precision, recall=recall, scores=scores, mAP=mAP, iou_threshold=thr,
                     use_07_metric=bool(use_07_metric), offset=int(off), strict=bool(strict))
