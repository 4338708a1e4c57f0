"""COCO evaluation: bit-exact parity with pycocotools (shared real files, generated datasets, every
known quirk), the drop-in API, bad input, and the shard-merge property."""

from __future__ import annotations

import contextlib
import copy
import io
import json

import numpy as np
import pytest

from detkit.eval import COCO, COCOeval

pycoco = pytest.importorskip("pycocotools.coco")
pycocoeval = pytest.importorskip("pycocotools.cocoeval")

ARRAYS = ("precision", "recall", "scores")


def _quiet(fn, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()) as out:
        result = fn(*args, **kwargs)
    return result, out.getvalue()


def _pc_coco(gt):
    if isinstance(gt, dict):
        c = pycoco.COCO()
        c.dataset = copy.deepcopy(gt)
        c.createIndex()
        return c
    return _quiet(pycoco.COCO, str(gt))[0]


def evaluate_both(gt, dt, iou_type="bbox", configure=None, **options):
    """Runs pycocotools and detkit on the same inputs; returns (pycocotools, detkit) evaluators
    and their printed summaries."""
    out = []
    for impl in ("pycocotools", "detkit"):
        if impl == "pycocotools":
            g = _pc_coco(gt)
            d = _quiet(g.loadRes, dt if isinstance(dt, str) else copy.deepcopy(dt))[0]
            E = pycocoeval.COCOeval(g, d, iou_type)
        else:
            g = COCO(copy.deepcopy(gt) if isinstance(gt, dict) else gt)
            d = g.loadRes(dt if isinstance(dt, str) else copy.deepcopy(dt))
            E = COCOeval(g, d, iou_type, **options)
        if configure:
            configure(E.params)
        _quiet(E.evaluate)
        _quiet(E.accumulate)
        text = _quiet(E.summarize)[1]
        out.append((E, text))
    return out


def assert_same(pc, dk):
    (a, ta), (b, tb) = pc, dk
    np.testing.assert_array_equal(np.asarray(a.stats), b.stats)
    for key in ARRAYS:
        assert a.eval[key].shape == b.eval[key].shape
        assert np.array_equal(a.eval[key], b.eval[key]), key
    assert a.eval["counts"] == b.eval["counts"]
    assert tb.endswith(ta[ta.index(" Average Precision"):]) or ta.strip().endswith(tb.strip())


def assert_eval_imgs_equal(a, b):
    assert len(a.evalImgs) == len(b.evalImgs)
    for x, y in zip(a.evalImgs, b.evalImgs):
        assert (x is None) == (y is None)
        if x is None:
            continue
        for key in ("image_id", "category_id", "maxDet", "dtIds", "gtIds", "dtScores"):
            assert x[key] == y[key], key
        assert list(x["aRng"]) == list(y["aRng"])
        for key in ("dtMatches", "gtMatches", "gtIgnore", "dtIgnore"):
            np.testing.assert_array_equal(np.asarray(x[key]), y[key], err_msg=key)
            assert np.asarray(x[key]).shape == y[key].shape, key


def assert_ious_equal(a, b):
    """Every (image, category) overlap matrix bit for bit: for keypoints this needs the very exp
    numpy runs on this CPU (its AVX-512 exp differs from libm's in the last bit for some inputs)."""
    assert a.ious.keys() == b.ious.keys()
    for key, value in a.ious.items():
        np.testing.assert_array_equal(np.asarray(value), np.asarray(b.ious[key]), err_msg=str(key))


# ---------------------------------------------------------------------- shared real data
def test_shared_bbox_parity(shared_data):
    coco = shared_data / "coco"
    pc, dk = evaluate_both(coco / "instances_val2014_100.json",
                           str(coco / "instances_val2014_fakebbox100_results.json"), "bbox")
    assert_same(pc, dk)
    # the published cocoapi numbers (3 decimals; that printout pads the title one space less)
    expected = " ".join((coco / "val2014_fake_eval_res.txt").read_text().split("type=bbox")[1].split())
    for line in dk[1].splitlines():
        assert " ".join(line.split()) in expected
    assert_eval_imgs_equal(pc[0], dk[0])
    assert_ious_equal(pc[0], dk[0])


def test_shared_keypoints_parity(shared_data):
    coco = shared_data / "coco"
    pc, dk = evaluate_both(coco / "keypoints_gt.json", str(coco / "keypoints_dt.json"), "keypoints")
    assert_same(pc, dk)
    assert_eval_imgs_equal(pc[0], dk[0])
    assert_ious_equal(pc[0], dk[0])


def test_shared_bbox_parity_from_dicts(shared_data):
    """The dict path (no native JSON scanner) gives the same arrays as the file path."""
    coco = shared_data / "coco"
    gt = json.loads((coco / "instances_val2014_100.json").read_text())
    dt = json.loads((coco / "instances_val2014_fakebbox100_results.json").read_text())
    pc, dk = evaluate_both(gt, dt, "bbox")
    assert_same(pc, dk)


@pytest.mark.parametrize("use_cats", [0, 1])
def test_shared_custom_params(shared_data, use_cats):
    coco = shared_data / "coco"

    def configure(p):
        p.useCats = use_cats
        p.imgIds = sorted(p.imgIds)[::3]
        p.catIds = sorted(p.catIds)[5:40]
        p.iouThrs = np.array([0.3, 0.5, 0.9, 1.0])
        p.maxDets = [3, 100, 20]
        p.areaRng = [[0, 1e10], [0, 50 ** 2], [50 ** 2, 1e10]]
        p.areaRngLbl = ["all", "small", "large"]

    pc, dk = evaluate_both(coco / "instances_val2014_100.json",
                           str(coco / "instances_val2014_fakebbox100_results.json"), "bbox", configure)
    assert_same(pc, dk)


def test_shared_ignore_file_is_rejected(shared_data):
    """String image ids ("2299") next to integer ones: pycocotools asserts; detkit says why."""
    coco = shared_data / "coco"
    gt = COCO(coco / "gt_ignore_test.json")
    with pytest.raises(ValueError, match="image ids must be integers, got '2299'"):
        gt.loadRes(str(coco / "dt_ignore_test.json"))


