"""Losses: native vs reference (hypothesis), vs torch/torchvision (values and autograd gradients),
gradients vs finite differences, reductions, stability, thread independence, every error path."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import detkit
from detkit import reference
from tests.conftest import random_boxes, xyxy_boxes

REDUCTIONS = ["none", "mean", "sum"]
BOX_LOSSES = {"giou": (detkit.giou_loss, detkit.giou_loss_grad),
              "diou": (detkit.diou_loss, detkit.diou_loss_grad),
              "ciou": (detkit.ciou_loss, detkit.ciou_loss_grad)}


def _tol(dtype):
    return dict(rtol=2e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-13)


@st.composite
def logits_and_targets(draw, soft=None):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=12))
    x = draw(hnp.arrays(np.float64, shape, elements=st.floats(-40, 40, width=32))).astype(dtype)
    soft = draw(st.booleans()) if soft is None else soft
    elements = st.floats(0, 1, width=32) if soft else st.sampled_from([0.0, 1.0])
    t = draw(hnp.arrays(np.float64, shape, elements=elements)).astype(dtype)
    return x, t


ALPHAS = st.sampled_from([-1.0, -0.5, 0.0, 0.25, 0.5, 1.0]) | st.floats(0, 1)
GAMMAS = st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0]) | st.floats(0, 5)


# --- sigmoid focal loss ------------------------------------------------------------------------


@given(logits_and_targets(), ALPHAS, GAMMAS, st.sampled_from(REDUCTIONS))
def test_focal_loss_matches_reference(data, alpha, gamma, reduction):
    x, t = data
    got = detkit.sigmoid_focal_loss(x, t, alpha, gamma, reduction)
    want = reference.sigmoid_focal_loss(x, t, alpha, gamma, reduction)
    assert got.dtype == x.dtype and got.shape == np.shape(want)
    np.testing.assert_allclose(got, want, **_tol(x.dtype))


@given(logits_and_targets(), ALPHAS, GAMMAS, st.sampled_from(REDUCTIONS))
def test_focal_loss_grad_matches_reference(data, alpha, gamma, reduction):
    x, t = data
    n = max(x.size, 1)
    scale = {"none": 1.0, "sum": 1.0, "mean": 1.0 / n}[reduction]
    got = detkit.sigmoid_focal_loss_grad(x, t, alpha, gamma, reduction)
    want = reference.sigmoid_focal_loss_grad(x, t, alpha, gamma, grad_output=scale)
    assert got.shape == x.shape and got.dtype == x.dtype
    np.testing.assert_allclose(got, want, **_tol(x.dtype))


def test_focal_loss_grad_with_upstream_gradient():
    rng = np.random.default_rng(0)
    x, t = rng.normal(0, 3, (7, 5)), (rng.random((7, 5)) < 0.5).astype(float)
    go = rng.normal(size=(7, 5))
    np.testing.assert_allclose(detkit.sigmoid_focal_loss_grad(x, t, grad_output=go),
                               reference.sigmoid_focal_loss_grad(x, t, grad_output=go), rtol=1e-12)
    np.testing.assert_allclose(detkit.sigmoid_focal_loss_grad(x, t, reduction="sum", grad_output=3.0),
                               3 * detkit.sigmoid_focal_loss_grad(x, t), rtol=1e-12)
    np.testing.assert_allclose(detkit.sigmoid_focal_loss_grad(x, t, reduction="mean", grad_output=2.0),
                               2 / 35 * detkit.sigmoid_focal_loss_grad(x, t), rtol=1e-12)


@pytest.mark.parametrize("gamma", [0.0, 1.0, 1.5, 2.0, 3.0])
@pytest.mark.parametrize("alpha", [-1.0, 0.25])
def test_focal_loss_grad_matches_finite_differences(alpha, gamma):
    rng = np.random.default_rng(1)
    x = rng.normal(0, 3, 200)
    t = np.concatenate([(rng.random(150) < 0.3).astype(float), rng.random(50)])  # hard and soft labels
    h = 1e-6
    numeric = (detkit.sigmoid_focal_loss(x + h, t, alpha, gamma) - detkit.sigmoid_focal_loss(x - h, t, alpha, gamma)) / (2 * h)
    np.testing.assert_allclose(detkit.sigmoid_focal_loss_grad(x, t, alpha, gamma), numeric, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_focal_loss_matches_torchvision(dtype):
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    rng = np.random.default_rng(2)
    x = rng.normal(0, 4, (64, 80)).astype(dtype)
    t = (rng.random((64, 80)) < 0.1).astype(dtype)
    for alpha, gamma in [(0.25, 2.0), (-1, 2.0), (0.5, 0.0), (0.75, 1.5), (1.0, 3.0)]:
        for reduction in REDUCTIONS:
            tx = torch.tensor(x, requires_grad=True)
            loss = torchvision.ops.sigmoid_focal_loss(tx, torch.tensor(t), alpha, gamma, reduction)
            np.testing.assert_allclose(detkit.sigmoid_focal_loss(x, t, alpha, gamma, reduction),
                                       loss.detach().numpy(), **_tol(dtype))
            loss.sum().backward()
            np.testing.assert_allclose(detkit.sigmoid_focal_loss_grad(x, t, alpha, gamma, reduction),
                                       tx.grad.numpy(), **_tol(dtype))


def test_focal_loss_is_stable_for_huge_logits():
    x = np.array([-1e4, -100.0, 100.0, 1e4, 1e4, -1e4])
    t = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    loss = detkit.sigmoid_focal_loss(x, t, alpha=-1)
    np.testing.assert_allclose(loss[:4], 0.0, atol=1e-100)  # confident and right: (almost) no loss
    np.testing.assert_allclose(loss[4:], [1e4, 1e4])  # confident and wrong: the logit itself
    grad = detkit.sigmoid_focal_loss_grad(x, t, alpha=-1)
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad, [0, 0, 0, 0, 1, -1], atol=1e-30)


def test_focal_loss_with_gamma_zero_is_weighted_bce():
    rng = np.random.default_rng(3)
    x, t = rng.normal(0, 3, 100), (rng.random(100) < 0.5).astype(float)
    bce = np.logaddexp(0, x) - x * t
    np.testing.assert_allclose(detkit.sigmoid_focal_loss(x, t, alpha=-1, gamma=0), bce, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(detkit.sigmoid_focal_loss(x, t, alpha=0.25, gamma=0),
                               np.where(t == 1, 0.25, 0.75) * bce, rtol=1e-12, atol=1e-14)


def test_loss_reductions_of_empty_inputs_follow_torch():
    assert np.isnan(detkit.sigmoid_focal_loss([], [], reduction="mean"))
    assert detkit.sigmoid_focal_loss([], [], reduction="sum") == 0
    assert detkit.sigmoid_focal_loss(np.zeros((0, 3)), np.zeros((0, 3))).shape == (0, 3)
    assert np.isnan(detkit.smooth_l1_loss([], []))
    assert detkit.giou_loss(np.zeros((0, 4)), np.zeros((0, 4)), reduction="mean") == 0
    assert detkit.giou_loss_grad(np.zeros((0, 4)), np.zeros((0, 4)), reduction="mean").shape == (0, 4)
    assert detkit.sigmoid_focal_loss_grad([], [], reduction="mean").shape == (0,)


def test_reduced_losses_do_not_depend_on_the_thread_count():
    rng = np.random.default_rng(4)
    x = rng.normal(0, 3, 300_001).astype(np.float32)
    t = (rng.random(300_001) < 0.2).astype(np.float32)
    a, b = random_boxes(rng, 100_001), random_boxes(rng, 100_001)
    before = detkit.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            detkit.set_num_threads(threads)
            results.append((detkit.sigmoid_focal_loss(x, t, reduction="sum"), detkit.smooth_l1_loss(x, t),
                            detkit.ciou_loss(a, b, reduction="mean"), detkit.sigmoid_focal_loss_grad(x, t)))
    finally:
        detkit.set_num_threads(before)
    for other in results[1:]:
        for u, v in zip(results[0], other):
            np.testing.assert_array_equal(u, v)
    # The float32 sum is accumulated in float64: closer to the exact sum than float32 summation.
    exact = reference.sigmoid_focal_loss(x.astype(np.float64), t.astype(np.float64), reduction="sum")
    np.testing.assert_allclose(results[0][0], exact, rtol=1e-6)


def test_mixed_and_integer_dtypes():
    x32 = np.array([0.5, -2.0], np.float32)
    assert detkit.sigmoid_focal_loss(x32, np.array([1.0, 0.0])).dtype == np.float64
    assert detkit.smooth_l1_loss(np.array([1, 5]), np.array([0, 0]), reduction="none").tolist() == [0.5, 4.5]
    assert detkit.giou_loss(np.array([[0, 0, 2, 2]], np.float32), [[0, 0, 2, 2]]).dtype == np.float64


# --- smooth L1 ------------------------------------------------------------------------------


@given(logits_and_targets(soft=True), st.sampled_from([0.0, 1 / 9, 0.5, 1.0]) | st.floats(0, 10),
       st.sampled_from(REDUCTIONS))
def test_smooth_l1_matches_reference(data, beta, reduction):
    x, t = data
    got = detkit.smooth_l1_loss(x, t, beta, reduction)
    np.testing.assert_allclose(got, reference.smooth_l1_loss(x, t, beta, reduction), **_tol(x.dtype))
    n = max(x.size, 1)
    scale = 1.0 / n if reduction == "mean" else 1.0
    np.testing.assert_allclose(detkit.smooth_l1_loss_grad(x, t, beta, reduction),
                               reference.smooth_l1_loss_grad(x, t, beta, grad_output=scale), **_tol(x.dtype))


@pytest.mark.parametrize("beta", [0.0, 1 / 9, 1.0, 3.0])
def test_smooth_l1_matches_torch(beta):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x, t = rng.normal(0, 2, (30, 4)), rng.normal(0, 2, (30, 4))
    x[0, 0] = t[0, 0]  # d == 0: gradient 0 even for beta == 0 (L1)
    x[1, 1] = t[1, 1] + beta  # exactly on the switch point
    for reduction in REDUCTIONS:
        tx = torch.tensor(x, requires_grad=True)
        loss = torch.nn.functional.smooth_l1_loss(tx, torch.tensor(t), beta=beta, reduction=reduction)
        np.testing.assert_allclose(detkit.smooth_l1_loss(x, t, beta, reduction), loss.detach().numpy(), rtol=1e-12)
        loss.sum().backward()
        np.testing.assert_allclose(detkit.smooth_l1_loss_grad(x, t, beta, reduction), tx.grad.numpy(), rtol=1e-12)


def test_smooth_l1_grad_matches_finite_differences():
    rng = np.random.default_rng(6)
    x, t = rng.normal(0, 2, 300), rng.normal(0, 2, 300)
    h = 1e-7
    numeric = (detkit.smooth_l1_loss(x + h, t, 0.5, "none") - detkit.smooth_l1_loss(x - h, t, 0.5, "none")) / (2 * h)
    np.testing.assert_allclose(detkit.smooth_l1_loss_grad(x, t, 0.5, "none"), numeric, rtol=1e-5, atol=1e-8)


def test_smooth_l1_with_beta_zero_is_l1():
    x, t = np.array([-2.0, 0.0, 0.25, 3.0]), np.zeros(4)
    np.testing.assert_array_equal(detkit.smooth_l1_loss(x, t, 0.0, "none"), np.abs(x))
    np.testing.assert_array_equal(detkit.smooth_l1_loss_grad(x, t, 0.0, "none"), np.sign(x))


# --- GIoU / DIoU / CIoU -----------------------------------------------------------------------


@given(xyxy_boxes(max_n=30), st.data(), st.sampled_from(sorted(BOX_LOSSES)), st.sampled_from(REDUCTIONS),
       st.sampled_from([1e-7, 0.0, 1e-3]))
def test_box_losses_match_reference(boxes1, data, kind, reduction, eps):
    boxes2 = data.draw(xyxy_boxes(min_n=len(boxes1), max_n=len(boxes1), dtype=boxes1.dtype))
    loss, grad = BOX_LOSSES[kind]
    with np.errstate(all="ignore"):  # eps=0 with degenerate boxes: NaN in both, compared as equal
        want = reference.box_loss(boxes1, boxes2, kind, eps, reduction)
        n = max(len(boxes1), 1)
        want_grad = reference.box_loss_grad(boxes1, boxes2, kind, eps, 1.0 / n if reduction == "mean" else 1.0)
    got = loss(boxes1, boxes2, reduction, eps)
    assert got.dtype == boxes1.dtype
    np.testing.assert_allclose(got, want, **_tol(boxes1.dtype))
    np.testing.assert_allclose(grad(boxes1, boxes2, reduction, eps), want_grad, **_tol(boxes1.dtype))


def _torch_box_losses():
    torchvision = pytest.importorskip("torchvision")
    return {"giou": torchvision.ops.generalized_box_iou_loss, "diou": torchvision.ops.distance_box_iou_loss,
            "ciou": torchvision.ops.complete_box_iou_loss}


@pytest.mark.parametrize("kind", sorted(BOX_LOSSES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_box_losses_match_torchvision_autograd(kind, dtype):
    torch = pytest.importorskip("torch")
    peer = _torch_box_losses()[kind]
    rng = np.random.default_rng(7)
    a = random_boxes(rng, 500, dtype) + 0.01  # strictly positive sizes: torchvision's domain
    b = random_boxes(rng, 500, dtype) + 0.01
    a[:100] = b[:100] + rng.normal(0, 5, (100, 4)).astype(dtype)  # overlapping pairs
    a[:100, 2:] = np.maximum(a[:100, 2:], a[:100, :2] + 1)
    a[100:150] = np.round(a[100:150])  # aligned edges: ties in min/max
    a[100:150, 2:] = np.maximum(a[100:150, 2:], a[100:150, :2] + 1)  # torchvision's CIoU gradient is NaN at h == 0
    b[100:150] = np.round(a[100:150] + rng.integers(-2, 3, (50, 4)))
    b[100:150, 2:] = np.maximum(b[100:150, 2:], b[100:150, :2] + 1)
    a[150:160] = b[150:160]  # identical boxes
    loss, grad = BOX_LOSSES[kind]
    for reduction in REDUCTIONS:
        ta = torch.tensor(a, requires_grad=True)
        want = peer(ta, torch.tensor(b), reduction=reduction)
        want.sum().backward()
        tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(loss(a, b, reduction), want.detach().numpy(), **tol)
        np.testing.assert_allclose(grad(a, b, reduction), ta.grad.numpy(), **tol)


def _aspect_term(a, b):
    """CIoU's v = 4 / pi^2 (atan(wb / hb) - atan(wa / ha))^2 for boxes with positive sizes."""
    return 4 / np.pi**2 * (np.arctan((b[:, 2] - b[:, 0]) / (b[:, 3] - b[:, 1]))
                           - np.arctan((a[:, 2] - a[:, 0]) / (a[:, 3] - a[:, 1]))) ** 2


