"""COCO evaluation end to end (load gt + results JSON, evaluate, accumulate, summarize) at COCO
val2017 scale: 5,000 images, ~36,500 gts, 80 categories, 500,000 box detections; a person
keypoints workload (5,000 images, ~36,000 keypoint results); and a mask workload scaled down to
1,000 images (~7,300 polygon gts, ~20,000 compressed-RLE results, 80 categories) because
pycocotools needs minutes for mask IoUs at full scale. detkit vs pycocotools, faster-coco-eval,
ultrafast-pycocotools, hotcoco. The "dicts" row is the in-training use: the ground truth loaded
once, the 500,000 detections handed to ``loadRes`` as a list of dicts.""" 

import contextlib
import importlib
import io
import json
import tempfile
from pathlib import Path

import numpy as np

from bench.coco_data import PEERS, WORKLOADS, available_peers, end_to_end, evaluate_results, write_coco_workload
from bench.core import Case

CACHE = Path(tempfile.gettempdir()) / "detkit-bench-coco"


def _case(kind: str, label: str) -> Case:
    def setup():
        gt, dt = write_coco_workload(CACHE, kind=kind, **WORKLOADS[kind])
        reference = end_to_end("detkit", gt, dt, kind)
        impls = {}
        for name in available_peers():
            if name != "detkit" and name != "pycocotools":
                # every fast peer must agree bit for bit, or the timing is meaningless
                stats = end_to_end(name, gt, dt, kind)
                if not np.array_equal(stats, reference):
                    print(f"  note: {name} stats differ from detkit: {stats} vs {reference}")
            impls[name] = (lambda n=name: end_to_end(n, gt, dt, kind))
        return impls

    return Case(f"coco_eval {label}", f"{label}: load gt + results JSON, evaluate, accumulate, summarize",
                setup, threads=None, repeats=5, slow_peers=("pycocotools", "faster-coco-eval"))


def _dicts_case() -> Case:
    def setup():
        gt_path, dt_path = write_coco_workload(CACHE, kind="bbox", **WORKLOADS["bbox"])
        impls = {}
        for name in available_peers():
            m1, a1, _, _ = PEERS[name]
            with contextlib.redirect_stdout(io.StringIO()):
                gt = getattr(importlib.import_module(m1), a1)(str(gt_path))
            dets = json.loads(Path(dt_path).read_text())  # each its own list: pycocotools edits it
            impls[name] = (lambda n=name, gt=gt, dets=dets: evaluate_results(n, gt, dets))
        return impls

    return Case("coco_eval bbox dicts", "bbox, 500k result dicts: loadRes(list), evaluate, accumulate, summarize",
                setup, threads=None, repeats=5, slow_peers=("pycocotools", "faster-coco-eval"))


CASES = [
    _case("bbox", "bbox 5k images / 500k dets"),
    _case("keypoints", "keypoints 5k images / 36k dets"),
    _case("segm", "segm 1k images / 20k RLE dets"),
    _dicts_case(),
]
