"""RoI ops: native vs reference (hypothesis, edge cases), gradients, torchvision, threads, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import detkit
from detkit import reference

SCALES = st.sampled_from([1.0, 0.5, 0.25, 0.3, 1 / 3, 2.0])
RATIOS = st.sampled_from([-1, 0, 1, 2, 3])
SIZES = st.tuples(st.integers(1, 4), st.integers(1, 4))


def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)


@st.composite
def roi_problems(draw, max_rois=10, integer_features=False):
    """Features (N, C, H, W) and (K, 5) RoIs around (and partly or fully outside) the map, with
    zero-size and inverted boxes, on a pixel grid or at arbitrary positions."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    if integer_features:  # many ties for roi_pool
        x = draw(hnp.arrays(np.int64, (n, c, h, w), elements=st.integers(-3, 3))).astype(dtype)
    else:
        x = draw(hnp.arrays(dtype, (n, c, h, w), elements=st.floats(-10, 10, width=32)))
    scale = draw(SCALES)
    k = draw(st.integers(0, max_rois))
    span_w, span_h = (w + 4) / scale, (h + 4) / scale
    if draw(st.booleans()):  # grid coordinates: exact edges, zero sizes, half pixels
        corners = draw(hnp.arrays(np.int64, (k, 4), elements=st.integers(-8, 24))) / 2.0
        corners = corners * np.array([span_w, span_h, span_w, span_h]) / 12
    else:
        corners = draw(hnp.arrays(np.float64, (k, 4), elements=st.floats(-0.3, 1.3)))
        corners = corners * np.array([span_w, span_h, span_w, span_h])
    if not draw(st.booleans()):  # mostly well-formed boxes, sometimes inverted ones
        corners = np.concatenate([np.minimum(corners[:, :2], corners[:, 2:]),
                                  np.maximum(corners[:, :2], corners[:, 2:])], axis=1)
    batch = draw(hnp.arrays(np.int64, (k, 1), elements=st.integers(0, n - 1)))
    rois = np.concatenate([batch, corners], axis=1).astype(dtype)
    return x, rois, scale


@given(roi_problems(), SIZES, RATIOS, st.booleans())
def test_roi_align_matches_reference(problem, size, ratio, aligned):
    x, rois, scale = problem
    got = detkit.roi_align(x, rois, size, scale, ratio, aligned)
    want = reference.roi_align(x, rois, size, scale, ratio, aligned)
    assert got.dtype == x.dtype and got.shape == (len(rois), x.shape[1], *size)
    np.testing.assert_allclose(got, want, **_tol(x.dtype))


@given(roi_problems(), SIZES, RATIOS, st.booleans())
def test_roi_align_backward_matches_reference_and_is_the_adjoint(problem, size, ratio, aligned):
    x, rois, scale = problem
    rng = np.random.default_rng(len(rois))
    g = rng.standard_normal((len(rois), x.shape[1], *size)).astype(x.dtype)
    got = detkit.roi_align_backward(g, rois, x.shape, size, scale, ratio, aligned)
    want = reference.roi_align_backward(g, rois, x.shape, size, scale, ratio, aligned)
    assert got.dtype == x.dtype and got.shape == x.shape
    np.testing.assert_allclose(got, want, **_tol(x.dtype))
    # roi_align is linear in x: <g, A x> == <A^T g, x>.
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    forward = detkit.roi_align(x64, rois.astype(np.float64), size, scale, ratio, aligned)
    backward = detkit.roi_align_backward(g64, rois.astype(np.float64), x.shape, size, scale, ratio, aligned)
    assert np.vdot(g64, forward) == pytest.approx(np.vdot(backward, x64), rel=1e-9, abs=1e-9)


@given(roi_problems(integer_features=True), SIZES)
def test_roi_pool_matches_reference_exactly(problem, size):
    x, rois, scale = problem
    got, got_arg = detkit.roi_pool(x, rois, size, scale, return_argmax=True)
    want, want_arg = reference.roi_pool(x, rois, size, scale)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_arg, want_arg)
    assert got_arg.dtype == np.int64
    np.testing.assert_array_equal(detkit.roi_pool(x, rois, size, scale), got)