@pytest.mark.parametrize("kind", sorted(BOX_LOSSES))
def test_box_loss_grads_match_finite_differences(kind):
    rng = np.random.default_rng(8)
    b = random_boxes(rng, 300) + 0.5
    a = b + rng.normal(0, 8, (300, 4))
    a[:, 2:] = np.maximum(a[:, 2:], a[:, :2] + 1)
    a[200:] = random_boxes(rng, 100) + 0.5  # mostly disjoint pairs
    loss, grad = BOX_LOSSES[kind]
    objective = loss
    if kind == "ciou":  # the gradient holds alpha = v / (1 - iou + v + eps) constant, as torchvision
        iou = detkit.box_iou(a, b, aligned=True)  # differs from inter / (union + eps) by ~eps
        v0 = _aspect_term(a, b)
        alpha = v0 / (1 - iou + v0 + 1e-7)
        objective = lambda p, q: detkit.diou_loss(p, q) + alpha * _aspect_term(p, q)  # noqa: E731
    analytic = grad(a, b)
    h = 1e-6
    for c in range(4):
        step = np.zeros_like(a)
        step[:, c] = h
        numeric = (objective(a + step, b) - objective(a - step, b)) / (2 * h)
        np.testing.assert_allclose(analytic[:, c], numeric, rtol=1e-4, atol=1e-7)


