"""Reference COCO evaluation on flat columns: the twin of the native ``coco_cells``,
``coco_evaluate``, ``coco_accumulate`` and ``coco_summary_means`` (numpy only), written straight
from pycocotools' rules.

Columns: ``gt`` is a dict with ``cell`` (k * num_images + i, -1 = not evaluated), ``bbox`` (xywh),
``area``, ``iscrowd``, ``ignore``, ``id`` and optionally ``keypoints``; ``dt`` has ``cell``,
``bbox``, ``area``, ``score``, ``id`` and optionally ``keypoints``. Within a cell, records keep their
input order.
"""

import numpy as np


def coco_box_overlaps(dt_boxes, gt_boxes, iscrowd):
    """(D, G) IoU of xywh boxes; a crowd gt's IoU is intersection / area(detection)."""
    out = np.zeros((len(dt_boxes), len(gt_boxes)))
    for g, (gx, gy, gw, gh) in enumerate(gt_boxes):
        for d, (dx, dy, dw, dh) in enumerate(dt_boxes):
            w = min(dw + dx, gw + gx) - max(dx, gx)
            h = min(dh + dy, gh + gy) - max(dy, gy)
            if w <= 0 or h <= 0:
                continue
            inter = w * h
            union = dw * dh if iscrowd[g] else dw * dh + gw * gh - inter
            out[d, g] = inter / union
    return out


def coco_oks(dt_kpts, gt_kpts, gt_boxes, gt_areas, sigmas):
    """(D, G) object keypoint similarity; gts without visible keypoints measure the distance to
    their box enlarged by its width/height on every side."""
    variances = (np.asarray(sigmas) * 2) ** 2
    out = np.zeros((len(dt_kpts), len(gt_kpts)))
    for g, (kg, bb, area) in enumerate(zip(gt_kpts, gt_boxes, gt_areas)):
        xg, yg, vg = kg[0::3], kg[1::3], kg[2::3]
        visible = vg > 0
        x0, x1 = bb[0] - bb[2], bb[0] + bb[2] * 2
        y0, y1 = bb[1] - bb[3], bb[1] + bb[3] * 2
        for d, kd in enumerate(dt_kpts):
            xd, yd = kd[0::3], kd[1::3]
            if visible.any():
                dx, dy = xd - xg, yd - yg
            else:
                z = np.zeros(len(xd))
                dx = np.max((z, x0 - xd), axis=0) + np.max((z, xd - x1), axis=0)
                dy = np.max((z, y0 - yd), axis=0) + np.max((z, yd - y1), axis=0)
            e = (dx ** 2 + dy ** 2) / variances / (area + np.spacing(1)) / 2
            if visible.any():
                e = e[visible]
            out[d, g] = np.sum(np.exp(-e)) / e.shape[0]
    return out


def coco_match_cell(overlaps, gt_ignore, gt_crowd, gt_id, dt_outside, dt_id, iou_threshold):
    """Greedy matching of one cell at one threshold and area range.

    ``overlaps`` is (D, G) with detections in score order and gts already ordered non-ignored
    first. Returns (matched, ignored) boolean arrays over detections, where matched means
    pycocotools' ``dtm != 0`` (so a match to a gt with id 0 does not count).
    """
    D, G = overlaps.shape if np.ndim(overlaps) == 2 else (len(dt_outside), len(gt_ignore))
    taken_by = np.zeros(G)
    matched = np.zeros(D, bool)
    ignored = np.zeros(D, bool)
    for d in range(D):
        best, m = min(iou_threshold, 1 - 1e-10), -1
        if D and G:
            for g in range(G):
                if taken_by[g] > 0 and not gt_crowd[g]:
                    continue
                if m > -1 and not gt_ignore[m] and gt_ignore[g]:
                    break
                if overlaps[d, g] < best:
                    continue
                best, m = overlaps[d, g], g
        if m > -1:
            ignored[d] = gt_ignore[m]
            matched[d] = gt_id[m] != 0
            taken_by[m] = dt_id[d]
        if not matched[d] and dt_outside[d]:
            ignored[d] = True
    return matched, ignored


