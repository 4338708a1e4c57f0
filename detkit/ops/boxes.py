"""Box geometry: format conversion, area, clipping, small-box removal and the IoU family.

Boxes are (N, 4) arrays in ``x1, y1, x2, y2`` order unless a format argument says otherwise.
float32 and float64 inputs are kept (outputs have the input dtype, or float64 when the two box
arrays differ); other real dtypes are converted to float64. Boxes must be finite and not inverted.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import numpy.typing as npt

from detkit import _C, _cy_boxes
from detkit._validation import (
    BOX_FORMATS,
    as_boxes,
    as_choice,
    as_float_array,
    as_offset,
    as_output,
    as_real,
)

__all__ = [
    "box_area",
    "box_convert",
    "clip_boxes_to_image",
    "remove_small_boxes",
    "box_iou",
    "generalized_box_iou",
    "distance_box_iou",
    "complete_box_iou",
]

ArrayLike = npt.ArrayLike
_FORMAT_CODES = {"xyxy": 0, "xywh": 1, "cxcywh": 2}
_IOU, _GIOU, _DIOU, _CIOU = 0, 1, 2, 3


def box_convert(boxes: ArrayLike, in_fmt: str, out_fmt: str) -> np.ndarray:
    """Converts boxes between the ``"xyxy"``, ``"xywh"`` and ``"cxcywh"`` formats.

    Same formulas as ``torchvision.ops.box_convert``: conversions between xywh and cxcywh go
    through xyxy, and ``cxcywh -> xyxy`` uses ``x1 = cx - 0.5 * w``.

    Parameters
    ----------
    boxes : (N, 4) array_like
        Boxes in ``in_fmt``. Widths and heights must be non-negative.
    in_fmt, out_fmt : {"xyxy", "xywh", "cxcywh"}
        Source and target formats.

    Returns
    -------
    (N, 4) ndarray
        A new array in ``out_fmt`` (a copy even when the formats are equal).

    Examples
    --------
    >>> box_convert([[10, 20, 30, 40]], "xyxy", "cxcywh")
    array([[20., 30., 20., 20.]])
    """
    in_fmt = as_choice(in_fmt, "in_fmt", BOX_FORMATS)
    out_fmt = as_choice(out_fmt, "out_fmt", BOX_FORMATS)
    arr = as_boxes(boxes, "boxes", fmt=in_fmt)
    return _cy_boxes.box_convert(arr, _FORMAT_CODES[in_fmt], _FORMAT_CODES[out_fmt])


def box_area(boxes: ArrayLike, offset: int = 0) -> np.ndarray:
    """Area of each xyxy box: ``(x2 - x1 + offset) * (y2 - y1 + offset)``.

    Parameters
    ----------
    boxes : (N, 4) array_like
        xyxy boxes.
    offset : {0, 1}
        1 selects the legacy "+1" pixel convention (py-faster-rcnn, the VOC devkit).

    Returns
    -------
    (N,) ndarray of the boxes' dtype

    Examples
    --------
    >>> box_area([[0, 0, 10, 5]])
    array([50.])
    >>> box_area([[0, 0, 9, 4]], offset=1)
    array([50.])
    """
    return _cy_boxes.box_area(as_boxes(boxes), as_offset(offset))


def clip_boxes_to_image(boxes: ArrayLike, size: tuple) -> np.ndarray:
    """Clips xyxy boxes to an image: x into ``[0, width]`` and y into ``[0, height]``.

    Parameters
    ----------
    boxes : (N, 4) array_like
        xyxy boxes.
    size : (height, width)
        Image size, positive and finite (torchvision's order).

    Returns
    -------
    (N, 4) ndarray
        Clipped copy; boxes entirely outside the image become zero-width or zero-height.

    Examples
    --------
    >>> clip_boxes_to_image([[-5, 10, 700, 90]], (80, 640))
    array([[  0.,  10., 640.,  80.]])
    """
    arr = as_boxes(boxes)
    if not isinstance(size, (tuple, list, np.ndarray)) or len(size) != 2:
        raise TypeError(f"size must be a (height, width) pair, got {size!r}")
    height = as_real(size[0], "size[0] (height)", low=0.0, low_open=True)
    width = as_real(size[1], "size[1] (width)", low=0.0, low_open=True)
    return _cy_boxes.clip_boxes_to_image(arr, height, width)


def remove_small_boxes(boxes: ArrayLike, min_size: float) -> np.ndarray:
    """Indices of the boxes whose width and height are both at least ``min_size``.

    Parameters
    ----------
    boxes : (N, 4) array_like
        xyxy boxes.
    min_size : float
        Minimum side length (>= 0), compared with ``>=`` as in torchvision.

    Returns
    -------
    (K,) ndarray of int64
        Increasing indices of the boxes kept.

    Examples
    --------
    >>> remove_small_boxes([[0, 0, 1, 1], [0, 0, 5, 5]], 2)
    array([1])
    """
    return _cy_boxes.remove_small_boxes(as_boxes(boxes), as_real(min_size, "min_size", low=0.0))


def _pair(boxes1: ArrayLike, boxes2: ArrayLike, aligned: bool) -> tuple:
    a = as_boxes(boxes1, "boxes1")
    b = as_boxes(boxes2, "boxes2")
    if a.dtype != b.dtype:
        a = a.astype(np.float64)
        b = b.astype(np.float64)
    if aligned and len(a) != len(b):
        raise ValueError(f"with aligned=True, boxes1 and boxes2 must have the same length, got {len(a)} and {len(b)}")
    return a, b


def _overlap(boxes1: ArrayLike, boxes2: ArrayLike, kind: int, offset: float, eps: float,
             aligned: bool, out: Optional[np.ndarray]) -> np.ndarray:
    a, b = _pair(boxes1, boxes2, aligned)
    shape = (len(a),) if aligned else (len(a), len(b))
    out = as_output(out, shape, a.dtype, inputs=(a, b))
    kernel = _C.box_iou_aligned if aligned else _C.box_iou_pairwise
    return kernel(a, b, kind, offset, eps, out)


def box_iou(boxes1: ArrayLike, boxes2: ArrayLike, offset: int = 0, *, aligned: bool = False,
            out: Optional[np.ndarray] = None) -> np.ndarray:
    """Intersection over union of xyxy boxes.

    ``IoU = inter / (area1 + area2 - inter)``; it is 0 where the union is 0 (two empty boxes),
    where ``torchvision.ops.box_iou`` returns NaN. Otherwise identical to torchvision.

    Parameters
    ----------
    boxes1 : (N, 4) array_like
    boxes2 : (M, 4) array_like
        xyxy boxes; with ``aligned=True`` M must equal N.
    offset : {0, 1}
        1 selects the legacy "+1" pixel convention for widths and heights.
    aligned : bool
        False: every pair, an (N, M) matrix. True: matched pairs ``boxes1[i]`` vs ``boxes2[i]``,
        an (N,) vector.
    out : ndarray, optional
        Where to write the result instead of a new array (it is also returned): C-contiguous,
        writeable, the result's shape and dtype, not overlapping the inputs. Reusing one buffer
        across calls avoids the allocation and page faults that dominate large matrices.

    Returns
    -------
    (N, M) or (N,) ndarray
        float32 if both inputs are float32, else float64.

    Raises
    ------
    MemoryError
        When the (N, M) result cannot be allocated (it is never computed in pieces silently).

    Examples
    --------
    >>> box_iou([[0, 0, 2, 2]], [[1, 0, 3, 2], [4, 4, 5, 5]])
    array([[0.33333333, 0.        ]])
    """
    return _overlap(boxes1, boxes2, _IOU, as_offset(offset), 0.0, aligned, out)


def generalized_box_iou(boxes1: ArrayLike, boxes2: ArrayLike, *, aligned: bool = False,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    """Generalized IoU (Rezatofighi et al., 2019) of xyxy boxes, in [-1, 1].

    ``GIoU = IoU - (C - union) / C`` with C the area of the smallest enclosing box; the fraction is
    taken as 0 when C is 0. Same values as ``torchvision.ops.generalized_box_iou`` otherwise.
    See :func:`box_iou` for the parameters.

    Examples
    --------
    >>> generalized_box_iou([[0, 0, 1, 1]], [[2, 0, 3, 1]])
    array([[-0.33333333]])
    """
    return _overlap(boxes1, boxes2, _GIOU, 0.0, 0.0, aligned, out)


def distance_box_iou(boxes1: ArrayLike, boxes2: ArrayLike, eps: float = 1e-7, *,
                     aligned: bool = False, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Distance IoU (Zheng et al., 2020) of xyxy boxes.

    ``DIoU = IoU - d^2 / (c^2 + eps)`` with d the distance between the box centres and c the
    diagonal of the smallest enclosing box, as ``torchvision.ops.distance_box_iou``.
    See :func:`box_iou` for the other parameters.

    Examples
    --------
    >>> distance_box_iou([[0, 0, 1, 1]], [[0, 0, 1, 1]])
    array([[1.]])
    """
    return _overlap(boxes1, boxes2, _DIOU, 0.0, as_real(eps, "eps", low=0.0), aligned, out)


def complete_box_iou(boxes1: ArrayLike, boxes2: ArrayLike, eps: float = 1e-7, *,
                     aligned: bool = False, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Complete IoU (Zheng et al., 2020) of xyxy boxes.

    ``CIoU = DIoU - alpha * v`` with ``v = 4 / pi^2 * (atan(w2 / h2) - atan(w1 / h1))^2`` and
    ``alpha = v / (1 - IoU + v + eps)``, as ``torchvision.ops.complete_box_iou``. The angle is
    computed with ``atan2(w, h)``, so zero-height boxes give pi/2 instead of NaN.
    See :func:`box_iou` for the other parameters.

    Examples
    --------
    >>> complete_box_iou([[0, 0, 2, 1]], [[0, 0, 2, 1]])
    array([[1.]])
    """
    return _overlap(boxes1, boxes2, _CIOU, 0.0, as_real(eps, "eps", low=0.0), aligned, out)