def test_box_losses_known_values():
    same = [[0, 0, 2, 2]]
    for kind, (loss, grad) in BOX_LOSSES.items():
        assert loss(same, same)[0] == pytest.approx(0, abs=1e-6)
    # Disjoint unit squares: IoU 0, union 2, enclosing box 3 x 1, centre distance 2, diagonal^2 10.
    a, b = [[0, 0, 1, 1]], [[2, 0, 3, 1]]
    assert detkit.giou_loss(a, b)[0] == pytest.approx(1 + 1 / 3)
    assert detkit.diou_loss(a, b)[0] == pytest.approx(1 + 4 / 10)
    assert detkit.ciou_loss(a, b)[0] == pytest.approx(1 + 4 / 10)  # same aspect ratio: v = 0


def test_box_loss_upstream_gradient():
    rng = np.random.default_rng(9)
    a, b = random_boxes(rng, 20), random_boxes(rng, 20)
    go = rng.normal(size=20)
    np.testing.assert_allclose(detkit.ciou_loss_grad(a, b, grad_output=go), detkit.ciou_loss_grad(a, b) * go[:, None],
                               rtol=1e-12)
    np.testing.assert_allclose(detkit.giou_loss_grad(a, b, "mean", grad_output=4.0),
                               detkit.giou_loss_grad(a, b) * 4 / 20, rtol=1e-12)


