"""Anchors and priors: FPN grid anchors, py-faster-rcnn anchors, SSD default boxes, YOLO tables.

Shared conventions:

* Sizes are ``(height, width)`` pairs, as in torchvision; boxes are xyxy in pixels unless a ``fmt``
  says otherwise.
* Anchors of a level are ordered by location (row-major: y, then x) and, within a location, by
  cell anchor; levels follow each other (torchvision's order). YOLO grids are ordered
  (anchor, y, x) per level, the layout of a YOLOv5 head's flattened output.
"""

from __future__ import annotations

import math
import numbers
from typing import Optional, Sequence, Union

import numpy as np

from detkit import _C
from detkit._validation import as_choice, as_real

__all__ = [
    "AnchorGenerator",
    "generate_anchors",
    "DefaultBoxGenerator",
    "make_anchor_points",
    "yolo_grid",
    "YOLOV2_VOC_ANCHORS",
    "YOLOV2_COCO_ANCHORS",
    "YOLOV3_ANCHORS",
    "YOLOV3_STRIDES",
    "YOLOV4_ANCHORS",
    "YOLOV5_ANCHORS",
    "YOLOV5_STRIDES",
    "YOLOV5_P6_ANCHORS",
    "YOLOV5_P6_STRIDES",
]

_FLOAT_DTYPES = (np.float32, np.float64)
_MAX_ANCHORS = np.iinfo(np.int64).max // 4  # the (N, 4) output must be countable in int64


def _readonly(values) -> np.ndarray:
    arr = np.array(values, dtype=np.float64)
    arr.setflags(write=False)
    return arr


# YOLOv2 anchors are (w, h) in grid cells of the stride-32 output (multiply by 32 for pixels).
YOLOV2_VOC_ANCHORS = _readonly([[1.3221, 1.73145], [3.19275, 4.00944], [5.05587, 8.09892],
                                [9.47112, 4.84053], [11.2364, 10.0071]])
YOLOV2_COCO_ANCHORS = _readonly([[0.57273, 0.677385], [1.87446, 2.06253], [3.33843, 5.47434],
                                 [7.88282, 3.52778], [9.77052, 9.16828]])
# YOLOv3/v4/v5 anchors are (w, h) in pixels, shape (levels, 3, 2), one level per stride.
YOLOV3_STRIDES = (8, 16, 32)
YOLOV3_ANCHORS = _readonly([[[10, 13], [16, 30], [33, 23]],
                            [[30, 61], [62, 45], [59, 119]],
                            [[116, 90], [156, 198], [373, 326]]])
YOLOV4_ANCHORS = _readonly([[[12, 16], [19, 36], [40, 28]],
                            [[36, 75], [76, 55], [72, 146]],
                            [[142, 110], [192, 243], [459, 401]]])
YOLOV5_STRIDES = YOLOV3_STRIDES
YOLOV5_ANCHORS = YOLOV3_ANCHORS  # yolov5{n,s,m,l,x}.yaml use the YOLOv3 anchors
YOLOV5_P6_STRIDES = (8, 16, 32, 64)
YOLOV5_P6_ANCHORS = _readonly([[[19, 27], [44, 40], [38, 94]],
                               [[96, 68], [86, 152], [180, 137]],
                               [[140, 301], [303, 264], [238, 542]],
                               [[436, 615], [739, 380], [925, 792]]])


def _positive_int(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)


def _size_pair(value, name: str) -> tuple:
    if not isinstance(value, (tuple, list, np.ndarray)) or len(value) != 2:
        raise TypeError(f"{name} must be a (height, width) pair, got {value!r}")
    return _positive_int(value[0], f"{name}[0] (height)"), _positive_int(value[1], f"{name}[1] (width)")


def _size_list(value, name: str) -> list:
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{name} must be a sequence of (height, width) pairs, got {value!r}")
    return [_size_pair(v, f"{name}[{i}]") for i, v in enumerate(value)]


def _stride_list(value, n: int, name: str = "strides") -> list:
    """n (stride_y, stride_x) pairs of positive reals; a level may give one number for both."""
    if not isinstance(value, (tuple, list, np.ndarray)) or getattr(value, "ndim", 1) == 0 or len(value) != n:
        raise ValueError(f"{name} must be a sequence of {n} strides (one per feature map), got {value!r}")
    out = []
    for i, s in enumerate(value):
        pair = s if isinstance(s, (tuple, list, np.ndarray)) else (s, s)
        if len(pair) != 2:
            raise ValueError(f"{name}[{i}] must be a number or a (stride_y, stride_x) pair, got {s!r}")
        out.append(tuple(as_real(p, f"{name}[{i}]", low=0.0, low_open=True) for p in pair))
    return out