@given(roi_problems(integer_features=True), SIZES)
def test_roi_pool_backward_matches_reference(problem, size):
    x, rois, scale = problem
    _, argmax = detkit.roi_pool(x, rois, size, scale, return_argmax=True)
    g = np.random.default_rng(0).standard_normal(argmax.shape).astype(x.dtype)
    got = detkit.roi_pool_backward(g, rois, argmax, x.shape)
    np.testing.assert_allclose(got, reference.roi_pool_backward(g, rois, argmax, x.shape), **_tol(x.dtype))


def _random_problem(seed, n=2, c=3, h=11, w=13, k=25, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    xy = rng.uniform(-10, 60, (k, 2))
    rois = np.concatenate([rng.integers(0, n, (k, 1)), xy, xy + rng.uniform(0, 40, (k, 2))], 1)
    return x, rois.astype(dtype)


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("ratio", [-1, 2])
def test_roi_align_gradient_matches_finite_differences(aligned, ratio):
    x, rois = _random_problem(1)
    g = np.random.default_rng(2).standard_normal((len(rois), 3, 3, 2))
    grad = detkit.roi_align_backward(g, rois, x.shape, (3, 2), 0.25, ratio, aligned)
    loss = lambda v: np.vdot(g, detkit.roi_align(v, rois, (3, 2), 0.25, ratio, aligned))  # noqa: E731
    cells = np.random.default_rng(3).integers(0, x.size, 40).tolist() + [int(np.argmax(np.abs(grad)))]
    eps = 1e-3
    for i in cells:
        step = np.zeros(x.size)
        step[i] = eps
        step = step.reshape(x.shape)
        numeric = (loss(x + step) - loss(x - step)) / (2 * eps)
        assert numeric == pytest.approx(grad.flat[i], abs=1e-8)


def test_roi_pool_gradient_matches_finite_differences():
    x, rois = _random_problem(4)  # distinct random values: maxima are stable under small steps
    g = np.random.default_rng(5).standard_normal((len(rois), 3, 2, 3))
    _, argmax = detkit.roi_pool(x, rois, (2, 3), 0.25, return_argmax=True)
    grad = detkit.roi_pool_backward(g, rois, argmax, x.shape)
    loss = lambda v: np.vdot(g, detkit.roi_pool(v, rois, (2, 3), 0.25))  # noqa: E731
    eps = 1e-6
    for i in np.flatnonzero(grad).tolist()[:30] + [0, 1, x.size - 1]:
        step = np.zeros(x.size)
        step[i] = eps
        step = step.reshape(x.shape)
        assert (loss(x + step) - loss(x - step)) / (2 * eps) == pytest.approx(grad.flat[i], abs=1e-6)


def test_hand_computed_values():
    x = np.arange(20, dtype=np.float64).reshape(1, 1, 4, 5)  # value = 5 * y + x
    # Bilinear sampling of a linear map is exact, so a bin's mean is the value at the centroid of
    # its samples. Box [1, 3] aligned: start 0.5, bins [0.5, 1.5] and [1.5, 2.5], centroids 1, 2.
    centres = np.array([1.0, 2.0])
    out = detkit.roi_align(x, [[0, 1, 1, 3, 3]], 2, sampling_ratio=2, aligned=True)
    np.testing.assert_allclose(out[0, 0], 5 * centres[:, None] + centres[None, :])
    # Not aligned: no half-pixel shift, centroids 1.5 and 2.5.
    out = detkit.roi_align(x, [[0, 1, 1, 3, 3]], 2, sampling_ratio=2, aligned=False)
    np.testing.assert_allclose(out[0, 0], 5 * (centres[:, None] + 0.5) + (centres[None, :] + 0.5))
    # A box fully outside the map (beyond the 1-pixel margin) pools zeros in both ops.
    far = [[0, 50, 50, 60, 60]]
    assert not detkit.roi_align(x, far, 3).any()
    out, argmax = detkit.roi_pool(x, far, 3, return_argmax=True)
    assert not out.any() and (argmax == -1).all()
    # roi_pool of the whole map: bin maxima at their bottom-right cells.
    out, argmax = detkit.roi_pool(x, [[0, 0, 0, 4, 3]], 2, return_argmax=True)
    np.testing.assert_array_equal(out[0, 0], [[7, 9], [17, 19]])
    np.testing.assert_array_equal(argmax[0, 0], [[7, 9], [17, 19]])


def test_zero_size_inverted_and_partly_outside_boxes():
    x = np.random.default_rng(6).standard_normal((1, 2, 6, 7))
    rois = np.array([[0, 2, 2, 2, 2], [0, 3, 3, 1, 1], [0, -3, -3, 2, 2], [0, 5, 4, 40, 30],
                     [0, -1.5, 0, 0, 6]])
    for ratio in (-1, 0, 2):
        for aligned in (False, True):
            np.testing.assert_allclose(detkit.roi_align(x, rois, (2, 3), 1.0, ratio, aligned),
                                       reference.roi_align(x, rois, (2, 3), 1.0, ratio, aligned), atol=1e-12)
    # aligned + adaptive: an empty (or inverted) box has an empty sampling grid -> zeros.
    assert not detkit.roi_align(x, rois[:2], 2, aligned=True).any()
    # not aligned: a zero-size box is a 1 x 1 pixel box.
    assert detkit.roi_align(x, rois[:1], 2).any()


def test_huge_boxes_stay_fast_under_adaptive_sampling():
    # 2e6 samples per bin and axis; only the ~H + 2 inside the map are visited.
    x = np.ones((1, 1, 5, 6))
    out = detkit.roi_align(x, [[0, -1e6, -1e6, 1e6, 1e6]], 1)
    inside_y, inside_x = 5 + 1, 6 + 1  # samples (spaced 1 apart) within [-1, H] and [-1, W]
    assert out[0, 0, 0, 0] == pytest.approx(inside_y * inside_x / 2e6 ** 2, rel=1e-5)


def test_list_boxes_equal_batch_index_rows():
    x, rois = _random_problem(7, k=12)
    per_image = [rois[rois[:, 0] == i, 1:] for i in range(2)]
    order = np.argsort(rois[:, 0], kind="stable")
    np.testing.assert_array_equal(detkit.roi_align(x, per_image, 2, 0.5, 2),
                                  detkit.roi_align(x, rois[order], 2, 0.5, 2))
    np.testing.assert_array_equal(detkit.roi_pool(x, per_image, 2, 0.5), detkit.roi_pool(x, rois[order], 2, 0.5))
    # Fewer lists than images, and empty lists, are fine.
    assert detkit.roi_align(x, [per_image[0]], 2).shape == (len(per_image[0]), 3, 2, 2)
    assert detkit.roi_align(x, [[], per_image[1]], 2).shape == (len(per_image[1]), 3, 2, 2)


def test_empty_and_degenerate_shapes():
    x = np.zeros((2, 3, 4, 5), np.float32)
    for boxes in (np.zeros((0, 5)), [], [np.zeros((0, 4))]):
        assert detkit.roi_align(x, boxes, 7).shape == (0, 3, 7, 7)
        assert detkit.roi_pool(x, boxes, (2, 3)).shape == (0, 3, 2, 3)
    no_channels = np.zeros((1, 0, 4, 5))
    assert detkit.roi_align(no_channels, [[0, 0, 0, 1, 1]], 2).shape == (1, 0, 2, 2)
    grad = detkit.roi_align_backward(np.zeros((0, 3, 7, 7)), np.zeros((0, 5)), (2, 3, 4, 5), 7)
    assert grad.shape == (2, 3, 4, 5) and not grad.any()
    grad = detkit.roi_pool_backward(np.zeros((0, 3, 2, 2)), np.zeros((0, 5)), np.zeros((0, 3, 2, 2), int),
                                    (2, 3, 4, 5))
    assert grad.shape == (2, 3, 4, 5) and not grad.any()


def test_dtypes_and_non_contiguous_read_only_inputs():
    x, rois = _random_problem(8)
    strided = np.asfortranarray(x)[:, ::-1][:, ::-1]
    strided.setflags(write=False)
    boxes = np.repeat(rois, 2, axis=0)[::2]
    boxes.setflags(write=False)
    np.testing.assert_array_equal(detkit.roi_align(strided, boxes, 3, 0.5), detkit.roi_align(x, rois, 3, 0.5))
    # Integer features become float64; float64 boxes follow float32 features.
    assert detkit.roi_align(np.ones((1, 1, 3, 3), np.int32), [[0, 0, 0, 2, 2]], 1).dtype == np.float64
    out = detkit.roi_align(x.astype(np.float32), rois, 3, 0.5)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, reference.roi_align(x.astype(np.float32), rois.astype(np.float32), 3, 0.5),
                               rtol=1e-5, atol=1e-5)


