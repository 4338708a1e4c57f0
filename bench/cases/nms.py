"""NMS family and box ops on clustered detector-like boxes (1333 x 800 image, ~20 boxes/object)."""

import numpy as np

import detkit
from bench.core import Case, optional_import
from detkit import reference
from detkit.synthetic import clustered_boxes

torch = optional_import("torch")
torchvision = optional_import("torchvision")
cv2 = optional_import("cv2")
ensemble_boxes = optional_import("ensemble_boxes")


def _nms_case(n: int) -> Case:
    def setup():
        boxes, scores, _ = clustered_boxes(n, seed=0)
        impls = {
            "detkit": lambda: detkit.nms(boxes, scores, 0.5),
            "reference": lambda: reference.nms(boxes, scores, 0.5),
        }
        if torchvision is not None:
            tb, ts = torch.from_numpy(boxes), torch.from_numpy(scores)
            impls["torchvision"] = lambda: torchvision.ops.nms(tb, ts, 0.5)
        if cv2 is not None:
            xywh = detkit.box_convert(boxes, "xyxy", "xywh").tolist()
            sl = scores.tolist()
            impls["cv2.dnn.NMSBoxes"] = lambda: cv2.dnn.NMSBoxes(xywh, sl, 0.0, 0.5)
        return impls

    return Case(f"nms {n:,}", f"{n:,} clustered boxes, IoU 0.5", setup,
                slow_peers=("reference", "torchvision", "cv2.dnn.NMSBoxes"))


def _batched_case(n: int, classes: int) -> Case:
    def setup():
        boxes, scores, labels = clustered_boxes(n, num_classes=classes, seed=1)
        impls = {
            "detkit": lambda: detkit.batched_nms(boxes, scores, labels, 0.5),
            "reference": lambda: reference.batched_nms(boxes, scores, labels, 0.5),
        }
        if torchvision is not None:
            tb, ts, tl = torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(labels)
            impls["torchvision"] = lambda: torchvision.ops.batched_nms(tb, ts, tl, 0.5)
        return impls

    return Case(f"batched_nms {n:,} / {classes} classes", f"{n:,} clustered boxes, {classes} classes, IoU 0.5",
                setup, slow_peers=("reference",))


def _soft_case(n: int) -> Case:
    def setup():
        boxes, scores, _ = clustered_boxes(n, seed=2)
        impls = {
            "detkit": lambda: detkit.soft_nms(boxes, scores, sigma=0.5, score_threshold=0.001),
            "reference": lambda: reference.soft_nms(boxes, scores, sigma=0.5, score_threshold=0.001),
        }
        if ensemble_boxes is not None:
            # ensemble-boxes works on [0, 1] normalised coordinates, one model, one label.
            norm = (boxes / np.array([1333, 800, 1333, 800], np.float32)).clip(0, 1)
            labels = np.zeros(n)
            impls["ensemble_boxes.soft_nms"] = lambda: ensemble_boxes.soft_nms(
                [norm], [scores], [labels], iou_thr=0.3, sigma=0.5, thresh=0.001)
        return impls

    return Case(f"soft_nms {n:,}", f"{n:,} clustered boxes, gaussian sigma 0.5", setup,
                slow_peers=("reference", "ensemble_boxes.soft_nms"))


def _iou_case(n: int) -> Case:
    def setup():
        a, _, _ = clustered_boxes(n, seed=3)
        b, _, _ = clustered_boxes(n, seed=4)
        impls = {
            "detkit": lambda: detkit.box_iou(a, b),
            "reference": lambda: reference.box_iou(a, b),
        }
        if torchvision is not None:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            impls["torchvision"] = lambda: torchvision.ops.box_iou(ta, tb)
        return impls

    def gbps(seconds: float):
        return {"output GB/s": n * n * 4 / seconds / 1e9}

    return Case(f"box_iou {n:,} x {n:,}", f"{n:,} x {n:,} float32 clustered boxes", setup, extra=gbps,
                slow_peers=("reference",))


def _iou_out_case(n: int) -> Case:
    """The same matrix written into a reused buffer (``out=``): no allocation or page faults, so
    this measures the kernel itself (write-bandwidth bound)."""
    base = _iou_case(n)

    def setup():
        impls = base.setup()
        a, _, _ = clustered_boxes(n, seed=3)
        b, _, _ = clustered_boxes(n, seed=4)
        out = np.empty((n, n), np.float32)
        impls["detkit"] = lambda: detkit.box_iou(a, b, out=out)
        return impls

    return Case(f"box_iou {n:,} x {n:,} (out=)", f"{n:,} x {n:,} float32, detkit writes into a reused buffer",
                setup, extra=base.extra, slow_peers=base.slow_peers)


def _convert_case(n: int) -> Case:
    def setup():
        boxes, _, _ = clustered_boxes(n, seed=5)
        impls = {
            "detkit": lambda: detkit.box_convert(boxes, "xyxy", "cxcywh"),
            "reference": lambda: reference.box_convert(boxes, "xyxy", "cxcywh"),
        }
        if torchvision is not None:
            tb = torch.from_numpy(boxes)
            impls["torchvision"] = lambda: torchvision.ops.box_convert(tb, "xyxy", "cxcywh")
        return impls

    return Case(f"box_convert {n:,}", f"{n:,} float32 boxes xyxy->cxcywh (memory-bound)", setup)


CASES = [
    _nms_case(10_000),
    _nms_case(50_000),
    _batched_case(100_000, 80),
    _soft_case(5_000),
    _iou_case(4_000),
    _iou_out_case(4_000),
    _convert_case(1_000_000),
]
