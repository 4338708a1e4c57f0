"""Seeded generators of realistic detector-like inputs, for the demo, tests and benchmarks."""

from __future__ import annotations

import numpy as np

__all__ = ["clustered_boxes", "synthetic_scene", "synthetic_coco"]


def clustered_boxes(n: int, *, image_size: tuple = (800, 1333), cluster_size: int = 20,
                    num_classes: int = 1, dtype=np.float32, seed: int = 0) -> tuple:
    """Boxes as a detector emits them before NMS: clusters of jittered boxes around objects.

    Object centres are uniform over the image, object sizes log-uniform between 16 and 400
    pixels; each cluster holds about ``cluster_size`` boxes whose corners jitter by up to 10% of
    the object size. Scores are uniform in [0, 1).

    Parameters
    ----------
    n : int
        Number of boxes.
    image_size : (height, width)
        Boxes are clipped to this image.
    cluster_size : int
        Average number of boxes per object.
    num_classes : int
        Labels are drawn uniformly from ``range(num_classes)``, one per cluster.
    dtype : float32 or float64
    seed : int

    Returns
    -------
    boxes : (n, 4) ndarray of ``dtype``, xyxy
    scores : (n,) ndarray of ``dtype``
    labels : (n,) ndarray of int64

    Examples
    --------
    >>> boxes, scores, labels = clustered_boxes(100, seed=1)
    >>> boxes.shape, scores.shape, labels.shape
    ((100, 4), (100,), (100,))
    """
    rng = np.random.default_rng(seed)
    height, width = image_size
    clusters = max(1, n // max(1, cluster_size))
    centres = rng.uniform((0, 0), (width, height), size=(clusters, 2))
    sizes = np.exp(rng.uniform(np.log(16), np.log(400), size=(clusters, 2)))
    cluster_labels = rng.integers(0, num_classes, size=clusters)
    member = rng.integers(0, clusters, size=n)
    half = sizes[member] / 2
    jitter = rng.uniform(-0.1, 0.1, size=(n, 4)) * np.concatenate([sizes[member]] * 2, axis=1)
    boxes = np.concatenate([centres[member] - half, centres[member] + half], axis=1) + jitter
    boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, width)
    boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, height)
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2])
    scores = rng.random(n)
    return boxes.astype(dtype), scores.astype(dtype), cluster_labels[member].astype(np.int64)