def test_results_do_not_depend_on_thread_count():
    x, rois = _random_problem(9, n=2, c=40, h=30, w=40, k=300, dtype=np.float32)
    g = np.random.default_rng(10).standard_normal((300, 40, 7, 7)).astype(np.float32)
    before = detkit.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            detkit.set_num_threads(threads)
            out, argmax = detkit.roi_pool(x, rois, 7, 0.25, return_argmax=True)
            results.append([detkit.roi_align(x, rois, 7, 0.25, 2, True),
                            detkit.roi_align(x, rois, 7, 0.25, -1, False),
                            detkit.roi_align_backward(g, rois, x.shape, 7, 0.25, 2, True),
                            out, argmax, detkit.roi_pool_backward(g, rois, argmax, x.shape)])
    finally:
        detkit.set_num_threads(before)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# Multi-scale RoIAlign


def _pyramid(seed, n=2, c=4, image=(128, 160), levels=(2, 3, 4, 5), dtype=np.float32):
    rng = np.random.default_rng(seed)
    feats = [rng.standard_normal((n, c, image[0] // 2 ** k, image[1] // 2 ** k)).astype(dtype) for k in levels]
    boxes = []
    for _ in range(n):
        k = rng.integers(0, 30)
        side = np.exp(rng.uniform(np.log(2), np.log(200), (k, 2)))
        xy = rng.uniform(0, 1, (k, 2)) * (np.array(image[::-1]) - side).clip(1)
        boxes.append(np.concatenate([xy, xy + side], axis=1).astype(dtype))
    return feats, boxes


@pytest.mark.parametrize("seed", range(6))
def test_multiscale_matches_reference(seed):
    feats, boxes = _pyramid(seed, levels=(2, 3, 4, 5)[: 1 + seed % 4])
    shapes = [(128, 160), (120, 150)]
    got = detkit.multiscale_roi_align(feats, boxes, shapes, 7, 2)
    np.testing.assert_allclose(got, reference.multiscale_roi_align(feats, boxes, shapes, 7, 2), rtol=1e-5, atol=1e-5)


def test_multiscale_level_rule():
    # One box per canonical size: sqrt(area) = 224 * 2**(k - 4) goes to level k (clamped to 2..5).
    feats = [np.full((1, 1, 512 // 2 ** k, 512 // 2 ** k), float(k), np.float32) for k in (2, 3, 4, 5)]
    sides = [20, 56, 111, 113, 224, 447, 449, 1000]
    boxes = [np.array([[0, 0, s, s] for s in sides], np.float32)]
    out = detkit.multiscale_roi_align(feats, boxes, [(512, 512)], 1, 1)
    np.testing.assert_array_equal(out[:, 0, 0, 0], [2, 2, 2, 3, 4, 4, 5, 5])
    pool = detkit.MultiScaleRoIAlign(["p3", "p4"], 1, 1)
    named = {"p2": feats[0], "p3": feats[1], "p4": feats[2], "p5": feats[3]}
    np.testing.assert_array_equal(pool(named, boxes, [(512, 512)])[:, 0, 0, 0], [3, 3, 3, 3, 4, 4, 4, 4])
    assert "MultiScaleRoIAlign" in repr(pool)


# ---------------------------------------------------------------------------------------------
# torchvision (not in CI)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(4))
def test_against_torchvision(seed, dtype):
    torchvision = pytest.importorskip("torchvision")
    import torch

    x, rois = _random_problem(seed, n=2, c=5, h=17, w=23, k=60, dtype=dtype)
    rois[::7, 3:] = rois[::7, 1:3]  # zero-size boxes
    rois[1::9, 1:3] -= 80  # partly outside
    tx, tr = torch.from_numpy(x), torch.from_numpy(rois)
    tol = _tol(dtype)
    for scale in (1.0, 0.5, 0.25):
        for ratio in (-1, 0, 1, 2, 3):
            for aligned in (False, True):
                want = torchvision.ops.roi_align(tx, tr, (5, 4), scale, ratio, aligned).numpy()
                got = detkit.roi_align(x, rois, (5, 4), scale, ratio, aligned)
                np.testing.assert_allclose(got, want, **tol)
        want = torchvision.ops.roi_pool(tx, tr, (5, 4), scale).numpy()
        np.testing.assert_array_equal(detkit.roi_pool(x, rois, (5, 4), scale), want)


def test_inverted_boxes_against_torchvision():
    torchvision = pytest.importorskip("torchvision")
    import torch

    rng = np.random.default_rng(13)
    x = rng.standard_normal((2, 3, 9, 11))
    rois = np.concatenate([rng.integers(0, 2, (80, 1)), rng.uniform(-15, 60, (80, 4))], 1)  # half inverted
    tx, tr = torch.from_numpy(x), torch.from_numpy(rois)
    for scale in (1.0, 0.3):
        # torchvision fails on inverted boxes with aligned=True and adaptive sampling; detkit gives 0.
        for ratio, aligned in [(-1, False), (0, False), (2, False), (1, True), (3, True)]:
            np.testing.assert_allclose(detkit.roi_align(x, rois, (3, 4), scale, ratio, aligned),
                                       torchvision.ops.roi_align(tx, tr, (3, 4), scale, ratio, aligned).numpy(),
                                       rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(detkit.roi_pool(x, rois, (3, 4), scale),
                                      torchvision.ops.roi_pool(tx, tr, (3, 4), scale).numpy())


@pytest.mark.parametrize("aligned", [False, True])
def test_gradients_against_torch_autograd(aligned):
    torchvision = pytest.importorskip("torchvision")
    import torch

    x, rois = _random_problem(11, n=2, c=3, h=15, w=19, k=40)
    g = np.random.default_rng(12).standard_normal((40, 3, 4, 3))
    tx = torch.from_numpy(x).requires_grad_()
    torchvision.ops.roi_align(tx, torch.from_numpy(rois), (4, 3), 0.5, 2, aligned).backward(torch.from_numpy(g))
    np.testing.assert_allclose(detkit.roi_align_backward(g, rois, x.shape, (4, 3), 0.5, 2, aligned),
                               tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    tx = torch.from_numpy(x).requires_grad_()
    torchvision.ops.roi_pool(tx, torch.from_numpy(rois), (4, 3), 0.5).backward(torch.from_numpy(g))
    _, argmax = detkit.roi_pool(x, rois, (4, 3), 0.5, return_argmax=True)
    np.testing.assert_allclose(detkit.roi_pool_backward(g, rois, argmax, x.shape), tx.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_multiscale_against_torchvision(seed):
    torchvision = pytest.importorskip("torchvision")
    import torch

    feats, boxes = _pyramid(seed, levels=(2, 3, 4, 5)[: 1 + seed])
    names = [f"p{i}" for i in range(len(feats))]
    shapes = [(128, 160), (100, 160)]
    pool = torchvision.ops.MultiScaleRoIAlign(names, 7, 2)
    want = pool({k: torch.from_numpy(f) for k, f in zip(names, feats)}, [torch.from_numpy(b) for b in boxes],
                shapes).numpy()
    got = detkit.MultiScaleRoIAlign(names, 7, 2)(dict(zip(names, feats)), boxes, shapes)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # torch tensors are accepted directly (through __array__).
    np.testing.assert_allclose(detkit.roi_align(torch.from_numpy(feats[0]), [torch.from_numpy(b) for b in boxes],
                                                3, 0.25), detkit.roi_align(feats[0], boxes, 3, 0.25))


# ---------------------------------------------------------------------------------------------
# Errors


X = np.zeros((2, 3, 4, 5), np.float32)
ROIS = np.array([[0, 0, 0, 2, 2], [1, 1, 1, 3, 3]], np.float32)


@pytest.mark.parametrize("fn", [detkit.roi_align, detkit.roi_pool])
def test_forward_errors(fn):
    with pytest.raises(ValueError, match=r"input must have shape \(N, C, H, W\)"):
        fn(np.zeros((3, 4, 5)), ROIS, 2)
    with pytest.raises(ValueError, match="height and width >= 1"):
        fn(np.zeros((1, 1, 0, 5)), np.zeros((0, 5)), 2)
    with pytest.raises(TypeError, match="input must hold real numbers"):
        fn(X.astype(bool), ROIS, 2)
    with pytest.raises(ValueError, match="boxes must be finite"):
        fn(X, [[0, 0, np.nan, 1, 1]], 2)
    with pytest.raises(ValueError, match="boxes must be finite"):
        fn(X, [[0, 0, 0, np.inf, 1]], 2)
    with pytest.raises(ValueError, match="boxes must be finite"):
        fn(X, [[0, 0, 0, 1e300, 1]], 2)  # overflows float32, the feature dtype
    with pytest.raises(ValueError, match=r"integer batch indices in \[0, 2\); row 1 has 0.5"):
        fn(X, [[0, 0, 0, 1, 1], [0.5, 0, 0, 1, 1]], 2)
    with pytest.raises(ValueError, match=r"integer batch indices in \[0, 2\); row 0 has 2.0"):
        fn(X, [[2, 0, 0, 1, 1]], 2)
    with pytest.raises(ValueError, match=r"integer batch indices"):
        fn(X, [[-1, 0, 0, 1, 1]], 2)
    with pytest.raises(ValueError, match="boxes must be finite"):
        fn(X, [[np.nan, 0, 0, 1, 1]], 2)
    with pytest.raises(ValueError, match=r"boxes must be a \(K, 5\) array"):
        fn(X, np.zeros((3, 4)), 2)
    with pytest.raises(ValueError, match=r"boxes\[1\] must have shape \(K_i, 4\)"):
        fn(X, [np.zeros((1, 4)), np.zeros((2, 5))], 2)
    with pytest.raises(ValueError, match="list of 3 per-image arrays but input holds 2 images"):
        fn(X, [np.zeros((1, 4))] * 3, 2)
    with pytest.raises(ValueError, match=r"\|coordinate \* spatial_scale\| <= 2\*\*30"):
        fn(X, [[0, 0, 0, 2e9, 1]], 2)
    with pytest.raises(ValueError, match="output_size must be >= 1"):
        fn(X, ROIS, 0)
    with pytest.raises(ValueError, match="output_size must be >= 1"):
        fn(X, ROIS, (2, -1))
    with pytest.raises(TypeError, match="output_size must be an int or an"):
        fn(X, ROIS, 2.0)
    with pytest.raises(TypeError, match="output_size must be an int or an"):
        fn(X, ROIS, (1, 2, 3))
    with pytest.raises(TypeError, match="output_size must be an int or an"):
        fn(X, ROIS, True)
    with pytest.raises(ValueError, match="spatial_scale must be in"):
        fn(X, ROIS, 2, 0.0)
    with pytest.raises(ValueError, match="spatial_scale must be in"):
        fn(X, ROIS, 2, -0.25)
    with pytest.raises(ValueError, match="spatial_scale must be finite"):
        fn(X, ROIS, 2, np.inf)
    with pytest.raises(TypeError, match="spatial_scale must be a real number"):
        fn(X, ROIS, 2, "0.25")
    with pytest.raises(ValueError, match=r"output_size must be at most 2\*\*31 - 1"):
        fn(X, ROIS, (2, 2**70))
    with pytest.raises(ValueError, match=r"boxes\[0\] must have shape \(K_i, 4\), got shape \(0, 4, 1\)"):
        fn(X, [np.zeros((0, 4, 1))], 2)


def test_roi_align_argument_errors():
    with pytest.raises(TypeError, match="sampling_ratio must be an int"):
        detkit.roi_align(X, ROIS, 2, 1.0, 2.0)
    with pytest.raises(TypeError, match="sampling_ratio must be an int"):
        detkit.roi_align(X, ROIS, 2, 1.0, True)
    with pytest.raises(ValueError, match="sampling_ratio must be at most"):
        detkit.roi_align(X, ROIS, 2, 1.0, 2 ** 31)
    with pytest.raises(TypeError, match="aligned must be a bool"):
        detkit.roi_align(X, ROIS, 2, 1.0, 2, 1)
    with pytest.raises(TypeError, match="return_argmax must be a bool"):
        detkit.roi_pool(X, ROIS, 2, return_argmax="yes")


def test_backward_errors():
    g = np.zeros((2, 3, 2, 2))
    with pytest.raises(ValueError, match=r"grad_output must have shape \(K, C, 2, 2\)"):
        detkit.roi_align_backward(np.zeros((2, 3, 2, 3)), ROIS, X.shape, 2)
    with pytest.raises(ValueError, match="input_shape has 4 channels but grad_output has 3"):
        detkit.roi_align_backward(g, ROIS, (2, 4, 4, 5), 2)
    with pytest.raises(TypeError, match=r"input_shape must be a sequence \(N, C, H, W\)"):
        detkit.roi_align_backward(g, ROIS, (2, 3, 4), 2)
    with pytest.raises(TypeError, match=r"input_shape must be a sequence \(N, C, H, W\)"):
        detkit.roi_align_backward(g, ROIS, 5, 2)
    with pytest.raises(ValueError, match="input_shape must have N >= 0 and H, W >= 1"):
        detkit.roi_align_backward(g, ROIS, (2, 3, 0, 5), 2)
    for shape in [(2**70, 3, 4, 5), (2, 3, 2**31, 5), (2, 3, 4, 2**64)]:
        with pytest.raises(ValueError, match=r"input_shape N, H and W must be at most 2\*\*31 - 1"):
            detkit.roi_align_backward(g, ROIS, shape, 2)
        with pytest.raises(ValueError, match=r"input_shape N, H and W must be at most 2\*\*31 - 1"):
            detkit.roi_pool_backward(g, ROIS, np.zeros(g.shape, np.int64), shape)
    with pytest.raises(ValueError, match="grad_output has 2 rows but boxes hold 1 RoIs"):
        detkit.roi_align_backward(g, ROIS[:1], X.shape, 2)
    with pytest.raises(ValueError, match=r"integer batch indices in \[0, 1\)"):
        detkit.roi_align_backward(g, ROIS, (1, 3, 4, 5), 2)
    argmax = np.zeros((2, 3, 2, 2), np.int64)
    with pytest.raises(ValueError, match=r"grad_output must have shape \(K, C, h, w\)"):
        detkit.roi_pool_backward(np.zeros((2, 3, 2)), ROIS, argmax, X.shape)
    with pytest.raises(TypeError, match="argmax must hold integers"):
        detkit.roi_pool_backward(g, ROIS, argmax.astype(float), X.shape)
    with pytest.raises(ValueError, match="argmax must have the shape of grad_output"):
        detkit.roi_pool_backward(g, ROIS, argmax[:, :, :1], X.shape)
    with pytest.raises(ValueError, match=r"argmax values must be in \[-1, 20\)"):
        detkit.roi_pool_backward(g, ROIS, argmax + 20, X.shape)
    with pytest.raises(ValueError, match=r"argmax values must be in \[-1, 20\)"):
        detkit.roi_pool_backward(g, ROIS, argmax - 2, X.shape)
    with pytest.raises(ValueError, match="grad_output has 2 rows but boxes hold 1 RoIs"):
        detkit.roi_pool_backward(g, ROIS[:1], argmax, X.shape)


def test_native_layer_rechecks_what_would_be_undefined_behaviour():
    from detkit import _C

    with pytest.raises(ValueError, match="batch index must be an integer"):
        _C.roi_align(X, np.array([[5, 0, 0, 1, 1]], np.float32), 2, 2, 1.0, 2, False)
    with pytest.raises(ValueError, match="corners must be finite"):
        _C.roi_pool(X, np.array([[0, 0, 0, np.nan, 1]], np.float32), 2, 2, 1.0, True)
    with pytest.raises(ValueError, match="output_size must be >= 1"):
        _C.roi_align(X, ROIS, 0, 2, 1.0, 2, False)
    with pytest.raises(ValueError, match="argmax must be in"):
        _C.roi_pool_backward(np.zeros((2, 3, 1, 1), np.float32), np.full((2, 3, 1, 1), 99), ROIS, 2, 4, 5)


def test_multiscale_errors():
    feats, boxes = _pyramid(0, levels=(2, 3))
    shapes = [(128, 160)] * 2
    with pytest.raises(TypeError, match="features must be a non-empty sequence"):
        detkit.multiscale_roi_align([], boxes, shapes, 7, 2)
    with pytest.raises(TypeError, match="features must be a non-empty sequence"):
        detkit.multiscale_roi_align(feats[0], boxes, shapes, 7, 2)
    with pytest.raises(ValueError, match=r"features\[1\] has \(N, C\)"):
        detkit.multiscale_roi_align([feats[0], feats[1][:, :2]], boxes, shapes, 7, 2)
    with pytest.raises(ValueError, match="x1 <= x2 and y1 <= y2; RoI 0"):
        detkit.multiscale_roi_align(feats, [np.array([[5.0, 0, 1, 1]], np.float32)], shapes, 7, 2)
    with pytest.raises(ValueError, match="image_shapes must be a non-empty sequence"):
        detkit.multiscale_roi_align(feats, boxes, [], 7, 2)
    with pytest.raises(ValueError, match="image_shapes must be a non-empty sequence"):
        detkit.multiscale_roi_align(feats, boxes, [(128, 160, 3)], 7, 2)
    with pytest.raises(TypeError, match="image_shapes must be a sequence"):
        detkit.multiscale_roi_align(feats, boxes, 128, 7, 2)
    with pytest.raises(ValueError, match="image_shapes height must be in"):
        detkit.multiscale_roi_align(feats, boxes, [(0, 160)], 7, 2)
    for bad in (1e300, 1e-300):  # the inferred scale 2**round(log2(H_l / H_img)) is not finite / zero
        with pytest.raises(ValueError, match=r"image_shapes .* give features\[0\] a scale of"):
            detkit.multiscale_roi_align(feats, boxes, [(bad, 160)], 7, 2)
    with pytest.raises(ValueError, match="canonical_scale must be in"):
        detkit.multiscale_roi_align(feats, boxes, shapes, 7, 2, canonical_scale=0)
    with pytest.raises(TypeError, match="x must be a mapping"):
        detkit.MultiScaleRoIAlign(["p2"], 7, 2)(feats, boxes, shapes)
    with pytest.raises(ValueError, match="x holds none of the feature maps"):
        detkit.MultiScaleRoIAlign(["p9"], 7, 2)({"p2": feats[0]}, boxes, shapes)