# ---------------------------------------------------------------------- generated datasets
def make_dataset(seed, *, images=30, cats=(1, 2, 3, 5, 8), per_image=4.0, crowd=0.1, dets=12,
                 empty_images=0.2, tie_scores=False, grid=False, keypoints=0):
    """A random ground truth and results: crowds, empty images, categories with no gt or no
    detections, duplicated boxes and tied scores (grid mode), areas that differ from w * h."""
    rng = np.random.default_rng(seed)
    gt = {"images": [], "categories": [{"id": c, "name": f"c{c}", "supercategory": "x"} for c in cats],
          "annotations": []}
    dt = []
    ann_id = 1
    for img in range(1, images + 1):
        gt["images"].append({"id": img * 7, "width": 200, "height": 200})
        n = 0 if rng.random() < empty_images else rng.poisson(per_image)
        boxes = []
        for _ in range(n):
            if grid:
                x, y = rng.integers(0, 6, 2) * 20.0
                w, h = rng.integers(1, 4, 2) * 20.0
            else:
                x, y = rng.uniform(0, 150, 2)
                w, h = np.exp(rng.uniform(np.log(2), np.log(120), 2))
            cat = int(rng.choice(cats[:-1]))  # the last category never has a gt
            ann = {"id": ann_id, "image_id": img * 7, "category_id": cat, "bbox": [x, y, w, h],
                   "area": float(w * h * rng.uniform(0.6, 1.0)), "iscrowd": int(rng.random() < crowd)}
            if keypoints:
                kp = np.stack([rng.uniform(x, x + w, keypoints), rng.uniform(y, y + h, keypoints),
                               rng.integers(0, 3, keypoints)], 1)
                if rng.random() < 0.2:
                    kp[:, 2] = 0
                kp[kp[:, 2] == 0, :2] = 0
                ann["keypoints"] = kp.ravel().tolist()
                ann["num_keypoints"] = int((kp[:, 2] > 0).sum())
            gt["annotations"].append(ann)
            boxes.append((ann["bbox"], cat, ann.get("keypoints")))
            ann_id += 1
        for _ in range(rng.integers(0, dets + 1)):
            if boxes and rng.random() < 0.7:
                (x, y, w, h), cat, kp = boxes[rng.integers(len(boxes))]
                if grid:
                    j = rng.integers(-1, 2, 4) * 10.0
                    box = [x + j[0], y + j[1], max(w + j[2], 10.0), max(h + j[3], 10.0)]
                else:
                    j = rng.normal(0, 0.15, 4)
                    box = [x + j[0] * w, y + j[1] * h, w * np.exp(j[2]), h * np.exp(j[3])]
                if rng.random() < 0.15:
                    cat = int(rng.choice(cats))
            else:
                box = list(rng.uniform(0, 100, 2)) + list(rng.uniform(2, 80, 2))
                cat, kp = int(rng.choice(cats[1:])), None  # the first category misses some
            score = float(rng.choice([0.25, 0.5, 0.75])) if tie_scores else float(rng.random())
            rec = {"image_id": img * 7, "category_id": cat, "bbox": [float(v) for v in box], "score": score}
            if keypoints:
                base = np.asarray(kp if kp is not None else [50.0, 50.0, 1.0] * keypoints).reshape(-1, 3)
                pts = base[:, :2] + rng.normal(0, 4, (keypoints, 2))
                rec["keypoints"] = np.concatenate([pts, np.ones((keypoints, 1))], 1).ravel().tolist()
                del rec["bbox"]
            dt.append(rec)
    if not dt:
        dt.append({"image_id": 7, "category_id": cats[0], "bbox": [1.0, 1.0, 5.0, 5.0], "score": 0.5})
    return gt, dt


@pytest.mark.parametrize("seed", range(12))
def test_generated_bbox_parity(seed):
    gt, dt = make_dataset(seed, tie_scores=seed % 3 == 0, grid=seed % 2 == 1)
    pc, dk = evaluate_both(gt, dt, "bbox")
    assert_same(pc, dk)
    assert_eval_imgs_equal(pc[0], dk[0])


@pytest.mark.parametrize("seed", range(4))
def test_generated_many_classes_and_crowds(seed):
    gt, dt = make_dataset(100 + seed, images=60, cats=tuple(range(1, 120, 2)), per_image=8, crowd=0.3,
                          dets=40)
    assert_same(*evaluate_both(gt, dt, "bbox"))


@pytest.mark.parametrize("seed", range(4))
def test_generated_use_cats_0(seed):
    gt, dt = make_dataset(200 + seed, grid=True)

    def configure(p):
        p.useCats = 0

    pc, dk = evaluate_both(gt, dt, "bbox", configure)
    assert_same(pc, dk)
    assert_eval_imgs_equal(pc[0], dk[0])


@pytest.mark.parametrize("seed", range(6))
def test_generated_keypoints_parity(seed):
    gt, dt = make_dataset(300 + seed, keypoints=17, crowd=0.05)
    pc, dk = evaluate_both(gt, dt, "keypoints")
    assert_same(pc, dk)
    assert_eval_imgs_equal(pc[0], dk[0])
    assert_ious_equal(pc[0], dk[0])


def test_generated_keypoints_custom_sigmas_and_use_cats_0():
    gt, dt = make_dataset(400, keypoints=5)

    def configure(p):
        p.kpt_oks_sigmas = np.array([0.2, 0.5, 0.3, 0.9, 0.1])
        p.useCats = 0

    assert_same(*evaluate_both(gt, dt, "keypoints", configure))


