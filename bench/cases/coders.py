"""R-CNN box coder on the 267,069 anchors of a 5-level FPN at 1333 x 800 (float32)."""

import numpy as np

import detkit
from bench.core import Case, optional_import
from detkit import reference

torch = optional_import("torch")
torchvision = optional_import("torchvision")

WEIGHTS = (1.0, 1.0, 1.0, 1.0)  # the RPN's coder


def _inputs():
    gen = detkit.AnchorGenerator(((32,), (64,), (128,), (256,), (512,)), ((0.5, 1.0, 2.0),) * 5)
    anchors = gen((800, 1333), [(200, 334), (100, 167), (50, 84), (25, 42), (13, 21)])
    rng = np.random.default_rng(0)
    deltas = rng.normal(0, 1, anchors.shape).astype(np.float32)
    targets = detkit.BoxCoder(WEIGHTS).decode(rng.normal(0, 0.5, anchors.shape).astype(np.float32), anchors)
    return anchors, deltas, targets


def _peer():
    from torchvision.models.detection._utils import BoxCoder

    return BoxCoder(WEIGHTS)


def _decode_case() -> Case:
    def setup():
        anchors, deltas, _ = _inputs()
        coder = detkit.BoxCoder(WEIGHTS)
        clip = coder.bbox_xform_clip
        impls = {"detkit": lambda: coder.decode(deltas, anchors),
                 "reference": lambda: reference.decode_boxes(deltas[:, None, :], anchors, WEIGHTS, clip)}
        if torchvision is not None:
            peer, td, ta = _peer(), torch.from_numpy(deltas), torch.from_numpy(anchors)
            impls["torchvision"] = lambda: peer.decode_single(td, ta)
        return impls

    return Case("coders BoxCoder.decode 267k", "267,069 float32 deltas on FPN anchors (validation included)", setup)


def _encode_case() -> Case:
    def setup():
        anchors, _, targets = _inputs()
        coder = detkit.BoxCoder(WEIGHTS)
        impls = {"detkit": lambda: coder.encode(targets, anchors),
                 "reference": lambda: reference.encode_boxes(targets, anchors, WEIGHTS)}
        if torchvision is not None:
            peer, tt, ta = _peer(), torch.from_numpy(targets), torch.from_numpy(anchors)
            impls["torchvision"] = lambda: peer.encode_single(tt, ta)
        return impls

    return Case("coders BoxCoder.encode 267k", "267,069 float32 targets on FPN anchors (validation included)", setup)


CASES = [_decode_case(), _encode_case()]
