"""Result dicts read by the Cython fast path (detkit._cy_results) give exactly the columns of the
general reader; every shape the fast path does not take is left to the general reader."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detkit import _cy_results
from detkit.eval import COCO, COCOeval
from detkit.eval.coco import _general_result_columns
from tests.eval.test_coco import _quiet

plain_ints = st.integers(-5, 10**6)
odd_ints = st.one_of(st.booleans(), st.integers(2**63, 2**70), st.integers(0, 9).map(np.int64), st.just("3"))
plain_numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**53), 2**53))
odd_numbers = st.one_of(st.integers(2**53 + 1, 2**64), st.floats(width=32).map(np.float32), st.booleans(),
                        st.just(None), st.just("0.5"), st.floats().map(np.float64))


def numbers(odd):
    return st.one_of(plain_numbers, odd_numbers) if odd else plain_numbers


@st.composite
def result_lists(draw):
    """Lists of box or keypoint result dicts: mostly plain, sometimes with one odd value or shape."""
    n = draw(st.integers(1, 8))
    with_box, with_kp = draw(st.booleans()), draw(st.booleans())
    width = draw(st.sampled_from([3, 6]))
    odd = draw(st.booleans())
    records = []
    for _ in range(n):
        rec = {"image_id": draw(st.one_of(plain_ints, odd_ints) if odd else plain_ints),
               "category_id": draw(plain_ints), "score": draw(numbers(odd))}
        if with_box:
            box = [draw(numbers(odd)) for _ in range(4 if not odd else draw(st.sampled_from([4, 4, 3])))]
            rec["bbox"] = tuple(box) if draw(st.booleans()) else box
        if with_kp:
            rec["keypoints"] = [draw(numbers(odd)) for _ in range(width)]
        if odd and draw(st.integers(0, 9)) == 0:
            rec.pop(draw(st.sampled_from(sorted(rec))))
        if odd and draw(st.integers(0, 9)) == 0:
            rec["segmentation"] = {"size": [2, 2], "counts": "04"}
        records.append(rec)
    return records


def assert_same_columns(fast, general):
    assert general is not None and sorted(fast) == sorted(general)
    for key in fast:
        a, b = fast[key], general[key]
        if isinstance(a, dict):
            assert sorted(a) == sorted(b) and all(np.array_equal(a[k], b[k]) for k in a)
            continue
        assert a.dtype == b.dtype and a.shape == b.shape, key
        if a.dtype == np.float64:  # bit for bit (NaN, -0.0)
            assert np.array_equal(a.view(np.int64), b.view(np.int64)), key
        else:
            assert np.array_equal(a, b), key


@given(result_lists())
def test_fast_result_columns_equal_the_general_reader(records):
    fast = _cy_results.result_columns(records)
    if fast is not None:
        assert_same_columns(fast, _general_result_columns(records))


@pytest.mark.parametrize("with_box,with_kp", [(True, False), (False, True), (True, True)])
def test_plain_results_take_the_fast_path(with_box, with_kp):
    rng = np.random.default_rng(0)
    records = []
    for i in range(50):
        rec = {"image_id": int(rng.integers(1, 5)), "category_id": 1, "score": float(rng.random())}
        if with_box:
            rec["bbox"] = [float(v) for v in rng.uniform(0, 50, 4)]
        if with_kp:
            rec["keypoints"] = [float(v) for v in rng.uniform(0, 50, 9)]
        records.append(rec)
    fast = _cy_results.result_columns(records)
    assert fast is not None
    assert_same_columns(fast, _general_result_columns(records))


def test_other_shapes_are_left_to_the_general_reader():
    base = {"image_id": 1, "category_id": 1, "score": 0.5, "bbox": [0, 0, 1, 1]}
    for odd in ({"image_id": True}, {"score": np.float32(0.5)}, {"bbox": np.zeros(4)}, {"bbox": [0, 0, 1]},
                {"segmentation": {"size": [1, 1], "counts": "01"}}, {"image_id": 2**64}):
        assert _cy_results.result_columns([base, dict(base, **odd)]) is None
    assert _cy_results.result_columns([base, [1, 2]]) is None
    assert _cy_results.result_columns([]) is None


def test_loadres_of_odd_dicts_still_equals_plain_dicts():
    # numpy scores take the general reader: same evaluation as the same values given as floats
    gt = {"images": [{"id": 1, "width": 100, "height": 100}], "categories": [{"id": 1}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "area": 400,
                           "iscrowd": 0}]}
    plain = [{"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 21], "score": 0.75},
             {"image_id": 1, "category_id": 1, "bbox": [50, 50, 5, 5], "score": 0.25}]
    odd = [dict(r, score=np.float32(r["score"])) for r in plain]
    stats = []
    for records in (plain, odd):
        g = COCO(gt)
        e = COCOeval(g, g.loadRes(records), "bbox")
        e.evaluate(), e.accumulate(), _quiet(e.summarize)
        stats.append(e.stats)
    assert np.array_equal(stats[0], stats[1]) and stats[0][0] > 0