@pytest.mark.parametrize("thresholds", [[0.05, 0.1], [0.06, 0.3, 0.9], [0.0, 0.5], [0.2]])
def test_generated_keypoints_low_thresholds(thresholds):
    # far keypoint pairs skip their exponentials when the OKS is certainly below every threshold:
    # low thresholds put many pairs right at that bound
    gt, dt = make_dataset(500 + len(thresholds), images=40, keypoints=17, dets=20)

    def configure(p):
        p.iouThrs = np.array(thresholds)

    assert_same(*evaluate_both(gt, dt, "keypoints", configure))


@pytest.mark.parametrize("rec_thrs", [np.linspace(0, 1, 11), np.array([0.9, 0.1, 0.5, 0.3, 0.95]),
                                      np.array([0.0, 0.0, 0.2, 0.2, 1.0]), np.array([0.25])])
def test_generated_custom_recall_thresholds(rec_thrs):
    """Rising thresholds are walked, others searched: both as pycocotools' searchsorted (which
    stops filling at the first threshold past the last recall, in the given order)."""
    gt, dt = make_dataset(17, grid=True, tie_scores=True)

    def configure(p):
        p.recThrs = rec_thrs.copy()

    assert_same(*evaluate_both(gt, dt, "bbox", configure))


@pytest.mark.parametrize("max_dets", [[1, 5, 10], [10], [2, 100, 300]])
def test_generated_max_dets_truncation(max_dets):
    gt, dt = make_dataset(7, dets=40, tie_scores=True)

    def configure(p):
        p.maxDets = max_dets

    # summarize indexes maxDets[0..2], so a single value only works for pycocotools too if it
    # has 3 entries; compare the arrays for the short list
    if len(max_dets) < 3:
        (a, _), (b, _) = [(E, None) for E in _run_no_summary(gt, dt, configure)]
        for key in ARRAYS:
            assert np.array_equal(a.eval[key], b.eval[key])
    else:
        assert_same(*evaluate_both(gt, dt, "bbox", configure))


def _run_no_summary(gt, dt, configure):
    out = []
    for g, E in ((_pc_coco(gt), pycocoeval.COCOeval), (COCO(copy.deepcopy(gt)), COCOeval)):
        d = _quiet(g.loadRes, copy.deepcopy(dt))[0]
        e = E(g, d, "bbox")
        configure(e.params)
        _quiet(e.evaluate)
        _quiet(e.accumulate)
        out.append(e)
    return out


# ---------------------------------------------------------------------- quirks, one test each
def _tiny(anns, dets, cats=(1,)):
    gt = {"images": [{"id": 1, "width": 100, "height": 100}, {"id": 2, "width": 100, "height": 100}],
          "categories": [{"id": c, "name": str(c)} for c in cats], "annotations": []}
    for i, a in enumerate(anns):
        rec = {"id": i + 1, "image_id": 1, "category_id": 1, "iscrowd": 0}
        rec.update(a)
        rec.setdefault("area", rec["bbox"][2] * rec["bbox"][3])
        gt["annotations"].append(rec)
    dt = [dict({"image_id": 1, "category_id": 1}, **d) for d in dets]
    return gt, dt


def test_quirk_tied_iou_goes_to_the_later_gt():
    gt, dt = _tiny([{"bbox": [0, 0, 10, 10]}, {"bbox": [0, 0, 10, 10]}],
                   [{"bbox": [0, 0, 10, 10], "score": 0.9}])
    pc, dk = evaluate_both(gt, dt)
    assert_same(pc, dk)
    assert dk[0].evalImgs[0]["dtMatches"][0, 0] == 2  # the second gt wins the tie


def test_quirk_crowd_absorbs_many_detections_with_iou_over_detection_area():
    gt, dt = _tiny([{"bbox": [0, 0, 50, 50], "iscrowd": 1}, {"bbox": [60, 60, 20, 20]}],
                   [{"bbox": [0, 0, 10, 10], "score": 0.9}, {"bbox": [5, 5, 10, 10], "score": 0.8},
                    {"bbox": [60, 60, 20, 20], "score": 0.7}])
    pc, dk = evaluate_both(gt, dt)
    assert_same(pc, dk)
    ious = dk[0].ious[1, 1]
    assert ious[0, 0] == 1.0 and ious[1, 0] == 1.0  # inside the crowd region: inter / area(dt)


def test_quirk_gt_id_zero_is_never_matched_unless_fixed():
    # cocoapi #507, #664, PR #331/#332; faster_coco_eval #77; torchvision #1530; supervision #1895
    gt, dt = _tiny([{"bbox": [0, 0, 10, 10]}], [{"bbox": [0, 0, 10, 10], "score": 0.9}])
    gt["annotations"][0]["id"] = 0
    pc, dk = evaluate_both(gt, dt)
    assert_same(pc, dk)
    assert dk[0].stats[0] == 0.0  # the perfect detection counts as a false positive
    fixed = evaluate_both(gt, dt, fix_zero_ids=True)[1][0]
    assert fixed.stats[0] == pytest.approx(1.0)  # 1 / (1 + eps)


def test_quirk_ignore_field_is_overwritten_by_iscrowd_unless_opted_in():
    # cocoapi #123, #466, PRs #307/#322/#465/#640
    gt, dt = _tiny([{"bbox": [0, 0, 10, 10], "ignore": 1}, {"bbox": [50, 50, 10, 10]}],
                   [{"bbox": [0, 0, 10, 10], "score": 0.9}])
    pc, dk = evaluate_both(gt, dt)
    assert_same(pc, dk)
    assert dk[0].stats[8] == 0.5  # 1 of 2 gts found: the ignore flag had no effect
    honoured = evaluate_both(gt, dt, use_ignore_flag=True)[1][0]
    assert honoured.stats[8] == 0.0  # the only counted gt is the missed one


def test_quirk_threshold_one_still_matches_perfect_overlap():
    gt, dt = _tiny([{"bbox": [0, 0, 10, 10]}], [{"bbox": [0, 0, 10, 10], "score": 0.9}])

    def configure(p):
        p.iouThrs = np.array([1.0])

    assert_same(*evaluate_both(gt, dt, "bbox", configure))