# --- errors -----------------------------------------------------------------------------------


def test_loss_errors():
    x = np.zeros(3)
    with pytest.raises(ValueError, match=r"targets must have the shape of inputs \(3,\)"):
        detkit.sigmoid_focal_loss(x, np.zeros(4))
    with pytest.raises(ValueError, match="inputs must be finite"):
        detkit.sigmoid_focal_loss([0.0, np.nan], [0.0, 1.0])
    with pytest.raises(ValueError, match="targets must be finite"):
        detkit.sigmoid_focal_loss_grad([0.0, 1.0], [0.0, np.inf])
    with pytest.raises(TypeError, match="inputs must hold real numbers"):
        detkit.sigmoid_focal_loss(np.array([True]), [1.0])
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\], or negative"):
        detkit.sigmoid_focal_loss(x, x, alpha=1.5)
    with pytest.raises(TypeError, match="alpha must be a real number"):
        detkit.sigmoid_focal_loss(x, x, alpha="0.25")
    with pytest.raises(ValueError, match="gamma must be in"):
        detkit.sigmoid_focal_loss(x, x, gamma=-1)
    with pytest.raises(ValueError, match="reduction must be one of 'none', 'mean', 'sum', got 'avg'"):
        detkit.sigmoid_focal_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match=r"grad_output must have the loss shape \(3,\)"):
        detkit.sigmoid_focal_loss_grad(x, x, grad_output=np.ones(2))
    with pytest.raises(ValueError, match="grad_output must be finite"):
        detkit.smooth_l1_loss_grad(x, x, reduction="none", grad_output=[1, np.nan, 1])
    with pytest.raises(TypeError, match="grad_output must be a real number"):
        detkit.sigmoid_focal_loss_grad(x, x, reduction="sum", grad_output=np.ones(3))
    with pytest.raises(ValueError, match="beta must be in"):
        detkit.smooth_l1_loss(x, x, beta=-0.5)
    with pytest.raises(ValueError, match=r"target must have the shape of input"):
        detkit.smooth_l1_loss_grad(x, np.zeros((3, 1)))
    boxes = [[0, 0, 1, 1]]
    with pytest.raises(ValueError, match="boxes1 and boxes2 must be matched pairs of equal length, got 1 and 2"):
        detkit.giou_loss(boxes, boxes * 2)
    with pytest.raises(ValueError, match="boxes2 must be xyxy boxes with x2 >= x1"):
        detkit.diou_loss_grad(boxes, [[1, 0, 0, 1]])
    with pytest.raises(ValueError, match=r"boxes1 must have shape \(N, 4\)"):
        detkit.ciou_loss([[0, 0, 1]], boxes)
    with pytest.raises(ValueError, match="eps must be in"):
        detkit.ciou_loss(boxes, boxes, eps=-1)
    with pytest.raises(ValueError, match="reduction must be one of"):
        detkit.giou_loss_grad(boxes, boxes, reduction="max")
    with pytest.raises(ValueError, match=r"grad_output must have the loss shape \(1,\)"):
        detkit.giou_loss_grad(boxes, boxes, grad_output=[1.0, 2.0])


