"""Reference non-maximum suppression: greedy NMS, per-class NMS and Soft-NMS (numpy only)."""

import numpy as np


def _visiting_order(scores, score_threshold, pre_nms_top_k):
    """Candidate indices by decreasing score, ties by lower index; filtered and cut to top k."""
    order = np.argsort(-scores, kind="stable")
    if score_threshold is not None:
        order = order[scores[order] > score_threshold]
    if pre_nms_top_k is not None:
        order = order[:pre_nms_top_k]
    return order


def _iou_with(boxes, areas, i, others, offset):
    """IoU of box i against the boxes `others` (0 where the union is 0)."""
    xx1 = np.maximum(boxes[i, 0], boxes[others, 0])
    yy1 = np.maximum(boxes[i, 1], boxes[others, 1])
    xx2 = np.minimum(boxes[i, 2], boxes[others, 2])
    yy2 = np.minimum(boxes[i, 3], boxes[others, 3])
    w = np.clip(xx2 - xx1 + offset, 0, None)
    h = np.clip(yy2 - yy1 + offset, 0, None)
    inter = w * h
    union = areas[i] + areas[others] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def nms(boxes, scores, iou_threshold, score_threshold=None, pre_nms_top_k=None, max_output=None,
        offset=0):
    """Greedy NMS: keeps a box unless a kept higher-ranked box has IoU > iou_threshold with it."""
    boxes = np.asarray(boxes)
    scores = np.asarray(scores, dtype=np.float64)
    t = boxes.dtype.type
    offset, threshold = t(offset), t(iou_threshold)
    areas = (boxes[:, 2] - boxes[:, 0] + offset) * (boxes[:, 3] - boxes[:, 1] + offset)
    order = _visiting_order(scores, score_threshold, pre_nms_top_k)
    keep = []
    while order.size and (max_output is None or len(keep) < max_output):
        i = order[0]
        keep.append(i)
        rest = order[1:]
        order = rest[_iou_with(boxes, areas, i, rest, offset) <= threshold]
    return np.array(keep, dtype=np.int64)


def batched_nms(boxes, scores, idxs, iou_threshold, score_threshold=None, pre_nms_top_k=None,
                max_output=None, offset=0):
    """NMS run separately for each class id in idxs; results merged by decreasing score."""
    boxes = np.asarray(boxes)
    scores = np.asarray(scores, dtype=np.float64)
    idxs = np.asarray(idxs)
    candidates = _visiting_order(scores, score_threshold, pre_nms_top_k)
    kept = []
    for label in np.unique(idxs[candidates]):
        members = candidates[idxs[candidates] == label]
        kept.append(members[nms(boxes[members], scores[members], iou_threshold, offset=offset)])
    keep = np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)
    keep = keep[np.lexsort((keep, -scores[keep]))]  # decreasing score, ties by lower index
    return keep[:max_output].astype(np.int64)


def soft_nms(boxes, scores, iou_threshold=0.3, sigma=0.5, score_threshold=0.001, method="gaussian",
             idxs=None, max_output=None, offset=0):
    """Soft-NMS (Bodla et al., 2017) by direct transcription of the algorithm.

    Repeatedly selects the remaining box with the highest current score (ties: lower index); stops
    when that score is below score_threshold. Every remaining box (of the same class when idxs is
    given) is decayed by w = exp(-iou^2 / sigma) (gaussian) or w = 1 - iou when iou > iou_threshold
    (linear); boxes falling below score_threshold are dropped. Returns (indices, scores at selection).
    """
    boxes = np.asarray(boxes)
    current = np.asarray(scores, dtype=np.float64).copy()
    t = boxes.dtype.type
    offset = t(offset)
    areas = (boxes[:, 2] - boxes[:, 0] + offset) * (boxes[:, 3] - boxes[:, 1] + offset)
    remaining = np.arange(len(current))
    keep, kept_scores = [], []
    while remaining.size and (max_output is None or len(keep) < max_output):
        best = remaining[np.argmax(current[remaining])]
        if current[best] < score_threshold:
            break
        keep.append(best)
        kept_scores.append(current[best])
        remaining = remaining[remaining != best]
        others = remaining if idxs is None else remaining[idxs[remaining] == idxs[best]]
        iou = _iou_with(boxes, areas, best, others, offset).astype(np.float64)
        if method == "linear":
            weight = np.where(iou > t(iou_threshold), 1.0 - iou, 1.0)
        else:
            weight = np.where(iou > 0, np.exp(-(iou * iou) / sigma), 1.0)
        current[others] *= weight
        remaining = remaining[current[remaining] >= score_threshold]
    return np.array(keep, dtype=np.int64), np.array(kept_scores, dtype=np.float64)


def batched_soft_nms(boxes, scores, idxs, iou_threshold=0.3, sigma=0.5, score_threshold=0.001,
                     method="gaussian", max_output=None, offset=0):
    """Soft-NMS where a box only decays boxes of its own class."""
    return soft_nms(boxes, scores, iou_threshold, sigma, score_threshold, method,
                    idxs=np.asarray(idxs), max_output=max_output, offset=offset)