def test_quirk_area_range_uses_annotation_area_not_box():
    gt, dt = _tiny([{"bbox": [0, 0, 40, 40], "area": 100.0}], [{"bbox": [0, 0, 40, 40], "score": 0.9}])
    pc, dk = evaluate_both(gt, dt)
    assert_same(pc, dk)
    assert dk[0].stats[3] == pytest.approx(1.0) and dk[0].stats[4] == -1  # "small" by its area field


def test_quirk_duplicate_annotation_ids_load_the_last_one():
    gt, dt = _tiny([{"bbox": [0, 0, 10, 10]}, {"bbox": [50, 50, 10, 10]}],
                   [{"bbox": [0, 0, 10, 10], "score": 0.9}])
    gt["annotations"][1]["id"] = 1
    assert_same(*evaluate_both(gt, dt))


def test_quirk_segm_results_with_bbox_take_area_from_the_box():
    gt, _ = _tiny([{"bbox": [0, 0, 10, 10]}], [])
    res = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 5], "score": 0.5,
            "segmentation": {"size": [100, 100], "counts": "PPYo1"}}]
    dk = COCO(copy.deepcopy(gt)).loadRes(copy.deepcopy(res))
    pc = _quiet(_pc_coco(gt).loadRes, copy.deepcopy(res))[0]
    assert dk.anns[1]["area"] == pc.anns[1]["area"] == 20


def test_quirk_keypoint_results_get_area_and_bbox_from_keypoint_extent():
    gt, _ = _tiny([{"bbox": [0, 0, 10, 10]}], [])
    res = [{"image_id": 1, "category_id": 1, "keypoints": [1, 2, 1, 5, 9, 1], "score": 0.5}]
    dk = COCO(copy.deepcopy(gt)).loadRes(copy.deepcopy(res))
    pc = _quiet(_pc_coco(gt).loadRes, copy.deepcopy(res))[0]
    assert dk.anns[1]["area"] == pc.anns[1]["area"] == 28
    assert dk.anns[1]["bbox"] == pc.anns[1]["bbox"]


def test_keypoint_result_columns_get_pycocotools_area_and_bbox(tmp_path):
    # the native path's columns (what evaluation reads), not only the dicts built on demand
    gt, dt = make_dataset(302, keypoints=17)
    dt[0]["keypoints"][3] = -0.5  # negative and zero coordinates in the extent
    dt[1]["keypoints"][:6] = [0, 0, 0, 0, 0, 0]
    (tmp_path / "dt.json").write_text(json.dumps(dt))
    dk = COCO(copy.deepcopy(gt)).loadRes(str(tmp_path / "dt.json"))
    pc = _quiet(_pc_coco(gt).loadRes, copy.deepcopy(dt))[0]
    cols = dk._eval_columns()
    assert dk._dataset is None  # columns only
    want = [pc.anns[i + 1] for i in range(len(dt))]
    assert np.array_equal(cols["area"], [a["area"] for a in want])
    assert np.array_equal(cols["bbox"], [a["bbox"] for a in want])


@pytest.mark.parametrize("width", [2, 3, 4, 5, 51])
def test_keypoint_boxes_kernel_equals_numpy(width):
    from detkit import _C

    rng = np.random.default_rng(width)
    kp = rng.normal(0, 100, (300, width)).round(1)
    kp[rng.random(kp.shape) < 0.2] = 0.0
    kp[3, 0] = np.nan  # NaN propagates as np.min / np.max do
    kp[4, -1] = np.inf
    kp[5, :] = -np.inf
    x, y = kp[:, 0::3], kp[:, 1::3]
    x0, x1, y0, y1 = x.min(axis=1), x.max(axis=1), y.min(axis=1), y.max(axis=1)
    with np.errstate(invalid="ignore"):  # inf - inf
        want_boxes = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)
        want_area = (x1 - x0) * (y1 - y0)
    boxes, areas = _C.keypoint_boxes(kp)
    assert np.array_equal(boxes, want_boxes, equal_nan=True)
    assert np.array_equal(areas, want_area, equal_nan=True)
    assert _C.keypoint_boxes(np.zeros((0, width)))[0].shape == (0, 4)
    with pytest.raises(ValueError, match="width >= 2"):
        _C.keypoint_boxes(np.zeros((3, 1)))


@pytest.mark.parametrize("as_file", [False, True])
def test_keypoint_results_without_coordinates_fail_as_pycocotools(tmp_path, as_file):
    gt, _ = _tiny([{"bbox": [0, 0, 10, 10]}], [])
    res = [{"image_id": 1, "category_id": 1, "keypoints": [], "score": 0.5}]
    with pytest.raises(ValueError):
        _quiet(_pc_coco(gt).loadRes, copy.deepcopy(res))
    (tmp_path / "dt.json").write_text(json.dumps(res))
    with pytest.raises(ValueError):
        COCO(copy.deepcopy(gt)).loadRes(str(tmp_path / "dt.json") if as_file else copy.deepcopy(res))


def test_quirk_summarize_without_100_dets_reports_minus_one():
    gt, dt = make_dataset(3)

    def configure(p):
        p.maxDets = [1, 10, 50]

    pc, dk = evaluate_both(gt, dt, "bbox", configure)
    assert_same(pc, dk)


@pytest.mark.parametrize("labels, max_dets", [
    (["all", "all", "small", "large"], [1, 10, 100]),  # a repeated label: two area positions, paired with one maxDets
    (["all", "small", "medium", "large"], [1, 100, 100]),  # a repeated maxDets
])
def test_summarize_repeated_labels_and_max_dets_as_pycocotools(labels, max_dets):
    gt, dt = make_dataset(11)

    def configure(p):
        p.areaRngLbl = labels
        p.maxDets = max_dets

    assert_same(*evaluate_both(gt, dt, "bbox", configure))


