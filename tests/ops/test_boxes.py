"""Box geometry ops: native vs reference, torchvision semantics, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import detkit
from detkit import reference
from tests.conftest import random_boxes, xyxy_boxes

FORMATS = ["xyxy", "xywh", "cxcywh"]
PAIRWISE = [
    (detkit.box_iou, reference.box_iou, {}),
    (detkit.generalized_box_iou, reference.generalized_box_iou, {}),
    (detkit.distance_box_iou, reference.distance_box_iou, {}),
    (detkit.complete_box_iou, reference.complete_box_iou, {}),
]


@given(xyxy_boxes(), st.sampled_from(FORMATS), st.sampled_from(FORMATS))
def test_box_convert_matches_reference(boxes, in_fmt, out_fmt):
    # Valid xyxy boxes are valid in every format (non-negative third and fourth columns).
    src = reference.box_convert(boxes, "xyxy", in_fmt)
    got = detkit.box_convert(src, in_fmt, out_fmt)
    np.testing.assert_array_equal(got, reference.box_convert(src, in_fmt, out_fmt))
    assert got.dtype == boxes.dtype


@given(xyxy_boxes(grid=True), st.sampled_from(FORMATS))
def test_box_convert_round_trip_is_exact_on_grid(boxes, fmt):
    there = detkit.box_convert(boxes, "xyxy", fmt)
    np.testing.assert_array_equal(detkit.box_convert(there, fmt, "xyxy"), boxes)


def test_box_convert_known_values():
    np.testing.assert_array_equal(detkit.box_convert([[10, 20, 30, 40]], "xyxy", "xywh"), [[10, 20, 20, 20]])
    np.testing.assert_array_equal(detkit.box_convert([[20, 30, 20, 20]], "cxcywh", "xyxy"), [[10, 20, 30, 40]])
    np.testing.assert_array_equal(detkit.box_convert([[10, 20, 20, 20]], "xywh", "cxcywh"), [[20, 30, 20, 20]])


@given(xyxy_boxes(), st.sampled_from([0, 1]))
def test_box_area_matches_reference(boxes, offset):
    np.testing.assert_array_equal(detkit.box_area(boxes, offset), reference.box_area(boxes, offset))


@given(xyxy_boxes(), st.floats(0.5, 500), st.floats(0.5, 500))
def test_clip_matches_reference(boxes, h, w):
    got = detkit.clip_boxes_to_image(boxes, (h, w))
    np.testing.assert_array_equal(got, reference.clip_boxes_to_image(boxes, (h, w)))
    assert (got[:, 0::2] <= np.float32(w) if boxes.dtype == np.float32 else got[:, 0::2] <= w).all()
    assert (got >= 0).all()


@given(xyxy_boxes(), st.floats(0, 10))
def test_remove_small_boxes_matches_reference(boxes, min_size):
    got = detkit.remove_small_boxes(boxes, min_size)
    np.testing.assert_array_equal(got, reference.remove_small_boxes(boxes, min_size))
    assert got.dtype == np.int64


@pytest.mark.parametrize("native,ref,kw", PAIRWISE)
@given(a=xyxy_boxes(), b=xyxy_boxes())
def test_pairwise_matches_reference(native, ref, kw, a, b):
    b = b.astype(a.dtype)
    got = native(a, b)
    want = ref(a, b)
    assert got.shape == (len(a), len(b)) and got.dtype == a.dtype
    if native is detkit.complete_box_iou:  # atan2 may differ in the last ulp between libms
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("native,ref,kw", PAIRWISE)
@given(a=xyxy_boxes(min_n=1, max_n=20))
def test_aligned_equals_diagonal_of_pairwise(native, ref, kw, a):
    b = a[::-1].copy()
    got = native(a, b, aligned=True)
    assert got.shape == (len(a),)
    np.testing.assert_array_equal(got, np.diagonal(native(a, b)))
    tol = dict(rtol=1e-5, atol=1e-6) if native is detkit.complete_box_iou else dict(rtol=0, atol=0)
    np.testing.assert_allclose(got, ref(a, b, aligned=True), **tol)


@given(xyxy_boxes(), xyxy_boxes(), st.sampled_from([0, 1]))
def test_box_iou_offset_matches_reference(a, b, offset):
    b = b.astype(a.dtype)
    np.testing.assert_array_equal(detkit.box_iou(a, b, offset), reference.box_iou(a, b, offset))


def test_iou_known_values_and_conventions():
    a = [[0, 0, 2, 2]]
    np.testing.assert_allclose(detkit.box_iou(a, [[1, 0, 3, 2]]), [[1 / 3]])
    # Union 0: IoU defined as 0 (torchvision gives NaN).
    assert detkit.box_iou([[1, 1, 1, 1]], [[1, 1, 1, 1]])[0, 0] == 0
    # "+1" convention: a 1-pixel box has area 1 with offset=1.
    np.testing.assert_array_equal(detkit.box_area([[5, 5, 5, 5]], offset=1), [1])
    np.testing.assert_allclose(detkit.generalized_box_iou([[0, 0, 1, 1]], [[2, 0, 3, 1]]), [[-1 / 3]])
    np.testing.assert_allclose(detkit.distance_box_iou([[0, 0, 1, 1]], [[1, 0, 2, 1]], eps=0), [[-0.2]])
    assert np.isfinite(detkit.complete_box_iou([[0, 0, 2, 0]], [[0, 0, 2, 1]])).all()


def test_mixed_dtypes_promote_to_float64():
    a = np.array([[0, 0, 1, 1]], np.float32)
    b = np.array([[0, 0, 1, 1]], np.float64)
    assert detkit.box_iou(a, b).dtype == np.float64
    assert detkit.box_iou(a, a).dtype == np.float32
    assert detkit.box_iou([[0, 0, 1, 1]], [[0, 0, 1, 1]]).dtype == np.float64  # ints -> float64


def test_non_contiguous_and_read_only_inputs():
    rng = np.random.default_rng(0)
    big = random_boxes(rng, 50)
    strided = np.asfortranarray(big)[::2]
    ro = big.copy()
    ro.setflags(write=False)
    np.testing.assert_array_equal(detkit.box_iou(strided, ro), reference.box_iou(np.ascontiguousarray(strided), ro))
    np.testing.assert_array_equal(detkit.box_convert(ro, "xyxy", "xywh"), reference.box_convert(ro, "xyxy", "xywh"))
    assert not ro.flags.writeable  # untouched


def test_empty_inputs():
    empty = np.zeros((0, 4), np.float32)
    assert detkit.box_iou(empty, [[0, 0, 1, 1]]).shape == (0, 1)
    assert detkit.box_iou([], []).shape == (0, 0)
    assert detkit.box_area(empty).shape == (0,)
    assert detkit.remove_small_boxes(empty, 1).shape == (0,)
    assert detkit.box_convert(empty, "xyxy", "cxcywh").shape == (0, 4)
    assert detkit.complete_box_iou(empty, empty, aligned=True).shape == (0,)


def test_num_threads_do_not_change_results():
    rng = np.random.default_rng(1)
    a, b = random_boxes(rng, 700, np.float32), random_boxes(rng, 500, np.float32)
    before = detkit.get_num_threads()
    try:
        detkit.set_num_threads(1)
        one = detkit.complete_box_iou(a, b)
        detkit.set_num_threads(2)
        two = detkit.complete_box_iou(a, b)
    finally:
        detkit.set_num_threads(before)
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("bad,exc,match", [
    (np.zeros((3, 3)), ValueError, r"boxes1 must have shape \(N, 4\)"),
    (np.zeros(4), ValueError, r"boxes1 must have shape \(N, 4\)"),
    ([[0, 0, 1, np.nan]], ValueError, "boxes1 must be finite"),
    ([[0, 0, np.inf, 1]], ValueError, "boxes1 must be finite"),
    ([[2, 0, 1, 1]], ValueError, r"x2 >= x1 and y2 >= y1; box 0"),
    ([[0, 3, 1, 1]], ValueError, r"x2 >= x1"),
    (np.array([[True, False, True, True]]), TypeError, "boxes1 must hold real numbers"),
    (np.array([["a", "b", "c", "d"]]), TypeError, "boxes1 must hold real numbers"),
    (np.array([[1j, 0, 1, 1]]), TypeError, "boxes1 must hold real numbers"),
])
def test_iou_rejects_bad_boxes(bad, exc, match):
    with pytest.raises(exc, match=match):
        detkit.box_iou(bad, [[0, 0, 1, 1]])


def test_other_argument_errors():
    with pytest.raises(ValueError, match="offset must be 0 or 1"):
        detkit.box_iou([[0, 0, 1, 1]], [[0, 0, 1, 1]], offset=2)
    with pytest.raises(ValueError, match="same length"):
        detkit.box_iou([[0, 0, 1, 1]], [[0, 0, 1, 1]] * 2, aligned=True)
    with pytest.raises(ValueError, match="in_fmt must be one of"):
        detkit.box_convert([[0, 0, 1, 1]], "xyz", "xyxy")
    with pytest.raises(ValueError, match="out_fmt must be one of"):
        detkit.box_convert([[0, 0, 1, 1]], "xyxy", "yolo")
    with pytest.raises(ValueError, match="width >= 0 and height >= 0"):
        detkit.box_convert([[0, 0, -1, 1]], "xywh", "xyxy")
    with pytest.raises(TypeError, match=r"size must be a \(height, width\) pair"):
        detkit.clip_boxes_to_image([[0, 0, 1, 1]], 5)
    with pytest.raises(ValueError, match=r"size\[1\] \(width\) must be in \(0.0"):
        detkit.clip_boxes_to_image([[0, 0, 1, 1]], (5, 0))
    with pytest.raises(ValueError, match="min_size must be in"):
        detkit.remove_small_boxes([[0, 0, 1, 1]], -1)
    with pytest.raises(ValueError, match="eps must be in"):
        detkit.distance_box_iou([[0, 0, 1, 1]], [[0, 0, 1, 1]], eps=-1)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        detkit.set_num_threads(0)


def test_box_ops_match_torchvision_formulas_on_known_pairs():
    """Values torchvision documents for its ops, recomputed by hand (no torch needed)."""
    a = np.array([[0.0, 0.0, 4.0, 2.0]])
    b = np.array([[2.0, 1.0, 6.0, 5.0]])
    inter, union = 2.0 * 1.0, 8.0 + 16.0 - 2.0
    np.testing.assert_allclose(detkit.box_iou(a, b), [[inter / union]])
    enclose = 6.0 * 5.0
    np.testing.assert_allclose(detkit.generalized_box_iou(a, b), [[inter / union - (enclose - union) / enclose]])
    centre = (2.0 - 4.0) ** 2 + (1.0 - 3.0) ** 2
    np.testing.assert_allclose(detkit.distance_box_iou(a, b, eps=0), [[inter / union - centre / (36.0 + 25.0)]])


@pytest.mark.parametrize("native,ref,kw", PAIRWISE)
@pytest.mark.parametrize("aligned", [False, True])
def test_out_buffer_receives_the_result(native, ref, kw, aligned):
    rng = np.random.default_rng(2)
    a, b = random_boxes(rng, 30, np.float32), random_boxes(rng, 30 if aligned else 20, np.float32)
    expected = native(a, b, aligned=aligned)
    out = np.full(expected.shape, np.nan, np.float32)
    assert native(a, b, aligned=aligned, out=out) is out
    np.testing.assert_array_equal(out, expected)


def _out_errors():
    good = np.empty((2, 3), np.float32)
    read_only = good.copy()
    read_only.setflags(write=False)
    return [
        ([[0.0, 0, 1, 1]], TypeError, "out must be a numpy.ndarray"),
        (np.empty((2, 3), np.float64), ValueError, r"out must have shape \(2, 3\) and dtype float32"),
        (np.empty((3, 2), np.float32), ValueError, r"out must have shape \(2, 3\)"),
        (np.empty((2, 6), np.float32)[:, ::2], ValueError, "out must be C-contiguous and writeable"),
        (read_only, ValueError, "out must be C-contiguous and writeable"),
    ]


@pytest.mark.parametrize("out,exc,match", _out_errors())
def test_out_buffer_errors(out, exc, match):
    a = np.zeros((2, 4), np.float32)
    b = np.zeros((3, 4), np.float32)
    with pytest.raises(exc, match=match):
        detkit.box_iou(a, b, out=out)


def test_out_buffer_must_not_overlap_the_inputs():
    buf = np.zeros((4, 4), np.float32)
    with pytest.raises(ValueError, match="out must not share memory with the inputs"):
        detkit.box_iou(buf, buf, out=buf)


def test_binding_rechecks_out_buffer():
    # The Python layer validates first; the binding still refuses a buffer it cannot write safely.
    a = np.zeros((2, 4), np.float32)
    with pytest.raises(ValueError, match="out must be a writeable C-contiguous array"):
        detkit._C.box_iou_pairwise(a, a, 0, 0.0, 0.0, np.empty((3, 2), np.float32))
    with pytest.raises(TypeError, match="out has the wrong dtype"):
        detkit._C.box_iou_pairwise(a, a, 0, 0.0, 0.0, np.empty((2, 2), np.float64))


def test_result_too_large_to_allocate_raises_memory_error():
    # 10^6 x 10^6 float32 is 3.6 TiB: refused up front by the allocator, before any kernel runs.
    boxes = np.zeros((1_000_000, 4), np.float32)
    with pytest.raises(MemoryError):
        detkit.box_iou(boxes, boxes)
