"""Non-maximum suppression: greedy NMS, per-class (batched) NMS and Soft-NMS.

Shared conventions:

* Boxes are (N, 4) xyxy arrays (finite, not inverted); scores are (N,) finite real numbers.
* Candidates are visited by decreasing score; equal scores by increasing index (stable).
* A box is suppressed when its IoU with a kept box is strictly greater than ``iou_threshold``;
  the IoU of two boxes whose union is 0 is 0.
* Outputs are int64 indices into the inputs, ordered by decreasing score (ties: lower index).
* Empty inputs give empty outputs.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import numpy.typing as npt

from detkit import _C
from detkit._validation import (
    as_boxes,
    as_choice,
    as_count,
    as_labels,
    as_offset,
    as_real,
    as_scores,
    as_threshold,
)

__all__ = ["nms", "batched_nms", "soft_nms", "batched_soft_nms"]

ArrayLike = npt.ArrayLike
_SOFT_METHODS = {"linear": 0, "gaussian": 1}


def _common(boxes, scores, iou_threshold, score_threshold, pre_nms_top_k, max_output, offset):
    arr = as_boxes(boxes)
    return (
        arr,
        as_scores(scores, len(arr)),
        as_threshold(iou_threshold, "iou_threshold"),
        None if score_threshold is None else as_real(score_threshold, "score_threshold"),
        as_count(pre_nms_top_k, "pre_nms_top_k"),
        as_count(max_output, "max_output"),
        as_offset(offset),
    )


def nms(boxes: ArrayLike, scores: ArrayLike, iou_threshold: float, *,
        score_threshold: Optional[float] = None, pre_nms_top_k: Optional[int] = None,
        max_output: Optional[int] = None, offset: int = 0) -> np.ndarray:
    """Greedy non-maximum suppression, as ``torchvision.ops.nms`` plus the usual conveniences.

    Parameters
    ----------
    boxes : (N, 4) array_like
        xyxy boxes.
    scores : (N,) array_like
        Box scores.
    iou_threshold : float in [0, 1]
        Boxes with IoU > iou_threshold against a higher-scoring kept box are discarded.
    score_threshold : float, optional
        First drop the boxes with ``score <= score_threshold`` (as ``cv2.dnn.NMSBoxes``).
    pre_nms_top_k : int, optional
        Then keep only the ``pre_nms_top_k`` highest-scoring candidates.
    max_output : int, optional
        Return at most this many boxes (the highest-scoring survivors).
    offset : {0, 1}
        1 selects the legacy "+1" pixel convention for the IoU.

    Returns
    -------
    (K,) ndarray of int64
        Indices of the kept boxes, by decreasing score; equal scores by increasing index.

    Examples
    --------
    >>> boxes = [[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]]
    >>> nms(boxes, [0.9, 0.8, 0.7], 0.5)
    array([0, 2])
    """
    arr, sc, thr, sthr, top_k, max_out, off = _common(
        boxes, scores, iou_threshold, score_threshold, pre_nms_top_k, max_output, offset)
    return _C.nms(arr, sc, thr, off, sthr, top_k, max_out)


def batched_nms(boxes: ArrayLike, scores: ArrayLike, idxs: ArrayLike, iou_threshold: float, *,
                score_threshold: Optional[float] = None, pre_nms_top_k: Optional[int] = None,
                max_output: Optional[int] = None, offset: int = 0) -> np.ndarray:
    """Non-maximum suppression run independently for each category.

    Boxes with different ``idxs`` never suppress each other. Unlike torchvision's
    ``batched_nms``, the categories are really partitioned (no coordinate-offset trick), so the
    result is right for any coordinates, negative ones included. Classes are processed in
    parallel (see :func:`detkit.set_num_threads`).

    Parameters
    ----------
    boxes, scores, iou_threshold, offset
        As in :func:`nms`.
    idxs : (N,) array_like of int
        Category (or image, or image-and-category) id of each box.
    score_threshold, pre_nms_top_k, max_output
        As in :func:`nms`; they apply to all boxes together, not per category.

    Returns
    -------
    (K,) ndarray of int64
        Indices of the kept boxes of all categories, by decreasing score (ties: lower index).

    Examples
    --------
    >>> boxes = [[0, 0, 10, 10], [1, 1, 11, 11], [1, 1, 11, 11]]
    >>> batched_nms(boxes, [0.9, 0.8, 0.7], [0, 0, 1], 0.5)
    array([0, 2])
    """
    arr, sc, thr, sthr, top_k, max_out, off = _common(
        boxes, scores, iou_threshold, score_threshold, pre_nms_top_k, max_output, offset)
    labels = as_labels(idxs, len(arr))
    return _C.batched_nms(arr, sc, labels, thr, off, sthr, top_k, max_out)


def soft_nms(boxes: ArrayLike, scores: ArrayLike, iou_threshold: float = 0.3, sigma: float = 0.5,
             score_threshold: float = 0.001, method: str = "gaussian", *,
             max_output: Optional[int] = None, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Soft-NMS (Bodla et al., "Improving Object Detection With One Line of Code", 2017).

    Repeatedly selects the remaining box with the highest current score (ties: lower index) and
    decays the scores of the remaining boxes by a weight of their IoU with it:
    ``exp(-iou**2 / sigma)`` for ``"gaussian"``, ``1 - iou`` when ``iou > iou_threshold`` for
    ``"linear"``. Boxes whose score falls below ``score_threshold`` are dropped (a box is returned
    when its score at selection is ``>= score_threshold``). Decays are computed in float64.

    Parameters
    ----------
    boxes : (N, 4) array_like
        xyxy boxes.
    scores : (N,) array_like
        Initial scores.
    iou_threshold : float in [0, 1]
        Overlap above which the linear method decays (unused by the gaussian method).
    sigma : float > 0
        Width of the gaussian decay.
    score_threshold : float
        Minimum (decayed) score of a returned box.
    method : {"gaussian", "linear"}
    max_output : int, optional
        Stop after selecting this many boxes.
    offset : {0, 1}
        1 selects the legacy "+1" pixel convention for the IoU.

    Returns
    -------
    keep : (K,) ndarray of int64
        Selected indices in selection order.
    scores : (K,) ndarray
        Their decayed scores (non-increasing), in the dtype of ``scores`` (float64 for non-float).

    Examples
    --------
    >>> keep, new_scores = soft_nms([[0, 0, 10, 10], [0, 0, 10, 9]], [0.9, 0.8], method="linear")
    >>> keep, new_scores.round(3)
    (array([0, 1]), array([0.9 , 0.08]))
    """
    return _soft(boxes, scores, None, iou_threshold, sigma, score_threshold, method, max_output, offset)


