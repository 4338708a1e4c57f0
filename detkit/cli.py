"""Command line: ``detkit demo`` runs detkit's main jobs on built-in data and times them."""

from __future__ import annotations

import argparse
import sys
from typing import Callable, List, Optional

import numpy as np

import detkit
from detkit import reference
from detkit._timing import median_seconds
from detkit.synthetic import clustered_boxes


def _table(rows: List[tuple], header: tuple) -> str:
    cells = [tuple(str(c) for c in header)] + [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _timing_row(name: str, native: Callable, ref: Callable) -> tuple:
    t_native = median_seconds(native, repeats=5, max_time=2.0)
    t_ref = median_seconds(ref, repeats=3, max_time=4.0)
    return (name, f"{t_native * 1e3:.3f}", f"{t_ref * 1e3:.3f}", f"{t_ref / t_native:.1f}x")


def demo_boxes_and_nms(out) -> List[tuple]:
    """Box ops and NMS on clustered detector-like boxes; returns timing rows."""
    boxes, scores, labels = clustered_boxes(10_000, num_classes=80, seed=0)
    keep = detkit.nms(boxes, scores, 0.5)
    keep_cls = detkit.batched_nms(boxes, scores, labels, 0.5)
    soft_keep, soft_scores = detkit.soft_nms(boxes[:2000], scores[:2000], score_threshold=0.05)
    iou = detkit.box_iou(boxes[:2000], boxes[:2000])
    if not np.array_equal(keep, reference.nms(boxes, scores, 0.5)):
        raise RuntimeError("native nms disagrees with the reference")
    out.write(
        f"10,000 clustered boxes (1333x800 image, ~20 per object, 80 classes):\n"
        f"  nms(iou>0.5) keeps {len(keep)}; batched_nms keeps {len(keep_cls)};"
        f" soft_nms on 2,000 keeps {len(soft_keep)} (score >= 0.05)\n"
        f"  box_iou 2,000 x 2,000: mean IoU {iou.mean():.4f}, pairs with IoU > 0.5: {(iou > 0.5).sum()}\n"
        f"  top-3 kept: {keep[:3].tolist()} scores {[round(float(v), 4) for v in scores[keep[:3]]]}\n\n"
    )
    b1, b2 = boxes[:1000], boxes[1000:2000]
    return [
        _timing_row("box_iou 1,000 x 1,000", lambda: detkit.box_iou(b1, b2), lambda: reference.box_iou(b1, b2)),
        _timing_row("nms 10,000", lambda: detkit.nms(boxes, scores, 0.5), lambda: reference.nms(boxes, scores, 0.5)),
        _timing_row("batched_nms 10,000 / 80 classes", lambda: detkit.batched_nms(boxes, scores, labels, 0.5),
                    lambda: reference.batched_nms(boxes, scores, labels, 0.5)),
        _timing_row("box_convert 10,000", lambda: detkit.box_convert(boxes, "xyxy", "cxcywh"),
                    lambda: reference.box_convert(boxes, "xyxy", "cxcywh")),
    ]


def demo_detector_ops(out) -> List[tuple]:
    """RoIAlign, anchors, box decoding and the focal loss on a Faster R-CNN / RetinaNet workload."""
    rng = np.random.default_rng(0)
    features = rng.standard_normal((1, 64, 100, 152), dtype=np.float32)  # stride 8 of 800 x 1216
    boxes, _, _ = clustered_boxes(300, image_size=(800, 1216), seed=1)
    rois = np.concatenate([np.zeros((len(boxes), 1), np.float32), boxes], axis=1)
    align = dict(output_size=7, spatial_scale=1 / 8, sampling_ratio=2, aligned=True)
    pooled = detkit.roi_align(features, rois, **align)

    fpn_sizes = [(200, 304), (100, 152), (50, 76), (25, 38), (13, 19)]
    generator = detkit.AnchorGenerator(sizes=((32,), (64,), (128,), (256,), (512,)),
                                       aspect_ratios=((0.5, 1.0, 2.0),) * 5)
    anchors = generator((800, 1216), fpn_sizes)
    coder = detkit.BoxCoder()
    deltas = rng.normal(0, 0.5, size=anchors.shape).astype(np.float32)
    decoded = coder.decode(deltas, anchors)
    logits = rng.standard_normal(1_000_000, dtype=np.float32)
    targets = (rng.random(1_000_000) < 0.01).astype(np.float32)
    loss = detkit.sigmoid_focal_loss(logits, targets, reduction="sum")
    out.write(
        f"Detector ops (800 x 1216 image):\n"
        f"  roi_align: 300 RoIs on a (1, 64, 100, 152) map -> {pooled.shape}, mean {pooled.mean():.4f}\n"
        f"  AnchorGenerator: 5 FPN levels x 3 ratios -> {len(anchors):,} anchors;"
        f" BoxCoder.decode of random deltas -> {decoded.shape}\n"
        f"  sigmoid_focal_loss over 1,000,000 logits (1% positives): {float(loss):.1f}\n\n"
    )
    strides = [(800 // h, 1216 // w) for h, w in fpn_sizes]
    cells = generator.cell_anchors
    return [
        _timing_row("roi_align 300 RoIs, 64 ch, 7x7", lambda: detkit.roi_align(features, rois, **align),
                    lambda: reference.roi_align(features, rois, **align)),
        _timing_row("anchors, 5-level FPN", lambda: generator((800, 1216), fpn_sizes),
                    lambda: reference.grid_anchors(cells, fpn_sizes, strides)),
        _timing_row(f"BoxCoder.decode {len(anchors):,}", lambda: coder.decode(deltas, anchors),
                    lambda: reference.decode_boxes(deltas[:, None], anchors, coder.weights, coder.bbox_xform_clip)),
        _timing_row("sigmoid_focal_loss 1,000,000", lambda: detkit.sigmoid_focal_loss(logits, targets),
                    lambda: reference.sigmoid_focal_loss(logits, targets)),
    ]


def demo_proposals(out) -> List[tuple]:
    """Selective search on a synthetic scene with known object boxes."""
    from detkit.eval import average_best_overlap, proposal_recall
    from detkit.proposals import selective_search, selective_search_settings
    from detkit.synthetic import synthetic_scene

    image, gt_boxes, _ = synthetic_scene(0, 400, 600)
    proposals = selective_search(image, "fast")
    recall = proposal_recall(proposals, gt_boxes, [0.5, 0.7])
    mabo, _ = average_best_overlap(proposals, gt_boxes)
    out.write(
        f"Selective search (fast mode) on a 600 x 400 synthetic scene with {len(gt_boxes)} objects:\n"
        f"  {len(proposals):,} proposals; recall@0.5 {recall[0]:.3f}, recall@0.7 {recall[1]:.3f},"
        f" MABO {mabo:.3f}\n\n"
    )
    small, _, _ = synthetic_scene(1, 96, 128, n_objects=3)
    settings = selective_search_settings("single")
    return [
        _timing_row("selective_search single, 128 x 96", lambda: selective_search(small, "single"),
                    lambda: reference.selective_search(small, *settings)),
    ]


def _pycocotools_stats(gt: dict, results: list):
    """pycocotools' bbox stats and wall time on the same data, or None when it is not installed."""
    import contextlib
    import copy
    import io
    import time

    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError:
        return None
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)  # pycocotools adds fields to the records it is given
        coco_gt.createIndex()
        evaluator = COCOeval(coco_gt, coco_gt.loadRes(copy.deepcopy(results)), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats, time.perf_counter() - start


def demo_evaluation(out) -> List[tuple]:
    """COCO (vs pycocotools when installed) and Pascal VOC evaluation of synthetic detections."""
    import time

    from detkit.eval import evaluate_coco, evaluate_voc
    from detkit.synthetic import synthetic_coco

    gt, results = synthetic_coco(300, seed=0)
    start = time.perf_counter()
    coco = evaluate_coco(gt, results)
    seconds = time.perf_counter() - start
    out.write(f"COCO bbox evaluation: {len(gt['images'])} images, {len(gt['annotations']):,} objects,"
              f" {len(results):,} detections, 80 categories ({seconds * 1e3:.0f} ms):\n{coco}\n")
    peer = _pycocotools_stats(gt, results)
    if peer is None:
        out.write("  (pycocotools is not installed: pip install pycocotools to compare)\n")
    else:
        same = np.array_equal(peer[0], coco.stats)
        out.write(f"  pycocotools on the same data: {peer[1] * 1e3:.0f} ms, identical stats: {same}\n")

    def flat(records, score):
        boxes = np.array([r["bbox"] for r in records], np.float64).reshape(-1, 4)
        columns = {"image_ids": np.array([r["image_id"] for r in records]),
                   "boxes": np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1),
                   "labels": np.array([r["category_id"] for r in records])}
        if score:
            columns["scores"] = np.array([r["score"] for r in records])
        else:
            columns["difficult"] = np.array([r["iscrowd"] for r in records], bool)
        return columns

    voc_gt, voc_dt = flat(gt["annotations"], False), flat(results, True)
    all_point = evaluate_voc(voc_gt, voc_dt, offset=0)
    eleven = evaluate_voc(voc_gt, voc_dt, offset=0, use_07_metric=True)
    out.write(f"Pascal VOC on the same data (crowds as difficult, IoU > 0.5): mAP {all_point.mAP:.4f}"
              f" (all-point), {eleven.mAP:.4f} (VOC2007 11-point)\n\n")
    return []


# Each demo section prints its results and returns (name, native ms, reference ms, speed-up) rows.
DEMO_SECTIONS: List[Callable] = [demo_boxes_and_nms, demo_detector_ops, demo_proposals, demo_evaluation]


def run_demo(out=sys.stdout) -> int:
    out.write(f"detkit {detkit.__version__} demo ({detkit.get_num_threads()} threads)\n\n")
    rows: List[tuple] = []
    for section in DEMO_SECTIONS:
        rows.extend(section(out))
    out.write("Native vs reference (median wall time):\n")
    out.write(_table(rows, ("operation", "native ms", "reference ms", "speed-up")) + "\n")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="detkit", description=__doc__)
    parser.add_argument("--version", action="version", version=f"detkit {detkit.__version__}")
    parser.add_argument("--threads", type=int, default=None, help="native threads (default: all cores)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="run the main jobs on built-in data and time them against the reference")
    args = parser.parse_args(argv)
    if args.threads is not None:
        detkit.set_num_threads(args.threads)
    try:
        if args.command == "demo":
            return run_demo()
    except BrokenPipeError:  # output piped into a pager or `head` that exited early
        sys.stderr.close()
        return 0
    return 2  # unreachable: argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
