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
from detkit.ops.anchors import (
    AnchorGenerator,
    DefaultBoxGenerator,
    generate_anchors,
    make_anchor_points,
    yolo_grid,
)
from detkit.ops.coders import (
    BalancedPositiveNegativeSampler,
    BoxCoder,
    Matcher,
    SSDBoxCoder,
    bbox2dist,
    dfl_decode,
    dist2bbox,
    yolo_decode,
)
from detkit.ops.losses import (
    ciou_loss,
    ciou_loss_grad,
    diou_loss,
    diou_loss_grad,
    giou_loss,
    giou_loss_grad,
    sigmoid_focal_loss,
    sigmoid_focal_loss_grad,
    smooth_l1_loss,
    smooth_l1_loss_grad,
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
    "AnchorGenerator",
    "DefaultBoxGenerator",
    "generate_anchors",
    "make_anchor_points",
    "yolo_grid",
    "BoxCoder",
    "SSDBoxCoder",
    "yolo_decode",
    "dist2bbox",
    "bbox2dist",
    "dfl_decode",
    "Matcher",
    "BalancedPositiveNegativeSampler",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_grad",
    "smooth_l1_loss",
    "smooth_l1_loss_grad",
    "giou_loss",
    "giou_loss_grad",
    "diou_loss",
    "diou_loss_grad",
    "ciou_loss",
    "ciou_loss_grad",
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
