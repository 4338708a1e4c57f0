"""Seeded generators of realistic detector-like inputs, for the demo, tests and benchmarks."""

from __future__ import annotations

import numpy as np

__all__ = ["clustered_boxes"]


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
