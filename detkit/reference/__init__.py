"""Plain numpy twins of detkit's native kernels.

Each function here computes what its native counterpart in :mod:`detkit.ops` computes, written the
way a competent numpy user would: readable, vectorised where numpy makes that natural, with no
tricks. They are the oracle in the tests and the "pure Python" baseline in the benchmarks. Inputs
are assumed valid (use the public API for checked inputs). This package imports numpy only.
"""

from detkit.reference.boxes import (
    box_area,
    box_convert,
    box_iou,
    clip_boxes_to_image,
    complete_box_iou,
    distance_box_iou,
    generalized_box_iou,
    remove_small_boxes,
)
from detkit.reference.nms import batched_nms, batched_soft_nms, nms, soft_nms

__all__ = [
    "box_area",
    "box_convert",
    "box_iou",
    "clip_boxes_to_image",
    "complete_box_iou",
    "distance_box_iou",
    "generalized_box_iou",
    "remove_small_boxes",
    "nms",
    "batched_nms",
    "soft_nms",
    "batched_soft_nms",
]
from detkit.reference import mask
from detkit.reference import voc
