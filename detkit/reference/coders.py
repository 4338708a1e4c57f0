"""Reference R-CNN box coder (numpy only), in torchvision's operation order."""

import numpy as np


def encode_boxes(reference_boxes, proposals, weights):
    """(N, 4) deltas (dx, dy, dw, dh) moving each proposal onto its reference box (widths without "+1")."""
    gt, ex = np.asarray(reference_boxes), np.asarray(proposals)
    t = gt.dtype.type
    wx, wy, ww, wh = (t(w) for w in weights)
    ex_w, ex_h = ex[:, 2] - ex[:, 0], ex[:, 3] - ex[:, 1]
    ex_x, ex_y = ex[:, 0] + t(0.5) * ex_w, ex[:, 1] + t(0.5) * ex_h
    gt_w, gt_h = gt[:, 2] - gt[:, 0], gt[:, 3] - gt[:, 1]
    gt_x, gt_y = gt[:, 0] + t(0.5) * gt_w, gt[:, 1] + t(0.5) * gt_h
    with np.errstate(divide="ignore"):
        return np.stack([wx * (gt_x - ex_x) / ex_w, wy * (gt_y - ex_y) / ex_h,
                         ww * np.log(gt_w / ex_w), wh * np.log(gt_h / ex_h)], axis=1)


def decode_boxes(rel_codes, boxes, weights, bbox_xform_clip):
    """(N, C, 4) xyxy boxes from (N, C, 4) deltas relative to (N, 4) boxes; dw, dh clamped above."""
    codes, anchors = np.asarray(rel_codes), np.asarray(boxes)
    t = codes.dtype.type
    wx, wy, ww, wh = (t(w) for w in weights)
    w = (anchors[:, 2] - anchors[:, 0])[:, None]
    h = (anchors[:, 3] - anchors[:, 1])[:, None]
    cx = anchors[:, 0][:, None] + t(0.5) * w
    cy = anchors[:, 1][:, None] + t(0.5) * h
    dw = np.minimum(codes[..., 2] / ww, t(bbox_xform_clip))
    dh = np.minimum(codes[..., 3] / wh, t(bbox_xform_clip))
    px, py = codes[..., 0] / wx * w + cx, codes[..., 1] / wy * h + cy
    half_w, half_h = t(0.5) * (np.exp(dw) * w), t(0.5) * (np.exp(dh) * h)
    return np.stack([px - half_w, py - half_h, px + half_w, py + half_h], axis=-1)
