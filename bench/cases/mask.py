"""COCO RLE masks at COCO scale (480 x 640 images): detkit.eval.mask vs pycocotools.mask and the
dense numpy reference. Objects are random star-shaped polygons (8-40 vertices, radius 10-200 px)."""

import numpy as np

from bench.core import Case, optional_import
from detkit import reference
from detkit.eval import mask as dm

pm = optional_import("pycocotools.mask")

H, W = 480, 640


def _polygons(n: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    polys = []
    for _ in range(n):
        cx, cy, r = rng.uniform(0, W), rng.uniform(0, H), rng.uniform(10, 200)
        t = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(8, 41)))
        rad = r * rng.uniform(0.5, 1.0, t.size)
        polys.append(np.stack([cx + rad * np.cos(t), cy + rad * np.sin(t)], 1).ravel().tolist())
    return polys


def _rles(n: int, seed: int) -> list:
    return dm.frPyObjects(_polygons(n, seed), H, W)


def _encode_case(n: int) -> Case:
    def setup():
        masks = dm.decode(_rles(n, 0))  # (H, W, n) Fortran-ordered uint8
        impls = {"detkit": lambda: dm.encode(masks), "reference": lambda: reference.mask.encode(masks)}
        if pm is not None:
            impls["pycocotools"] = lambda: pm.encode(masks)
        return impls

    return Case(f"mask encode {n:,}", f"{n:,} masks {H}x{W} -> RLE strings", setup, slow_peers=("reference",))


def _decode_case(n: int) -> Case:
    def setup():
        rles = _rles(n, 1)
        impls = {"detkit": lambda: dm.decode(rles), "reference": lambda: reference.mask.decode(rles)}
        if pm is not None:
            impls["pycocotools"] = lambda: pm.decode(rles)
        return impls

    return Case(f"mask decode {n:,}", f"{n:,} RLEs -> (H, W, n) uint8 masks {H}x{W}", setup,
                slow_peers=("reference",))


def _iou_case(n: int) -> Case:
    def setup():
        dt, gt = _rles(n, 2), _rles(n, 3)
        crowd = (np.arange(n) % 10 == 0).astype(np.uint8)
        impls = {"detkit": lambda: dm.iou(dt, gt, crowd), "reference": lambda: reference.mask.iou(dt, gt, crowd)}
        if pm is not None:
            impls["pycocotools"] = lambda: pm.iou(dt, gt, crowd)
        return impls

    return Case(f"mask iou {n} x {n}", f"{n} x {n} RLE masks {H}x{W}, 10% crowd", setup,
                slow_peers=("reference",))


def _poly_case(n: int) -> Case:
    def setup():
        polys = _polygons(n, 4)
        impls = {"detkit": lambda: dm.frPyObjects(polys, H, W),
                 "reference": lambda: reference.mask.frPyObjects(polys, H, W)}
        if pm is not None:
            impls["pycocotools"] = lambda: pm.frPyObjects(polys, H, W)
        return impls

    return Case(f"mask frPyObjects {n:,}", f"{n:,} polygons (8-40 vertices) -> RLE {H}x{W}", setup,
                slow_peers=("reference",))


def _merge_bbox_case(n: int) -> Case:
    def setup():
        rles = _rles(n, 5)
        impls = {"detkit": lambda: (dm.merge(rles), dm.toBbox(rles))}
        if pm is not None:  # (pycocotools 2.0.11's area() fails on lists of more than 255 RLEs)
            impls["pycocotools"] = lambda: (pm.merge(rles), pm.toBbox(rles))
        return impls

    return Case(f"mask merge+toBbox {n:,}", f"{n:,} RLEs {H}x{W}: union of all, boxes of each", setup)


CASES = [
    _encode_case(1000),
    _decode_case(1000),
    _iou_case(100),
    _poly_case(1000),
    _merge_bbox_case(1000),
]