def coco_evaluate(gt, dt, num_cells, iou_thresholds, area_ranges, max_det, kind="bbox", sigmas=None):
    """Per cell: detection order (stable by decreasing score, cut at max_det), status
    (D_total, A, T) with bit 0 = matched and bit 1 = ignored, and npig (num_cells, A)."""
    T, A = len(iou_thresholds), len(area_ranges)
    offsets, order, status = [0], [], []
    npig = np.zeros((num_cells, A), np.int64)
    for c in range(num_cells):
        gi = np.flatnonzero(gt["cell"] == c)
        di = np.flatnonzero(dt["cell"] == c)
        di = di[np.argsort(-dt["score"][di], kind="mergesort")][:max_det]
        offsets.append(offsets[-1] + len(di))
        order.extend(di.tolist())
        if len(gi) and len(di):
            if kind == "bbox":
                ov = coco_box_overlaps(dt["bbox"][di], gt["bbox"][gi], gt["iscrowd"][gi])
            else:
                ov = coco_oks(dt["keypoints"][di], gt["keypoints"][gi], gt["bbox"][gi], gt["area"][gi], sigmas)
        else:
            ov = np.zeros((len(di), len(gi)))
        cell_status = np.zeros((len(di), A, T), np.uint8)
        for a, (lo, hi) in enumerate(area_ranges):
            g_ig = (gt["ignore"][gi] != 0) | (gt["area"][gi] < lo) | (gt["area"][gi] > hi)
            g_order = np.argsort(g_ig, kind="mergesort")
            npig[c, a] = np.count_nonzero(~g_ig)
            outside = (dt["area"][di] < lo) | (dt["area"][di] > hi)
            for t, thr in enumerate(iou_thresholds):
                matched, ignored = coco_match_cell(
                    ov[:, g_order], g_ig[g_order], gt["iscrowd"][gi][g_order] != 0, gt["id"][gi][g_order],
                    outside, dt["id"][di], thr)
                cell_status[:, a, t] = matched | (ignored.astype(np.uint8) << 1)
        status.append(cell_status)
    status = np.concatenate(status) if status else np.zeros((0, A, T), np.uint8)
    return {"dt_offsets": np.array(offsets), "dt_index": np.array(order, np.int64),
            "dt_score": dt["score"][np.array(order, np.int64)], "status": status, "npig": npig}


def coco_accumulate(state, num_images, categories, max_dets, recall_thresholds):
    """precision (T, R, K, A, M), recall (T, K, A, M) and scores from an evaluate() state, over
    every image and area range; -1 where a category has no non-ignored gt."""
    off, status, npig = state["dt_offsets"], state["status"], state["npig"]
    T, A = status.shape[2], status.shape[1]
    R, K, M = len(recall_thresholds), len(categories), len(max_dets)
    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    scores = -np.ones((T, R, K, A, M))
    for k, k0 in enumerate(categories):
        cells = [k0 * num_images + i for i in range(num_images)]
        for a in range(A):
            n_pos = sum(int(npig[c, a]) for c in cells)
            if n_pos == 0:
                continue
            for m, max_det in enumerate(max_dets):
                rows = np.concatenate([np.arange(off[c], off[c + 1])[:max_det] for c in cells])
                rows = rows[np.argsort(-state["dt_score"][rows], kind="mergesort")]
                s = status[rows, a, :].T  # (T, N)
                tps = ((s & 1) != 0) & ((s & 2) == 0)
                fps = ((s & 1) == 0) & ((s & 2) == 0)
                tp_sum = np.cumsum(tps, axis=1).astype(float)
                fp_sum = np.cumsum(fps, axis=1).astype(float)
                for t in range(T):
                    rc = tp_sum[t] / n_pos
                    pr = tp_sum[t] / (fp_sum[t] + tp_sum[t] + np.spacing(1))
                    recall[t, k, a, m] = rc[-1] if len(rc) else 0
                    pr = np.maximum.accumulate(pr[::-1])[::-1] if len(pr) else pr
                    idx = np.searchsorted(rc, recall_thresholds, side="left")
                    ok = idx < len(rc)
                    first_bad = np.argmin(ok) if not ok.all() else R
                    q = np.zeros(R)
                    ss = np.zeros(R)
                    q[:first_bad] = pr[idx[:first_bad]]
                    ss[:first_bad] = state["dt_score"][rows][idx[:first_bad]]
                    precision[t, :, k, a, m] = q
                    scores[t, :, k, a, m] = ss
    return precision, recall, scores


def coco_summary_means(values, t_sets, am_lists):
    """The twin of the native ``coco_summary_means``: for each selection (rows ``t_sets[s]`` and
    columns ``am_lists[s]`` of a (T, X, AM) array), pycocotools' ``np.mean(s[s > -1])``, or -1
    when no value is above -1."""
    out = []
    for rows, cols in zip(t_sets, am_lists):
        s = values[np.asarray(rows, dtype=np.int64)][:, :, np.asarray(cols, dtype=np.int64)]
        valid = s[s > -1]
        out.append(-1.0 if len(valid) == 0 else float(np.mean(valid)))
    return out


def coco_cells(category_pos, image_pos, num_images):
    """The twin of the native ``coco_cells``: category_pos * num_images + image_pos, -1 where
    either position is -1."""
    category_pos, image_pos = np.asarray(category_pos), np.asarray(image_pos)
    return np.where((category_pos >= 0) & (image_pos >= 0), category_pos * num_images + image_pos, -1)
