"""Run-length-encoded (RLE) binary masks, compatible with ``pycocotools.mask``.

Swap ``from pycocotools import mask as maskUtils`` for ``from detkit.eval import mask as maskUtils``:
the functions take the same arguments and return the same values, RLE strings included, byte for
byte. The COCO conventions:

* A mask is an ``(h, w)`` binary array read in column-major (Fortran) order; its RLE is the dict
  ``{"size": [h, w], "counts": bytes}`` whose counts are the alternating run lengths of 0s and 1s,
  starting with 0s (so a mask whose first pixel is set starts with a 0-length run), written as the
  COCO compressed string (LEB128-like, 6 bits per ASCII character '0'..'o'). An empty h x w mask
  is ``[h * w]``; a mask of no pixels (h or w is 0) is ``[0]``, the string ``b"0"``. A mask has
  at most 2**31 - 1 pixels.
* "counts" may also be given as a list of run lengths (uncompressed RLE, as COCO crowd
  annotations), wherever an RLE is accepted; outputs always use the compressed string.
* Boxes are ``[x, y, width, height]``; ``[0, 0, 1, 1]`` covers exactly the first pixel.
* Polygons ``[x0, y0, x1, y1, ...]`` (finite coordinates within +-1e8) are rasterised as
  pycocotools does (``rleFrPoly``): vertices upsampled by 5 and rounded as ``int(5 * v + 0.5)``
  (truncation toward zero), each edge walked one upsampled pixel at a time along its longer axis,
  and every pixel column toggled at the (downsampled, rounded-up) row where the boundary crosses
  its centre. A box is rasterised as the polygon of its four corners.
* IoU is intersection over union; against a crowd ground truth it is intersection over the
  detection's area. IoU is 0 when the bounding boxes do not overlap, and -1 for masks of different
  sizes whose bounding boxes overlap (as pycocotools).

Where pycocotools crashes, overflows its buffers, reads uninitialised memory or silently returns
garbage, detkit raises a ``ValueError``/``TypeError`` or returns the correct value instead:
malformed RLE dicts and strings, run lengths that do not sum to ``h * w``, merging masks of
different sizes (pycocotools returns an empty 0 x 0 RLE), decoding an empty list, counts of 2**24
or more (pycocotools' string buffer overflows), merging RLEs with many zero-length runs (its merge
buffer overflows) or whose zero-length runs line up before their last pixel (it stops there and
returns counts that do not sum to ``h * w``), polygons on a zero-width image (pycocotools returns counts that do not sum to
0). Deliberate extensions: masks may be C- or F-ordered and ``bool`` or ``uint8`` (any nonzero
byte is foreground; pycocotools needs F-ordered uint8 and produces a corrupt RLE when a mask holds
more than one nonzero value), ``frPyObjects`` also takes box lists and a single flat polygon,
``iou`` returns an empty ``(D, G)`` array (pycocotools returns ``[]``) and accepts
``iscrowd=None``. ``toBbox`` of a mask without foreground is ``[0, 0, 0, 0]`` for any RLE spelling.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence, Union

import numpy as np
import numpy.typing as npt

from detkit import _cy_mask
from detkit._validation import as_float_array, check_finite

__all__ = ["encode", "decode", "merge", "area", "toBbox", "iou", "frPyObjects",
           "to_bbox", "fr_py_objects"]

RLE = dict
RLEs = Union[RLE, Sequence[RLE]]

def _is_many(objs: Any, name: str) -> bool:
    """True for a list/tuple of RLEs, False for one RLE dict; TypeError otherwise."""
    if isinstance(objs, (list, tuple)):
        return True
    if isinstance(objs, dict):
        return False
    raise TypeError(f"{name} must be an RLE dict or a list of RLE dicts, got {type(objs).__name__}")


def _parse(objs: Any, name: str):
    many = _is_many(objs, name)
    return many, _cy_mask.parse(objs if many else [objs], name)


def _as_size(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a non-negative integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value}")
    if value > _cy_mask.MAX_PIXELS:
        raise ValueError(f"{name} must be at most {_cy_mask.MAX_PIXELS}, got {value}")
    return int(value)


def _rle(h: int, w: int, counts: bytes) -> RLE:
    return {"size": [h, w], "counts": counts}


def encode(bimask: npt.ArrayLike) -> RLEs:
    """Encodes binary masks as COCO RLEs.

    Parameters
    ----------
    bimask : (H, W) or (H, W, N) ndarray of uint8 or bool
        One mask, or N masks stacked on the last axis. Any memory order; nonzero is foreground.

    Returns
    -------
    dict or list of dict
        ``{"size": [H, W], "counts": bytes}`` for a 2-D input, a list of N such dicts for 3-D.

    Examples
    --------
    >>> m = np.zeros((3, 4), np.uint8, order="F")
    >>> m[1:, 1:3] = 1
    >>> encode(m)
    {'size': [3, 4], 'counts': b'42102'}
    """
    if not isinstance(bimask, np.ndarray):
        raise TypeError(f"bimask must be a numpy array of uint8 or bool, got {type(bimask).__name__}")
    if bimask.dtype not in (np.uint8, np.bool_):
        raise TypeError(f"bimask must have dtype uint8 or bool, got {bimask.dtype}")
    if bimask.ndim not in (2, 3):
        raise ValueError(f"bimask must have shape (H, W) or (H, W, N), got shape {bimask.shape}")
    h, w = bimask.shape[:2]
    n = bimask.shape[2] if bimask.ndim == 3 else 1
    if h * w > _cy_mask.MAX_PIXELS:
        raise ValueError(f"bimask must have at most {_cy_mask.MAX_PIXELS} pixels per mask, got {h} x {w}")
    flat = np.asfortranarray(bimask).view(np.uint8).reshape(-1, order="F")
    rles = [_rle(h, w, s) for s in _cy_mask.encode(flat, h, w, n)]
    return rles if bimask.ndim == 3 else rles[0]


def decode(rleObjs: RLEs) -> np.ndarray:
    """Decodes COCO RLEs into dense masks.

    Parameters
    ----------
    rleObjs : dict or list of dict
        One RLE, or a non-empty list of RLEs that all have the same size.

    Returns
    -------
    (H, W) or (H, W, N) ndarray of uint8, Fortran-ordered
        0/1 masks; 2-D for one RLE dict, 3-D for a list.

    Examples
    --------
    >>> decode({"size": [2, 3], "counts": b"015"})
    array([[1, 0, 0],
           [0, 0, 0]], dtype=uint8)
    """
    many, (counts, offsets, sizes) = _parse(rleObjs, "rleObjs")
    if len(sizes) == 0:
        raise ValueError("rleObjs must hold at least one RLE to decode (the mask size is unknown)")
    h, w = (int(v) for v in sizes[0])
    bad = np.flatnonzero((sizes != sizes[0]).any(axis=1))
    if bad.size:
        raise ValueError(f"rleObjs must all have the same size to decode together: rleObjs[0] is {h} x {w}, "
                         f"rleObjs[{bad[0]}] is {sizes[bad[0], 0]} x {sizes[bad[0], 1]}")
    flat = _cy_mask.decode(counts, offsets, h * w)
    masks = flat.reshape((h, w, len(sizes)), order="F")
    return masks if many else masks[:, :, 0]


def merge(rleObjs: Sequence[RLE], intersect: bool = False) -> RLE:
    """Union (or intersection) of RLE masks of one size.

    Parameters
    ----------
    rleObjs : list of dict
        RLEs of the same size. An empty list gives ``{"size": [0, 0], "counts": b""}``.
    intersect : bool
        Intersection instead of union.

    Returns
    -------
    dict
        The merged RLE.

    Examples
    --------
    >>> a = encode(np.array([[1, 0], [0, 0]], np.uint8))
    >>> b = encode(np.array([[0, 0], [0, 1]], np.uint8))
    >>> merge([a, b])
    {'size': [2, 2], 'counts': b'0120'}
    >>> merge([a, b], intersect=True)
    {'size': [2, 2], 'counts': b'4'}
    """
    if not isinstance(rleObjs, (list, tuple)):
        raise TypeError(f"rleObjs must be a list of RLE dicts, got {type(rleObjs).__name__}")
    counts, offsets, sizes = _cy_mask.parse(rleObjs, "rleObjs")
    if len(sizes) == 0:
        return _rle(0, 0, b"")
    bad = np.flatnonzero((sizes != sizes[0]).any(axis=1))
    if bad.size:
        raise ValueError(f"rleObjs must all have the same size to merge: rleObjs[0] is {sizes[0, 0]} x "
                         f"{sizes[0, 1]}, rleObjs[{bad[0]}] is {sizes[bad[0], 0]} x {sizes[bad[0], 1]}")
    return _rle(int(sizes[0, 0]), int(sizes[0, 1]), _cy_mask.merge(counts, offsets, bool(intersect)))


def area(rleObjs: RLEs) -> Union[np.uint32, np.ndarray]:
    """Number of foreground pixels of RLE masks.

    Parameters
    ----------
    rleObjs : dict or list of dict

    Returns
    -------
    numpy.uint32 or (N,) ndarray of uint32
        A scalar for one RLE dict, an array for a list.

    Examples
    --------
    >>> area([{"size": [2, 3], "counts": b"123"}, {"size": [2, 3], "counts": [6]}])
    array([2, 0], dtype=uint32)
    """
    many, (counts, offsets, _) = _parse(rleObjs, "rleObjs")
    out = _cy_mask.area(counts, offsets)
    return out if many else out[0]


def toBbox(rleObjs: RLEs) -> np.ndarray:
    """Tight bounding boxes ``[x, y, width, height]`` of RLE masks.

    Parameters
    ----------
    rleObjs : dict or list of dict

    Returns
    -------
    (4,) or (N, 4) ndarray of float64
        Integer-valued boxes in pixels; ``[0, 0, 0, 0]`` for an empty mask.

    Examples
    --------
    >>> m = np.zeros((4, 5), np.uint8)
    >>> m[1:3, 2:5] = 1
    >>> toBbox(encode(m))
    array([2., 1., 3., 2.])
    """
    many, (counts, offsets, sizes) = _parse(rleObjs, "rleObjs")
    out = _cy_mask.to_bbox(counts, offsets, sizes)
    return out if many else out[0]


def _iou_operand(objs: Any, name: str):
    """('box', (N, 4) float64) or ('rle', parsed RLEs); lists are dispatched as pycocotools does."""
    if isinstance(objs, np.ndarray):
        kind = "box"
    elif isinstance(objs, (list, tuple)):
        if len(objs) == 0:
            return "empty", 0
        if all(isinstance(o, dict) for o in objs):
            return "rle", _cy_mask.parse(objs, name)
        if all(isinstance(o, (list, tuple, np.ndarray)) and len(o) == 4 for o in objs):
            kind = "box"
        else:
            raise TypeError(f"{name} must be a list of RLE dicts or of [x, y, w, h] boxes (not a mix)")
    else:
        raise TypeError(f"{name} must be a list of RLE dicts, a list of boxes or an (N, 4) array, "
                        f"got {type(objs).__name__}")
    boxes = as_float_array(objs, name)
    if boxes.size == 0 and boxes.ndim == 1:
        return "empty", 0
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name} boxes must have shape (N, 4), got shape {boxes.shape}")
    check_finite(boxes, name)
    return "box", np.ascontiguousarray(boxes, dtype=np.float64)


def iou(dt: Any, gt: Any, iscrowd: Any) -> np.ndarray:
    """Intersection over union of every detection with every ground truth: masks or boxes.

    Parameters
    ----------
    dt : list of D RLE dicts, or (D, 4) array_like of xywh boxes
        Detections.
    gt : list of G RLE dicts, or (G, 4) array_like of xywh boxes
        Ground truth, of the same kind as ``dt``.
    iscrowd : (G,) array_like of bool/int, or None
        Nonzero marks a crowd region: the IoU with it is intersection / area(dt). None: no crowds.

    Returns
    -------
    (D, G) ndarray of float64
        IoU in [0, 1]; for masks, -1 where the two masks' sizes differ and their bounding boxes
        overlap. Box IoU is 0 unless the boxes overlap with positive width and height.

    Examples
    --------
    >>> iou(np.array([[0, 0, 2, 2]]), np.array([[1, 0, 2, 2], [0, 0, 1, 1]]), [0, 1])
    array([[0.33333333, 0.25      ]])
    """
    dkind, dval = _iou_operand(dt, "dt")
    gkind, gval = _iou_operand(gt, "gt")
    n_dt = len(dval[2]) if dkind == "rle" else len(dval) if dkind == "box" else 0
    n_gt = len(gval[2]) if gkind == "rle" else len(gval) if gkind == "box" else 0
    if iscrowd is None:
        crowd = np.zeros(n_gt, np.uint8)
    else:
        crowd = np.asarray(iscrowd)
        if crowd.size == 0:
            crowd = crowd.astype(np.uint8)
        if crowd.dtype.kind not in "biu":
            raise TypeError(f"iscrowd must hold integers or booleans, got dtype {crowd.dtype}")
        if crowd.ndim != 1 or crowd.shape[0] != n_gt:
            raise ValueError(f"iscrowd must have shape ({n_gt},) to match gt, got shape {crowd.shape}")
        crowd = np.ascontiguousarray(crowd != 0, dtype=np.uint8)
    if n_dt == 0 or n_gt == 0:
        return np.zeros((n_dt, n_gt), np.float64)
    if dkind != gkind:
        raise TypeError(f"dt and gt must be of the same kind (RLE masks or boxes), got {dkind} and {gkind}")
    if dkind == "box":
        return _cy_mask.box_iou(dval, gval, crowd)
    return _cy_mask.rle_iou(*dval, *gval, crowd)


def _fr_poly(poly: Any, h: int, w: int, where: str) -> RLE:
    xy = as_float_array(poly, where).astype(np.float64, copy=False).ravel()
    xy = np.ascontiguousarray(xy[: xy.size // 2 * 2])
    return _rle(h, w, _cy_mask.fr_poly(xy, h, w, where))


def _fr_bbox(boxes: np.ndarray, h: int, w: int, name: str) -> list:
    check_finite(boxes, name)
    out = []
    for i, (x, y, bw, bh) in enumerate(boxes.tolist()):
        xe, ye = x + bw, y + bh
        out.append(_fr_poly([x, y, x, ye, xe, ye, xe, y], h, w, f"{name}[{i}]"))
    return out


def _fr_uncompressed(obj: Any, where: str) -> RLE:
    counts, offsets, sizes = _cy_mask.parse([obj], where)
    return _rle(int(sizes[0, 0]), int(sizes[0, 1]), _cy_mask.counts_to_bytes(counts[offsets[0]:offsets[1]]))


def frPyObjects(pyobj: Any, h: int, w: int) -> RLEs:
    """Converts polygons, boxes or uncompressed RLEs to compressed RLEs of an h x w image.

    Dispatch follows pycocotools: an ``(N, 4)`` array is N boxes; a list whose first item has 4
    values is a list of boxes, one with more than 4 values a list of polygons (one RLE per polygon,
    not merged), one that is a dict a list of uncompressed RLEs; a single flat list is one box (4
    values) or one polygon (more), a single dict one uncompressed RLE.

    Parameters
    ----------
    pyobj : ndarray, list or dict
        Boxes ``[x, y, w, h]``, polygons ``[x0, y0, x1, y1, ...]`` (an odd trailing value is
        ignored) or uncompressed RLEs ``{"size": [h, w], "counts": [run lengths]}``.
    h, w : int
        Image height and width (uncompressed RLEs keep their own ``size``, as in pycocotools).

    Returns
    -------
    list of dict, or dict
        A list for list/array inputs, one RLE for a single flat list or dict.

    Examples
    --------
    >>> frPyObjects([[0, 0, 2, 0, 2, 2, 0, 2]], 3, 3)
    [{'size': [3, 3], 'counts': b'02103'}]
    >>> frPyObjects(np.array([[1, 1, 1, 1]]), 3, 3)
    [{'size': [3, 3], 'counts': b'414'}]
    """
    h = _as_size(h, "h")
    w = _as_size(w, "w")
    if h * w > _cy_mask.MAX_PIXELS:
        raise ValueError(f"h * w must be at most {_cy_mask.MAX_PIXELS}, got {h} x {w}")
    if isinstance(pyobj, np.ndarray):
        boxes = as_float_array(pyobj, "pyobj")
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"pyobj boxes must have shape (N, 4), got shape {boxes.shape}")
        return _fr_bbox(boxes, h, w, "pyobj")
    if isinstance(pyobj, dict):
        return _fr_uncompressed(pyobj, "pyobj")
    if not isinstance(pyobj, (list, tuple)) or len(pyobj) == 0:
        raise TypeError("pyobj must be an (N, 4) box array, a non-empty list of boxes, polygons or "
                        f"uncompressed RLE dicts, or a single box/polygon/RLE dict, got {pyobj!r:.80}")
    first = pyobj[0]
    if isinstance(first, dict):
        return [_fr_uncompressed(obj, f"pyobj[{i}]") for i, obj in enumerate(pyobj)]
    if isinstance(first, numbers.Real):  # one flat box or polygon
        return frPyObjects([pyobj], h, w)[0]
    if not hasattr(first, "__len__"):
        raise TypeError(f"pyobj[0] must be a box, a polygon or an RLE dict, got {type(first).__name__}")
    if len(first) == 4:
        bad = [i for i, p in enumerate(pyobj) if not hasattr(p, "__len__") or len(p) != 4]
        if bad:
            raise ValueError("pyobj is read as boxes (its first item has 4 values), so every item must be "
                             f"[x, y, w, h]; pyobj[{bad[0]}] is {pyobj[bad[0]]!r:.80}")
        return _fr_bbox(as_float_array(pyobj, "pyobj"), h, w, "pyobj")
    return [_fr_poly(p, h, w, f"pyobj[{i}]") for i, p in enumerate(pyobj)]


to_bbox = toBbox
fr_py_objects = frPyObjects
