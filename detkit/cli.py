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


# Each demo section prints its results and returns (name, native ms, reference ms, speed-up) rows.
DEMO_SECTIONS: List[Callable] = [demo_boxes_and_nms]


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
