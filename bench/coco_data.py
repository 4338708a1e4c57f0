"""Deterministic COCO-style evaluation workloads written as JSON files (ground truth + results).

``write_coco_workload(directory)`` writes ``gt.json`` (instances: images, 80 categories with COCO's
sparse ids, annotations with boxes, areas, crowd flags and small polygon segmentations) and
``dt.json`` (box results: jittered copies of the gts plus false positives, up to 100 per image,
scores as float32 values written with Python's float repr, as detectron2 and mmdet write them).
Files are regenerated only when absent. ``kind="keypoints"`` writes a person-keypoints pair;
``kind="segm"`` gives each gt a 12-vertex polygon (an ellipse inside its box) and writes mask
results as compressed RLEs of jittered copies of those polygons plus false positives.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Tuple

import numpy as np

# COCO's 80 category ids (1..90 with gaps)
COCO_CATEGORY_IDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
                     25, 27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49,
                     50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74,
                     75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90]


def _gt(rng: np.random.Generator, num_images: int, gt_per_image: float, num_kpts: int = 0):
    images, anns = [], []
    ann_id = 1
    for img_id in range(1, num_images + 1):
        w, h = int(rng.integers(320, 641)), int(rng.integers(240, 481))
        images.append({"id": img_id, "file_name": f"{img_id:012d}.jpg", "width": w, "height": h})
        for _ in range(int(rng.poisson(gt_per_image))):
            bw = float(np.exp(rng.uniform(np.log(4), np.log(w * 0.9))))
            bh = float(np.exp(rng.uniform(np.log(4), np.log(h * 0.9))))
            x, y = float(rng.uniform(0, w - bw)), float(rng.uniform(0, h - bh))
            box = [round(x, 2), round(y, 2), round(bw, 2), round(bh, 2)]
            ann = {"id": ann_id, "image_id": img_id, "bbox": box,
                   "area": round(bw * bh * float(rng.uniform(0.5, 0.9)), 2),
                   "iscrowd": int(rng.random() < 0.01),
                   "segmentation": [[box[0], box[1], box[0] + box[2], box[1], box[0] + box[2],
                                     box[1] + box[3], box[0], box[1] + box[3]]]}
            if num_kpts:
                ann["category_id"] = 1
                kx = rng.uniform(x, x + bw, num_kpts).round(1)
                ky = rng.uniform(y, y + bh, num_kpts).round(1)
                v = rng.integers(0, 3, num_kpts)
                kx[v == 0] = 0
                ky[v == 0] = 0
                ann["keypoints"] = np.stack([kx, ky, v], 1).ravel().tolist()
                ann["num_keypoints"] = int((v > 0).sum())
            else:
                ann["category_id"] = int(rng.choice(COCO_CATEGORY_IDS))
            anns.append(ann)
            ann_id += 1
    cat_ids = [1] if num_kpts else COCO_CATEGORY_IDS
    cats = [{"id": c, "name": f"class_{c}", "supercategory": "thing"} for c in cat_ids]
    return {"info": {"description": "detkit synthetic"}, "images": images, "categories": cats,
            "annotations": anns}


def _boxes_results(rng: np.random.Generator, gt: dict, per_image: int) -> list:
    by_image = {}
    for a in gt["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    sizes = {img["id"]: (img["width"], img["height"]) for img in gt["images"]}
    results = []
    for img_id in range(1, len(gt["images"]) + 1):
        w, h = sizes[img_id]
        anns = by_image.get(img_id, [])
        n_fp = per_image - 4 * len(anns) if per_image > 4 * len(anns) else 0
        boxes, cats = [], []
        for a in anns:  # ~4 jittered copies of each gt (a true positive and near-duplicates)
            x, y, bw, bh = a["bbox"]
            for _ in range(4):
                j = rng.normal(0, 0.08, 4)
                boxes.append([x + j[0] * bw, y + j[1] * bh, bw * np.exp(j[2]), bh * np.exp(j[3])])
                cats.append(a["category_id"] if rng.random() < 0.9 else int(rng.choice(COCO_CATEGORY_IDS)))
        for _ in range(n_fp):
            bw, bh = float(rng.uniform(4, w / 2)), float(rng.uniform(4, h / 2))
            boxes.append([float(rng.uniform(0, w - bw)), float(rng.uniform(0, h - bh)), bw, bh])
            cats.append(int(rng.choice(COCO_CATEGORY_IDS)))
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)[:per_image]
        scores = rng.random(len(boxes)).astype(np.float32)
        for b, s, c in zip(boxes.tolist(), scores.tolist(), cats):
            results.append({"image_id": img_id, "category_id": c, "bbox": b, "score": s})
    return results


def _keypoint_results(rng: np.random.Generator, gt: dict, per_image: int) -> list:
    results = []
    by_image = {}
    for a in gt["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    for img_id in range(1, len(gt["images"]) + 1):
        for a in by_image.get(img_id, [])[:per_image]:
            kp = np.asarray(a["keypoints"], dtype=np.float64).reshape(-1, 3)
            x, y, bw, bh = a["bbox"]
            kp[:, 0] = np.where(kp[:, 2] > 0, kp[:, 0], rng.uniform(x, x + bw, len(kp)))
            kp[:, 1] = np.where(kp[:, 2] > 0, kp[:, 1], rng.uniform(y, y + bh, len(kp)))
            kp[:, :2] += rng.normal(0, 0.03 * max(bw, bh), (len(kp), 2))
            kp[:, 2] = 1
            results.append({"image_id": img_id, "category_id": 1,
                            "keypoints": kp.astype(np.float32).ravel().tolist(),
                            "score": float(np.float32(rng.random()))})
    return results


def _ellipse(box, rng: np.random.Generator, vertices: int = 12) -> list:
    x, y, w, h = box
    t = np.linspace(0, 2 * np.pi, vertices, endpoint=False) + rng.uniform(0, np.pi)
    r = rng.uniform(0.8, 1.0, vertices)
    pts = np.stack([x + w / 2 * (1 + r * np.cos(t)), y + h / 2 * (1 + r * np.sin(t))], 1)
    return [np.round(pts, 2).ravel().tolist()]


def _segm_gt(rng: np.random.Generator, num_images: int, gt_per_image: float) -> dict:
    gt = _gt(rng, num_images, gt_per_image)
    for a in gt["annotations"]:
        a["segmentation"] = _ellipse(a["bbox"], rng)
    return gt


def _segm_results(rng: np.random.Generator, gt: dict, per_image: int) -> list:
    from detkit.eval import mask as mask_utils

    sizes = {img["id"]: (img["width"], img["height"]) for img in gt["images"]}
    results = []
    for r in _boxes_results(rng, gt, per_image):  # jittered gt boxes and false positives
        w, h = sizes[r["image_id"]]
        rle = mask_utils.frPyObjects(_ellipse(r["bbox"], rng), h, w)
        rle = mask_utils.merge(rle) if isinstance(rle, list) else rle
        results.append({"image_id": r["image_id"], "category_id": r["category_id"], "score": r["score"],
                        "segmentation": {"size": [h, w], "counts": rle["counts"].decode()}})
    return results


def write_coco_workload(directory, *, kind: str = "bbox", num_images: int = 5000,
                        gt_per_image: float = 7.3, dets_per_image: int = 100,
                        seed: int = 0) -> Tuple[Path, Path]:
    """Writes (once) and returns the paths of ``gt.json`` and ``dt.json`` for the workload."""
    directory = Path(directory) / f"{kind}-{num_images}-{gt_per_image}-{dets_per_image}-{seed}"
    gt_path, dt_path = directory / "gt.json", directory / "dt.json"
    if gt_path.exists() and dt_path.exists():
        return gt_path, dt_path
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    if kind == "bbox":
        gt = _gt(rng, num_images, gt_per_image)
        dt = _boxes_results(rng, gt, dets_per_image)
    elif kind == "keypoints":
        gt = _gt(rng, num_images, gt_per_image, num_kpts=17)
        dt = _keypoint_results(rng, gt, dets_per_image)
    elif kind == "segm":
        gt = _segm_gt(rng, num_images, gt_per_image)
        dt = _segm_results(rng, gt, dets_per_image)
    else:
        raise ValueError(f"kind must be 'bbox', 'keypoints' or 'segm', got {kind!r}")
    gt_path.write_text(json.dumps(gt))
    dt_path.write_text(json.dumps(dt))
    return gt_path, dt_path


# workload sizes per kind (segm is scaled down: pycocotools takes minutes on mask IoUs at 5k images)
WORKLOADS = {
    "bbox": {},
    "keypoints": {"dets_per_image": 20},
    "segm": {"num_images": 1000, "dets_per_image": 20},
}

# ---------------------------------------------------------------------- end-to-end runners
PEERS = {
    # name: (module holding COCO, attribute, module holding the evaluator, attribute)
    "detkit": ("detkit.eval", "COCO", "detkit.eval", "COCOeval"),
    "pycocotools": ("pycocotools.coco", "COCO", "pycocotools.cocoeval", "COCOeval"),
    "faster-coco-eval": ("faster_coco_eval", "COCO", "faster_coco_eval", "COCOeval_faster"),
    "ultrafast-pycocotools": ("ultrafast_pycocotools", "COCO", "ultrafast_pycocotools", "COCOeval"),
    "hotcoco": ("hotcoco", "COCO", "hotcoco", "COCOeval"),
}


def available_peers() -> list:
    import importlib

    names = []
    for name, (m1, _, m2, _) in PEERS.items():
        try:
            importlib.import_module(m1)
            importlib.import_module(m2)
        except Exception:  # noqa: BLE001 - an absent or broken peer is skipped
            continue
        names.append(name)
    return names


def end_to_end(name: str, gt_path, dt_path, iou_type: str = "bbox"):
    """Loads both files, evaluates, accumulates and summarizes with ``name``; returns the stats."""
    import contextlib
    import importlib
    import io

    m1, a1, _, _ = PEERS[name]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = getattr(importlib.import_module(m1), a1)(str(gt_path))
    return evaluate_results(name, gt, str(dt_path), iou_type)


def evaluate_results(name: str, gt, results, iou_type: str = "bbox"):
    """``gt.loadRes(results)``, evaluate, accumulate and summarize with ``name``'s evaluator
    (``gt`` is that peer's COCO); returns the stats."""
    import contextlib
    import importlib
    import io

    _, _, m2, a2 = PEERS[name]
    with contextlib.redirect_stdout(io.StringIO()):
        ev = getattr(importlib.import_module(m2), a2)(gt, gt.loadRes(results), iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats, dtype=np.float64)


def peak_memory_mb(name: str, gt_path, dt_path, iou_type: str = "bbox") -> float:
    """Peak resident memory (MB) of a fresh interpreter running :func:`end_to_end` once.

    Read from VmHWM (Linux), which starts afresh at exec; ``ru_maxrss`` would inherit the
    parent's peak through fork.
    """
    import subprocess
    import sys

    code = ("from bench.coco_data import end_to_end; "
            f"end_to_end({name!r}, {str(gt_path)!r}, {str(dt_path)!r}, {iou_type!r}); "
            "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1]) / 1024


def main(argv=None) -> int:
    """``python -m bench.coco_data [--kind bbox|keypoints|segm] [--memory]``: one end-to-end run per
    peer, side by side, with stats equality against detkit (and peak memory)."""
    import argparse
    import tempfile
    import time

    parser = argparse.ArgumentParser(prog="python -m bench.coco_data")
    parser.add_argument("--kind", default="bbox", choices=sorted(WORKLOADS))
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--skip", nargs="*", default=[], help="peers to leave out")
    args = parser.parse_args(argv)
    gt, dt = write_coco_workload(Path(tempfile.gettempdir()) / "detkit-bench-coco", kind=args.kind,
                                 **WORKLOADS[args.kind])
    base = None
    for name in available_peers():
        if name in args.skip:
            continue
        t0 = time.perf_counter()
        stats = end_to_end(name, gt, dt, args.kind)
        seconds = time.perf_counter() - t0
        base = stats if base is None else base
        mem = f" peak {peak_memory_mb(name, gt, dt, args.kind):.0f} MB" if args.memory else ""
        print(f"{name:24s} {seconds:8.3f} s  stats identical to detkit: {np.array_equal(stats, base)}{mem}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
