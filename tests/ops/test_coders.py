"""Box coders, YOLO/anchor-free decoding, Matcher and sampler: torchvision peers, inverse pairs,
documented formulas, errors."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import detkit
from detkit import reference
from tests.conftest import random_boxes


def _positive_boxes(rng, n, dtype=np.float64):
    boxes = random_boxes(rng, n, dtype)
    boxes[:, 2:] += 1  # positive widths and heights
    return boxes


def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-9)


def _assert_corners_close(got, want, dtype):
    """Decoded (..., 4) x1 y1 x2 y2 boxes within tolerance of the box's size, not the corner's: a
    corner is ctr -/+ size / 2, so its rounding error scales with max(|x1|, |x2|) (a small corner
    of a large box is a difference of two large terms, each a few ulp off)."""
    tol = _tol(dtype)
    scale = np.maximum(np.abs(want[..., [0, 1, 0, 1]]), np.abs(want[..., [2, 3, 2, 3]]))
    finite = np.isfinite(got) & np.isfinite(want)
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(want))
    np.testing.assert_array_equal(got[~finite], want[~finite])  # the same infinities (or NaN)
    bound = tol["rtol"] * np.where(finite, scale, 0) + tol["atol"]
    with np.errstate(invalid="ignore"):  # inf - inf where both are infinite (compared above)
        bad = finite & ~(np.abs(got.astype(np.float64) - want) <= bound)
    assert not bad.any(), f"{int(bad.sum())} corners off, e.g. {got[bad][:3]} vs {want[bad][:3]}"


# --- BoxCoder ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weights", [(10.0, 10.0, 5.0, 5.0), (1.0, 1.0, 1.0, 1.0), (2.0, 3.0, 0.5, 7.0)])
def test_box_coder_matches_torchvision(dtype, weights):
    torch = pytest.importorskip("torch")
    utils = pytest.importorskip("torchvision.models.detection._utils")
    rng = np.random.default_rng(0)
    anchors, gt = _positive_boxes(rng, 1000, dtype), _positive_boxes(rng, 1000, dtype)
    ours, theirs = detkit.BoxCoder(weights), utils.BoxCoder(weights)
    want = theirs.encode_single(torch.tensor(gt), torch.tensor(anchors)).numpy()
    np.testing.assert_allclose(ours.encode(gt, anchors), want, **_tol(dtype))
    deltas = rng.normal(0, 3, (1000, 4 * 5)).astype(dtype)  # 5 classes, some dw/dh beyond the clamp
    deltas[:10, 2] = 100
    want = theirs.decode_single(torch.tensor(deltas), torch.tensor(anchors)).numpy()
    np.testing.assert_allclose(ours.decode(deltas, anchors), want, **_tol(dtype))
    want3 = theirs.decode(torch.tensor(deltas), [torch.tensor(anchors)]).numpy()
    np.testing.assert_allclose(ours.decode(deltas.reshape(1000, 5, 4), anchors), want3, **_tol(dtype))


@given(st.integers(0, 60), st.integers(1, 4), st.sampled_from([np.float32, np.float64]), st.integers(0, 2**31),
       st.sampled_from([(10.0, 10.0, 5.0, 5.0), (1.0, 1.0, 1.0, 1.0), (0.5, 2.0, 3.0, 0.25)]),
       st.sampled_from([math.log(1000 / 16), 0.0, 1e9]))
def test_box_coder_matches_reference(n, classes, dtype, seed, weights, clip):
    rng = np.random.default_rng(seed)
    anchors, gt = _positive_boxes(rng, n, dtype), _positive_boxes(rng, n, dtype)
    gt[: n // 4, 2] = gt[: n // 4, 0]  # zero-width targets: -inf log terms
    deltas = (rng.normal(0, 4, (n, classes, 4)) * rng.choice([1, 1, 30], (n, classes, 4))).astype(dtype)
    coder = detkit.BoxCoder(weights, clip)
    tol = _tol(dtype)
    np.testing.assert_allclose(coder.encode(gt, anchors), reference.encode_boxes(gt, anchors, weights), **tol)
    with np.errstate(over="ignore"):
        want = reference.decode_boxes(deltas, anchors, weights, clip)
    got = coder.decode(deltas, anchors)
    assert got.dtype == dtype and got.shape == deltas.shape
    _assert_corners_close(got, want, dtype)


def test_box_coder_special_values():
    coder = detkit.BoxCoder((1, 1, 1, 1), bbox_xform_clip=1e9)
    for dtype in (np.float32, np.float64):
        out = coder.decode(np.array([[0, 0, 1000, -1000]], dtype), np.array([[0, 0, 2, 2]], dtype))
        assert out[0, 0] == -np.inf and out[0, 2] == np.inf and out[0, 1] == out[0, 3] == 1
        enc = coder.encode(np.array([[1, 1, 1, 3]], dtype), np.array([[0, 0, 2, 2]], dtype))
        assert enc[0, 2] == -np.inf and enc[0, 3] == 0
        tiny = coder.encode(np.array([[0, 0, 1e-30, 1e-42]], dtype), np.array([[0, 0, 1, 1]], dtype))
        np.testing.assert_allclose(tiny[0, 2:], [np.log(1e-30), np.log(dtype(1e-42))], rtol=1e-6)


@given(hnp.arrays(np.float64, (20, 4), elements=st.floats(-2, 2)), st.integers(0, 2**31))
def test_box_coder_decode_inverts_encode(deltas, seed):
    coder = detkit.BoxCoder((10, 10, 5, 5))
    anchors = _positive_boxes(np.random.default_rng(seed), 20)
    boxes = coder.decode(deltas, anchors)
    np.testing.assert_allclose(coder.encode(boxes, anchors), deltas, atol=1e-8)
    np.testing.assert_allclose(coder.decode(coder.encode(boxes, anchors), anchors), boxes, rtol=1e-10, atol=1e-8)


def test_box_coder_clamps_scale_deltas():
    coder = detkit.BoxCoder((1, 1, 1, 1))
    out = coder.decode([[0, 0, 50, -50]], [[0, 0, 16, 16]])
    w = 16 * 1000 / 16  # exp(log(1000 / 16)) * 16
    np.testing.assert_allclose(out, [[8 - w / 2, 8 - 16 * math.exp(-50) / 2, 8 + w / 2, 8 + 16 * math.exp(-50) / 2]])
    assert detkit.BoxCoder().decode(np.zeros((0, 8)), np.zeros((0, 4))).shape == (0, 8)


# --- SSD --------------------------------------------------------------------------------------


def test_ssd_coder_round_trip_and_equivalence_with_box_coder():
    rng = np.random.default_rng(1)
    gt = _positive_boxes(rng, 200) / 300
    priors = detkit.box_convert(_positive_boxes(rng, 200) / 300, "xyxy", "cxcywh")
    coder = detkit.SSDBoxCoder((0.1, 0.2))
    loc = coder.encode(gt, priors)
    np.testing.assert_allclose(coder.decode(loc, priors), gt, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(coder.decode(loc, priors, out_fmt="cxcywh"), detkit.box_convert(gt, "xyxy", "cxcywh"),
                               atol=1e-12)
    priors_xyxy = detkit.box_convert(priors, "cxcywh", "xyxy")
    np.testing.assert_allclose(loc, detkit.BoxCoder((10, 10, 5, 5)).encode(gt, priors_xyxy), rtol=1e-9, atol=1e-9)


# --- YOLO and anchor-free ----------------------------------------------------------------------


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("version", ["v2", "v3", "v5"])
def test_yolo_decode_formulas(version):
    rng = np.random.default_rng(2)
    grid, anchor_wh, strides = detkit.yolo_grid([(4, 5), (2, 3)], [8, 16], [[[10, 13], [16, 30]], [[30, 61], [62, 45]]],
                                                dtype=np.float64)
    pred = rng.normal(0, 2, (len(grid), 4))
    got = detkit.yolo_decode(pred, grid, anchor_wh, strides, version=version, out_fmt="cxcywh")
    if version == "v5":
        xy = (_sigmoid(pred[:, :2]) * 2 - 0.5 + grid) * strides[:, None]
        wh = (_sigmoid(pred[:, 2:]) * 2) ** 2 * anchor_wh
    else:
        xy = (_sigmoid(pred[:, :2]) + grid) * strides[:, None]
        wh = np.exp(pred[:, 2:]) * anchor_wh
    np.testing.assert_allclose(got, np.concatenate([xy, wh], axis=1), rtol=1e-12)
    np.testing.assert_allclose(detkit.yolo_decode(pred, grid, anchor_wh, strides, version=version),
                               detkit.box_convert(got, "cxcywh", "xyxy"), rtol=1e-12, atol=1e-12)
    # Zero logits: the cell centre and the anchor itself, for every version.
    zero = detkit.yolo_decode(np.zeros((len(grid), 4)), grid, anchor_wh, strides, version=version, out_fmt="cxcywh")
    np.testing.assert_allclose(zero, np.concatenate([(grid + 0.5) * strides[:, None], anchor_wh], axis=1))


def test_yolo_decode_is_stable_and_keeps_float32():
    pred = np.array([[-1e4, 1e4, -1e4, 50]], np.float32)
    out = detkit.yolo_decode(pred, [[3, 3]], [[10, 10]], np.float32(8), version="v5", out_fmt="cxcywh")
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[(3 - 0.5) * 8, (3 + 1.5) * 8, 0, 40]])


def test_distance_coders():
    rng = np.random.default_rng(3)
    points = rng.uniform(0, 100, (50, 2))
    dist = rng.uniform(0, 30, (50, 4))
    boxes = detkit.dist2bbox(dist, points)
    np.testing.assert_allclose(detkit.bbox2dist(points, boxes), dist, atol=1e-12)
    np.testing.assert_allclose(detkit.dist2bbox(dist, points, out_fmt="cxcywh"),
                               detkit.box_convert(boxes, "xyxy", "cxcywh"), atol=1e-12)
    clipped = detkit.bbox2dist(points + 40, boxes, max_dist=14.99)
    assert clipped.min() >= 0 and clipped.max() <= 14.99


def test_dfl_decode_matches_softmax_expectation():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    logits = rng.normal(0, 3, (30, 4, 16))
    want = (torch.softmax(torch.tensor(logits), dim=2) * torch.arange(16, dtype=torch.float64)).sum(2).numpy()
    np.testing.assert_allclose(detkit.dfl_decode(logits), want, rtol=1e-12)
    np.testing.assert_allclose(detkit.dfl_decode(logits.reshape(30, 64), reg_max=15), want, rtol=1e-12)


def test_dfl_decode_one_hot_and_large_logits():
    logits = np.full((1, 4, 17), -1e4)
    logits[0, np.arange(4), [0, 5, 16, 9]] = 1e4
    np.testing.assert_array_equal(detkit.dfl_decode(logits), [[0, 5, 16, 9]])


# --- Matcher and sampler -----------------------------------------------------------------------


@st.composite
def quality_matrices(draw):
    m, n = draw(st.integers(1, 8)), draw(st.integers(1, 30))
    values = st.sampled_from([0.0, 0.1, 0.3, 0.4, 0.5, 0.7, 0.9, 1.0]) | st.floats(0, 1)
    return draw(hnp.arrays(np.float64, (m, n), elements=values))


@given(quality_matrices(), st.sampled_from([(0.7, 0.3), (0.5, 0.4), (0.5, 0.5), (0.0, 0.0)]), st.booleans())
def test_matcher_matches_torchvision(matrix, thresholds, low_quality):
    torch = pytest.importorskip("torch")
    utils = pytest.importorskip("torchvision.models.detection._utils")
    high, low = thresholds
    want = utils.Matcher(high, low, low_quality)(torch.tensor(matrix)).numpy()
    got = detkit.Matcher(high, low, low_quality)(matrix)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)


def test_matcher_rules():
    q = np.array([[0.8, 0.5, 0.2, 0.1],
                  [0.6, 0.65, 0.2, 0.05]])
    np.testing.assert_array_equal(detkit.Matcher(0.7, 0.3)(q), [0, -2, -1, -1])
    # Ground truth 1's best prediction (column 1, 0.65) is matched despite the thresholds.
    np.testing.assert_array_equal(detkit.Matcher(0.7, 0.3, True)(q), [0, 1, -1, -1])
    # Ties of a ground truth's best quality are all matched; thresholds are inclusive at high.
    tied = np.array([[0.4, 0.4, 0.1]])
    np.testing.assert_array_equal(detkit.Matcher(0.7, 0.4, True)(tied), [0, 0, -1])
    np.testing.assert_array_equal(detkit.Matcher(0.4, 0.2)(tied), [0, 0, -1])


def test_sampler_counts_and_reproducibility():
    rng = np.random.default_rng(5)
    labels = [rng.integers(-1, 4, 1000), np.array([0, 0, 0, 1]), np.array([-1, -1]), np.zeros(0, np.int64)]
    pos, neg = detkit.BalancedPositiveNegativeSampler(256, 0.25, seed=7)(labels)
    for m, p, n in zip(labels, pos, neg):
        num_pos = min((m >= 1).sum(), int(256 * 0.25))
        assert p.sum() == num_pos and n.sum() == min((m == 0).sum(), 256 - num_pos)
        assert (m[p] >= 1).all() and (m[n] == 0).all() and not (p & n).any()
        assert p.dtype == bool and p.shape == m.shape
    again = detkit.BalancedPositiveNegativeSampler(256, 0.25, seed=7)(labels)
    for a, b in zip(pos + neg, again[0] + again[1]):
        np.testing.assert_array_equal(a, b)
    other = detkit.BalancedPositiveNegativeSampler(256, 0.25, seed=8)(labels)
    assert not np.array_equal(pos[0], other[0][0])


# --- errors -----------------------------------------------------------------------------------


def test_coder_errors():
    with pytest.raises(ValueError, match=r"weights must be 4 numbers"):
        detkit.BoxCoder((1, 1, 1))
    with pytest.raises(ValueError, match=r"weights\[2\] must be in \(0.0"):
        detkit.BoxCoder((1, 1, 0, 1))
    with pytest.raises(TypeError, match="bbox_xform_clip must be a real number"):
        detkit.BoxCoder(bbox_xform_clip=None)
    coder = detkit.BoxCoder()
    with pytest.raises(ValueError, match="reference_boxes and proposals must have equal length, got 1 and 2"):
        coder.encode([[0, 0, 1, 1]], [[0, 0, 1, 1]] * 2)
    with pytest.raises(ValueError, match="proposals must have positive widths and heights; box 0"):
        coder.encode([[0, 0, 1, 1]], [[0, 0, 0, 1]])
    with pytest.raises(ValueError, match="reference_boxes must be xyxy boxes"):
        coder.encode([[1, 0, 0, 1]], [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match=r"rel_codes must have shape \(N, 4 \* C\) or \(N, C, 4\), got \(1, 6\)"):
        coder.decode(np.zeros((1, 6)), [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match=r"boxes must have one row per row of rel_codes \(2\), got 1"):
        coder.decode(np.zeros((2, 4)), [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match="rel_codes must be finite"):
        coder.decode([[0, np.nan, 0, 0]], [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match="variances must be 2 numbers"):
        detkit.SSDBoxCoder((0.1,))
    ssd = detkit.SSDBoxCoder()
    with pytest.raises(ValueError, match="priors must have 1 rows, got 2"):
        ssd.encode([[0, 0, 1, 1]], [[0.5, 0.5, 1, 1]] * 2)
    with pytest.raises(ValueError, match="priors must have positive widths and heights"):
        ssd.decode([[0, 0, 0, 0]], [[0.5, 0.5, 0, 1]])
    with pytest.raises(ValueError, match=r"loc must have shape \(N, 4\)"):
        ssd.decode([[0, 0, 0]], [[0.5, 0.5, 1, 1]])
    with pytest.raises(ValueError, match="out_fmt must be one of 'xyxy', 'cxcywh'"):
        ssd.decode([[0, 0, 0, 0]], [[0.5, 0.5, 1, 1]], out_fmt="xywh")
    with pytest.raises(ValueError, match="version must be one of 'v2', 'v3', 'v5', got 'v8'"):
        detkit.yolo_decode([[0, 0, 0, 0]], [[0, 0]], [[1, 1]], 8, version="v8")
    with pytest.raises(ValueError, match=r"grid must have shape \(1, 2\)"):
        detkit.yolo_decode([[0, 0, 0, 0]], [[0, 0, 0]], [[1, 1]], 8)
    with pytest.raises(ValueError, match=r"strides must be a number or have shape \(1,\)"):
        detkit.yolo_decode([[0, 0, 0, 0]], [[0, 0]], [[1, 1]], [8, 16])
    with pytest.raises(ValueError, match=r"pred must have shape \(N, 4\)"):
        detkit.yolo_decode([[0, 0, 0]], [[0, 0]], [[1, 1]], 8)
    with pytest.raises(ValueError, match="anchor_wh must be finite"):
        detkit.yolo_decode([[0, 0, 0, 0]], [[0, 0]], [[1, np.inf]], 8)
    with pytest.raises(ValueError, match=r"distance must have shape \(N, 4\)"):
        detkit.dist2bbox([[1, 2, 3]], [[0, 0]])
    with pytest.raises(ValueError, match=r"points must have shape \(2, 2\)"):
        detkit.bbox2dist([[0, 0]], [[0, 0, 1, 1]] * 2)
    with pytest.raises(ValueError, match="max_dist must be in"):
        detkit.bbox2dist([[0, 0]], [[0, 0, 1, 1]], max_dist=-1)
    with pytest.raises(ValueError, match=r"logits must have shape \(N, 4, B\) or \(N, 4 \* B\), got \(2, 6\)"):
        detkit.dfl_decode(np.zeros((2, 6)))
    with pytest.raises(ValueError, match=r"reg_max must equal the number of bins minus 1 \(15\), got 16"):
        detkit.dfl_decode(np.zeros((2, 64)), reg_max=16)


def test_matcher_and_sampler_errors():
    with pytest.raises(ValueError, match="low_threshold must be <= high_threshold, got 0.8 > 0.5"):
        detkit.Matcher(0.5, 0.8)
    matcher = detkit.Matcher(0.7, 0.3)
    with pytest.raises(ValueError, match="no ground-truth rows"):
        matcher(np.zeros((0, 5)))
    with pytest.raises(ValueError, match="no prediction columns"):
        matcher(np.zeros((2, 0)))
    with pytest.raises(ValueError, match="match_quality_matrix must be 2-D"):
        matcher(np.zeros(5))
    with pytest.raises(ValueError, match="match_quality_matrix must be finite"):
        matcher([[0.5, np.nan]])
    with pytest.raises(TypeError, match="batch_size_per_image must be a non-negative integer"):
        detkit.BalancedPositiveNegativeSampler(256.0, 0.5)
    with pytest.raises(ValueError, match="batch_size_per_image must be a non-negative integer, got -1"):
        detkit.BalancedPositiveNegativeSampler(-1, 0.5)
    with pytest.raises(ValueError, match=r"positive_fraction must be in \[0.0, 1.0\]"):
        detkit.BalancedPositiveNegativeSampler(256, 1.5)
    sampler = detkit.BalancedPositiveNegativeSampler(256, 0.5)
    with pytest.raises(TypeError, match="matched_idxs must be a list of per-image integer arrays"):
        sampler(np.zeros(5, np.int64))
    with pytest.raises(ValueError, match=r"matched_idxs\[0\] must be a 1-D integer array"):
        sampler([np.zeros(5)])


def test_more_validation_paths():
    with pytest.raises(ValueError, match=r"variances\[1\] must be in \(0.0"):
        detkit.SSDBoxCoder((0.1, 0.0))
    with pytest.raises(TypeError, match="high_threshold must be a real number"):
        detkit.Matcher("0.7", 0.3)
    with pytest.raises(ValueError, match="strides must be finite"):
        detkit.yolo_decode([[0, 0, 0, 0]], [[0, 0]], [[1, 1]], [np.nan])
    with pytest.raises(ValueError, match="boxes must be xyxy boxes"):
        detkit.BoxCoder().decode(np.zeros((1, 4)), [[2, 0, 1, 1]])
    with pytest.raises(ValueError, match=r"reg_max must equal the number of bins minus 1 \(2\), got True"):
        detkit.dfl_decode(np.zeros((1, 4, 3)), reg_max=True)
    with pytest.raises(ValueError, match="logits must be finite"):
        detkit.dfl_decode(np.full((1, 4, 3), np.inf))
    from detkit import _C

    with pytest.raises(ValueError, match="weights must have 4 entries"):
        _C.box_encode(np.zeros((1, 4)), np.ones((1, 4)), [1.0, 1.0])
    with pytest.raises(ValueError, match=r"rel_codes must have shape \(N, C, 4\)"):
        _C.box_decode(np.zeros((1, 4)), np.ones((1, 4)), [1.0] * 4, 1.0)
    with pytest.raises(ValueError, match="boxes must have one row per row of rel_codes"):
        _C.box_decode(np.zeros((2, 1, 4)), np.ones((1, 4)), [1.0] * 4, 1.0)
    with pytest.raises(ValueError, match="reference_boxes and proposals must have equal length"):
        _C.box_encode(np.zeros((2, 4)), np.ones((1, 4)), [1.0] * 4)


def test_yolo_decode_scalar_stride_applies_to_every_row():
    pred = np.zeros((3, 4))
    grid = np.array([[0, 0], [1, 0], [2, 3]], dtype=float)
    anchor_wh = np.array([[10, 13], [16, 30], [33, 23]], dtype=float)
    got = detkit.yolo_decode(pred, grid, anchor_wh, 8, out_fmt="cxcywh")
    np.testing.assert_allclose(got, detkit.yolo_decode(pred, grid, anchor_wh, np.full(3, 8.0), out_fmt="cxcywh"))
    np.testing.assert_allclose(got[:, :2], (grid + 0.5) * 8)
    assert detkit.yolo_decode(np.zeros((0, 4)), np.zeros((0, 2)), np.zeros((0, 2)), 8).shape == (0, 4)


def test_dfl_decode_empty_flat_layout():
    assert detkit.dfl_decode(np.zeros((0, 64))).shape == (0, 4)
    assert detkit.dfl_decode(np.zeros((0, 64)), reg_max=15).shape == (0, 4)


def test_sampler_rejects_bad_seeds_by_name():
    for seed in ("x", -1, 1.5):
        with pytest.raises(TypeError, match="seed must be a non-negative integer, a numpy.random.Generator or None"):
            detkit.BalancedPositiveNegativeSampler(4, 0.5, seed=seed)
