"""Proposal quality: recall at IoU thresholds, (mean) average best overlap and average recall.

Conventions shared by the functions here:

* ``proposals`` and ``gt_boxes`` are xyxy boxes of one image ((N, 4) array_like) or of a dataset
  (a list or tuple of per-image (N_i, 4) arrays, the same number of images for both; an image
  without boxes may be an empty list). A list whose first element is itself a box (four numbers)
  is one image.
* The best overlap of a ground-truth box is its largest IoU with a proposal of the same image
  (0 when the image has no proposal); IoU uses continuous coordinates (``offset=0``).
* Only the first ``max_proposals`` proposals of each image count (they are expected in rank order).
* A ground-truth box is recalled at threshold t when its best overlap is >= t.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from detkit._validation import as_boxes, as_count, as_labels, as_threshold
from detkit.ops import box_iou

__all__ = ["best_overlaps", "proposal_recall", "average_best_overlap", "average_recall"]


def _per_image(value, name: str) -> list:
    first = value[0] if isinstance(value, (list, tuple)) and value else None
    # A dataset's first image is a 2-D box array or an empty sequence (an image without boxes).
    if first is not None and (np.ndim(first) == 2 or (np.ndim(first) == 1 and np.size(first) == 0)):
        return [as_boxes(v, f"{name}[{i}]") for i, v in enumerate(value)]
    return [as_boxes(value, name)]


def best_overlaps(proposals, gt_boxes, *, max_proposals: Optional[int] = None) -> np.ndarray:
    """Best overlap of every ground-truth box, images concatenated in order.

    Parameters
    ----------
    proposals, gt_boxes : (N, 4) array_like or sequence of them
        One image or a dataset (see the module conventions).
    max_proposals : int, optional
        Count only the first ``max_proposals`` proposals of each image.

    Returns
    -------
    (G,) ndarray of float64
        Largest IoU of each ground-truth box with a proposal of its image.

    Examples
    --------
    >>> best_overlaps([[0, 0, 10, 10], [0, 0, 5, 10]], [[0, 0, 10, 10], [0, 0, 20, 10]])
    array([1. , 0.5])
    """
    props, gts = _per_image(proposals, "proposals"), _per_image(gt_boxes, "gt_boxes")
    if len(props) != len(gts):
        raise ValueError(f"proposals and gt_boxes must cover the same images, got {len(props)} and {len(gts)}")
    limit = as_count(max_proposals, "max_proposals")
    best = []
    for p, g in zip(props, gts):
        if limit >= 0:
            p = p[:limit]
        if len(p) == 0 or len(g) == 0:
            best.append(np.zeros(len(g)))
        else:
            best.append(box_iou(g, p).max(axis=1).astype(np.float64))
    return np.concatenate(best) if best else np.zeros(0)


def proposal_recall(proposals, gt_boxes, iou_thresholds: Union[float, Sequence[float]] = 0.5, *,
                    max_proposals: Optional[int] = None) -> Union[float, np.ndarray]:
    """Fraction of ground-truth boxes with a proposal of IoU >= each threshold.

    Parameters
    ----------
    proposals, gt_boxes : (N, 4) array_like or sequence of them
        One image or a dataset (see the module conventions).
    iou_thresholds : float or sequence of float in [0, 1]
    max_proposals : int, optional
        Count only the first ``max_proposals`` proposals of each image.

    Returns
    -------
    float or (T,) ndarray of float64
        Recall per threshold (a float for a scalar threshold); NaN without ground truth.

    Examples
    --------
    >>> proposal_recall([[0, 0, 10, 10], [0, 0, 5, 10]], [[0, 0, 10, 10], [0, 0, 20, 10]], [0.5, 0.7])
    array([1. , 0.5])
    """
    scalar = np.ndim(iou_thresholds) == 0
    thresholds = np.array([as_threshold(t, "iou_thresholds") for t in np.atleast_1d(iou_thresholds).tolist()])
    best = best_overlaps(proposals, gt_boxes, max_proposals=max_proposals)
    recall = (best[None, :] >= thresholds[:, None]).mean(axis=1) if len(best) else np.full(len(thresholds), np.nan)
    return float(recall[0]) if scalar else recall


def average_best_overlap(proposals, gt_boxes, gt_labels=None, *,
                         max_proposals: Optional[int] = None) -> tuple:
    """Average best overlap per class (ABO) and their mean over classes (MABO), as in Uijlings et al.

    Parameters
    ----------
    proposals, gt_boxes : (N, 4) array_like or sequence of them
        One image or a dataset (see the module conventions).
    gt_labels : (G,) array_like of int or sequence of them, optional
        Class of each ground-truth box (same nesting as ``gt_boxes``); all one class when omitted.
    max_proposals : int, optional
        Count only the first ``max_proposals`` proposals of each image.

    Returns
    -------
    mabo : float
        Mean of the per-class ABOs (NaN without ground truth).
    abo : dict
        ``{class label: mean best overlap of its ground-truth boxes}``.

    Examples
    --------
    >>> average_best_overlap([[0, 0, 10, 10]], [[0, 0, 10, 10], [0, 0, 20, 10], [0, 0, 10, 40]], [1, 1, 2])
    (0.5, {1: 0.75, 2: 0.25})
    """
    best = best_overlaps(proposals, gt_boxes, max_proposals=max_proposals)
    if gt_labels is None:
        labels = np.zeros(len(best), np.int64)
    else:
        parts = gt_labels if isinstance(gt_labels, (list, tuple)) and gt_labels and np.ndim(gt_labels[0]) == 1 \
            else [gt_labels]
        labels = np.concatenate([np.zeros(0, np.int64)] + [np.asarray(p).reshape(-1) for p in parts])
        labels = as_labels(labels, len(best), "gt_labels")
    abo = {int(c): float(best[labels == c].mean()) for c in np.unique(labels)}
    mabo = float(np.mean(list(abo.values()))) if abo else float("nan")
    return mabo, abo


def average_recall(proposals, gt_boxes, *, max_proposals: Optional[int] = None) -> float:
    """Average recall (Hosang et al., 2016): twice the integral of recall over IoU 0.5..1.

    Computed exactly as ``2 * mean(max(0, best_overlap - 0.5))`` over the ground-truth boxes, which
    equals ``2 * integral_{0.5}^{1} recall(t) dt``.

    Parameters
    ----------
    proposals, gt_boxes : (N, 4) array_like or sequence of them
        One image or a dataset (see the module conventions).
    max_proposals : int, optional
        Count only the first ``max_proposals`` proposals of each image.

    Returns
    -------
    float
        In [0, 1]; NaN without ground truth.

    Examples
    --------
    >>> average_recall([[0, 0, 10, 10], [0, 0, 5, 10]], [[0, 0, 10, 10], [0, 0, 20, 10]])
    0.5
    """
    best = best_overlaps(proposals, gt_boxes, max_proposals=max_proposals)
    return float(2.0 * np.maximum(0.0, best - 0.5).mean()) if len(best) else float("nan")
