"""Region proposals: Felzenszwalb-Huttenlocher segmentation and selective search.

Both are native (C++) implementations derived from the papers:

* P. Felzenszwalb, D. Huttenlocher, "Efficient Graph-Based Image Segmentation", IJCV 2004.
* J. Uijlings, K. van de Sande, T. Gevers, A. Smeulders, "Selective Search for Object
  Recognition", IJCV 2013.

Images are (H, W, 3) RGB uint8 arrays (``bgr=True`` for OpenCV's channel order) or (H, W) / (H, W, 1)
grayscale, which selective search replicates into three equal channels. Integer images must hold
values in [0, 255]; float32/float64 images in [0, 1] are converted with ``round(255 * x)``; other
dtypes raise ``TypeError``.

Boxes are pixel-edge xyxy integers: a region covering columns x1..x2-1 and rows y1..y2-1 has the box
``(x1, y1, x2, y2)``, so its width is ``x2 - x1`` (the continuous convention of detkit's box ops,
``offset=0``).
"""

from __future__ import annotations

import numbers
from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from detkit import _C
from detkit._validation import as_choice, as_count, as_image, as_real

__all__ = ["felzenszwalb", "selective_search", "selective_search_settings", "COLOR_SPACES", "MODES"]

#: Colour space names, in the order of their native codes.
COLOR_SPACES = ("hsv", "lab", "rgi", "h", "i")
_TERMS = {"C": 1, "T": 2, "S": 4, "F": 8}  # colour, texture, size, fill

#: The paper's configurations: colour spaces, strategies and thresholds k.
MODES = {
    "single": (("hsv",), ("CTSF",), (100.0,)),
    "fast": (("hsv", "lab"), ("CTSF", "TSF"), (50.0, 100.0)),
    "quality": (("hsv", "lab", "rgi", "h", "i"), ("CTSF", "TSF", "F", "S"), (50.0, 100.0, 150.0, 300.0)),
}


# Sizes and counts at or above this act alike (images have fewer than 2**30 pixels); larger Python
# integers are capped to it so that they fit the kernels' int64.
_INT_CAP = 2**62


