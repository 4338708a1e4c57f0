"""Reference Pascal VOC evaluation (numpy only): the twin of :func:`detkit.eval.evaluate_voc`.

A direct transcription of the devkit procedure (py-faster-rcnn's ``voc_eval``): one class at a
time, one detection at a time in decreasing score order, matched against the ground truth of its
image. Inputs are flat arrays (image id, xyxy box, label, difficult / score per row), assumed valid.
"""

import numpy as np


def voc_ap(rec, prec, use_07_metric=False):
    """11-point (VOC2007) or all-point (VOC2010+) average precision of one curve."""
    if use_07_metric:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            p = 0.0 if np.sum(rec >= t) == 0 else np.max(prec[rec >= t])
            ap = ap + p / 11.0
        return float(ap)
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):  # precision envelope
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def evaluate_class(gt_images, gt_boxes, gt_difficult, det_images, det_boxes, det_scores,
                   iou_threshold=0.5, use_07_metric=False, offset=1, strict=True):
    """AP, precision, recall and number of positives of one class.

    Detections are visited by decreasing score (stable); each takes the gt of largest IoU in its
    image; IoU > threshold (>= unless strict) on a non-difficult, unmatched gt is a TP, on a matched
    one an FP, on a difficult one neither; otherwise FP. AP is NaN when the class has no positives.
    """
    recs = {}
    for img in np.unique(np.concatenate([gt_images, det_images])):
        sel = gt_images == img
        recs[img] = {"bbox": gt_boxes[sel], "difficult": gt_difficult[sel], "det": [False] * int(sel.sum())}
    npos = int(np.sum(~gt_difficult))

    order = np.argsort(-det_scores, kind="stable")
    tp = np.zeros(len(order))
    fp = np.zeros(len(order))
    for d, k in enumerate(order):
        R = recs[det_images[k]]
        bb = det_boxes[k]
        ovmax = -np.inf
        BBGT = R["bbox"]
        if BBGT.size > 0:
            ixmin = np.maximum(BBGT[:, 0], bb[0])
            iymin = np.maximum(BBGT[:, 1], bb[1])
            ixmax = np.minimum(BBGT[:, 2], bb[2])
            iymax = np.minimum(BBGT[:, 3], bb[3])
            iw = np.maximum(ixmax - ixmin + offset, 0.0)
            ih = np.maximum(iymax - iymin + offset, 0.0)
            inters = iw * ih
            uni = ((bb[2] - bb[0] + offset) * (bb[3] - bb[1] + offset)
                   + (BBGT[:, 2] - BBGT[:, 0] + offset) * (BBGT[:, 3] - BBGT[:, 1] + offset) - inters)
            overlaps = np.divide(inters, uni, out=np.zeros_like(inters), where=uni > 0)
            ovmax = np.max(overlaps)
            jmax = np.argmax(overlaps)
        if ovmax > iou_threshold or (not strict and ovmax == iou_threshold and ovmax > 0):
            if not R["difficult"][jmax]:
                if not R["det"][jmax]:
                    tp[d] = 1.0
                    R["det"][jmax] = True
                else:
                    fp[d] = 1.0
        else:
            fp[d] = 1.0

    fp = np.cumsum(fp)
    tp = np.cumsum(tp)
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    if npos == 0:
        return float("nan"), prec, np.full(len(tp), np.nan), 0
    rec = tp / float(npos)
    return voc_ap(rec, prec, use_07_metric), prec, rec, npos


def evaluate_voc(gt_images, gt_boxes, gt_labels, gt_difficult, det_images, det_boxes, det_scores,
                 det_labels, iou_threshold=0.5, use_07_metric=False, offset=1, strict=True):
    """Per-class (labels, AP, precision curves, recall curves, positives) and the mAP over the
    classes with positives."""
    labels = np.union1d(gt_labels, det_labels)
    aps, precs, recs, npos = [], [], [], []
    for c in labels:
        g, d = gt_labels == c, det_labels == c
        ap, prec, rec, n = evaluate_class(gt_images[g], gt_boxes[g], gt_difficult[g], det_images[d],
                                          det_boxes[d], det_scores[d], iou_threshold, use_07_metric, offset,
                                          strict)
        aps.append(ap)
        precs.append(prec)
        recs.append(rec)
        npos.append(n)
    aps = np.array(aps, dtype=np.float64)
    valid = np.array(npos) > 0
    mAP = float(np.mean(aps[valid])) if valid.any() else float("nan")
    return labels, aps, precs, recs, np.array(npos, dtype=np.int64), mAP
