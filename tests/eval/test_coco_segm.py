"""segm evaluation from JSON files: the native scanner's segmentation columns, their conversion to
RLEs (checked against ``annToRLE`` record by record), the batched mask IoU, bit-exact parity with
pycocotools, and the fall-back to the dicts for segmentations the native path does not take."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from detkit import _C
from detkit.eval import COCO, COCOeval
from detkit.eval._segm import native_rles
from detkit.eval.coco import _parse_file
from tests.eval.test_coco import _pc_coco, pycocoeval, _quiet, assert_eval_imgs_equal, assert_same, evaluate_both

pc_mask = pytest.importorskip("pycocotools.mask")


def _polygon(rng, x, y, w, h, vertices):
    t = np.sort(rng.uniform(0, 2 * np.pi, vertices))
    r = rng.uniform(0.6, 1.0, vertices)
    xs = x + w / 2 + np.cos(t) * r * w / 2
    ys = y + h / 2 + np.sin(t) * r * h / 2
    return np.stack([xs, ys], 1).ravel().round(2).tolist()


def make_segm_dataset(seed, images=12, cats=(1, 2, 4), with_bbox=0.3, box_lists=False):
    """Images of several sizes; gts as polygon lists (1-3 parts, odd lengths, and with box_lists
    lists of 4-value boxes, which pycocotools' annToRLE rejects),
    crowds as uncompressed RLEs, some gts as compressed strings; results as compressed RLE strings
    (some with a bbox too), perturbed copies of the gts and random blobs."""
    rng = np.random.default_rng(seed)
    gt = {"images": [], "categories": [{"id": c, "name": str(c)} for c in cats], "annotations": []}
    dt = []
    for img in range(1, images + 1):
        h, w = int(rng.integers(20, 90)), int(rng.integers(20, 90))
        gt["images"].append({"id": img, "height": h, "width": w})
        masks = []
        for _ in range(rng.poisson(3)):
            x, y = rng.uniform(-5, w - 5), rng.uniform(-5, h - 5)
            bw, bh = rng.uniform(3, w / 1.5), rng.uniform(3, h / 1.5)
            cat = int(rng.choice(cats))
            style = rng.choice(["poly", "poly", "multi", "odd", "crowd", "string"] + ["boxes"] * box_lists)
            if style in ("poly", "multi", "odd"):
                seg = [_polygon(rng, x, y, bw, bh, int(rng.integers(3, 12)))
                       for _ in range(1 if style != "multi" else int(rng.integers(2, 4)))]
                if style == "odd":
                    seg[0].append(float(rng.uniform(0, 10)))
            elif style == "boxes":
                seg = [[x, y, bw, bh], [x + 2, y + 1, bw / 2, bh / 3]]
            else:
                m = np.zeros((h, w), np.uint8, order="F")
                m[int(max(y, 0)):int(y + bh), int(max(x, 0)):int(x + bw)] = 1
                rle = pc_mask.encode(m)
                if style == "crowd":  # uncompressed counts, as COCO crowd annotations
                    runs, pos, value = [], 0, 0
                    flat = m.ravel(order="F")
                    while pos < flat.size:
                        end = pos
                        while end < flat.size and flat[end] == value:
                            end += 1
                        runs.append(end - pos)
                        pos, value = end, 1 - value
                    seg = {"size": [h, w], "counts": runs}
                else:
                    seg = {"size": [h, w], "counts": rle["counts"].decode()}
            ann = {"id": len(gt["annotations"]) + 1, "image_id": img, "category_id": cat,
                   "segmentation": seg, "area": float(bw * bh * 0.7), "bbox": [x, y, bw, bh],
                   "iscrowd": int(style == "crowd")}
            gt["annotations"].append(ann)
            masks.append((x, y, bw, bh, cat))
        for _ in range(rng.integers(0, 12)):
            if masks and rng.random() < 0.7:
                x, y, bw, bh, cat = masks[rng.integers(len(masks))]
                x, y = x + rng.normal(0, 2), y + rng.normal(0, 2)
            else:
                x, y, bw, bh, cat = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(2, 30), \
                    rng.uniform(2, 30), int(rng.choice(cats))
            poly = _polygon(rng, x, y, bw, bh, 8)
            rle = pc_mask.merge(pc_mask.frPyObjects([poly], h, w))
            rec = {"image_id": img, "category_id": cat, "score": float(rng.choice([0.3, 0.6, rng.random()])),
                   "segmentation": {"size": [h, w], "counts": rle["counts"].decode()}}
            if rng.random() < with_bbox:
                rec["bbox"] = [x, y, bw, bh]
            dt.append(rec)
    if not dt:
        dt.append({"image_id": 1, "category_id": cats[0], "score": 0.5,
                   "segmentation": {"size": [gt["images"][0]["height"], gt["images"][0]["width"]], "counts": "0"}})
        dt[0]["segmentation"]["counts"] = pc_mask.encode(np.zeros(dt[0]["segmentation"]["size"], np.uint8,
                                                                  order="F"))["counts"].decode()
    return gt, dt


def _write(tmp_path, gt, dt):
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(dt))
    return tmp_path / "gt.json", str(tmp_path / "dt.json")


@pytest.mark.parametrize("seed", range(6))
def test_generated_segm_files_match_pycocotools(tmp_path, seed):
    gt, dt = make_segm_dataset(seed, with_bbox=0.0 if seed % 2 else 0.3)
    dt[0].pop("bbox", None)  # the first record decides: areas from the masks
    gt_path, dt_path = _write(tmp_path, gt, dt)
    pc, dk = evaluate_both(gt_path, dt_path, "segm")
    assert_same(pc, dk)
    assert_eval_imgs_equal(pc[0], dk[0])
    assert dk[0].cocoGt._dataset is None and dk[0].cocoDt._dataset is None  # never left the columns
    # areas and boxes computed at loadRes, as pycocotools
    pc_anns = pc[0].cocoDt.dataset["annotations"]
    cols = dk[0].cocoDt._eval_columns()
    assert np.array_equal(cols["area"], [a["area"] for a in pc_anns])
    assert np.array_equal(cols["bbox"], [a["bbox"] for a in pc_anns])


def test_generated_segm_results_with_boxes_take_area_from_the_box(tmp_path):
    gt, dt = make_segm_dataset(21, with_bbox=1.0)
    pc, dk = evaluate_both(*_write(tmp_path, gt, dt), "segm")
    assert_same(pc, dk)
    assert dk[0].cocoDt._dataset is None


def test_segm_use_cats_0_and_custom_params_from_files(tmp_path):
    gt, dt = make_segm_dataset(5)
    dt[0].pop("bbox", None)

    def configure(p):
        p.useCats = 0
        p.maxDets = [1, 3, 5]
        p.iouThrs = np.array([0.3, 0.5, 0.8])

    assert_same(*evaluate_both(*_write(tmp_path, gt, dt), "segm", configure))


def test_segm_results_from_a_file_evaluate_again_after_their_table_is_released(tmp_path):
    # the decoded RLE table of file results goes to the first evaluation (memory: ~4x the
    # strings); later evaluations of the same result set, as the same or other evaluators and
    # with other parameters, decode the kept strings again and agree with pycocotools
    gt, dt = make_segm_dataset(8)
    dt[0].pop("bbox", None)
    gt_path, dt_path = _write(tmp_path, gt, dt)
    coco_gt = COCO(gt_path)
    coco_dt = coco_gt.loadRes(dt_path)
    pc_gt = _pc_coco(gt_path)
    pc_dt = _quiet(pc_gt.loadRes, dt_path)[0]

    def run(g, d, evaluator, configure=None):
        E = evaluator(g, d, "segm")
        if configure:
            configure(E.params)
        _quiet(E.evaluate)
        _quiet(E.accumulate)
        return E, _quiet(E.summarize)[1]

    def fewer(p):
        p.maxDets = [1, 2, 4]
        p.imgIds = sorted(p.imgIds)[::2]

    first = run(coco_gt, coco_dt, COCOeval)
    assert "rle" not in coco_dt._columns  # released: only the strings stay
    assert_same(first, run(coco_gt, coco_dt, COCOeval))
    assert_same(run(pc_gt, pc_dt, pycocoeval.COCOeval), first)
    assert_same(run(pc_gt, pc_dt, pycocoeval.COCOeval, fewer), run(coco_gt, coco_dt, COCOeval, fewer))


@pytest.mark.parametrize("seed", range(4))
def test_native_rles_equal_ann_to_rle(tmp_path, seed):
    from detkit import _cy_mask

    gt, dt = make_segm_dataset(seed + 10, box_lists=True)
    gt_path, dt_path = _write(tmp_path, gt, dt)
    ref = COCO(copy.deepcopy(gt))
    # ground truths of every kind (general conversion), and results: compressed strings only,
    # decoded straight into the table with their geometry
    sources = ((COCO(gt_path)._eval_columns(), ref.dataset["annotations"]),
               (_parse_file(dt_path, _C.coco_parse_results), dt))
    for cols, anns in sources:
        rows = np.arange(len(anns))[::-1].copy()  # any order
        (counts, offsets, sizes), (boxes, areas) = native_rles(cols, rows)
        # the dict path's annToRLE is the oracle (byte-identical to pycocotools', see test_mask.py,
        # which has no box lists)
        for j, r in enumerate(rows):
            rle = ref.annToRLE(anns[r])
            want = rle["counts"].encode() if isinstance(rle["counts"], str) else rle["counts"]
            assert sizes[j].tolist() == list(rle["size"])
            assert _cy_mask.counts_to_bytes(np.ascontiguousarray(counts[offsets[j]:offsets[j + 1]])) == want
            pc_rle = {"size": list(rle["size"]), "counts": want}
            assert areas[j] == pc_mask.area(pc_rle)
            assert boxes[j].tolist() == pc_mask.toBbox(pc_rle).tolist()


def test_rle_strings_with_escapes_are_read_exactly(tmp_path):
    # '\\' (92) is a valid RLE character that JSON escapes; "\u0050" spells 'P'
    gt = {"images": [{"id": 1, "height": 30, "width": 30}], "categories": [{"id": 1}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "area": 100.0, "iscrowd": 0,
                           "bbox": [0, 0, 10, 10], "segmentation": [[2, 2, 20, 3, 18, 25, 4, 20]]}]}
    masks = []
    for k in range(40):  # find masks whose strings hold a backslash
        m = np.zeros((30, 30), np.uint8, order="F")
        m[k % 7:k % 7 + 12 + k % 5, 3 + k % 9:17 + k % 11] = 1
        m[(3 * k) % 29, (5 * k) % 29] = 1
        s = pc_mask.encode(m)["counts"].decode()
        masks.append(s)
    with_backslash = [s for s in masks if "\\" in s]
    assert with_backslash, "no RLE string with a backslash among the generated masks"
    dt = [{"image_id": 1, "category_id": 1, "score": 0.5 + i / 100, "segmentation": {"size": [30, 30], "counts": s}}
          for i, s in enumerate(with_backslash + masks[:5])]
    text = json.dumps(dt).replace('"counts": "P', '"counts": "\\u0050')
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(text)
    pc, dk = evaluate_both(tmp_path / "gt.json", str(tmp_path / "dt.json"), "segm")
    assert_same(pc, dk)
    assert dk[0].cocoDt._dataset is None
    assert np.array_equal(dk[0].cocoDt._eval_columns()["area"],
                          [a["area"] for a in pc[0].cocoDt.dataset["annotations"]])


def _outcome(fn):
    try:
        return "ok", fn()
    except Exception as err:  # noqa: BLE001 - the outcome itself is compared
        return type(err), str(err)


def _evaluate_stats(gt, dt):
    g = COCO(gt)
    E = COCOeval(g, g.loadRes(dt), "segm")
    _quiet(E.evaluate)
    _quiet(E.accumulate)
    _quiet(E.summarize)
    return E.stats.tolist()


@pytest.mark.parametrize("case", ["flat_polygon_gt", "empty_polygon_gt", "bad_string_result",
                                  "missing_size_result", "float_size_result", "late_polygon_result",
                                  "gt_without_segmentation", "image_without_height"])
def test_segmentations_off_the_native_path_behave_like_dicts(tmp_path, case):
    """Shapes the native conversion does not take go through annToRLE: the file gives exactly
    what the same data as dicts gives (a result or the same error)."""
    gt, dt = make_segm_dataset(3)
    dt[0].pop("bbox", None)
    anns = gt["annotations"]
    if case == "flat_polygon_gt":
        anns[0]["segmentation"] = [1.0, 1.0, 10.0, 1.0, 10.0, 12.0, 1.0, 9.0]
    elif case == "empty_polygon_gt":
        anns[1]["segmentation"] = []
    elif case == "bad_string_result":
        dt[2]["segmentation"]["counts"] = "ab{"
    elif case == "missing_size_result":
        del dt[1]["segmentation"]["size"]
    elif case == "float_size_result":
        dt[1]["segmentation"]["size"] = [float(v) for v in dt[1]["segmentation"]["size"]]
    elif case == "late_polygon_result":
        dt[3]["segmentation"] = [[1.0, 1.0, 10.0, 1.0, 10.0, 12.0]]
    elif case == "gt_without_segmentation":
        del anns[0]["segmentation"]
    elif case == "image_without_height":
        del gt["images"][0]["height"]
    gt_path, dt_path = _write(tmp_path, gt, dt)
    from_files = _outcome(lambda: _evaluate_stats(gt_path, dt_path))
    from_dicts = _outcome(lambda: _evaluate_stats(copy.deepcopy(gt), copy.deepcopy(dt)))
    assert from_files == from_dicts
    if case in ("bad_string_result", "missing_size_result"):
        assert from_files[0] in (ValueError, TypeError, KeyError)


def test_pycocotools_objects_still_work_for_segm(tmp_path):
    """COCOeval over pycocotools COCO objects (dicts, their annToRLE) gives pycocotools' numbers."""
    gt, dt = make_segm_dataset(8)
    dt[0].pop("bbox", None)
    gt_path, dt_path = _write(tmp_path, gt, dt)
    g = _pc_coco(gt_path)
    d = _quiet(g.loadRes, dt_path)[0]
    E = COCOeval(g, d, "segm")
    _quiet(E.evaluate)
    _quiet(E.accumulate)
    _quiet(E.summarize)
    pc = evaluate_both(gt_path, dt_path, "segm")[0]
    np.testing.assert_array_equal(E.stats, pc[0].stats)
    assert np.array_equal(E.eval["precision"], pc[0].eval["precision"])


@pytest.mark.parametrize("seed", range(3))
def test_mask_result_dicts_take_the_column_path(seed):
    """A list of compressed-RLE result dicts (str or bytes counts) is read into an RLE table at
    loadRes: same numbers as pycocotools, dicts completed only when read."""
    gt, dt = make_segm_dataset(seed + 30, with_bbox=0.0 if seed else 0.5)
    dt[0].pop("bbox", None)
    if seed == 2:
        for rec in dt[::2]:
            rec["segmentation"]["counts"] = rec["segmentation"]["counts"].encode()
    mine = copy.deepcopy(dt)
    res = COCO(copy.deepcopy(gt)).loadRes(mine)
    assert res._dataset is None and "area" not in mine[0]
    pc, dk = evaluate_both(gt, dt, "segm")
    assert_same(pc, dk)
    assert_eval_imgs_equal(pc[0], dk[0])
    theirs = pc[0].cocoDt.dataset["annotations"]
    cols = res._eval_columns()
    assert np.array_equal(cols["area"], [a["area"] for a in theirs])
    assert np.array_equal(cols["bbox"], [a["bbox"] for a in theirs])
    assert res.dataset["annotations"] is mine and [a["area"] for a in mine] == [a["area"] for a in theirs]


@pytest.mark.parametrize("as_file", [False, True])
def test_segm_evaluation_of_box_results_uses_box_polygons(tmp_path, as_file):
    """Box results without masks, evaluated as segm: pycocotools draws each box as a polygon."""
    gt, dt = make_segm_dataset(40, with_bbox=1.0)
    for rec in dt:
        del rec["segmentation"]
    if as_file:
        gt_path, dt_path = _write(tmp_path, gt, dt)
        assert_same(*evaluate_both(gt_path, dt_path, "segm"))
    else:
        assert_same(*evaluate_both(gt, dt, "segm"))


def test_cell_iou_kernel_rejects_rows_and_cells_outside_its_tables():
    from detkit import _cy_mask
    from detkit.eval import mask as dk_mask

    table = _cy_mask.parse(dk_mask.encode(np.asfortranarray(np.ones((4, 4, 2), np.uint8))), "masks")
    geometry = _cy_mask.rle_geometry(*table)
    ok_rows, ok_cells, crowd = np.array([0, 1]), np.array([0, 2]), np.zeros(2, np.uint8)
    out = np.zeros(4)
    _cy_mask.cell_ious(*table, geometry, ok_rows, ok_cells, *table, geometry, ok_rows, ok_cells, crowd, out, 0, 1)
    assert out.tolist() == [1.0, 1.0, 1.0, 1.0]
    for rows, cells, match in [(np.array([0, 5]), ok_cells, "row 5 is not in its RLE table"),
                               (np.array([-1, 0]), ok_cells, "row -1"),
                               (ok_rows, np.array([0, 3]), "offsets must rise within the rows")]:
        with pytest.raises(ValueError, match=match):
            _cy_mask.cell_ious(*table, geometry, rows, cells, *table, geometry, ok_rows, ok_cells, crowd, out, 0, 1)
    with pytest.raises(ValueError, match="output do not match"):
        _cy_mask.cell_ious(*table, geometry, ok_rows, ok_cells, *table, geometry, ok_rows, ok_cells, crowd,
                           np.zeros(3), 0, 1)


def _ranges(first, last):
    return (first, last)


def test_parallel_ranges_cover_the_items_in_order(two_threads):
    from detkit.eval._segm import _in_parallel

    ends = np.cumsum(np.arange(1, 101))
    ranges = _in_parallel(_ranges, ends, min_work=10)
    assert len(ranges) == 2 and ranges[0][0] == 0 and ranges[-1][1] == 100
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    # about equal work per range
    work = [int(ends[b - 1] - (ends[a - 1] if a else 0)) for a, b in ranges]
    assert abs(work[0] - work[1]) <= 100
    assert _in_parallel(_ranges, ends, min_work=10**6) == [(0, 100)]


def test_parallel_ranges_raise_after_every_range_finished(two_threads):
    import threading

    from detkit.eval._segm import _in_parallel

    done = []

    def fn(first, last):
        if first == 0:
            raise RuntimeError("first range failed")
        threading.Event().wait(0.05)
        done.append(first)

    with pytest.raises(RuntimeError, match="first range failed"):
        _in_parallel(fn, np.arange(1, 101), min_work=10)
    assert len(done) == 1


def _ranges_in_child(queue):
    from detkit.eval._segm import _in_parallel

    queue.put(_in_parallel(_ranges, np.arange(1, 101), min_work=10))


def test_parallel_ranges_work_in_a_forked_child(two_threads):
    import multiprocessing

    from detkit.eval._segm import _in_parallel

    in_parent = _in_parallel(_ranges, np.arange(1, 101), min_work=10)  # the worker threads exist now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_ranges_in_child, args=(queue,))
    child.start()
    child.join(timeout=20)
    if child.exitcode is None:
        child.kill()
    assert child.exitcode == 0, "the forked child did not finish its parallel ranges"
    assert queue.get(timeout=5) == in_parent


def test_image_sizes_take_the_last_entry_of_a_repeated_image_id():
    from detkit.eval._segm import image_sizes_of

    ids, heights, widths = np.array([7, 3, 7]), np.array([10, 20, 30]), np.array([11, 21, 31])
    got = image_sizes_of((ids, heights, widths), np.array([7, 3, 5, 7]))
    assert got[0].tolist() == [30, 20, -1, 30] and got[1].tolist() == [31, 21, -1, 31]
    assert [v.tolist() for v in image_sizes_of(None, np.array([1]))] == [[-1], [-1]]
