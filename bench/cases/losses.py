"""Detection losses and their gradients over 1,000,000 elements (float32), single thread."""

import numpy as np

import detkit
from bench.core import Case, optional_import
from detkit import reference

torch = optional_import("torch")
torchvision = optional_import("torchvision")

N = 1_000_000


def _logits(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 3, N).astype(np.float32)
    t = (rng.random(N) < 0.05).astype(np.float32)  # RetinaNet-like: few positives
    return x, t


def _box_pairs(seed=1):
    rng = np.random.default_rng(seed)
    b = rng.uniform(0, 800, (N, 2))
    b = np.concatenate([b, b + rng.uniform(4, 300, (N, 2))], axis=1)
    a = b + rng.normal(0, 10, (N, 4))
    a[:, 2:] = np.maximum(a[:, 2:], a[:, :2] + 1)
    return a.astype(np.float32), b.astype(np.float32)


def _torch_backward(fn, x, *rest):
    """Forward + backward through torch autograd (the peer's way to get a gradient)."""
    def run():
        tx = torch.from_numpy(x).requires_grad_(True)
        fn(tx, *rest).backward()
        return tx.grad
    return run


def _focal_cases():
    def forward():
        x, t = _logits()
        impls = {"detkit": lambda: detkit.sigmoid_focal_loss(x, t, reduction="sum"),
                 "reference": lambda: reference.sigmoid_focal_loss(x, t, reduction="sum")}
        if torchvision is not None:
            tx, tt = torch.from_numpy(x), torch.from_numpy(t)
            impls["torchvision"] = lambda: torchvision.ops.sigmoid_focal_loss(tx, tt, reduction="sum")
        return impls

    def backward():
        x, t = _logits()
        impls = {"detkit": lambda: detkit.sigmoid_focal_loss_grad(x, t, reduction="sum"),
                 "reference": lambda: reference.sigmoid_focal_loss_grad(x, t)}
        if torchvision is not None:
            tt = torch.from_numpy(t)
            impls["torchvision fwd+bwd"] = _torch_backward(
                lambda tx: torchvision.ops.sigmoid_focal_loss(tx, tt, reduction="sum"), x)
        return impls

    return [Case("losses sigmoid_focal_loss 1M", "1,000,000 float32 logits, sum", forward),
            Case("losses sigmoid_focal_loss_grad 1M", "gradient w.r.t. 1,000,000 float32 logits", backward)]


def _smooth_l1_cases():
    def forward():
        rng = np.random.default_rng(2)
        x, t = rng.normal(0, 1, N).astype(np.float32), rng.normal(0, 1, N).astype(np.float32)
        impls = {"detkit": lambda: detkit.smooth_l1_loss(x, t, 1 / 9, "sum"),
                 "reference": lambda: reference.smooth_l1_loss(x, t, 1 / 9, "sum")}
        if torch is not None:
            tx, tt = torch.from_numpy(x), torch.from_numpy(t)
            impls["torch"] = lambda: torch.nn.functional.smooth_l1_loss(tx, tt, beta=1 / 9, reduction="sum")
        return impls

    def backward():
        rng = np.random.default_rng(2)
        x, t = rng.normal(0, 1, N).astype(np.float32), rng.normal(0, 1, N).astype(np.float32)
        impls = {"detkit": lambda: detkit.smooth_l1_loss_grad(x, t, 1 / 9, "sum"),
                 "reference": lambda: reference.smooth_l1_loss_grad(x, t, 1 / 9)}
        if torch is not None:
            tt = torch.from_numpy(t)
            impls["torch fwd+bwd"] = _torch_backward(
                lambda tx: torch.nn.functional.smooth_l1_loss(tx, tt, beta=1 / 9, reduction="sum"), x)
        return impls

    return [Case("losses smooth_l1_loss 1M", "1,000,000 float32 elements, beta 1/9, sum", forward),
            Case("losses smooth_l1_loss_grad 1M", "gradient w.r.t. 1,000,000 float32 elements", backward)]


def _box_cases(kind, peer_name):
    ours, ours_grad = getattr(detkit, f"{kind}_loss"), getattr(detkit, f"{kind}_loss_grad")

    def forward():
        a, b = _box_pairs()
        impls = {"detkit": lambda: ours(a, b, "sum"), "reference": lambda: reference.box_loss(a, b, kind, reduction="sum")}
        if torchvision is not None:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            peer = getattr(torchvision.ops, peer_name)
            impls["torchvision"] = lambda: peer(ta, tb, reduction="sum")
        return impls

    def backward():
        a, b = _box_pairs()
        impls = {"detkit": lambda: ours_grad(a, b, "sum"), "reference": lambda: reference.box_loss_grad(a, b, kind)}
        if torchvision is not None:
            tb = torch.from_numpy(b)
            peer = getattr(torchvision.ops, peer_name)
            impls["torchvision fwd+bwd"] = _torch_backward(lambda ta: peer(ta, tb, reduction="sum"), a)
        return impls

    return [Case(f"losses {kind}_loss 1M", f"1,000,000 matched float32 box pairs, sum", forward),
            Case(f"losses {kind}_loss_grad 1M", f"gradient w.r.t. 1,000,000 float32 boxes", backward)]


CASES = [
    *_focal_cases(),
    *_smooth_l1_cases(),
    *_box_cases("giou", "generalized_box_iou_loss"),
    *_box_cases("diou", "distance_box_iou_loss"),
    *_box_cases("ciou", "complete_box_iou_loss"),
]
