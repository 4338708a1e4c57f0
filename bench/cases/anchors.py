"""Anchor generation: a 5-level FPN at 1333 x 800 (torchvision's RetinaNet / Faster R-CNN layout)
and SSD300 priors."""

import detkit
from bench.core import Case, optional_import
from detkit import reference

torch = optional_import("torch")
torchvision = optional_import("torchvision")

FPN_SIZES = ((32,), (64,), (128,), (256,), (512,))
FPN_RATIOS = ((0.5, 1.0, 2.0),) * 5
FPN_GRIDS = [(200, 334), (100, 167), (50, 84), (25, 42), (13, 21)]  # strides 4..64 of an 800 x 1333 input
IMAGE = (800, 1333)


def _torch_inputs(image, grids):
    from torchvision.models.detection.image_list import ImageList

    return ImageList(torch.zeros(1, 1, *image), [image]), [torch.zeros(1, 1, h, w) for h, w in grids]


def _fpn_case(threads) -> Case:
    def setup():
        gen = detkit.AnchorGenerator(FPN_SIZES, FPN_RATIOS)
        strides = [(IMAGE[0] // h, IMAGE[1] // w) for h, w in FPN_GRIDS]
        impls = {
            "detkit": lambda: gen(IMAGE, FPN_GRIDS),
            "reference": lambda: reference.grid_anchors(gen.cell_anchors, FPN_GRIDS, strides),
        }
        if torchvision is not None:
            from torchvision.models.detection.anchor_utils import AnchorGenerator

            peer = AnchorGenerator(FPN_SIZES, FPN_RATIOS)
            images, features = _torch_inputs(IMAGE, FPN_GRIDS)
            impls["torchvision"] = lambda: peer(images, features)
        return impls

    return Case(f"anchors FPN 5 levels 1333x800 ({threads} thread{'s' if threads > 1 else ''})",
                "267,069 float32 anchors, 3 per location, strides 4-64", setup, threads=threads, repeats=51)


def _ssd_case() -> Case:
    ratios = [[2], [2, 3], [2, 3], [2, 3], [2], [2]]
    scales = [0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05]
    steps = [8, 16, 32, 64, 100, 300]
    grids = [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)]

    def setup():
        gen = detkit.DefaultBoxGenerator(ratios, scales=scales, steps=steps)
        impls = {"detkit": lambda: gen((300, 300), grids)}
        if torchvision is not None:
            from torchvision.models.detection.anchor_utils import DefaultBoxGenerator

            peer = DefaultBoxGenerator(ratios, scales=scales, steps=steps)
            images, features = _torch_inputs((300, 300), grids)
            impls["torchvision"] = lambda: peer(images, features)
        return impls

    return Case("anchors SSD300 priors", "8,732 default boxes (numpy, no native kernel)", setup, repeats=51)


CASES = [_fpn_case(1), _fpn_case(2), _ssd_case()]
