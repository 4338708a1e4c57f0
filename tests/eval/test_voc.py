"""Pascal VOC evaluation: hand-checked cases for each rule, and random cases vs the reference and vs
an independent transcription of the MATLAB devkit's VOCevaldet.m / VOCap.m."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detkit import reference
from detkit.eval import VOCResult, evaluate_voc, voc_ap


def one_image(gt_boxes, gt_labels, det_boxes, det_scores, det_labels, difficult=None):
    gt = [{"boxes": gt_boxes, "labels": gt_labels}]
    if difficult is not None:
        gt[0]["difficult"] = difficult
    return gt, [{"boxes": det_boxes, "scores": det_scores, "labels": det_labels}]


# ------------------------------------------------------------------------------------------------
# hand-checked rules

def test_duplicates_are_false_positives_and_difficult_matches_are_ignored():
    gt, dets = one_image([[0, 0, 9, 9], [20, 20, 29, 29]], [1, 1],
                         [[0, 0, 9, 9], [1, 1, 9, 9], [20, 20, 29, 29]], [0.9, 0.8, 0.7], [1, 1, 1],
                         difficult=[False, True])
    r = evaluate_voc(gt, dets)
    assert isinstance(r, VOCResult)
    np.testing.assert_array_equal(r.n_positives, [1])  # the difficult box is not a positive
    np.testing.assert_array_equal(r.precision[0], [1, 0.5, 0.5])  # TP, duplicate FP, ignored
    np.testing.assert_array_equal(r.recall[0], [1, 1, 1])
    assert r.ap[0] == 1.0 and r.mAP == 1.0
    np.testing.assert_array_equal(r.scores[0], [0.9, 0.8, 0.7])


def test_ignored_detection_first_gives_precision_zero():
    gt, dets = one_image([[0, 0, 9, 9], [20, 20, 29, 29]], [0, 0],
                         [[20, 20, 29, 29], [0, 0, 9, 9]], [0.9, 0.8], [0, 0], difficult=[0, 1])
    r = evaluate_voc(gt, dets)
    np.testing.assert_array_equal(r.precision[0], [0.0, 1.0])
    np.testing.assert_array_equal(r.recall[0], [0.0, 1.0])
    assert r.ap[0] == 1.0


def test_no_fallback_to_second_best_gt():
    # Both detections overlap gt A best; the second one is a duplicate even though it overlaps B.
    gt, dets = one_image([[0, 0, 9, 9], [3, 0, 12, 9]], [0, 0],
                         [[0, 0, 9, 9], [1, 0, 10, 9]], [0.9, 0.8], [0, 0])
    r = evaluate_voc(gt, dets)
    np.testing.assert_array_equal(r.precision[0], [1.0, 0.5])
    np.testing.assert_array_equal(r.recall[0], [0.5, 0.5])
    assert r.ap[0] == 0.5


def test_threshold_is_strict_by_default_and_inclusive_on_request():
    # offset 0: inter 2, union 4: IoU exactly 0.5.
    gt, dets = one_image([[0, 0, 4, 1]], [0], [[0, 0, 2, 1]], [1.0], [0])
    assert evaluate_voc(gt, dets, offset=0).ap[0] == 0.0
    assert evaluate_voc(gt, dets, offset=0, strict=False).ap[0] == 1.0
    assert evaluate_voc(gt, dets, iou_threshold=0.49, offset=0).ap[0] == 1.0
    assert evaluate_voc(gt, dets).strict


def test_offset_convention():
    # offset 1: inter 5 x 10 = 50, union 150: 1/3; offset 0: inter 4 x 9 = 36, union 126: 0.2857.
    gt, dets = one_image([[0, 0, 9, 9]], [0], [[5, 0, 14, 9]], [1.0], [0])
    assert evaluate_voc(gt, dets, iou_threshold=0.3, offset=1).ap[0] == 1.0
    assert evaluate_voc(gt, dets, iou_threshold=0.3, offset=0).ap[0] == 0.0
    # Touching boxes overlap by one pixel column under the +1 convention only.
    gt, dets = one_image([[0, 0, 9, 9]], [0], [[9, 0, 18, 9]], [1.0], [0])
    assert evaluate_voc(gt, dets, iou_threshold=0.0, offset=1).ap[0] == 1.0
    assert evaluate_voc(gt, dets, iou_threshold=0.0, offset=0).ap[0] == 0.0


def test_07_and_all_point_interpolation():
    # 2 positives; TP, FP, TP: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1.
    gt, dets = one_image([[0, 0, 9, 9], [20, 0, 29, 9]], [0, 0],
                         [[0, 0, 9, 9], [50, 50, 59, 59], [20, 0, 29, 9]], [0.9, 0.8, 0.7], [0, 0, 0])
    all_point = evaluate_voc(gt, dets).ap[0]
    assert all_point == pytest.approx(0.5 * 1 + 0.5 * 2 / 3, abs=1e-15)
    eleven = evaluate_voc(gt, dets, use_07_metric=True).ap[0]
    assert eleven == pytest.approx((6 * 1 + 5 * 2 / 3) / 11, abs=1e-15)
    assert voc_ap([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3]) == all_point
    assert voc_ap([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3], use_07_metric=True) == eleven


def test_07_thresholds_follow_numpy_arange():
    # Recall exactly 3/10 does not reach the 4th threshold np.arange(0, 1.1, 0.1)[3] = 0.30000000000000004.
    assert np.arange(0.0, 1.1, 0.1)[3] > 0.3
    gt_boxes = [[100 * i, 0, 100 * i + 9, 9] for i in range(10)]
    gt, dets = one_image(gt_boxes, [0] * 10, gt_boxes[:3], [0.9, 0.8, 0.7], [0] * 3)
    assert evaluate_voc(gt, dets, use_07_metric=True).ap[0] == pytest.approx(3 / 11, abs=1e-15)


def test_classes_without_positives_are_nan_and_left_out_of_map():
    gt = [{"boxes": [[0, 0, 9, 9], [0, 0, 5, 5], [30, 30, 39, 39]], "labels": [0, 1, 2],
           "difficult": [False, True, False]}]
    dets = [{"boxes": [[0, 0, 9, 9], [0, 0, 5, 5], [60, 60, 70, 70]], "scores": [0.5, 0.5, 0.5],
             "labels": [0, 1, 3]}]
    r = evaluate_voc(gt, dets)
    np.testing.assert_array_equal(r.classes, [0, 1, 2, 3])
    np.testing.assert_array_equal(r.n_positives, [1, 0, 1, 0])
    np.testing.assert_array_equal(r.ap, [1.0, np.nan, 0.0, np.nan])  # 2: positives, no detection
    assert r.mAP == 0.5
    assert np.isnan(r.recall[3]).all() and r.precision[3].tolist() == [0.0]
    assert r.to_dict() == {"mAP": 0.5, "AP": {0: 1.0, 1: pytest.approx(np.nan, nan_ok=True), 2: 0.0,
                                              3: pytest.approx(np.nan, nan_ok=True)},
                           "n_positives": {0: 1, 1: 0, 2: 1, 3: 0}}
    assert "mAP 0.5000" in str(r)
    only = evaluate_voc(gt, dets, classes=[2, 0])
    np.testing.assert_array_equal(only.classes, [0, 2])
    assert np.isnan(evaluate_voc([{"boxes": [], "labels": []}], [{"boxes": [], "scores": [], "labels": []}]).mAP)


def test_equal_scores_keep_input_order():
    gt, dets = one_image([[0, 0, 9, 9]], [0], [[50, 50, 59, 59], [0, 0, 9, 9]], [0.5, 0.5], [0, 0])
    np.testing.assert_array_equal(evaluate_voc(gt, dets).precision[0], [0.0, 0.5])
    gt, dets = one_image([[0, 0, 9, 9]], [0], [[0, 0, 9, 9], [50, 50, 59, 59]], [0.5, 0.5], [0, 0])
    np.testing.assert_array_equal(evaluate_voc(gt, dets).precision[0], [1.0, 0.5])


def test_detections_in_images_without_gt_and_flat_inputs():
    gt = [({"boxes": [[0, 0, 9, 9]], "labels": [0]}), {"boxes": np.zeros((0, 4)), "labels": []}]
    dets = [([[0, 0, 9, 9]], [0.4], [0]), ([[0, 0, 9, 9]], [0.9], [0])]  # tuples: boxes, scores, labels
    r = evaluate_voc(gt, dets)
    np.testing.assert_array_equal(r.precision[0], [0.0, 0.5])  # the 0.9 one sits in image 1: FP
    flat_gt = {"image_ids": [7], "boxes": [[0, 0, 9, 9]], "labels": [0]}
    flat_dets = {"image_ids": [7, 123], "boxes": [[0, 0, 9, 9]] * 2, "scores": [0.4, 0.9], "labels": [0, 0]}
    flat = evaluate_voc(flat_gt, flat_dets)
    np.testing.assert_array_equal(flat.precision[0], r.precision[0])
    assert flat.ap[0] == r.ap[0]


# ------------------------------------------------------------------------------------------------
# random cases: vs the reference and vs a transcription of the MATLAB devkit

def devkit_voc(gt, dets, cls, threshold, use_07, offset, strict):
    """VOCevaldet.m + VOCap.m, transcribed loop for loop (with ovmax > or >= per strict)."""
    recs, npos = [], 0
    for g in gt:
        sel = np.asarray(g["labels"]) == cls
        bb = np.asarray(g["boxes"], float).reshape(-1, 4)[sel]
        diff = np.asarray(g["difficult"], bool)[sel]
        recs.append({"BB": bb, "diff": diff, "det": np.zeros(len(bb), bool)})
        npos += int((~diff).sum())
    ids, conf, BB = [], [], []
    for i, d in enumerate(dets):
        for b, s, c in zip(np.asarray(d["boxes"], float).reshape(-1, 4), d["scores"], d["labels"]):
            if c == cls:
                ids.append(i)
                conf.append(s)
                BB.append(b)
    si = np.argsort(-np.asarray(conf, float), kind="stable")
    nd = len(si)
    tp, fp = np.zeros(nd), np.zeros(nd)
    for d in range(nd):
        i, bb = ids[si[d]], BB[si[d]]
        ovmax, jmax = -np.inf, -1
        for j, bbgt in enumerate(recs[i]["BB"]):
            bi = [max(bb[0], bbgt[0]), max(bb[1], bbgt[1]), min(bb[2], bbgt[2]), min(bb[3], bbgt[3])]
            iw, ih = bi[2] - bi[0] + offset, bi[3] - bi[1] + offset
            if iw > 0 and ih > 0:
                ua = ((bb[2] - bb[0] + offset) * (bb[3] - bb[1] + offset)
                      + (bbgt[2] - bbgt[0] + offset) * (bbgt[3] - bbgt[1] + offset) - iw * ih)
                ov = iw * ih / ua
                if ov > ovmax:
                    ovmax, jmax = ov, j
        if ovmax > threshold or (not strict and ovmax >= threshold):
            if not recs[i]["diff"][jmax]:
                if not recs[i]["det"][jmax]:
                    tp[d] = 1
                    recs[i]["det"][jmax] = True
                else:
                    fp[d] = 1
        else:
            fp[d] = 1
    fp, tp = np.cumsum(fp), np.cumsum(tp)
    if npos == 0:
        return np.nan
    rec = tp / npos
    with np.errstate(invalid="ignore"):
        prec = tp / (fp + tp)  # NaN before the first counted detection, as MATLAB
    if use_07:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            p = np.nanmax(prec[rec >= t], initial=0.0)  # MATLAB's max ignores NaN
            ap = ap + p / 11
        return ap
    mrec = np.concatenate([[0], rec, [1]])
    mpre = np.nan_to_num(np.concatenate([[0], prec, [0]]))
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    i = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return np.sum((mrec[i] - mrec[i - 1]) * mpre[i])


def random_dataset(rng, n_images, n_classes, grid):
    gt, dets = [], []
    for _ in range(n_images):
        k = rng.integers(0, 6)
        if grid:  # small integer boxes: exact IoU ties and threshold hits
            xy = rng.integers(0, 12, (k, 2))
            boxes = np.concatenate([xy, xy + rng.integers(0, 6, (k, 2))], 1).astype(float)
        else:
            xy = rng.uniform(0, 200, (k, 2))
            boxes = np.concatenate([xy, xy + rng.uniform(1, 80, (k, 2))], 1)
        labels = rng.integers(0, n_classes, k)
        gt.append({"boxes": boxes, "labels": labels, "difficult": rng.random(k) < 0.2})
        m = rng.integers(0, 9)
        src = rng.integers(0, max(k, 1), m)
        if k:
            jitter = rng.integers(-2, 3, (m, 4)) if grid else rng.normal(0, 6, (m, 4))
            db = boxes[src] + jitter
        else:
            db = np.zeros((m, 4)) + rng.uniform(0, 50, (m, 1))
        db[:, 2:] = np.maximum(db[:, 2:], db[:, :2])
        dl = np.where(rng.random(m) < 0.8, labels[src] if k else 0, rng.integers(0, n_classes, m))
        scores = rng.integers(0, 4, m) / 4 if grid else rng.random(m)
        dets.append({"boxes": db, "scores": scores, "labels": dl})
    return gt, dets


def flat(records, keys):
    """Per-image records -> (image index per row, {key: concatenated column})."""
    ids = np.concatenate([np.full(len(r["boxes"]), i) for i, r in enumerate(records)]).astype(np.int64)
    return ids, {k: np.concatenate([np.asarray(r[k]) for r in records]) for k in keys}


GT_KEYS = ("boxes", "labels", "difficult")
DT_KEYS = ("boxes", "scores", "labels")


@given(st.integers(0, 2**32 - 1), st.booleans(), st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.7, 1.0]),
       st.booleans(), st.sampled_from([0, 1]), st.booleans())
def test_random_vs_reference_and_devkit(seed, grid, threshold, use_07, offset, strict):
    rng = np.random.default_rng(seed)
    gt, dets = random_dataset(rng, int(rng.integers(1, 8)), 3, grid)
    r = evaluate_voc(gt, dets, threshold, use_07, offset, strict=strict)
    gi, g = flat(gt, GT_KEYS)
    di, d = flat(dets, DT_KEYS)
    labels, aps, precs, recs, npos, mAP = reference.voc.evaluate_voc(
        gi, g["boxes"], g["labels"].astype(np.int64), g["difficult"].astype(bool), di, d["boxes"], d["scores"],
        d["labels"].astype(np.int64), threshold, use_07, offset, strict)
    np.testing.assert_array_equal(r.classes, labels)
    np.testing.assert_array_equal(r.ap, aps)
    np.testing.assert_array_equal(r.n_positives, npos)
    for a, b in zip(r.precision, precs):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(r.recall, recs):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(r.mAP, mAP)
    for c, ap in zip(r.classes, r.ap):
        want = devkit_voc(gt, dets, c, threshold, use_07, offset, strict)
        np.testing.assert_allclose(ap, want, rtol=0, atol=1e-12)
    # The flat form with arbitrary image ids gives the same result.
    remap = rng.permutation(1000)[: len(gt)] * 7 - 300
    rf = evaluate_voc({"image_ids": remap[gi], "boxes": g["boxes"], "labels": g["labels"], "difficult": g["difficult"]},
                      {"image_ids": remap[di], "boxes": d["boxes"], "scores": d["scores"], "labels": d["labels"]},
                      threshold, use_07, offset, strict=strict)
    np.testing.assert_array_equal(rf.ap, r.ap)


@pytest.mark.parametrize("seed", range(3))
def test_larger_random_datasets_vs_reference(seed):
    rng = np.random.default_rng(seed)
    gt, dets = random_dataset(rng, 300, 5, grid=bool(seed % 2))
    gi, g = flat(gt, GT_KEYS)
    di, d = flat(dets, DT_KEYS)
    for use_07 in (False, True):
        r = evaluate_voc(gt, dets, use_07_metric=use_07)
        ref = reference.voc.evaluate_voc(gi, g["boxes"], g["labels"].astype(np.int64), g["difficult"].astype(bool),
                                         di, d["boxes"], d["scores"], d["labels"].astype(np.int64), 0.5, use_07, 1)
        np.testing.assert_array_equal(r.ap, ref[1])
        assert r.mAP == ref[5]


# ------------------------------------------------------------------------------------------------
# errors

GT = [{"boxes": [[0, 0, 9, 9]], "labels": [0]}]
DT = [{"boxes": [[0, 0, 9, 9]], "scores": [0.5], "labels": [0]}]


@pytest.mark.parametrize("gt, dets, kwargs, exc, match", [
    (GT, DT, {"iou_threshold": 1.5}, ValueError, r"iou_threshold must be in \[0.0, 1.0\]"),
    (GT, DT, {"offset": 2}, ValueError, "offset must be 0 or 1"),
    (GT, DT + DT, {}, ValueError, "same images: got 1 and 2 records"),
    ("gt", DT, {}, TypeError, "gt must be a list with one record per image"),
    ([3], DT, {}, TypeError, r"gt\[0\] must be a dict or a tuple"),
    ([{"labels": [0]}], DT, {}, ValueError, r"gt\[0\] must have 'boxes'"),
    ([{"boxes": [[0, 0, 9, 9]]}], DT, {}, ValueError, r"gt\[0\] must have 'labels'"),
    ([{"boxes": [[9, 0, 0, 9]], "labels": [0]}], DT, {}, ValueError, r"gt\[0\] boxes must be xyxy boxes"),
    ([{"boxes": [[0, 0, 9, 9]], "labels": [0, 1]}], DT, {}, ValueError, r"gt\[0\] labels must have shape \(1,\)"),
    ([{"boxes": [[0, 0, 9, 9]], "labels": [0.5]}], DT, {}, TypeError, r"gt\[0\] labels must hold integers"),
    ([{"boxes": [[0, 0, 9, 9]], "labels": [0], "difficult": [0.5]}], DT, {}, TypeError, "difficult must hold booleans"),
    ([{"boxes": [[0, 0, 9, 9]], "labels": [0], "difficult": [0, 1]}], DT, {}, ValueError, r"difficult must have shape \(1,\)"),
    (GT, [{"boxes": [[0, 0, 9, 9]], "scores": [np.nan], "labels": [0]}], {}, ValueError, r"detections\[0\] scores must be finite"),
    (GT, [{"boxes": [[0, 0, 9, 9]], "labels": [0]}], {}, ValueError, r"detections\[0\] must have 'scores'"),
    (GT, [([[0, 0, np.inf, 9]], [0.5], [0])], {}, ValueError, r"detections\[0\] boxes must be finite"),
    ({"boxes": [[0, 0, 9, 9]], "labels": [0]}, DT, {}, ValueError, "must have 'image_ids'"),
    ({"image_ids": [0, 1], "boxes": [[0, 0, 9, 9]], "labels": [0]}, DT, {}, ValueError, r"gt\['image_ids'\] must have shape \(1,\)"),
    (GT, DT, {"classes": [0.5]}, TypeError, "classes must hold integers"),
])
def test_errors(gt, dets, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        evaluate_voc(gt, dets, **kwargs)


def test_voc_ap_errors():
    with pytest.raises(ValueError, match=r"recall and precision must be 1-D of the same length, got shapes \(2,\) and \(3,\)"):
        voc_ap([0.5, 1.0], [1.0, 0.5, 0.3])
    with pytest.raises(ValueError, match="1-D"):
        voc_ap([[0.5]], [[1.0]])
    assert voc_ap([], []) == 0.0
    with pytest.raises(TypeError, match="recall must hold real numbers"):
        voc_ap(["a"], [1.0])
    with pytest.raises(ValueError, match="precision must be finite"):
        voc_ap([0.5], [np.nan])
    with pytest.raises(ValueError, match="recall must be finite"):
        voc_ap([np.inf], [1.0], use_07_metric=True)


def test_difficult_none_means_absent():
    # An explicit None reads as "no difficult column", in per-image dicts as in the flat form.
    dets = [{"boxes": [[0, 0, 9, 9]], "scores": [0.5], "labels": [0]}]
    gt = [{"boxes": [[0, 0, 9, 9]], "labels": [0], "difficult": None}]
    assert evaluate_voc(gt, dets).ap.tolist() == [1.0]
    flat = {"image_ids": [0], "boxes": [[0, 0, 9, 9]], "labels": [0], "difficult": None}
    assert evaluate_voc(flat, dets).ap.tolist() == [1.0]


def test_records_needing_full_checks_still_evaluate():
    # Records that are valid one by one but do not stack into valid columns (uint64 and int64
    # labels concatenate to float64) are validated record by record and then evaluated.
    dets = [{"boxes": [[0, 0, 9, 9]], "scores": [0.5], "labels": [0]}] * 2
    gt = [{"boxes": [[0, 0, 9, 9]], "labels": np.array([0], np.uint64)},
          {"boxes": [[0, 0, 9, 9]], "labels": np.array([0], np.int64), "difficult": [True]}]
    r = evaluate_voc(gt, dets)
    assert r.n_positives.tolist() == [1] and r.ap.tolist() == [1.0]


def test_inputs_are_not_mutated():
    rng = np.random.default_rng(9)
    gt, dets = random_dataset(rng, 20, 3, grid=False)
    copies = [{k: np.array(v, copy=True) for k, v in r.items()} for r in gt + dets]
    evaluate_voc(gt, dets)
    for before, after in zip(copies, gt + dets):
        for k in before:
            np.testing.assert_array_equal(before[k], after[k])
