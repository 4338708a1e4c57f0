"""Reference box geometry: conversions, areas, clipping and the IoU family (numpy only)."""

import numpy as np


def box_convert(boxes, in_fmt, out_fmt):
    """Converts (N, 4) boxes between "xyxy", "xywh" and "cxcywh" (through xyxy)."""
    boxes = np.asarray(boxes)
    a, b, c, d = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    if in_fmt == "xyxy":
        x1, y1, x2, y2 = a, b, c, d
    elif in_fmt == "xywh":
        x1, y1, x2, y2 = a, b, a + c, b + d
    else:  # cxcywh
        x1, y1, x2, y2 = a - 0.5 * c, b - 0.5 * d, a + 0.5 * c, b + 0.5 * d
    if out_fmt == "xyxy":
        columns = (x1, y1, x2, y2)
    elif out_fmt == "xywh":
        columns = (x1, y1, x2 - x1, y2 - y1)
    else:
        columns = ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1)
    return np.stack(columns, axis=1).astype(boxes.dtype, copy=False)


def box_area(boxes, offset=0):
    """Area of each xyxy box, with width = x2 - x1 + offset."""
    boxes = np.asarray(boxes)
    offset = boxes.dtype.type(offset)
    return (boxes[:, 2] - boxes[:, 0] + offset) * (boxes[:, 3] - boxes[:, 1] + offset)


def clip_boxes_to_image(boxes, size):
    """Clips x to [0, width] and y to [0, height]; size is (height, width)."""
    boxes = np.asarray(boxes)
    height, width = size
    out = boxes.copy()
    out[:, 0::2] = np.clip(boxes[:, 0::2], 0, boxes.dtype.type(width))
    out[:, 1::2] = np.clip(boxes[:, 1::2], 0, boxes.dtype.type(height))
    return out


def remove_small_boxes(boxes, min_size):
    """Indices of boxes whose width and height are both >= min_size."""
    boxes = np.asarray(boxes)
    min_size = boxes.dtype.type(min_size)
    widths = boxes[:, 2] - boxes[:, 0]
    heights = boxes[:, 3] - boxes[:, 1]
    return np.flatnonzero((widths >= min_size) & (heights >= min_size)).astype(np.int64)


def _pairs(boxes1, boxes2, aligned):
    """Broadcastable views: (N, 1) against (1, M) columns, or (N,) against (N,) when aligned."""
    boxes1, boxes2 = np.asarray(boxes1), np.asarray(boxes2)
    if aligned:
        return boxes1.T, boxes2.T
    return boxes1.T[:, :, None], boxes2.T[:, None, :]


def _iou_and_union(a, b, offset):
    dtype = a.dtype
    offset = dtype.type(offset)
    area_a = (a[2] - a[0] + offset) * (a[3] - a[1] + offset)
    area_b = (b[2] - b[0] + offset) * (b[3] - b[1] + offset)
    w = np.clip(np.minimum(a[2], b[2]) - np.maximum(a[0], b[0]) + offset, 0, None)
    h = np.clip(np.minimum(a[3], b[3]) - np.maximum(a[1], b[1]) + offset, 0, None)
    inter = w * h
    union = area_a + area_b - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return iou, union


def box_iou(boxes1, boxes2, offset=0, aligned=False):
    """IoU of every pair (N x M), or of matched pairs (N,) when aligned; 0 where the union is 0."""
    a, b = _pairs(boxes1, boxes2, aligned)
    return _iou_and_union(a, b, offset)[0]


def _enclosing_wh(a, b):
    return np.maximum(a[2], b[2]) - np.minimum(a[0], b[0]), np.maximum(a[3], b[3]) - np.minimum(a[1], b[1])


def generalized_box_iou(boxes1, boxes2, aligned=False):
    """GIoU = IoU - (enclosing area - union) / enclosing area (the fraction is 0 if that area is 0)."""
    a, b = _pairs(boxes1, boxes2, aligned)
    iou, union = _iou_and_union(a, b, 0)
    cw, ch = _enclosing_wh(a, b)
    enclose = cw * ch
    penalty = np.divide(enclose - union, enclose, out=np.zeros_like(enclose), where=enclose > 0)
    return iou - penalty


def _distance_iou(a, b, eps):
    iou, _ = _iou_and_union(a, b, 0)
    cw, ch = _enclosing_wh(a, b)
    diagonal = cw * cw + ch * ch + a.dtype.type(eps)
    dx = (a[0] + a[2]) / 2 - (b[0] + b[2]) / 2
    dy = (a[1] + a[3]) / 2 - (b[1] + b[3]) / 2
    return iou - (dx * dx + dy * dy) / diagonal, iou


def distance_box_iou(boxes1, boxes2, eps=1e-7, aligned=False):
    """DIoU = IoU - squared centre distance / (squared enclosing diagonal + eps)."""
    a, b = _pairs(boxes1, boxes2, aligned)
    return _distance_iou(a, b, eps)[0]


def complete_box_iou(boxes1, boxes2, eps=1e-7, aligned=False):
    """CIoU = DIoU - alpha * v with v = 4/pi^2 (atan(wb/hb) - atan(wa/ha))^2 (atan2 form)."""
    a, b = _pairs(boxes1, boxes2, aligned)
    diou, iou = _distance_iou(a, b, eps)
    t = a.dtype.type
    angle = np.arctan2(b[2] - b[0], b[3] - b[1]) - np.arctan2(a[2] - a[0], a[3] - a[1])
    v = t(4 / np.pi**2) * (angle * angle)
    alpha = v / (t(1) - iou + v + t(eps))
    return diou - alpha * v
