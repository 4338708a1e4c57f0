"""NMS family: native vs reference (hypothesis, threshold edge cases), peers, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import detkit
from detkit import reference
from detkit.synthetic import clustered_boxes
from tests.conftest import boxes_and_scores, random_boxes

THRESHOLDS = st.sampled_from([0.0, 0.1, 0.2, 0.25, 1 / 3, 0.5, 0.6, 0.7, 1.0]) | st.floats(0, 1)


@given(boxes_and_scores(), THRESHOLDS, st.sampled_from([0, 1]))
def test_nms_matches_reference(data, threshold, offset):
    boxes, scores = data
    got = detkit.nms(boxes, scores, threshold, offset=offset)
    np.testing.assert_array_equal(got, reference.nms(boxes, scores, threshold, offset=offset))
    assert got.dtype == np.int64


@given(boxes_and_scores(), THRESHOLDS, st.none() | st.floats(0, 1), st.none() | st.integers(0, 30),
       st.none() | st.integers(0, 30))
def test_nms_options_match_reference(data, threshold, score_threshold, pre_top_k, max_output):
    boxes, scores = data
    kwargs = dict(score_threshold=score_threshold, pre_nms_top_k=pre_top_k, max_output=max_output)
    got = detkit.nms(boxes, scores, threshold, **kwargs)
    np.testing.assert_array_equal(got, reference.nms(boxes, scores, threshold, **kwargs))
    if max_output is not None:
        assert len(got) <= max_output


@given(boxes_and_scores(), THRESHOLDS, st.integers(1, 5), st.sampled_from([0, 1]))
def test_batched_nms_matches_reference(data, threshold, classes, offset):
    boxes, scores = data
    idxs = np.arange(len(boxes)) % classes - 2  # negative class ids are fine
    got = detkit.batched_nms(boxes, scores, idxs, threshold, offset=offset)
    np.testing.assert_array_equal(got, reference.batched_nms(boxes, scores, idxs, threshold, offset=offset))


@given(boxes_and_scores(), THRESHOLDS, st.none() | st.floats(0, 1), st.none() | st.integers(0, 30),
       st.none() | st.integers(0, 30))
def test_batched_nms_options_match_reference(data, threshold, score_threshold, pre_top_k, max_output):
    boxes, scores = data
    idxs = np.arange(len(boxes)) % 3
    kwargs = dict(score_threshold=score_threshold, pre_nms_top_k=pre_top_k, max_output=max_output)
    got = detkit.batched_nms(boxes, scores, idxs, threshold, **kwargs)
    np.testing.assert_array_equal(got, reference.batched_nms(boxes, scores, idxs, threshold, **kwargs))


@pytest.mark.parametrize("n", [1_000, 20_000])
@pytest.mark.parametrize("threshold", [0.05, 0.3, 0.5, 0.8])
def test_nms_matches_reference_on_clustered_detections(n, threshold):
    boxes, scores, labels = clustered_boxes(n, num_classes=7, seed=n)
    np.testing.assert_array_equal(detkit.nms(boxes, scores, threshold), reference.nms(boxes, scores, threshold))
    if n == 1_000:
        np.testing.assert_array_equal(detkit.batched_nms(boxes, scores, labels, threshold),
                                      reference.batched_nms(boxes, scores, labels, threshold))


def test_threshold_is_strict_and_ties_keep_lower_index():
    # IoU of these two boxes is exactly 1/3 in binary floating point terms (2 / 6).
    boxes = np.array([[0, 0, 2, 2], [1, 0, 3, 2]], np.float64)
    assert detkit.box_iou(boxes[:1], boxes[1:])[0, 0] == 2 / 6
    np.testing.assert_array_equal(detkit.nms(boxes, [0.5, 0.5], 2 / 6), [0, 1])  # not > threshold
    np.testing.assert_array_equal(detkit.nms(boxes, [0.5, 0.5], 0.3), [0])  # tie: index 0 wins
    np.testing.assert_array_equal(detkit.nms(boxes, [0.4, 0.5], 0.3), [1])
    # Identical boxes are suppressed at any threshold below 1, never at 1.
    same = np.array([[0, 0, 1, 1]] * 3, np.float32)
    np.testing.assert_array_equal(detkit.nms(same, [0.1, 0.3, 0.2], 0.99), [1])
    np.testing.assert_array_equal(detkit.nms(same, [0.1, 0.3, 0.2], 1.0), [1, 2, 0])
    # Zero-area boxes never overlap anything (IoU 0), even at threshold 0.
    np.testing.assert_array_equal(detkit.nms([[1, 1, 1, 1], [0, 0, 2, 2]], [0.9, 0.8], 0.0), [0, 1])
    # Touching boxes overlap only under the +1 convention.
    touching = [[0, 0, 1, 1], [1, 0, 2, 1]]
    np.testing.assert_array_equal(detkit.nms(touching, [0.9, 0.8], 0.0), [0, 1])
    np.testing.assert_array_equal(detkit.nms(touching, [0.9, 0.8], 0.0, offset=1), [0])


def test_score_threshold_is_strict_like_opencv():
    boxes = random_boxes(np.random.default_rng(0), 4) + np.arange(4)[:, None] * 1000
    np.testing.assert_array_equal(detkit.nms(boxes, [0.5, 0.2, 0.7, 0.5], 0.5, score_threshold=0.5), [2])


def test_batched_nms_partitions_classes_even_with_negative_coordinates():
    # torchvision's coordinate-offset trick (offset = idxs * (max coordinate + 1)) fails here:
    # the maximum coordinate is negative, so both classes land on top of each other.
    boxes = np.array([[-10, -10, -5, -5], [-10, -10, -5, -5]], np.float32)
    np.testing.assert_array_equal(detkit.batched_nms(boxes, [0.9, 0.8], [0, 1], 0.5), [0, 1])
    np.testing.assert_array_equal(detkit.batched_nms(boxes, [0.9, 0.8], [3, 3], 0.5), [0])


def test_empty_inputs_return_empty_int64():
    for fn in (lambda b, s: detkit.nms(b, s, 0.5), lambda b, s: detkit.batched_nms(b, s, [], 0.5)):
        out = fn(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))
        assert out.shape == (0,) and out.dtype == np.int64
        assert fn([], []).shape == (0,)
    keep, scores = detkit.soft_nms(np.zeros((0, 4)), np.zeros(0))
    assert keep.shape == (0,) and keep.dtype == np.int64 and scores.shape == (0,)


def test_non_contiguous_read_only_inputs_are_not_modified():
    boxes, scores, labels = clustered_boxes(500, num_classes=3, seed=3, dtype=np.float64)
    strided_boxes = np.asfortranarray(np.repeat(boxes, 2, axis=0))[::2]
    strided_scores = np.repeat(scores, 2)[::2]
    for arr in (strided_boxes, strided_scores):
        arr.setflags(write=False)
    before = strided_boxes.copy()
    np.testing.assert_array_equal(detkit.nms(strided_boxes, strided_scores, 0.5), reference.nms(boxes, scores, 0.5))
    np.testing.assert_array_equal(strided_boxes, before)


def test_mixed_dtypes_keep_score_precision():
    # float64 scores differing beyond float32 precision must still order the boxes.
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], np.float32)
    scores = np.array([0.5, 0.5 + 1e-12])
    np.testing.assert_array_equal(detkit.nms(boxes, scores, 0.5), [1])
    np.testing.assert_array_equal(detkit.nms(boxes.astype(np.int32), [1, 2], 0.5), [1])


def test_num_threads_do_not_change_batched_results():
    boxes, scores, labels = clustered_boxes(20_000, num_classes=50, seed=9)
    before = detkit.get_num_threads()
    try:
        detkit.set_num_threads(1)
        one = detkit.batched_nms(boxes, scores, labels, 0.5)
        detkit.set_num_threads(2)
        two = detkit.batched_nms(boxes, scores, labels, 0.5)
    finally:
        detkit.set_num_threads(before)
    np.testing.assert_array_equal(one, two)


# --- Soft-NMS -------------------------------------------------------------------------------


def _assert_soft_equal(got, want):
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12, atol=0)


@given(boxes_and_scores(max_n=40), st.floats(0.05, 1), st.sampled_from([0.0, 0.001, 0.1, 0.5]),
       st.sampled_from([0, 1]))
def test_soft_nms_linear_matches_reference(data, threshold, score_threshold, offset):
    boxes, scores = data
    kwargs = dict(iou_threshold=threshold, score_threshold=score_threshold, method="linear", offset=offset)
    _assert_soft_equal(detkit.soft_nms(boxes, scores.astype(np.float64), **kwargs),
                       reference.soft_nms(boxes, scores, **kwargs))


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("sigma", [0.1, 0.5, 2.0])
def test_soft_nms_gaussian_matches_reference(seed, sigma):
    # Continuous random scores: no near-ties, so an ulp of difference between libm's exp and
    # numpy's cannot reorder the selection.
    boxes, scores, labels = clustered_boxes(300, num_classes=3, seed=seed, dtype=np.float64)
    got = detkit.soft_nms(boxes, scores, sigma=sigma, score_threshold=0.01)
    _assert_soft_equal(got, reference.soft_nms(boxes, scores, sigma=sigma, score_threshold=0.01))
    assert np.all(np.diff(got[1]) <= 0)
    got = detkit.batched_soft_nms(boxes, scores, labels, sigma=sigma, max_output=50)
    _assert_soft_equal(got, reference.batched_soft_nms(boxes, scores, labels, sigma=sigma, max_output=50))


def test_soft_nms_known_values():
    boxes = [[0, 0, 10, 10], [0, 0, 10, 9], [50, 50, 60, 60]]
    keep, scores = detkit.soft_nms(boxes, [0.9, 0.8, 0.1], method="linear")
    np.testing.assert_array_equal(keep, [0, 2, 1])
    np.testing.assert_allclose(scores, [0.9, 0.1, 0.8 * 0.1])  # IoU 0.9 -> weight 0.1
    keep, scores = detkit.soft_nms(boxes, [0.9, 0.8, 0.1], sigma=0.5)
    np.testing.assert_allclose(scores, [0.9, 0.8 * np.exp(-0.81 / 0.5), 0.1])
    assert scores.dtype == np.float64
    _, s32 = detkit.soft_nms(boxes, np.array([0.9, 0.8, 0.1], np.float32))
    assert s32.dtype == np.float32
    keep, _ = detkit.batched_soft_nms(boxes, [0.9, 0.8, 0.1], [0, 1, 0], method="linear")
    np.testing.assert_array_equal(keep, [0, 1, 2])


# --- Peers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_nms_matches_opencv(seed):
    cv2 = pytest.importorskip("cv2")
    boxes, scores, _ = clustered_boxes(2_000, seed=seed, dtype=np.float64)
    xywh = detkit.box_convert(boxes, "xyxy", "xywh")
    for threshold, score_threshold in [(0.5, 0.0), (0.3, 0.4), (0.7, 0.9)]:
        want = np.asarray(cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), score_threshold, threshold)).reshape(-1)
        got = detkit.nms(boxes, scores, threshold, score_threshold=score_threshold)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("method,code", [("gaussian", 2), ("linear", 1)])
def test_soft_nms_matches_ensemble_boxes(seed, method, code):
    # ensemble-boxes ports the authors' soft-NMS to [0, 1] coordinates. It returns the kept boxes
    # in selection order with their original scores and keeps decayed scores > thresh (detkit:
    # >= thresh), which only differs on exact ties that continuous random scores do not produce.
    ensemble_boxes = pytest.importorskip("ensemble_boxes")
    boxes, scores, _ = clustered_boxes(600, seed=seed, dtype=np.float64)
    boxes /= np.array([1333, 800, 1333, 800])
    boxes = boxes[(boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])]  # it drops empty boxes
    scores = scores[: len(boxes)]
    want_boxes, want_scores, _ = ensemble_boxes.soft_nms([boxes], [scores], [np.zeros(len(boxes))],
                                                         method=code, iou_thr=0.3, sigma=0.5, thresh=0.001)
    keep, _ = detkit.soft_nms(boxes, scores, iou_threshold=0.3, sigma=0.5, score_threshold=0.001, method=method)
    assert 0 < len(want_boxes) < len(boxes)  # some boxes decayed away, some survived
    np.testing.assert_array_equal(boxes[keep], want_boxes)
    np.testing.assert_array_equal(scores[keep], want_scores)


def test_nms_matches_torchvision():
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    boxes, scores, labels = clustered_boxes(3_000, num_classes=5, seed=4)
    tb, ts, tl = torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(labels)
    np.testing.assert_array_equal(detkit.nms(boxes, scores, 0.5), torchvision.ops.nms(tb, ts, 0.5).numpy())
    np.testing.assert_array_equal(detkit.batched_nms(boxes, scores, labels, 0.5),
                                  torchvision.ops.batched_nms(tb, ts, tl, 0.5).numpy())
    np.testing.assert_allclose(detkit.box_iou(boxes[:300], boxes[300:600]),
                               torchvision.ops.box_iou(tb[:300], tb[300:600]).numpy(), rtol=1e-6, atol=1e-7)
    for ours, theirs in [(detkit.generalized_box_iou, torchvision.ops.generalized_box_iou),
                         (detkit.distance_box_iou, torchvision.ops.distance_box_iou),
                         (detkit.complete_box_iou, torchvision.ops.complete_box_iou)]:
        np.testing.assert_allclose(ours(boxes[:300], boxes[300:600]), theirs(tb[:300], tb[300:600]).numpy(),
                                   rtol=1e-5, atol=1e-5)


# --- Errors ---------------------------------------------------------------------------------


GOOD = np.array([[0, 0, 1, 1], [0, 0, 2, 2]], np.float32)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: detkit.nms(GOOD, [0.1], 0.5), ValueError, r"scores must have shape \(2,\)"),
    (lambda: detkit.nms(GOOD, [[0.1, 0.2]], 0.5), ValueError, r"scores must have shape \(2,\)"),
    (lambda: detkit.nms(GOOD, [0.1, np.nan], 0.5), ValueError, "scores must be finite"),
    (lambda: detkit.nms(GOOD, [0.1, np.inf], 0.5), ValueError, "scores must be finite"),
    (lambda: detkit.nms(GOOD, ["a", "b"], 0.5), TypeError, "scores must hold real numbers"),
    (lambda: detkit.nms([[0, 0, np.nan, 1]], [0.1], 0.5), ValueError, "boxes must be finite"),
    (lambda: detkit.nms([[1, 0, 0, 1]], [0.1], 0.5), ValueError, "x2 >= x1"),
    (lambda: detkit.nms(GOOD[:, :3], [0.1, 0.2], 0.5), ValueError, r"boxes must have shape \(N, 4\)"),
    (lambda: detkit.nms(GOOD, [0.1, 0.2], 1.5), ValueError, r"iou_threshold must be in \[0.0, 1.0\]"),
    (lambda: detkit.nms(GOOD, [0.1, 0.2], -0.1), ValueError, r"iou_threshold must be in \[0.0, 1.0\]"),
    (lambda: detkit.nms(GOOD, [0.1, 0.2], np.nan), ValueError, "iou_threshold must be finite"),
    (lambda: detkit.nms(GOOD, [0.1, 0.2], "0.5"), TypeError, "iou_threshold must be a real number"),
    (lambda: detkit.nms(GOOD, [0.1, 0.2], 0.5, max_output=-1), ValueError, "max_output must be a non-negative"),
    (lambda: detkit.nms(GOOD, [0.1, 0.2], 0.5, pre_nms_top_k=1.5), TypeError, "pre_nms_top_k must be a non-negative"),
    (lambda: detkit.nms(GOOD, [0.1, 0.2], 0.5, score_threshold=np.inf), ValueError, "score_threshold must be finite"),
    (lambda: detkit.nms(GOOD, [0.1, 0.2], 0.5, offset=0.5), ValueError, "offset must be 0 or 1"),
    (lambda: detkit.batched_nms(GOOD, [0.1, 0.2], [0], 0.5), ValueError, r"idxs must have shape \(2,\)"),
    (lambda: detkit.batched_nms(GOOD, [0.1, 0.2], [0.0, 1.0], 0.5), TypeError, "idxs must hold integers"),
    (lambda: detkit.soft_nms(GOOD, [0.1, 0.2], sigma=0), ValueError, r"sigma must be in \(0.0"),
    (lambda: detkit.soft_nms(GOOD, [0.1, 0.2], method="hard"), ValueError, "method must be one of"),
    (lambda: detkit.soft_nms(GOOD, [0.1, 0.2], iou_threshold=2), ValueError, "iou_threshold must be in"),
    (lambda: detkit.batched_soft_nms(GOOD, [0.1, 0.2], [1]), ValueError, r"idxs must have shape \(2,\)"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_threads_release_gil_and_are_thread_safe():
    from concurrent.futures import ThreadPoolExecutor

    boxes, scores, labels = clustered_boxes(5_000, num_classes=10, seed=11)
    want = reference.batched_nms(boxes, scores, labels, 0.5)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: detkit.batched_nms(boxes, scores, labels, 0.5), range(8)))
    for got in results:
        np.testing.assert_array_equal(got, want)