def batched_soft_nms(boxes: ArrayLike, scores: ArrayLike, idxs: ArrayLike,
                     iou_threshold: float = 0.3, sigma: float = 0.5,
                     score_threshold: float = 0.001, method: str = "gaussian", *,
                     max_output: Optional[int] = None, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Class-aware Soft-NMS: a box only decays boxes with the same ``idxs`` value.

    Parameters and results as :func:`soft_nms`; ``idxs`` is an (N,) integer array of categories.
    The selection order is global (decreasing current score across all categories).

    Examples
    --------
    >>> keep, _ = batched_soft_nms([[0, 0, 10, 10], [0, 0, 10, 9]], [0.9, 0.8], [0, 1])
    >>> keep
    array([0, 1])
    """
    return _soft(boxes, scores, idxs, iou_threshold, sigma, score_threshold, method, max_output, offset)


def _soft(boxes, scores, idxs, iou_threshold, sigma, score_threshold, method, max_output, offset):
    arr = as_boxes(boxes)
    score_dtype = np.asarray(scores).dtype
    sc = as_scores(scores, len(arr))
    labels = None if idxs is None else as_labels(idxs, len(arr))
    method = as_choice(method, "method", tuple(_SOFT_METHODS))
    keep, kept = _C.soft_nms(
        arr, sc, labels,
        as_threshold(iou_threshold, "iou_threshold"),
        as_real(sigma, "sigma", low=0.0, low_open=True),
        as_real(score_threshold, "score_threshold"),
        _SOFT_METHODS[method],
        as_offset(offset),
        as_count(max_output, "max_output"),
    )
    out_dtype = score_dtype if score_dtype in (np.float32, np.float64) else np.float64
    return keep, kept.astype(out_dtype, copy=False)