def _texture(rng: np.random.Generator, h: int, w: int, colour: np.ndarray) -> np.ndarray:
    """An (h, w, 3) float patch: flat, stripes, checkerboard or noise around ``colour``."""
    kind = rng.integers(0, 4)
    yy, xx = np.mgrid[0:h, 0:w]
    if kind == 0:
        pattern = np.zeros((h, w))
    elif kind == 1:
        angle, period = rng.uniform(0, np.pi), rng.uniform(4, 16)
        pattern = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
    elif kind == 2:
        cell = int(rng.integers(3, 10))
        pattern = ((yy // cell + xx // cell) % 2) * 2.0 - 1.0
    else:
        pattern = rng.normal(0, 0.7, (h, w))
    contrast = rng.uniform(10, 45)
    return colour[None, None, :] + contrast * pattern[:, :, None]


def synthetic_scene(seed: int, height: int = 400, width: int = 600, n_objects: int = 6) -> tuple:
    """A seeded synthetic photo with exact object boxes, for proposal tests and benchmarks.

    The background is a smooth two-colour gradient with a texture and a few large clutter patches;
    on it, ``n_objects`` objects (rectangles, ellipses, triangles) of distinct colours and textures
    (flat, stripes, checkerboard, noise), sizes log-uniform between 8% and 50% of the shorter side,
    are painted in order, so later objects partly occlude earlier ones. Objects left with less than
    half of their pixels visible are painted but get no ground truth. Mild pixel noise is added.

    Parameters
    ----------
    seed : int
    height, width : int
        Image size.
    n_objects : int
        Objects painted.

    Returns
    -------
    image : (height, width, 3) ndarray of uint8
        RGB.
    gt_boxes : (G, 4) ndarray of int64
        Pixel-edge xyxy boxes of the visible pixels of each kept object (x2, y2 exclusive).
    gt_labels : (G,) ndarray of int64
        Shape of each kept object: 0 rectangle, 1 ellipse, 2 triangle.

    Examples
    --------
    >>> image, boxes, labels = synthetic_scene(0, 120, 160, n_objects=3)
    >>> image.shape, image.dtype, boxes.shape[1], len(boxes) == len(labels)
    ((120, 160, 3), dtype('uint8'), 4, True)
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    c0, c1 = rng.uniform(30, 225, 3), rng.uniform(30, 225, 3)
    t = (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1)) / max(height, width)
    t = (t - t.min()) / max(t.max() - t.min(), 1e-9)
    image = c0 * (1 - t[:, :, None]) + c1 * t[:, :, None]
    image += _texture(rng, height, width, np.zeros(3)) * 0.5
    short = min(height, width)
    for _ in range(int(rng.integers(2, 5))):  # clutter patches
        ph, pw = (int(v) for v in rng.integers(short // 6, short // 2 + 1, 2))
        y, x = int(rng.integers(0, height - ph + 1)), int(rng.integers(0, width - pw + 1))
        image[y:y + ph, x:x + pw] = _texture(rng, ph, pw, rng.uniform(30, 225, 3))
    owner = np.full((height, width), -1)
    masks, labels = [], []
    for i in range(n_objects):
        oh, ow = (max(4, int(np.exp(rng.uniform(np.log(0.08), np.log(0.5))) * short)) for _ in range(2))
        oh, ow = min(oh, height), min(ow, width)
        y, x = int(rng.integers(0, height - oh + 1)), int(rng.integers(0, width - ow + 1))
        shape = int(rng.integers(0, 3))
        ly, lx = (yy[y:y + oh, x:x + ow] - y + 0.5) / oh, (xx[y:y + oh, x:x + ow] - x + 0.5) / ow
        if shape == 0:
            local = np.ones((oh, ow), bool)
        elif shape == 1:
            local = (ly - 0.5) ** 2 + (lx - 0.5) ** 2 <= 0.25
        else:
            local = np.abs(lx - 0.5) <= ly / 2
        mask = np.zeros((height, width), bool)
        mask[y:y + oh, x:x + ow] = local
        patch = _texture(rng, height, width, rng.uniform(0, 255, 3))
        image[mask] = patch[mask]
        owner[mask] = i
        masks.append(mask)
        labels.append(shape)
    image += rng.normal(0, 3, image.shape)
    boxes, kept = [], []
    for i, mask in enumerate(masks):
        visible = owner == i
        if visible.sum() * 2 < mask.sum():
            continue
        rows, cols = np.flatnonzero(visible.any(axis=1)), np.flatnonzero(visible.any(axis=0))
        boxes.append([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1])
        kept.append(labels[i])
    return (np.clip(image, 0, 255).round().astype(np.uint8), np.array(boxes, np.int64).reshape(-1, 4),
            np.array(kept, np.int64))


def synthetic_coco(num_images: int = 500, *, num_categories: int = 80, objects_per_image: float = 7.0,
                   detections_per_image: int = 100, seed: int = 0) -> tuple:
    """A COCO-format detection dataset and a detector's results on it, for evaluation demos.

    Each image (640 x 480) holds a Poisson number of objects with log-uniform sizes and random
    categories (1% crowds). Results are, per image, a jittered copy of most objects (the better the
    copy, the higher its score on average) plus false positives, up to ``detections_per_image``.

    Parameters
    ----------
    num_images : int
    num_categories : int
        Category ids are ``1..num_categories``.
    objects_per_image : float
        Mean number of ground-truth objects per image.
    detections_per_image : int
    seed : int

    Returns
    -------
    gt : dict
        COCO instances dict (``images``, ``categories``, ``annotations`` with xywh ``bbox``,
        ``area`` and ``iscrowd``).
    results : list of dict
        COCO result records (``image_id``, ``category_id``, ``bbox``, ``score``).

    Examples
    --------
    >>> gt, results = synthetic_coco(10, seed=1)
    >>> len(gt["images"]), sorted(results[0])
    (10, ['bbox', 'category_id', 'image_id', 'score'])
    """
    rng = np.random.default_rng(seed)
    width, height = 640, 480
    counts = rng.poisson(objects_per_image, num_images)
    n = int(counts.sum())
    image_of = np.repeat(np.arange(1, num_images + 1), counts)
    size = np.exp(rng.uniform(np.log(8), np.log(400), (n, 2)))
    corner = rng.uniform(0, 1, (n, 2)) * (np.array([width, height]) - size).clip(0)
    gt_boxes = np.concatenate([corner, size], axis=1).round(2)
    gt_labels = rng.integers(1, num_categories + 1, n)
    crowd = rng.random(n) < 0.01
    annotations = [
        {"id": i + 1, "image_id": int(image_of[i]), "category_id": int(gt_labels[i]),
         "bbox": gt_boxes[i].tolist(), "area": float(round(gt_boxes[i, 2] * gt_boxes[i, 3], 2)),
         "iscrowd": int(crowd[i])}
        for i in range(n)
    ]
    # True positives: most objects, jittered by up to 20% of their size; score grows with quality.
    found = rng.random(n) < 0.85
    jitter = rng.uniform(-0.2, 0.2, (n, 4)) * np.concatenate([size, size], axis=1)
    tp_boxes = (gt_boxes + jitter * np.array([1, 1, 0.5, 0.5]))[found]
    tp_scores = (1 - np.abs(jitter[found]).sum(axis=1) / size[found].sum(axis=1)) * rng.uniform(0.5, 1, found.sum())
    # False positives: random boxes and labels with lower scores, filling each image's budget.
    fp_per_image = np.maximum(detections_per_image - np.bincount(image_of[found], minlength=num_images + 1)[1:], 0)
    fp_image = np.repeat(np.arange(1, num_images + 1), rng.binomial(fp_per_image, 0.3))
    m = len(fp_image)
    fp_size = np.exp(rng.uniform(np.log(8), np.log(300), (m, 2)))
    fp_boxes = np.concatenate([rng.uniform(0, 1, (m, 2)) * (np.array([width, height]) - fp_size).clip(0), fp_size], 1)
    images = np.concatenate([image_of[found], fp_image])
    labels = np.concatenate([gt_labels[found], rng.integers(1, num_categories + 1, m)])
    boxes = np.concatenate([tp_boxes, fp_boxes]).clip(0).round(2)
    scores = np.concatenate([tp_scores, rng.uniform(0, 0.6, m)]).clip(0.001, 1).round(5)
    results = [
        {"image_id": int(images[i]), "category_id": int(labels[i]), "bbox": boxes[i].tolist(),
         "score": float(scores[i])}
        for i in np.argsort(images, kind="stable")
    ]
    gt = {"images": [{"id": i, "width": width, "height": height} for i in range(1, num_images + 1)],
          "categories": [{"id": c, "name": f"class_{c}"} for c in range(1, num_categories + 1)],
          "annotations": annotations}
    return gt, results
