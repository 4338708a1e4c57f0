"""Pascal VOC evaluation at VOC scale: 5,000 images, 20 classes, ~17,500 ground-truth boxes (10%
difficult) and 100,000 detections (jittered copies of the ground truth plus background boxes)."""

import numpy as np

from bench.core import Case
from detkit import reference
from detkit.eval import evaluate_voc


def voc_dataset(n_images: int, n_classes: int, dets_per_image: int, seed: int = 0):
    """Per-image gt and detection records (xyxy boxes on a 500 x 375 image)."""
    rng = np.random.default_rng(seed)
    gt, dets = [], []
    for _ in range(n_images):
        k = int(rng.integers(1, 7))
        xy = rng.uniform(0, 400, (k, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(10, 200, (k, 2))], 1)
        labels = rng.integers(0, n_classes, k)
        gt.append({"boxes": boxes, "labels": labels, "difficult": rng.random(k) < 0.1})
        src = rng.integers(0, k, dets_per_image)
        db = boxes[src] + rng.normal(0, 8, (dets_per_image, 4))
        background = rng.random(dets_per_image) < 0.3
        db[background] = np.concatenate([xy[:1], xy[:1] + 50], 1) + rng.uniform(-100, 300, (int(background.sum()), 4))
        db[:, 2:] = np.maximum(db[:, 2:], db[:, :2])
        dl = np.where(rng.random(dets_per_image) < 0.8, labels[src], rng.integers(0, n_classes, dets_per_image))
        dets.append({"boxes": db, "scores": rng.random(dets_per_image), "labels": dl})
    return gt, dets


def _flat(records, keys):
    ids = np.concatenate([np.full(len(r["boxes"]), i) for i, r in enumerate(records)])
    return ids, [np.concatenate([r[k] for r in records]) for k in keys]


def _voc_case(use_07: bool) -> Case:
    def setup():
        gt, dets = voc_dataset(5000, 20, 20)
        gi, (gb, gl, gd) = _flat(gt, ("boxes", "labels", "difficult"))
        di, (db, ds, dl) = _flat(dets, ("boxes", "scores", "labels"))
        flat_gt = {"image_ids": gi, "boxes": gb, "labels": gl, "difficult": gd}
        flat_dt = {"image_ids": di, "boxes": db, "scores": ds, "labels": dl}
        return {
            "detkit": lambda: evaluate_voc(gt, dets, use_07_metric=use_07),
            "detkit (flat arrays)": lambda: evaluate_voc(flat_gt, flat_dt, use_07_metric=use_07),
            "reference": lambda: reference.voc.evaluate_voc(gi, gb, gl, gd, di, db, ds, dl, 0.5, use_07, 1),
        }

    name = "voc 07 11-point" if use_07 else "voc all-point"
    return Case(f"{name} 5,000 images", "5,000 images, 20 classes, 17.5k gt, 100k detections", setup,
                slow_peers=("reference",))


CASES = [_voc_case(False), _voc_case(True)]
