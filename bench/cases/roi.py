"""RoI ops on a Faster R-CNN-sized workload: a stride-4 map (1, 256, 200, 304) of an 800 x 1216
image and 1,000 proposal-like boxes inside the image (log-uniform sides 16..256 px, aspect ratios
0.5..2), 7 x 7 bins."""

import numpy as np

import detkit
from bench.core import Case, optional_import
from detkit import reference

torch = optional_import("torch")
torchvision = optional_import("torchvision")

IMAGE_H, IMAGE_W = 800, 1216


def _workload(num_rois: int = 1000, seed: int = 0):
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((1, 256, IMAGE_H // 4, IMAGE_W // 4)).astype(np.float32)
    side = np.exp(rng.uniform(np.log(16), np.log(256), num_rois))
    aspect = np.exp(rng.uniform(np.log(0.5), np.log(2.0), num_rois))
    w, h = side * np.sqrt(aspect), side / np.sqrt(aspect)
    x1, y1 = rng.uniform(0, IMAGE_W - w), rng.uniform(0, IMAGE_H - h)
    rois = np.stack([np.zeros(num_rois), x1, y1, x1 + w, y1 + h], axis=1).astype(np.float32)
    return features, rois


def _align_case(threads: int) -> Case:
    def setup():
        x, rois = _workload()
        impls = {
            "detkit": lambda: detkit.roi_align(x, rois, 7, 0.25, 2, True),
            "reference": lambda: reference.roi_align(x, rois, 7, 0.25, 2, True),
        }
        if torchvision is not None:
            tx, tr = torch.from_numpy(x), torch.from_numpy(rois)
            impls["torchvision"] = lambda: torchvision.ops.roi_align(tx, tr, 7, 0.25, 2, True)
        return impls

    return Case(f"roi_align 1,000 x 7x7 ({threads} thr)",
                "(1, 256, 200, 304) float32, 1,000 RoIs, sampling_ratio 2, aligned, scale 1/4", setup,
                threads=threads, slow_peers=("reference",))


def _align_backward_case() -> Case:
    def setup():
        x, rois = _workload()
        g = np.random.default_rng(1).standard_normal((len(rois), 256, 7, 7)).astype(np.float32)
        impls = {
            "detkit": lambda: detkit.roi_align_backward(g, rois, x.shape, 7, 0.25, 2, True),
            "reference": lambda: reference.roi_align_backward(g, rois, x.shape, 7, 0.25, 2, True),
        }
        if torchvision is not None:
            tg, tr = torch.from_numpy(g), torch.from_numpy(rois)
            impls["torchvision"] = lambda: torch.ops.torchvision._roi_align_backward(
                tg, tr, 0.25, 7, 7, *x.shape, 2, True)
        return impls

    return Case("roi_align_backward 1,000 x 7x7", "gradient of the roi_align case w.r.t. the features", setup,
                slow_peers=("reference",))


def _pool_case(argmax: bool) -> Case:
    def setup():
        x, rois = _workload()
        impls = {
            "detkit": lambda: detkit.roi_pool(x, rois, 7, 0.25, return_argmax=argmax),
            "reference": lambda: reference.roi_pool(x, rois, 7, 0.25),
        }
        if torchvision is not None:
            tx, tr = torch.from_numpy(x), torch.from_numpy(rois)
            impls["torchvision"] = lambda: torchvision.ops.roi_pool(tx, tr, 7, 0.25)
        return impls

    # torchvision always computes the argmax (for its autograd); detkit only when asked.
    return Case(f"roi_pool 1,000 x 7x7{' + argmax' if argmax else ''}",
                "(1, 256, 200, 304) float32, 1,000 RoIs, scale 1/4", setup, slow_peers=("reference", "torchvision"))


def _pool_backward_case() -> Case:
    def setup():
        x, rois = _workload()
        _, argmax = detkit.roi_pool(x, rois, 7, 0.25, return_argmax=True)
        g = np.random.default_rng(2).standard_normal(argmax.shape).astype(np.float32)
        impls = {
            "detkit": lambda: detkit.roi_pool_backward(g, rois, argmax, x.shape),
            "reference": lambda: reference.roi_pool_backward(g, rois, argmax, x.shape),
        }
        if torchvision is not None:
            tg, tr, ta = torch.from_numpy(g), torch.from_numpy(rois), torch.from_numpy(argmax.astype(np.int32))
            impls["torchvision"] = lambda: torch.ops.torchvision._roi_pool_backward(
                tg, tr, ta, 0.25, 7, 7, *x.shape)
        return impls

    return Case("roi_pool_backward 1,000 x 7x7", "gradient of the roi_pool case w.r.t. the features", setup,
                slow_peers=("reference",))


def _multiscale_case() -> Case:
    def setup():
        rng = np.random.default_rng(3)
        feats = [rng.standard_normal((1, 256, IMAGE_H // s, IMAGE_W // s)).astype(np.float32) for s in (4, 8, 16, 32)]
        _, rois = _workload()
        boxes = [rois[:, 1:]]
        shapes = [(IMAGE_H, IMAGE_W)]
        impls = {
            "detkit": lambda: detkit.multiscale_roi_align(feats, boxes, shapes, 7, 2),
            "reference": lambda: reference.multiscale_roi_align(feats, boxes, shapes, 7, 2),
        }
        if torchvision is not None:
            names = ["p2", "p3", "p4", "p5"]
            pool = torchvision.ops.MultiScaleRoIAlign(names, 7, 2)
            tf = {k: torch.from_numpy(f) for k, f in zip(names, feats)}
            tb = [torch.from_numpy(b) for b in boxes]
            impls["torchvision"] = lambda: pool(tf, tb, shapes)
        return impls

    return Case("multiscale_roi_align 1,000 x 7x7", "FPN P2-P5 of an 800 x 1216 image, 256 channels, 1,000 RoIs",
                setup, slow_peers=("reference",))


CASES = [
    _align_case(1),
    _align_case(2),
    _align_backward_case(),
    _pool_case(False),
    _pool_case(True),
    _pool_backward_case(),
    _multiscale_case(),
]