def test_bindings_recheck_what_would_be_undefined_behaviour():
    from detkit import _C

    with pytest.raises(ValueError, match="targets must be one-dimensional with 3 entries"):
        _C.sigmoid_focal_loss(np.zeros(3), np.zeros(2), 0.25, 2.0, True)
    with pytest.raises(ValueError, match="gamma must be >= 0"):
        _C.sigmoid_focal_loss_backward(np.zeros(3), np.zeros(3), 0.25, -1.0, None, 1.0)
    with pytest.raises(ValueError, match="grad_output must be one-dimensional with 3 entries"):
        _C.smooth_l1_loss_backward(np.zeros(3), np.zeros(3), 1.0, np.zeros(2), 1.0)
    with pytest.raises(ValueError, match="beta must be >= 0"):
        _C.smooth_l1_loss(np.zeros(3), np.zeros(3), -1.0, True)
    with pytest.raises(ValueError, match="kind must be 1"):
        _C.box_loss(np.zeros((1, 4)), np.zeros((1, 4)), 0, 1e-7, True)
    with pytest.raises(ValueError, match="boxes1 and boxes2 must have equal length"):
        _C.box_loss_backward(np.zeros((1, 4)), np.zeros((2, 4)), 1, 1e-7, None, 1.0)


def test_zero_dimensional_inputs_give_zero_dimensional_losses():
    for loss, grad in [(detkit.sigmoid_focal_loss, detkit.sigmoid_focal_loss_grad),
                       (detkit.smooth_l1_loss, detkit.smooth_l1_loss_grad)]:
        value = loss(0.5, 1.0, reduction="none")
        assert value.shape == ()
        np.testing.assert_allclose(value, loss([0.5], [1.0], reduction="none")[0])
        assert grad(0.5, 1.0, reduction="none").shape == ()
        assert grad(0.5, 1.0, reduction="none", grad_output=2.0).shape == ()
        with pytest.raises(ValueError, match=r"targets? must have the shape of inputs? \(\)"):
            loss(0.5, [1.0], reduction="none")