def test_summarize_selection_pycocotools_cannot_index_raises_as_pycocotools():
    # two "all" areas against three maxDets of 100: index lists of lengths 2 and 3 do not broadcast
    gt, dt = make_dataset(12)
    errors = []
    for impl in ("pycocotools", "detkit"):
        g = _pc_coco(gt) if impl == "pycocotools" else COCO(copy.deepcopy(gt))
        d = _quiet(g.loadRes, copy.deepcopy(dt))[0]
        E = (pycocoeval.COCOeval if impl == "pycocotools" else COCOeval)(g, d, "bbox")
        E.params.areaRngLbl = ["all", "all", "medium", "large"]
        E.params.maxDets = [100, 100, 100]
        _quiet(E.evaluate)
        _quiet(E.accumulate)
        with pytest.raises(IndexError) as info:
            _quiet(E.summarize)
        errors.append(type(info.value))
    assert errors[0] is errors[1]


def test_quirk_empty_image_and_category_cells_stay_minus_one():
    gt, dt = make_dataset(5)
    pc, dk = evaluate_both(gt, dt)
    assert_same(pc, dk)
    # the last category has detections but no gt: -1 everywhere
    assert (dk[0].eval["precision"][:, :, -1] == -1).all()


def test_loadres_numpy_array_matches_pycocotools():
    gt, dt = make_dataset(9)
    arr = np.array([[d["image_id"], *d["bbox"], d["score"], d["category_id"]] for d in dt])
    out = []
    for g, E in ((_pc_coco(gt), pycocoeval.COCOeval), (COCO(copy.deepcopy(gt)), COCOeval)):
        e = E(g, _quiet(g.loadRes, arr)[0], "bbox")
        _quiet(e.evaluate)
        _quiet(e.accumulate)
        _quiet(e.summarize)
        out.append(e)
    for key in ARRAYS:
        assert np.array_equal(out[0].eval[key], out[1].eval[key])


def test_file_and_dict_inputs_agree(tmp_path):
    gt, dt = make_dataset(11, tie_scores=True)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(dt))
    a = evaluate_both(tmp_path / "gt.json", str(tmp_path / "dt.json"))
    b = evaluate_both(gt, dt)
    assert_same(*a)
    assert np.array_equal(a[1][0].eval["precision"], b[1][0].eval["precision"])
    # the lazily materialised dicts equal pycocotools' ones
    assert a[1][0].cocoDt.dataset["annotations"] == a[0][0].cocoDt.dataset["annotations"]
    # a result set read from a file lists the ground truth's images and categories
    res = COCO(tmp_path / "gt.json").loadRes(str(tmp_path / "dt.json"))
    pc_res = _quiet(_pc_coco(tmp_path / "gt.json").loadRes, str(tmp_path / "dt.json"))[0]
    assert res.getImgIds() == list(pc_res.getImgIds()) and res.getCatIds() == pc_res.getCatIds()
    assert COCO(tmp_path / "gt.json").anns == _pc_coco(tmp_path / "gt.json").anns


@pytest.mark.parametrize("kind", ["bbox", "keypoints"])
def test_result_dicts_take_the_column_path_and_are_completed_when_read(kind):
    """A list of box or keypoint result dicts is read into columns (no dict index is built);
    the dicts are completed in place (id, area, ...) as pycocotools' loadRes does, once read."""
    gt, dt = make_dataset(7, keypoints=17 if kind == "keypoints" else 0)
    mine, theirs = copy.deepcopy(dt), copy.deepcopy(dt)
    g = COCO(gt)
    res = g.loadRes(mine)
    assert res._dataset is None and "id" not in mine[0]
    pc_res = _quiet(_pc_coco(gt).loadRes, theirs)[0]
    cols = res._eval_columns()
    for key in ("image_id", "category_id", "score"):
        assert np.array_equal(cols[key], [a[key] for a in theirs]), key
    assert np.array_equal(cols["area"], [a["area"] for a in theirs])
    assert np.array_equal(cols["bbox"], [a["bbox"] for a in theirs])
    pc, dk = evaluate_both(gt, dt, kind)
    assert_same(pc, dk)
    assert res.dataset["annotations"] is mine and mine == theirs  # completed in place, as pycocotools
    assert res.anns[3] == pc_res.anns[3]


@pytest.mark.parametrize("change", ["mixed_kinds", "float_ids", "ragged_box"])
def test_result_dicts_off_the_column_path_behave_as_before(change):
    gt, dt = make_dataset(9)
    if change == "mixed_kinds":
        dt[2]["segmentation"] = [[1.0, 1.0, 9.0, 1.0, 9.0, 9.0]]
    elif change == "float_ids":
        dt[1]["category_id"] = 2.0
    else:
        dt[3]["bbox"] = [1.0, 2.0, 3.0]
    from detkit.eval.coco import _result_columns_of_dicts

    assert _result_columns_of_dicts(copy.deepcopy(dt)) is None

    def outcome(impl_gt, impl_eval):
        try:
            g = impl_gt(copy.deepcopy(gt))
            E = impl_eval(g, _quiet(g.loadRes, copy.deepcopy(dt))[0], "bbox")
            _quiet(E.evaluate)
            _quiet(E.accumulate)
            _quiet(E.summarize)
            return list(E.stats)
        except Exception as err:  # noqa: BLE001 - compared below
            return type(err).__name__

    got = outcome(COCO, COCOeval)
    if change == "mixed_kinds":  # pycocotools accepts it (the first record decides): same numbers
        assert got == outcome(_pc_coco, pycocoeval.COCOeval)
    else:  # pycocotools crashes or mis-parses: detkit raises a clear error
        assert got == "ValueError"