def _as_int(value: Any, name: str, low: int = 0, high: Optional[int] = None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be in [{low}, {high if high is not None else 'inf'}], got {value}")
    return int(value)


def felzenszwalb(image: npt.ArrayLike, scale: float = 1.0, sigma: float = 0.8, min_size: int = 20) -> np.ndarray:
    """Felzenszwalb-Huttenlocher graph-based segmentation (as ``skimage.segmentation.felzenszwalb``).

    Each channel is smoothed with a Gaussian of standard deviation ``sigma`` (radius
    ``ceil(4 sigma)``, replicated borders, float32 arithmetic). Pixels are the vertices of an
    8-connected grid graph whose edge weights are the Euclidean distances between smoothed colours
    on the 0..255 scale. Edges are
    visited by non-decreasing weight; two components C1, C2 merge when the edge weight is at most
    ``min(Int(C1) + scale / |C1|, Int(C2) + scale / |C2|)``, Int(C) being the largest weight of C's
    minimum spanning tree. A second pass over the same order then merges every component smaller than
    ``min_size`` pixels with its neighbour across the lightest edge (so every region has at least
    ``min_size`` pixels unless the image has fewer).

    Parameters
    ----------
    image : (H, W) or (H, W, C) array_like
        uint8 (or integers in [0, 255], or float32/float64 in [0, 1]). Channels are used as given (no
        colour conversion).
    scale : float > 0
        The threshold constant k: larger values give larger regions.
    sigma : float in [0, 100]
        Gaussian smoothing before segmenting; 0 disables it.
    min_size : int >= 0
        Minimum region size enforced by the second pass.

    Returns
    -------
    (H, W) ndarray of int64
        Labels 0..n-1, numbered by the raster order of each region's first pixel. Every region is
        8-connected.

    Examples
    --------
    >>> image = np.zeros((20, 30, 3), np.uint8)
    >>> image[:, 15:] = 255
    >>> labels = felzenszwalb(image, scale=100, sigma=0, min_size=10)
    >>> np.unique(labels).tolist(), int(labels[0, 0]), int(labels[0, 29])
    ([0, 1], 0, 1)
    """
    img = as_image(image)
    k = as_real(scale, "scale", low=0.0, low_open=True)
    s = as_real(sigma, "sigma", low=0.0, high=100.0)
    return _C.felzenszwalb(img, k, s, min(_as_int(min_size, "min_size"), _INT_CAP))


def _names(value: Union[str, Iterable[str]], name: str) -> list:
    items = [value] if isinstance(value, str) else list(value)
    if not items:
        raise ValueError(f"{name} must not be empty")
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{name} must hold strings, got {item!r}")
    return items


def selective_search_settings(mode: str = "fast", color_spaces=None, strategies=None, ks=None) -> tuple:
    """The (colour spaces, strategies, ks) that :func:`selective_search` runs, validated.

    ``mode`` gives the defaults (see :data:`MODES`); the other arguments override them.

    Examples
    --------
    >>> selective_search_settings("fast", ks=[200])
    (['hsv', 'lab'], ['CTSF', 'TSF'], [200.0])
    """
    as_choice(mode, "mode", tuple(MODES))
    default_cs, default_st, default_ks = MODES[mode]
    spaces = [c.lower() for c in _names(default_cs if color_spaces is None else color_spaces, "color_spaces")]
    for c in spaces:
        as_choice(c, "color_spaces entries", COLOR_SPACES)
    strats = [s.upper() for s in _names(default_st if strategies is None else strategies, "strategies")]
    for s in strats:
        if not s or set(s) - set(_TERMS) or len(set(s)) != len(s):
            raise ValueError(f"strategies entries must combine the letters C, T, S, F (colour, texture, "
                             f"size, fill) once each, got {s!r}")
    raw_ks = default_ks if ks is None else ks
    raw_ks = [raw_ks] if isinstance(raw_ks, numbers.Real) else list(raw_ks)
    if not raw_ks:
        raise ValueError("ks must not be empty")
    thresholds = [as_real(k, "ks entries", low=0.0, high=1e9, low_open=True) for k in raw_ks]
    return spaces, strats, thresholds


def selective_search(image: npt.ArrayLike, mode: str = "fast", *,
                     color_spaces: Optional[Sequence[str]] = None,
                     strategies: Optional[Sequence[str]] = None,
                     ks: Optional[Sequence[float]] = None, sigma: float = 0.8, min_box_size: int = 20,
                     max_proposals: Optional[int] = None, seed: int = 0, bgr: bool = False,
                     return_hierarchy: bool = False):
    """Selective search object proposals (Uijlings et al., IJCV 2013).

    For every colour space and threshold k, the image converted to that colour space is segmented
    with :func:`felzenszwalb` (``scale=k``, ``sigma``, ``min_size=floor(k)``). For every strategy,
    neighbouring regions (8-connected) are then merged greedily, most similar pair first (ties:
    smaller region ids), until one region is left; every region of every hierarchy is a proposal.

    Similarity is the sum of the strategy's terms (paper, section 3.2), for regions a, b of an image of
    S pixels:

    * ``C`` colour: intersection of 25-bin-per-channel histograms, L1-normalised;
    * ``T`` texture: intersection of histograms of 8 oriented Gaussian derivatives (sigma 1, positive
      part) per channel, 10 bins per orientation over [0, image maximum], L1-normalised;
    * ``S`` size: ``1 - (|a| + |b|) / S``;
    * ``F`` fill: ``1 - (|bbox(a u b)| - |a| - |b|) / S``.

    A merged region's histograms are the size-weighted average of its parts'. Colour spaces (uint8,
    each channel on 0..255): ``"hsv"``, ``"lab"`` (D65; L scaled to 0..255, a and b offset by 128),
    ``"rgi"`` (normalised r, g and intensity), ``"h"`` (hue only), ``"i"`` (intensity only).

    Ranking (paper, section 3.5): in a hierarchy of R regions in creation order (segments, then one
    per merge), region i gets priority ``(R - i) * u`` with u uniform in (0, 1] drawn from a stream
    seeded by ``seed`` and the hierarchy's index. Proposals of all hierarchies are sorted by
    increasing priority (stable); boxes narrower or lower than ``min_box_size`` are dropped and
    repeated boxes keep their best rank. Hierarchies run in parallel (see
    :func:`detkit.set_num_threads`); the result does not depend on the thread count.

    Parameters
    ----------
    image : (H, W, 3), (H, W, 1) or (H, W) array_like
        RGB (or BGR with ``bgr=True``) or grayscale; uint8 (or integers in [0, 255], or
        float32/float64 in [0, 1]).
    mode : {"single", "fast", "quality"}
        The paper's configurations (:data:`MODES`): single = HSV, CTSF, k=100; fast = HSV and Lab,
        CTSF and TSF, k = 50, 100; quality = HSV, Lab, rgI, H, I, CTSF, TSF, F and S, k = 50, 100, 150,
        300.
    color_spaces, strategies, ks : optional
        Override the mode's colour spaces (names above), strategies (strings of the letters C, T, S,
        F) and thresholds k (> 0).
    sigma : float in [0, 100]
        Smoothing of the segmentation.
    min_box_size : int >= 0
        Minimum box width and height, in pixels.
    max_proposals : int, optional
        Keep only the best-ranked proposals.
    seed : int in [0, 2**64)
        Seed of the ranking; equal seeds give equal results.
    bgr : bool
        The image's channels are in BGR order (OpenCV).
    return_hierarchy : bool
        Also return the hierarchies.

    Returns
    -------
    proposals : (N, 4) ndarray of int64
        xyxy pixel-edge boxes in rank order (best first).
    hierarchies : list of dict, only with ``return_hierarchy``
        One per (colour space, k, strategy), in that nesting order, with keys ``color_space``,
        ``k``, ``strategy``, ``labels`` ((H, W) int64 initial segmentation, shared by the strategies
        of a colour space and k), ``merges`` ((M, 2) int64: merge t joins these two regions into
        region ``n + t``, n being the number of segments), ``similarity`` ((M,) float64),
        ``boxes`` ((n + M, 4) int64 box of every region) and ``priority`` ((n + M,) float64).

    Examples
    --------
    >>> image = np.zeros((60, 80, 3), np.uint8)
    >>> image[10:40, 20:50] = (200, 30, 30)
    >>> boxes = selective_search(image, "single", min_box_size=10)
    >>> [20, 10, 50, 40] in boxes.tolist(), [0, 0, 80, 60] in boxes.tolist()
    (True, True)
    """
    if not isinstance(bgr, (bool, np.bool_)):
        raise TypeError(f"bgr must be a bool, got {bgr!r}")
    img = as_image(image, channels=(1, 3))
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    elif bgr:
        img = np.ascontiguousarray(img[:, :, ::-1])
    spaces, strats, thresholds = selective_search_settings(mode, color_spaces, strategies, ks)
    s = as_real(sigma, "sigma", low=0.0, high=100.0)
    min_box = min(_as_int(min_box_size, "min_box_size"), _INT_CAP)
    limit = min(as_count(max_proposals, "max_proposals"), _INT_CAP)
    seed = _as_int(seed, "seed", 0, 2**64 - 1)
    codes = [COLOR_SPACES.index(c) for c in spaces]
    masks = [sum(_TERMS[t] for t in st) for st in strats]
    out = _C.selective_search(img, codes, masks, thresholds, s, min_box, limit, seed, bool(return_hierarchy))
    if not return_hierarchy:
        return out
    boxes, hierarchies, segmentations = out
    for h in hierarchies:
        h["color_space"] = COLOR_SPACES[h["color_space"]]
        h["strategy"] = "".join(t for t in "CTSF" if h["strategy"] & _TERMS[t])
        h["labels"] = segmentations[h.pop("segmentation")]
        del h["num_initial"]
    return boxes, hierarchies