def _dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in _FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _positive_values(values, name: str) -> tuple:
    if not isinstance(values, (tuple, list, np.ndarray)) or len(values) == 0:
        raise ValueError(f"{name} must be a non-empty sequence of positive numbers, got {values!r}")
    return tuple(as_real(v, f"{name}[{i}]", low=0.0, low_open=True) for i, v in enumerate(values))


class AnchorGenerator:
    """Grid anchors for a feature pyramid, as ``torchvision.models.detection.AnchorGenerator``.

    Level ``l`` has ``len(sizes[l]) * len(aspect_ratios[l])`` cell anchors: for each aspect ratio
    ``r = height / width`` (outer loop) and size ``s`` (inner loop), ``w = s / sqrt(r)``,
    ``h = s * sqrt(r)`` and the cell anchor ``round([-w, -h, w, h] / 2)``, computed in float32 and
    rounded half to even, exactly as torchvision. Each is shifted to every location of the level's
    grid: ``shift = (index + offset) * stride``.

    Parameters
    ----------
    sizes : sequence of sequences of float
        Anchor sizes (square roots of the areas) per level. A flat sequence means one size per
        level (torchvision's convention).
    aspect_ratios : sequence of sequences of float
        Height / width ratios per level; a flat sequence is used for every level.
    offset : float
        Cell-centre offset in strides: 0 places anchors on the cell corners (torchvision),
        0.5 on the cell centres (detectron2's ``offset=0.5``).
    round_cell_anchors : bool
        False keeps the exact cell anchors (detectron2); True rounds them (torchvision).

    Attributes
    ----------
    cell_anchors : list of (A_l, 4) ndarray of float32
        The cell anchors of each level, centred on the origin.

    Examples
    --------
    >>> gen = AnchorGenerator(sizes=((32,),), aspect_ratios=((0.5, 1.0, 2.0),))
    >>> gen.cell_anchors[0]
    array([[-23., -11.,  23.,  11.],
           [-16., -16.,  16.,  16.],
           [-11., -23.,  11.,  23.]], dtype=float32)
    >>> gen((64, 64), [(2, 2)]).shape
    (12, 4)
    """

    def __init__(self, sizes: Sequence = ((128, 256, 512),), aspect_ratios: Sequence = ((0.5, 1.0, 2.0),),
                 offset: float = 0.0, round_cell_anchors: bool = True) -> None:
        if not isinstance(sizes, (tuple, list)) or len(sizes) == 0:
            raise ValueError(f"sizes must be a non-empty sequence (of sequences) of sizes, got {sizes!r}")
        if not isinstance(aspect_ratios, (tuple, list)) or len(aspect_ratios) == 0:
            raise ValueError("aspect_ratios must be a non-empty sequence (of sequences), "
                             f"got {aspect_ratios!r}")
        if not isinstance(sizes[0], (tuple, list)):
            sizes = tuple((s,) for s in sizes)
        if not isinstance(aspect_ratios[0], (tuple, list)):
            aspect_ratios = (aspect_ratios,) * len(sizes)
        if len(sizes) != len(aspect_ratios):
            raise ValueError(f"sizes and aspect_ratios must have one entry per level, got {len(sizes)} "
                             f"and {len(aspect_ratios)}")
        self.sizes = tuple(_positive_values(s, f"sizes[{i}]") for i, s in enumerate(sizes))
        self.aspect_ratios = tuple(_positive_values(r, f"aspect_ratios[{i}]")
                                   for i, r in enumerate(aspect_ratios))
        self.offset = as_real(offset, "offset")
        self.round_cell_anchors = bool(round_cell_anchors)
        self.cell_anchors = [self._cell_anchors(s, r) for s, r in zip(self.sizes, self.aspect_ratios)]
        self._levels_cache: dict = {}

    def _cell_anchors(self, sizes: tuple, ratios: tuple) -> np.ndarray:
        scales = np.asarray(sizes, dtype=np.float32)
        h_ratios = np.sqrt(np.asarray(ratios, dtype=np.float32))
        w_ratios = np.float32(1) / h_ratios
        ws = (w_ratios[:, None] * scales[None, :]).ravel()
        hs = (h_ratios[:, None] * scales[None, :]).ravel()
        cells = np.stack([-ws, -hs, ws, hs], axis=1) / np.float32(2)
        return np.round(cells) if self.round_cell_anchors else cells

    def num_anchors_per_location(self) -> list:
        """Number of cell anchors of each level."""
        return [len(s) * len(r) for s, r in zip(self.sizes, self.aspect_ratios)]

    def __call__(self, image_size: Sequence[int], feature_map_sizes: Sequence,
                 strides: Optional[Sequence] = None, dtype=np.float32,
                 split: bool = False) -> Union[np.ndarray, list]:
        """Anchors of all levels for one (padded) image size.

        Parameters
        ----------
        image_size : (height, width)
            Size of the (batched, padded) input image.
        feature_map_sizes : sequence of (height, width)
            Grid size of each level, one per level of the generator.
        strides : sequence, optional
            Per-level stride, a number or a (stride_y, stride_x) pair. By default
            ``image_size // feature_map_size`` per axis (integer division, as torchvision).
        dtype : float32 or float64
        split : bool
            Return a list of per-level arrays (views of one buffer) instead of one array.

        Returns
        -------
        (N, 4) ndarray or list of (N_l, 4) ndarray
            xyxy anchors, ``N_l = h_l * w_l * A_l``, ordered (level, y, x, cell anchor).
        """
        dt = _dtype(dtype)
        key = repr((image_size, feature_map_sizes, strides))
        levels = self._levels_cache.get(key)
        if levels is None:
            levels = self._levels(image_size, feature_map_sizes, strides)
            if len(self._levels_cache) < 64:  # validated layouts, reused by later calls
                self._levels_cache[key] = levels
        table, stride_table, cells32 = levels
        cells = cells32 if dt == np.float32 else cells32.astype(dt)
        anchors = _C.grid_anchors(cells, table, stride_table, self.offset)
        if not split:
            return anchors
        counts = table[:, 0] * table[:, 1] * table[:, 3]
        return np.split(anchors, np.cumsum(counts)[:-1])

    def _levels(self, image_size, feature_map_sizes, strides) -> tuple:
        height, width = _size_pair(image_size, "image_size")
        grids = _size_list(feature_map_sizes, "feature_map_sizes")
        if len(grids) != len(self.cell_anchors):
            raise ValueError(f"feature_map_sizes must have one entry per level ({len(self.cell_anchors)}), "
                             f"got {len(grids)}")
        if strides is None:
            for i, (h, w) in enumerate(grids):
                if h > height or w > width:
                    raise ValueError(f"feature_map_sizes[{i}] {(h, w)} is larger than image_size "
                                     f"{(height, width)}; pass strides explicitly")
            stride_pairs = [(float(height // h), float(width // w)) for h, w in grids]
        else:
            stride_pairs = _stride_list(strides, len(grids))
        counts = self.num_anchors_per_location()
        total = sum(h * w * c for (h, w), c in zip(grids, counts))
        if total > _MAX_ANCHORS:
            raise ValueError(f"feature_map_sizes {grids} give {total} anchors, more than {_MAX_ANCHORS}")
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        table = np.array([[h, w, f, c] for (h, w), f, c in zip(grids, first, counts)], dtype=np.int64)
        cells = np.ascontiguousarray(np.concatenate(self.cell_anchors), dtype=np.float32)
        return table, np.array(stride_pairs, dtype=np.float64), cells


def generate_anchors(base_size: float = 16, ratios: Sequence[float] = (0.5, 1, 2),
                     scales: Sequence[float] = (8, 16, 32)) -> np.ndarray:
    """Cell anchors of py-faster-rcnn (``generate_anchors.py``), "+1" pixel convention.

    Start from the box ``[0, 0, base_size - 1, base_size - 1]``; for each ratio (outer loop) take
    ``w = round(sqrt(base_size**2 / ratio))``, ``h = round(w * ratio)`` (numpy rounding, half to
    even); for each scale (inner loop) scale both and centre the box on the base box's centre.

    Parameters
    ----------
    base_size : float > 0
    ratios : sequence of float > 0
        Height / width ratios.
    scales : sequence of float > 0

    Returns
    -------
    (len(ratios) * len(scales), 4) ndarray of float64
        xyxy anchors with inclusive pixel coordinates (width = x2 - x1 + 1).

    Examples
    --------
    >>> generate_anchors()[:3]
    array([[ -84.,  -40.,   99.,   55.],
           [-176.,  -88.,  191.,  103.],
           [-360., -184.,  375.,  199.]])
    """
    base = as_real(base_size, "base_size", low=0.0, low_open=True)
    ratios = np.asarray(_positive_values(ratios, "ratios"))
    scales = np.asarray(_positive_values(scales, "scales"))
    centre = 0.5 * (base - 1)
    ws = np.round(np.sqrt(base * base / ratios))
    hs = np.round(ws * ratios)
    w = (ws[:, None] * scales[None, :]).ravel()
    h = (hs[:, None] * scales[None, :]).ravel()
    return np.stack([centre - 0.5 * (w - 1), centre - 0.5 * (h - 1),
                     centre + 0.5 * (w - 1), centre + 0.5 * (h - 1)], axis=1)


class DefaultBoxGenerator:
    """SSD default boxes (priors), as ``torchvision.models.detection.anchor_utils.DefaultBoxGenerator``.

    Level ``k`` has scale ``s_k`` (``min_ratio + (max_ratio - min_ratio) * k / (L - 1)``, then a
    final 1.0, unless ``scales`` is given) and, per location, the boxes ``(s_k, s_k)``,
    ``(s'_k, s'_k)`` with ``s'_k = sqrt(s_k s_{k+1})``, then ``(s_k sqrt(r), s_k / sqrt(r))`` and its
    transpose for each aspect ratio r. Box centres are ``(index + 0.5) / f_k`` with ``f_k`` the grid
    size, or ``image_size / steps[k]`` when steps are given. Computed in float32 like torchvision.

    Parameters
    ----------
    aspect_ratios : sequence of sequences of float
        Extra aspect ratios per level.
    min_ratio, max_ratio : float
        Range of the scales when ``scales`` is None.
    scales : sequence of float, optional
        L + 1 explicit scales (relative to the image).
    steps : sequence of float, optional
        Per-level steps in pixels.
    clip : bool
        Clip the relative widths and heights to [0, 1].

    Examples
    --------
    >>> ssd300 = DefaultBoxGenerator([[2], [2, 3], [2, 3], [2, 3], [2], [2]],
    ...                              scales=[0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05],
    ...                              steps=[8, 16, 32, 64, 100, 300])
    >>> ssd300((300, 300), [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)]).shape
    (8732, 4)
    """

    def __init__(self, aspect_ratios: Sequence[Sequence[float]], min_ratio: float = 0.15,
                 max_ratio: float = 0.9, scales: Optional[Sequence[float]] = None,
                 steps: Optional[Sequence[float]] = None, clip: bool = True) -> None:
        if not isinstance(aspect_ratios, (tuple, list)) or len(aspect_ratios) == 0:
            raise ValueError(f"aspect_ratios must be a non-empty sequence of sequences, got {aspect_ratios!r}")
        self.aspect_ratios = [tuple(as_real(r, f"aspect_ratios[{k}]", low=0.0, low_open=True) for r in ratios)
                              if isinstance(ratios, (tuple, list)) else self._bad_ratios(ratios, k)
                              for k, ratios in enumerate(aspect_ratios)]
        levels = len(self.aspect_ratios)
        if steps is not None:
            if not isinstance(steps, (tuple, list)) or len(steps) != levels:
                raise ValueError(f"steps must have one entry per level ({levels}), got {steps!r}")
            steps = [as_real(s, f"steps[{k}]", low=0.0, low_open=True) for k, s in enumerate(steps)]
        self.steps = steps
        self.clip = bool(clip)
        if scales is None:
            lo = as_real(min_ratio, "min_ratio", low=0.0)
            hi = as_real(max_ratio, "max_ratio", low=0.0)
            if levels > 1:
                self.scales = [lo + (hi - lo) * k / (levels - 1.0) for k in range(levels)] + [1.0]
            else:
                self.scales = [lo, hi]
        else:
            if not isinstance(scales, (tuple, list)) or len(scales) != levels + 1:
                raise ValueError(f"scales must have {levels + 1} entries (one per level plus one), "
                                 f"got {scales!r}")
            self.scales = [as_real(s, f"scales[{k}]", low=0.0) for k, s in enumerate(scales)]
        self._wh_pairs = [self._level_wh(k) for k in range(levels)]

    @staticmethod
    def _bad_ratios(ratios, k):
        raise TypeError(f"aspect_ratios[{k}] must be a sequence of aspect ratios, got {ratios!r}")

    def _level_wh(self, k: int) -> np.ndarray:
        s_k = self.scales[k]
        pairs = [[s_k, s_k], [math.sqrt(s_k * self.scales[k + 1])] * 2]
        for r in self.aspect_ratios[k]:
            w, h = s_k * math.sqrt(r), s_k / math.sqrt(r)
            pairs += [[w, h], [h, w]]
        wh = np.array(pairs, dtype=np.float32)
        return np.clip(wh, 0, 1) if self.clip else wh

    def num_anchors_per_location(self) -> list:
        """Number of default boxes per location of each level: 2 + 2 * len(aspect_ratios[k])."""
        return [2 + 2 * len(r) for r in self.aspect_ratios]

    def __call__(self, image_size: Sequence[int], feature_map_sizes: Sequence, fmt: str = "xyxy",
                 dtype=np.float32) -> np.ndarray:
        """Default boxes of all levels, ordered (level, y, x, box).

        Parameters
        ----------
        image_size : (height, width)
        feature_map_sizes : sequence of (height, width)
            One grid size per level.
        fmt : {"xyxy", "cxcywh"}
            ``"xyxy"``: pixels, as torchvision's ``forward``. ``"cxcywh"``: relative [0, 1]
            centre-size boxes (torchvision's internal form, the classic SSD prior layout).
        dtype : float32 or float64

        Returns
        -------
        (N, 4) ndarray
        """
        height, width = _size_pair(image_size, "image_size")
        grids = _size_list(feature_map_sizes, "feature_map_sizes")
        fmt = as_choice(fmt, "fmt", ("xyxy", "cxcywh"))
        dt = _dtype(dtype)
        if len(grids) != len(self._wh_pairs):
            raise ValueError(f"feature_map_sizes must have one entry per level ({len(self._wh_pairs)}), "
                             f"got {len(grids)}")
        levels = []
        for k, (fh, fw) in enumerate(grids):
            if self.steps is not None:
                fx, fy = width / self.steps[k], height / self.steps[k]
            else:
                fy, fx = fh, fw
            cx = (np.arange(fw, dtype=np.float32) + np.float32(0.5)) / np.float32(fx)
            cy = (np.arange(fh, dtype=np.float32) + np.float32(0.5)) / np.float32(fy)
            yy, xx = np.meshgrid(cy, cx, indexing="ij")
            wh = self._wh_pairs[k]
            centres = np.repeat(np.stack([xx.ravel(), yy.ravel()], axis=1), len(wh), axis=0)
            levels.append(np.concatenate([centres, np.tile(wh, (fh * fw, 1))], axis=1))
        boxes = np.concatenate(levels).astype(dt)
        if fmt == "cxcywh":
            return boxes
        size = np.array([width, height], dtype=dt)
        half = dt.type(0.5) * boxes[:, 2:]
        return np.concatenate([(boxes[:, :2] - half) * size, (boxes[:, :2] + half) * size], axis=1)


def make_anchor_points(feature_map_sizes: Sequence, strides: Sequence[float], offset: float = 0.5,
                       dtype=np.float32) -> tuple:
    """Anchor-free points (YOLOv8, FCOS): one point per feature-map cell, in pixels.

    Point ``(x, y)`` of a level is ``((x + offset) * stride, (y + offset) * stride)``; ultralytics'
    ``make_anchors`` returns the same points in grid units (divide by the strides).

    Parameters
    ----------
    feature_map_sizes : sequence of (height, width)
    strides : sequence of float
        One stride per level (a number, or a (stride_y, stride_x) pair).
    offset : float
        0.5 for cell centres.
    dtype : float32 or float64

    Returns
    -------
    points : (N, 2) ndarray
        xy points ordered (level, y, x).
    point_strides : (N,) ndarray
        The stride of each point's level (the x stride for anisotropic strides).

    Examples
    --------
    >>> points, point_strides = make_anchor_points([(2, 2), (1, 1)], [8, 16])
    >>> points
    array([[ 4.,  4.],
           [12.,  4.],
           [ 4., 12.],
           [12., 12.],
           [ 8.,  8.]], dtype=float32)
    >>> point_strides
    array([ 8.,  8.,  8.,  8., 16.], dtype=float32)
    """
    grids = _size_list(feature_map_sizes, "feature_map_sizes")
    stride_pairs = _stride_list(strides, len(grids))
    offset = as_real(offset, "offset")
    dt = _dtype(dtype)
    points, point_strides = [], []
    for (h, w), (sy, sx) in zip(grids, stride_pairs):
        yy, xx = np.meshgrid((np.arange(h) + offset) * sy, (np.arange(w) + offset) * sx, indexing="ij")
        points.append(np.stack([xx.ravel(), yy.ravel()], axis=1))
        point_strides.append(np.full(h * w, sx))
    if not points:
        return np.zeros((0, 2), dt), np.zeros(0, dt)
    return np.concatenate(points).astype(dt), np.concatenate(point_strides).astype(dt)


def yolo_grid(feature_map_sizes: Sequence, strides: Sequence[float], anchors: Sequence,
              dtype=np.float32) -> tuple:
    """Per-prediction grid cell, anchor and stride of an anchor-based YOLO head (v2/v3/v4/v5).

    Rows are ordered (level, anchor, y, x), the order of a YOLOv5 head output reshaped to
    ``(batch, -1, 5 + classes)``; feed them to :func:`detkit.ops.coders.yolo_decode`.

    Parameters
    ----------
    feature_map_sizes : sequence of (height, width)
    strides : sequence of float
        One stride per level.
    anchors : (levels, A, 2) array_like
        Anchor (w, h) in pixels per level, e.g. :data:`YOLOV5_ANCHORS` (YOLOv2's grid-unit anchors:
        multiply by 32 and pass ``[anchors]``).
    dtype : float32 or float64

    Returns
    -------
    grid : (N, 2) ndarray
        Cell indices (x, y).
    anchor_wh : (N, 2) ndarray
        Anchor width and height in pixels.
    point_strides : (N,) ndarray

    Examples
    --------
    >>> grid, anchor_wh, s = yolo_grid([(1, 2)], [32], [[[10, 13], [16, 30]]])
    >>> grid.tolist()
    [[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [1.0, 0.0]]
    >>> anchor_wh.tolist()
    [[10.0, 13.0], [10.0, 13.0], [16.0, 30.0], [16.0, 30.0]]
    >>> s.tolist()
    [32.0, 32.0, 32.0, 32.0]
    """
    grids = _size_list(feature_map_sizes, "feature_map_sizes")
    stride_values = [as_real(s, f"strides[{i}]", low=0.0, low_open=True)
                     for i, s in enumerate(strides)] if isinstance(strides, (tuple, list)) \
        or (isinstance(strides, np.ndarray) and strides.ndim == 1) else None
    if stride_values is None or len(stride_values) != len(grids):
        raise ValueError(f"strides must have one number per feature map ({len(grids)}), got {strides!r}")
    try:
        table = np.asarray(anchors, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"anchors must be a ({len(grids)}, A, 2) array of numbers, got {anchors!r}") from None
    if table.ndim != 3 or table.shape[0] != len(grids) or table.shape[2] != 2:
        raise ValueError(f"anchors must have shape ({len(grids)}, A, 2), got {table.shape}")
    if not (np.isfinite(table).all() and (table > 0).all()):
        raise ValueError("anchors must be positive and finite")
    dt = _dtype(dtype)
    if not grids:
        return np.zeros((0, 2), dt), np.zeros((0, 2), dt), np.zeros(0, dt)
    cells, whs, point_strides = [], [], []
    for (h, w), stride, level_anchors in zip(grids, stride_values, table):
        yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        cell = np.stack([xx.ravel(), yy.ravel()], axis=1)
        cells.append(np.tile(cell, (len(level_anchors), 1)))
        whs.append(np.repeat(level_anchors, h * w, axis=0))
        point_strides.append(np.full(len(level_anchors) * h * w, stride))
    return (np.concatenate(cells).astype(dt), np.concatenate(whs).astype(dt),
            np.concatenate(point_strides).astype(dt))