def test_drop_in_dataset_api():
    gt, dt = make_dataset(13)
    p, d = _pc_coco(gt), COCO(copy.deepcopy(gt))
    assert d.getImgIds() == p.getImgIds() or sorted(d.getImgIds()) == sorted(p.getImgIds())
    assert d.getCatIds() == p.getCatIds()
    assert d.getCatIds(catNms=["c2", "c3"]) == p.getCatIds(catNms=["c2", "c3"])
    assert sorted(d.getImgIds(catIds=[2])) == sorted(p.getImgIds(catIds=[2]))
    assert d.getAnnIds(imgIds=[7, 14], catIds=[1, 2]) == p.getAnnIds(imgIds=[7, 14], catIds=[1, 2])
    assert d.getAnnIds(areaRng=[100, 1000], iscrowd=0) == p.getAnnIds(areaRng=[100, 1000], iscrowd=0)
    assert d.loadAnns(d.getAnnIds()[:3]) == p.loadAnns(p.getAnnIds()[:3])
    assert d.loadCats(2) == p.loadCats(2) and d.loadImgs([7]) == p.loadImgs([7])
    assert dict(d.imgToAnns) == dict(p.imgToAnns) and dict(d.catToImgs) == dict(p.catToImgs)
    # the torchmetrics / detectron2 pattern: empty COCO, then assign dataset and index
    e = COCO()
    e.dataset = copy.deepcopy(gt)
    e.createIndex()
    assert e.anns == p.anns


# ---------------------------------------------------------------------- bad input
def test_empty_results_give_zero_scores():
    gt, _ = make_dataset(1)
    g = COCO(gt)
    E = COCOeval(g, g.loadRes([]), "bbox")
    E.evaluate()
    E.accumulate()
    _quiet(E.summarize)
    assert set(np.unique(E.stats)) <= {0.0, -1.0}
    assert (E.stats[[0, 1, 2, 6, 7, 8]] == 0).all()


def test_unknown_image_id_raises():
    gt, dt = make_dataset(1)
    dt[3]["image_id"] = 99999
    with pytest.raises(ValueError, match=r"results\[3\] has image_id 99999"):
        COCO(gt).loadRes(dt)


def test_unknown_image_id_raises_on_file_path(tmp_path):
    gt, dt = make_dataset(1)
    dt[2]["image_id"] = 123456
    (tmp_path / "dt.json").write_text(json.dumps(dt))
    with pytest.raises(ValueError, match=r"results\[2\] has image_id 123456"):
        COCO(gt).loadRes(str(tmp_path / "dt.json"))


def test_unknown_category_warns_and_is_not_evaluated():
    gt, dt = make_dataset(2)
    dt[0]["category_id"] = 999
    with pytest.warns(UserWarning, match="absent from the ground truth"):
        pc, dk = _run_with_warning(gt, dt)
    for key in ARRAYS:
        assert np.array_equal(pc.eval[key], dk.eval[key])


def _run_with_warning(gt, dt):
    return _run_no_summary(gt, dt, lambda p: None)


@pytest.mark.parametrize("as_file", [False, True])
def test_nan_score_raises(tmp_path, as_file):
    gt, dt = make_dataset(1)
    g = COCO(gt)
    dt[1]["score"] = float("nan")
    if as_file:
        (tmp_path / "dt.json").write_text(json.dumps(dt))  # writes NaN, which json accepts
    with pytest.raises(ValueError, match=r"results\[1\] has a non-finite score"):  # at loadRes, both ways
        g.loadRes(str(tmp_path / "dt.json") if as_file else dt)


@pytest.mark.parametrize("as_file", [False, True])
def test_negative_width_raises(tmp_path, as_file):
    gt, dt = make_dataset(1)
    dt[4]["bbox"][2] = -3.0
    src = dt
    if as_file:
        (tmp_path / "dt.json").write_text(json.dumps(dt))
        src = str(tmp_path / "dt.json")
    with pytest.raises(ValueError, match=r"results\[4\] has a negative width or height"):
        COCO(gt).loadRes(src)


def test_missing_score_raises():
    gt, dt = make_dataset(1)
    del dt[0]["score"]
    g = COCO(gt)
    with pytest.raises(ValueError, match="has no 'score'"):
        E = COCOeval(g, g.loadRes(dt), "bbox")
        E.evaluate()


def test_malformed_json_raises(tmp_path):
    (tmp_path / "dt.json").write_text('[{"image_id": 7, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5')
    gt, _ = make_dataset(1)
    with pytest.raises(ValueError, match="Expecting"):
        COCO(gt).loadRes(str(tmp_path / "dt.json"))
    (tmp_path / "gt.json").write_text('{"images": [1, 2}')
    with pytest.raises(ValueError):
        COCO(tmp_path / "gt.json")


def test_results_must_be_a_list():
    gt, _ = make_dataset(1)
    with pytest.raises(ValueError, match="results must be a list"):
        COCO(gt).loadRes({"image_id": 7})


def test_nan_boxes_of_evaluated_records_are_named_at_evaluate():
    """Records that skipped loadRes's checks (a dataset dict as detections, a ground truth) get
    the box check at evaluate; box results from loadRes were checked when loaded."""
    gt, dt = make_dataset(13)
    bad_gt = copy.deepcopy(gt)
    bad_gt["annotations"][0]["bbox"] = [float("nan"), 1.0, 2.0, 3.0]
    E = COCOeval(COCO(bad_gt), COCO(gt).loadRes(copy.deepcopy(dt)), "bbox")
    with pytest.raises(ValueError, match="every ground truth needs a finite 'bbox'"):
        E.evaluate()
    as_dataset = {"images": gt["images"], "categories": gt["categories"],
                  "annotations": [dict(d, id=i + 1, area=1.0, iscrowd=0) for i, d in enumerate(copy.deepcopy(dt))]}
    as_dataset["annotations"][0]["bbox"] = [0.0, float("nan"), 2.0, 3.0]
    E = COCOeval(COCO(gt), COCO(as_dataset), "bbox")
    with pytest.raises(ValueError, match="every detection needs a finite 'bbox'"):
        E.evaluate()
    with pytest.raises(ValueError, match="non-finite bbox"):
        COCO(gt).loadRes(as_dataset["annotations"])


def test_bad_iou_type_and_annotation_file():
    with pytest.raises(ValueError, match="iouType must be"):
        COCOeval(None, None, "mask")
    with pytest.raises(TypeError, match="annotation_file must be a path or a dict"):
        COCO(42)


