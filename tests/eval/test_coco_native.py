"""The native COCO kernels (evaluate, accumulate) against their numpy twin in detkit.reference."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detkit import _C
from detkit.reference import coco_eval as ref

IOU_THRS = np.linspace(0.5, 0.95, 10)
AREAS = [[0, 1e10], [0, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e10]]
REC_THRS = np.linspace(0, 1, 101)


def columns(seed, images, cats, n_gt, n_dt, grid, ties, kpts=0):
    rng = np.random.default_rng(seed)
    cells = images * cats

    def boxes(n):
        if grid:
            xy, wh = rng.integers(0, 5, (n, 2)) * 10.0, rng.integers(0, 4, (n, 2)) * 10.0
        else:
            xy, wh = rng.uniform(0, 100, (n, 2)), np.exp(rng.uniform(0, 5, (n, 2)))
        return np.concatenate([xy, wh], 1)

    gt = {"cell": rng.integers(-1, cells, n_gt), "bbox": boxes(n_gt), "iscrowd": (rng.random(n_gt) < 0.2).astype(np.uint8),
          "id": rng.integers(0, 4, n_gt) if seed % 5 == 0 else np.arange(1, n_gt + 1)}
    gt["area"] = gt["bbox"][:, 2] * gt["bbox"][:, 3] * rng.uniform(0.5, 1.5, n_gt)
    gt["ignore"] = gt["iscrowd"].copy()
    dt = {"cell": rng.integers(-1, cells, n_dt), "bbox": boxes(n_dt), "id": np.arange(1, n_dt + 1),
          "score": rng.choice([-0.5, -0.0, 0.0, 0.1, 0.5, 0.9], n_dt) if ties else rng.random(n_dt)}
    dt["area"] = dt["bbox"][:, 2] * dt["bbox"][:, 3]
    if kpts:
        for cols, n in ((gt, n_gt), (dt, n_dt)):
            k = np.stack([rng.uniform(0, 100, (n, kpts)), rng.uniform(0, 100, (n, kpts)),
                          rng.integers(0, 3, (n, kpts))], 2).reshape(n, 3 * kpts)
            cols["keypoints"] = k.astype(np.float64)
    return gt, dt


def native(gt, dt, cells, max_det, kind=0, sigmas=()):
    kvars = ((np.asarray(sigmas, dtype=np.float64) * 2) ** 2).tolist()
    return _C.coco_evaluate(gt, dt, num_cells=cells, iou_type=kind, iou_thresholds=IOU_THRS.tolist(),
                            area_ranges=[float(v) for r in AREAS for v in r], max_det=max_det,
                            kpt_vars=kvars, precomputed=None, precomputed_offsets=None,
                            zero_id_quirk=True, no_overlaps=False, keep_details=False)


@given(st.integers(0, 10_000), st.integers(1, 6), st.integers(1, 4), st.integers(0, 40), st.integers(0, 60),
       st.booleans(), st.booleans(), st.sampled_from([1, 3, 100]))
def test_native_evaluate_and_accumulate_match_reference(seed, images, cats, n_gt, n_dt, grid, ties, max_det):
    _check_against_reference(*columns(seed, images, cats, n_gt, n_dt, grid, ties), images, cats, max_det)


@pytest.mark.parametrize("cats", [1, 2])
def test_native_accumulate_of_few_large_categories_matches_reference(cats, two_threads):
    # fewer categories than threads and thousands of detections: area ranges in parallel
    gt, dt = columns(7, 40, cats, 3000, 9000, grid=False, ties=True)
    _check_against_reference(gt, dt, 40, cats, 100)


def _check_against_reference(gt, dt, images, cats, max_det):
    cells = images * cats
    got = native(gt, dt, cells, max_det)
    want = ref.coco_evaluate(gt, dt, cells, IOU_THRS, AREAS, max_det)
    np.testing.assert_array_equal(got["dt_offsets"], want["dt_offsets"])
    np.testing.assert_array_equal(got["dt_index"], want["dt_index"])
    np.testing.assert_array_equal(got["status"].reshape(want["status"].shape), want["status"])
    np.testing.assert_array_equal(got["npig"].reshape(want["npig"].shape), want["npig"])
    max_dets = sorted({1, min(max_det, 10), max_det})
    p, r, s = _C.coco_accumulate(got["dt_offsets"], got["dt_score"], got["status"], got["npig"], num_areas=4,
                                 num_thresholds=10, num_images=images, categories=list(range(cats)),
                                 areas=[0, 1, 2, 3], max_dets=max_dets, images=list(range(images)),
                                 recall_thresholds=REC_THRS.tolist(), out_categories=cats, out_areas=4,
                                 out_max_dets=len(max_dets))
    wp, wr, ws = ref.coco_accumulate(want, images, list(range(cats)), max_dets, REC_THRS)
    assert np.array_equal(p, wp) and np.array_equal(r, wr) and np.array_equal(s, ws)


@given(st.integers(0, 10_000), st.integers(0, 12), st.integers(0, 12), st.sampled_from([3, 17]))
def test_native_oks_matches_reference(seed, n_gt, n_dt, k):
    gt, dt = columns(seed, 2, 1, n_gt, n_dt, False, False, kpts=k)
    sigmas = np.random.default_rng(seed).uniform(0.02, 0.2, k)
    got = native(gt, dt, 2, 100, kind=1, sigmas=sigmas)
    want = ref.coco_evaluate(gt, dt, 2, IOU_THRS, AREAS, 100, kind="keypoints", sigmas=sigmas)
    np.testing.assert_array_equal(got["status"].reshape(want["status"].shape), want["status"])


@given(st.integers(0, 10_000), st.integers(1, 11), st.integers(0, 2_000), st.integers(1, 12),
       st.floats(0, 1), st.sampled_from([1.0, 1e-3, 1e6]))
def test_native_summary_means_match_reference(seed, T, X, AM, missing, scale):
    # X up to 2,000 with up to 11 rows and 3 columns: selections past numpy's 8,192-value
    # reduction buffer, whose pairwise sums the native one must follow
    rng = np.random.default_rng(seed)
    values = rng.random((T, X, AM)) * scale
    values[rng.random(values.shape) < missing] = -1
    values[rng.random(values.shape) < 0.01] = np.nan  # not > -1: left out, as by numpy
    t_sets = [sorted(set(rng.integers(0, T, rng.integers(0, T + 1)).tolist())) for _ in range(4)] + [list(range(T))]
    am_lists = [rng.integers(0, AM, rng.integers(0, 4)).tolist() for _ in range(5)]
    assert _C.coco_summary_means(values, t_sets, am_lists) == ref.coco_summary_means(values, t_sets, am_lists)


@given(st.lists(st.integers(-1, 90), max_size=300), st.integers(0, 6000), st.integers(0, 10_000))
def test_native_cells_match_reference(category_pos, num_images, seed):
    kpos = np.asarray(category_pos, dtype=np.int64)
    ipos = np.random.default_rng(seed).integers(-1, max(num_images, 1), len(kpos))
    np.testing.assert_array_equal(_C.coco_cells(kpos, ipos, num_images), ref.coco_cells(kpos, ipos, num_images))


def test_native_cells_reject_other_shapes():
    with pytest.raises(ValueError, match="image_pos"):
        _C.coco_cells(np.zeros(3, np.int64), np.zeros(2, np.int64), 5)
    with pytest.raises(ValueError, match="num_images"):
        _C.coco_cells(np.zeros(3, np.int64), np.zeros(3, np.int64), -1)


def test_native_summary_means_reject_bad_selections():
    values = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match="shape"):
        _C.coco_summary_means(np.zeros((2, 3)), [[0]], [[0]])
    with pytest.raises(ValueError, match="rising"):
        _C.coco_summary_means(values, [[1, 0]], [[0]])
    with pytest.raises(ValueError, match="rising"):
        _C.coco_summary_means(values, [[2]], [[0]])
    with pytest.raises(ValueError, match="below AM"):
        _C.coco_summary_means(values, [[0]], [[4]])
    with pytest.raises(ValueError, match="same length"):
        _C.coco_summary_means(values, [[0]], [])


def test_native_binding_rejects_bad_shapes_and_cells():
    gt, dt = columns(0, 2, 2, 5, 5, False, False)
    with pytest.raises(ValueError, match="cell index out of range"):
        native(gt, dict(dt, cell=np.full(5, 99)), 4, 100)
    with pytest.raises(ValueError, match="dt bbox must have shape"):
        native(gt, dict(dt, bbox=np.zeros((5, 3))), 4, 100)
    with pytest.raises(ValueError, match="gt area must be one-dimensional"):
        native(dict(gt, area=np.zeros(4)), dt, 4, 100)
    state = native(gt, dt, 4, 100)
    with pytest.raises(ValueError, match="image position out of range"):
        _C.coco_accumulate(state["dt_offsets"], state["dt_score"], state["status"], state["npig"], num_areas=4,
                           num_thresholds=10, num_images=2, categories=[0], areas=[0], max_dets=[100], images=[5],
                           recall_thresholds=[0.5], out_categories=1, out_areas=1, out_max_dets=1)
    with pytest.raises(ValueError, match="category out of range"):
        _C.coco_accumulate(state["dt_offsets"], state["dt_score"], state["status"], state["npig"], num_areas=4,
                           num_thresholds=10, num_images=2, categories=[7], areas=[0], max_dets=[100], images=[0],
                           recall_thresholds=[0.5], out_categories=1, out_areas=1, out_max_dets=1)
    nan_scores = state["dt_score"].copy()
    nan_scores[0] = np.nan
    with pytest.raises(ValueError, match="dt_score must not contain NaN"):
        _C.coco_accumulate(state["dt_offsets"], nan_scores, state["status"], state["npig"], num_areas=4,
                           num_thresholds=10, num_images=2, categories=[0], areas=[0], max_dets=[100], images=[0],
                           recall_thresholds=[0.5], out_categories=1, out_areas=1, out_max_dets=1)


def _positions_by_dict(values, ids):
    last = {int(v): j for j, v in enumerate(ids)}  # a repeated id: its last position
    return np.array([last.get(int(v), -1) for v in values], dtype=np.int64)


@given(st.lists(st.integers(-5, 3000), max_size=300), st.lists(st.integers(-5, 3000), max_size=40),
       st.sampled_from([0, 1, 2**40, -(2**62)]), st.integers(1, 4))
def test_id_positions_match_a_dict_lookup(values, ids, shift, threads):
    # shift 0/1: a lookup table; 2**40 and negative ids: the sorted search
    import detkit

    values = np.array(values, dtype=np.int64) + shift
    ids = np.array(ids, dtype=np.int64) + shift
    before = detkit.get_num_threads()
    detkit.set_num_threads(threads)
    try:
        got = _C.id_positions(np.tile(values, 300), ids)  # long enough for several threads
    finally:
        detkit.set_num_threads(before)
    assert np.array_equal(got, np.tile(_positions_by_dict(values, ids), 300))


def test_id_positions_reject_other_shapes():
    with pytest.raises(ValueError, match="1-d integer arrays"):
        _C.id_positions(np.zeros((2, 2), np.int64), np.zeros(2, np.int64))
