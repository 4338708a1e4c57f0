"""Box operations: geometry, overlap measures and non-maximum suppression."""

from detkit.ops.boxes import (
    box_area,
    box_convert,
    box_iou,
    clip_boxes_to_image,
    complete_box_iou,
    distance_box_iou,
    generalized_box_iou,
    remove_small_boxes,
)
from detkit.ops.nms import batched_nms, batched_soft_nms, nms, soft_nms

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
from detkit.ops.roi import (
    MultiScaleRoIAlign,
    multiscale_roi_align,
    roi_align,
    roi_align_backward,
    roi_pool,
    roi_pool_backward,
)

__all__ += [
    "roi_align",
    "roi_align_backward",
    "roi_pool",
    "roi_pool_backward",
    "multiscale_roi_align",
    "MultiScaleRoIAlign",
]