def test_accumulate_and_summarize_need_the_previous_step():
    E = COCOeval(None, None, "bbox")
    with pytest.raises(RuntimeError, match="evaluate"):
        E.accumulate()
    with pytest.raises(RuntimeError, match="accumulate"):
        E.summarize()


def test_keypoints_need_matching_sigma_count():
    gt, dt = make_dataset(400, keypoints=5)
    g = COCO(gt)
    E = COCOeval(g, g.loadRes(dt), "keypoints")  # default: 17 sigmas
    with pytest.raises(ValueError, match="needs 'keypoints' with 51 values"):
        E.evaluate()


@pytest.mark.parametrize("as_file", [False, True])
def test_evaluated_gt_without_keypoints_is_named_and_others_are_not(tmp_path, as_file):
    # a file goes through the native scanner, which pads a record without keypoints with NaN
    gt, dt = make_dataset(401, keypoints=17)
    lacking = gt["annotations"][0]
    del lacking["keypoints"]
    source = gt
    if as_file:
        (tmp_path / "gt.json").write_text(json.dumps(gt))
        source = str(tmp_path / "gt.json")
    g = COCO(copy.deepcopy(source) if isinstance(source, dict) else source)
    E = COCOeval(g, g.loadRes(copy.deepcopy(dt)), "keypoints")
    with pytest.raises(ValueError, match="every ground truth needs 'keypoints'"):
        E.evaluate()
    E = COCOeval(g, g.loadRes(copy.deepcopy(dt)), "keypoints")
    E.params.imgIds = [i for i in E.params.imgIds if i != lacking["image_id"]]
    E.evaluate()  # the record without keypoints is not evaluated


def test_detection_keypoints_with_nan_from_dicts_are_named():
    # only results read from a JSON file are known finite; dicts may hold float NaN
    gt, dt = make_dataset(402, keypoints=17)
    dt[0]["keypoints"][4] = float("nan")
    g = COCO(gt)
    E = COCOeval(g, g.loadRes(dt), "keypoints")
    with pytest.raises(ValueError, match="every detection needs 'keypoints'"):
        E.evaluate()


def test_gt_without_area_raises():
    gt, dt = make_dataset(1)
    del gt["annotations"][0]["area"]
    g = COCO(gt)
    E = COCOeval(g, g.loadRes(dt), "bbox")
    with pytest.raises(ValueError, match="has no 'area'"):
        E.evaluate()


# ---------------------------------------------------------------------- segm (needs detkit.eval.mask)
def test_shared_segm_parity(shared_data):
    pytest.importorskip("detkit.eval.mask")
    coco = shared_data / "coco"
    pc, dk = evaluate_both(coco / "instances_val2014_100.json",
                           str(coco / "instances_val2014_fakesegm100_results.json"), "segm")
    assert_same(pc, dk)
    expected = " ".join((coco / "val2014_fake_eval_res.txt").read_text().split("type=segm")[1]
                        .split("type=bbox")[0].split())
    for line in dk[1].splitlines():
        assert " ".join(line.split()) in expected
    assert_eval_imgs_equal(pc[0], dk[0])


def test_shared_segm_use_cats_0(shared_data):
    pytest.importorskip("detkit.eval.mask")
    coco = shared_data / "coco"

    def configure(p):
        p.useCats = 0
        p.imgIds = sorted(p.imgIds)[:40]

    assert_same(*evaluate_both(coco / "instances_val2014_100.json",
                               str(coco / "instances_val2014_fakesegm100_results.json"), "segm", configure))


# ---------------------------------------------------------------------- merging shards
def _shard_eval(gt, dt, iou_type, img_ids, configure=None):
    g = COCO(copy.deepcopy(gt))
    E = COCOeval(g, g.loadRes(copy.deepcopy(dt)), iou_type)
    if configure:
        configure(E.params)
    E.params.imgIds = img_ids
    E.evaluate()
    return E


@pytest.mark.parametrize("iou_type,seed,shards", [("bbox", 0, 2), ("bbox", 1, 5), ("keypoints", 2, 3)])
def test_merged_shards_equal_one_evaluation(iou_type, seed, shards):
    gt, dt = make_dataset(500 + seed, tie_scores=True, keypoints=17 if iou_type == "keypoints" else 0)
    img_ids = [img["id"] for img in gt["images"]]
    rng = np.random.default_rng(seed)
    assignment = rng.integers(0, shards, len(img_ids))
    whole = _shard_eval(gt, dt, iou_type, img_ids)
    whole.accumulate()
    parts = [_shard_eval(gt, dt, iou_type, [i for i, s in zip(img_ids, assignment) if s == k])
             for k in range(shards)]
    merged = parts[0].merge(*parts[1:])
    merged.accumulate()
    for key in ARRAYS:
        assert np.array_equal(whole.eval[key], merged.eval[key]), key
    _quiet(whole.summarize)
    _quiet(merged.summarize)
    np.testing.assert_array_equal(whole.stats, merged.stats)
    assert_eval_imgs_equal(whole, merged)


def test_merge_use_cats_0_and_pickled_shards():
    import pickle

    gt, dt = make_dataset(77)
    img_ids = [img["id"] for img in gt["images"]]

    def configure(p):
        p.useCats = 0

    whole = _shard_eval(gt, dt, "bbox", img_ids, configure)
    whole.accumulate()
    a = pickle.loads(pickle.dumps(_shard_eval(gt, dt, "bbox", img_ids[::2], configure)))
    b = pickle.loads(pickle.dumps(_shard_eval(gt, dt, "bbox", img_ids[1::2], configure)))
    merged = b.merge(a)
    merged.accumulate()
    for key in ARRAYS:
        assert np.array_equal(whole.eval[key], merged.eval[key]), key


