"""Proposal quality of detkit's selective search vs OpenCV's on seeded synthetic scenes.

For each scene (:func:`detkit.synthetic.synthetic_scene`, exact ground-truth boxes) both
implementations run in the same mode; each image is then scored with the same number of proposals
from both (the smaller of the two counts, best-ranked first; also fixed budgets of 100 and 500).

Usage: python -m bench.quality_selective_search [--scenes N] [--modes fast quality] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import detkit
from bench.core import optional_import
from detkit.eval import average_best_overlap, average_recall, proposal_recall
from detkit.proposals import selective_search
from detkit.synthetic import synthetic_scene

cv2 = optional_import("cv2")


def _scores(proposals: list, gts: list, labels: list) -> dict:
    recall = proposal_recall(proposals, gts, [0.5, 0.7])
    mabo, _ = average_best_overlap(proposals, gts, labels)
    return {"recall@0.5": recall[0], "recall@0.7": recall[1], "MABO": mabo,
            "AR": average_recall(proposals, gts), "proposals/img": np.mean([len(p) for p in proposals])}


def evaluate(scenes: int, modes, height: int, width: int) -> list:
    from bench.cases.selective_search import opencv_selective_search

    data = [synthetic_scene(seed, height, width, n_objects=8) for seed in range(scenes)]
    rows = []
    for mode in modes:
        ours, theirs, seconds = [], [], {"detkit": 0.0, "opencv": 0.0}
        for image, _, _ in data:
            t = time.perf_counter()
            ours.append(selective_search(image, mode))
            seconds["detkit"] += time.perf_counter() - t
            t = time.perf_counter()
            theirs.append(opencv_selective_search(image, mode))
            seconds["opencv"] += time.perf_counter() - t
        gts, labels = [d[1] for d in data], [d[2] for d in data]
        for budget in ("same", 100, 500):
            for name, props in (("detkit", ours), ("opencv", theirs)):
                counts = [min(len(a), len(b)) if budget == "same" else budget for a, b in zip(ours, theirs)]
                kept = [p[:c] for p, c in zip(props, counts)]
                rows.append({"mode": mode, "budget": budget, "method": name, **_scores(kept, gts, labels),
                             "seconds/img": seconds[name] / scenes})
    return rows


def markdown(rows: list, scenes: int, height: int, width: int) -> str:
    lines = [f"Synthetic scenes: {scenes} x ({width} x {height}), 8 objects each; single thread.", "",
             "| mode | proposals per image | method | mean count | recall@0.5 | recall@0.7 | MABO | AR | s/img |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        budget = "same as the other" if r["budget"] == "same" else f"first {r['budget']}"
        lines.append(f"| {r['mode']} | {budget} | {r['method']} | {r['proposals/img']:.0f} | {r['recall@0.5']:.3f} | "
                     f"{r['recall@0.7']:.3f} | {r['MABO']:.3f} | {r['AR']:.3f} | {r['seconds/img']:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality_selective_search", description=__doc__)
    parser.add_argument("--scenes", type=int, default=12)
    parser.add_argument("--modes", nargs="*", default=["fast", "quality"])
    parser.add_argument("--height", type=int, default=400)
    parser.add_argument("--width", type=int, default=600)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    if cv2 is None or not hasattr(cv2, "ximgproc"):
        print("OpenCV contrib (cv2.ximgproc) is not installed", file=sys.stderr)
        return 1
    detkit.set_num_threads(1)
    cv2.setNumThreads(1)
    rows = evaluate(args.scenes, args.modes, args.height, args.width)
    table = markdown(rows, args.scenes, args.height, args.width)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "selective_search_quality.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
