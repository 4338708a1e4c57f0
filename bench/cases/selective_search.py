"""Selective search and Felzenszwalb segmentation on 600 x 400 photos (scikit-image samples).

Peers: OpenCV contrib's ``cv2.ximgproc.segmentation`` (selective search fast / quality and its graph
segmentation), scikit-image's ``felzenszwalb``, and detkit's reference (single mode only: it is a
Python loop). Everything single-threaded.
"""

from __future__ import annotations

import numpy as np

from bench.core import Case, optional_import
from detkit import reference
from detkit.proposals import felzenszwalb, selective_search, selective_search_settings

cv2 = optional_import("cv2")
skimage_data = optional_import("skimage.data")
skimage_segmentation = optional_import("skimage.segmentation")

SIZE = (600, 400)  # width, height


def photo(name: str) -> np.ndarray:
    """A scikit-image sample photo resized to 600 x 400 RGB (area interpolation)."""
    image = getattr(skimage_data, name)()
    if cv2 is not None:
        return np.ascontiguousarray(cv2.resize(image, SIZE, interpolation=cv2.INTER_AREA))
    rows = np.linspace(0, image.shape[0] - 1, SIZE[1]).round().astype(int)
    cols = np.linspace(0, image.shape[1] - 1, SIZE[0]).round().astype(int)
    return np.ascontiguousarray(image[rows][:, cols])


def opencv_selective_search(image_rgb: np.ndarray, mode: str) -> np.ndarray:
    """OpenCV's selective search as (N, 4) xyxy boxes in its rank order."""
    ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    ss.setBaseImage(np.ascontiguousarray(image_rgb[:, :, ::-1]))  # OpenCV expects BGR
    {"fast": ss.switchToSelectiveSearchFast, "quality": ss.switchToSelectiveSearchQuality,
     "single": ss.switchToSingleStrategy}[mode]()
    rects = np.asarray(ss.process(), np.int64).reshape(-1, 4)
    return np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)


def _ss_case(name: str, mode: str) -> Case:
    counts = {}

    def setup():
        image = photo(name)
        counts["n"] = len(selective_search(image, mode))
        impls = {"detkit": lambda: selective_search(image, mode)}
        if cv2 is not None and hasattr(cv2, "ximgproc"):
            impls["opencv"] = lambda: opencv_selective_search(image, mode)
        if mode == "single":
            spaces, strategies, ks = selective_search_settings(mode)
            impls["reference"] = lambda: reference.selective_search(image, spaces, strategies, ks)
        return impls

    def extra(seconds: float):
        return {"proposals": counts["n"], "proposals/s": counts["n"] / seconds}

    return Case(f"selective_search {mode} {name} 600x400", f"{name} resized to 600 x 400, {mode} mode", setup,
                extra=extra, repeats=5, slow_peers=("opencv", "reference"))


def _felzenszwalb_case(name: str) -> Case:
    def setup():
        image = photo(name)
        impls = {"detkit": lambda: felzenszwalb(image, 100, 0.8, 100)}
        if skimage_segmentation is not None:
            impls["skimage"] = lambda: skimage_segmentation.felzenszwalb(image, 100, 0.8, 100)
        if cv2 is not None and hasattr(cv2, "ximgproc"):
            gs = cv2.ximgproc.segmentation.createGraphSegmentation(0.8, 100, 100)
            impls["opencv"] = lambda: gs.processImage(image)
        return impls

    return Case(f"felzenszwalb {name} 600x400", f"{name} resized to 600 x 400, k=100, sigma 0.8, min_size 100",
                setup, slow_peers=("skimage", "opencv"))


CASES = [] if skimage_data is None else [
    _felzenszwalb_case("astronaut"),
    _ss_case("astronaut", "single"),
    _ss_case("astronaut", "fast"),
    _ss_case("coffee", "fast"),
    _ss_case("astronaut", "quality"),
    _ss_case("coffee", "quality"),
]