def test_merge_rejects_overlapping_or_mismatched_shards():
    gt, dt = make_dataset(78)
    img_ids = [img["id"] for img in gt["images"]]
    a = _shard_eval(gt, dt, "bbox", img_ids[:10])
    with pytest.raises(ValueError, match="disjoint image sets"):
        a.merge(_shard_eval(gt, dt, "bbox", img_ids[5:15]))

    def fewer(p):
        p.maxDets = [1, 10, 50]

    with pytest.raises(ValueError, match="equal params.maxDets"):
        a.merge(_shard_eval(gt, dt, "bbox", img_ids[20:], fewer))
    with pytest.raises(RuntimeError, match="evaluate"):
        a.merge(COCOeval(COCO(copy.deepcopy(gt)), None, "bbox"))


# ---------------------------------------------------------------------- native JSON scanner
def test_json_numbers_read_exactly_like_python(tmp_path):
    rng = np.random.default_rng(0)
    values = list(rng.standard_normal(3000) * 10.0 ** rng.integers(-30, 30, 3000))
    values += [float(np.float32(v)) for v in rng.random(3000) * 600]
    values += [float(np.float32(v)) for v in rng.random(3000) * 10.0 ** rng.integers(-6, 7, 3000)]
    values += [0.0, -0.0, 1e22, 1e23, 9007199254740993.0, 5e-324, 1.7976931348623157e308]
    texts = [repr(float(v)) for v in values] + ["1E5", "1e-5", "123.456e-2", "-0", "100",
                                                "12345678901234567890123", "0.1000000000000000055511151231257827"]
    # 16 to 20 digit decimals (mantissas above 2^53), ties between doubles, binade edges
    digits = rng.integers(0, 10, (4000, 20))
    for row, length, point in zip(digits, rng.integers(16, 21, 4000), rng.integers(1, 20, 4000)):
        text = "".join(map(str, row[:length])).lstrip("0") or "0"
        texts.append(text[:point] + "." + (text[point:] or "0") if point < len(text) else text + ".0")
    texts += ["9007199254740993.0", "9007199254740995.0", "-9007199254740993.5", "4503599627370497.5",
              "18014398509481985.0", "9007199254740992.0", "0.9999999999999999", "0.99999999999999994",
              "1.0000000000000002", "0.00012345678901234567", "1844674407370955.1615"]
    body = ", ".join('{"image_id": 7, "category_id": 1, "bbox": [%s, 1, 2, 3], "score": %s}' % (t, t)
                     for t in texts)
    (tmp_path / "dt.json").write_text("[" + body + "]")
    gt, _ = make_dataset(1)
    res = COCO(gt).loadRes(str(tmp_path / "dt.json"))
    assert res._dataset is None  # read by the native scanner (not the json module fallback)
    expected = np.array([float(t) for t in texts])
    got = res._eval_columns()
    assert np.array_equal(got["score"].view(np.uint64), expected.view(np.uint64))
    assert np.array_equal(got["bbox"][:, 0].view(np.uint64), expected.view(np.uint64))


@pytest.mark.parametrize("text", [
    '[{"image_id": 7, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5, "extra": {"a": [1, "x\\"y"]}}]',
    '[ {"image_id":7,"category_id":1,"bbox":[1,2,3,4],"score":5e-1} ,\n {"score": 0.25, "bbox": [0, 0, 1, 1], "category_id": 2, "image_id": 14}]',
])
def test_json_scanner_skips_unknown_fields_and_whitespace(tmp_path, text):
    (tmp_path / "dt.json").write_text(text)
    gt, _ = make_dataset(1)
    g = COCO(gt)
    fast = g.loadRes(str(tmp_path / "dt.json"))
    slow = g.loadRes(json.loads(text))
    for key in ("image_id", "category_id", "bbox", "score", "area", "id"):
        assert np.array_equal(fast._eval_columns()[key], slow._eval_columns()[key]), key
    assert fast.dataset["annotations"] == slow.dataset["annotations"]


def test_keypoints_from_files_take_the_native_path(tmp_path):
    gt, dt = make_dataset(301, keypoints=17, crowd=0.05)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(dt))
    pc, dk = evaluate_both(tmp_path / "gt.json", str(tmp_path / "dt.json"), "keypoints")
    assert_same(pc, dk)
    assert dk[0].cocoDt._dataset is None  # evaluated from columns, dicts never built
    assert dk[0].cocoDt.dataset["annotations"] == pc[0].cocoDt.dataset["annotations"]


@pytest.mark.parametrize("nested", [False, True])
def test_json_scanner_large_ground_truth_in_chunks(tmp_path, nested):
    # files of several MB are split into chunks parsed in parallel; the annotations array is followed
    # by another key, keypoints appear only in some records, and (nested) lists of objects inside
    # records put wrong chunk-start guesses in the way (the scanner then parses sequentially)
    import detkit

    rng = np.random.default_rng(3)
    anns = []
    for i in range(400):
        ann = {"id": i + 1, "image_id": int(rng.integers(1, 6)), "category_id": 1,
               "bbox": [float(v) for v in rng.uniform(1, 50, 4)], "area": float(rng.uniform(1, 900)),
               "iscrowd": int(rng.random() < 0.1), "pad": "x" * 25_000}
        if i % 3 == 0:
            ann["keypoints"] = [float(v) for v in rng.uniform(0, 60, 9)]
            ann["num_keypoints"] = 3
        if nested:
            ann["parts"] = [{"k": j} for j in range(300)]
        anns.append(ann)
    data = {"images": [{"id": i} for i in range(1, 6)], "annotations": anns,
            "categories": [{"id": 1, "name": "a"}]}
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(data))
    assert path.stat().st_size > 9 << 20
    before = detkit.get_num_threads()
    detkit.set_num_threads(4)
    try:
        fast = COCO(str(path))
    finally:
        detkit.set_num_threads(before)
    assert fast._dataset is None  # read by the native scanner
    slow = COCO(data)
    got, expected = fast._eval_columns(), slow._eval_columns()
    for key in ("id", "image_id", "category_id", "bbox", "area", "iscrowd", "keypoints", "num_keypoints"):
        assert np.array_equal(got[key], expected[key], equal_nan=True), key
