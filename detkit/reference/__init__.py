"""Plain numpy twins of detkit's native kernels.

Each function here computes what its native counterpart in :mod:`detkit.ops` computes, written the
way a competent numpy user would: readable, vectorised where numpy makes that natural, with no
tricks. They are the oracle in the tests and the "pure Python" baseline in the benchmarks. Inputs
are assumed valid (use the public API for checked inputs). This package imports numpy only.
"""

from detkit.reference import coco_eval, mask, voc
from detkit.reference.anchors import grid_anchors
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
from detkit.reference.coders import decode_boxes, encode_boxes
from detkit.reference.losses import (
    box_loss,
    box_loss_grad,
    sigmoid_focal_loss,
    sigmoid_focal_loss_grad,
    smooth_l1_loss,
    smooth_l1_loss_grad,
)
from detkit.reference.nms import batched_nms, batched_soft_nms, nms, soft_nms
from detkit.reference.proposals import felzenszwalb, selective_search
from detkit.reference.roi import (
    multiscale_roi_align,
    roi_align,
    roi_align_backward,
    roi_pool,
    roi_pool_backward,
)

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
    "grid_anchors",
    "encode_boxes",
    "decode_boxes",
    "box_loss",
    "box_loss_grad",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_grad",
    "smooth_l1_loss",
    "smooth_l1_loss_grad",
    "roi_align",
    "roi_align_backward",
    "roi_pool",
    "roi_pool_backward",
    "multiscale_roi_align",
    "felzenszwalb",
    "selective_search",
    "coco_eval",
    "mask",
    "voc",
]
