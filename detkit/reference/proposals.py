"""Plain numpy/Python twins of the Felzenszwalb segmentation and selective search kernels.

They follow the same definitions step by step (see :mod:`detkit.proposals.selective_search`) and
are meant for small images: union-find and the grouping loop are ordinary Python loops. Native and
reference agree exactly: both smooth and filter in float64 summing taps in kernel order, round edge
weights to float32, keep histograms in float32 and sum intersections in float64.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

__all__ = ["gaussian_kernel", "separable_filter", "felzenszwalb", "convert_color", "texture_bins",
           "selective_search", "SplitMix64", "proposal_recall", "average_best_overlap", "average_recall"]

COLOR_SPACES = ("hsv", "lab", "rgi", "h", "i")
_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def gaussian_kernel(sigma: float, derivative: bool = False) -> np.ndarray:
    """Normalised Gaussian samples on [-r, r], r = max(1, ceil(4 sigma)); optionally times -x/sigma^2."""
    radius = max(1, math.ceil(4.0 * sigma))
    samples = [math.exp(-0.5 * ((t - radius) / sigma) * ((t - radius) / sigma)) for t in range(2 * radius + 1)]
    total = 0.0
    for v in samples:
        total += v
    kernel = [v / total for v in samples]
    if derivative:
        kernel = [v * (-(t - radius) / (sigma * sigma)) for t, v in enumerate(kernel)]
    return np.array(kernel)


def _correlate_rows(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    radius = len(kernel) // 2
    width = image.shape[1]
    padded = np.pad(image, ((0, 0), (radius, radius)), mode="edge")
    out = np.zeros_like(image)
    for t, weight in enumerate(kernel):
        out = out + weight * padded[:, t:t + width]
    return out


def separable_filter(image: np.ndarray, kx: np.ndarray, ky: np.ndarray) -> np.ndarray:
    """Correlates a 2-D float64 image with kx along rows, then ky along columns (edge replication)."""
    return _correlate_rows(_correlate_rows(image, kx).T, ky).T


def _grid_edges(planes: np.ndarray):
    """Edges of the 8-connected grid (right, down, down-right, down-left), sorted by float32 weight."""
    _, h, w = planes.shape
    index = np.arange(h * w).reshape(h, w)
    a_parts, b_parts = [], []
    for dx, dy in ((1, 0), (0, 1), (1, 1), (-1, 1)):
        x0, x1 = max(0, -dx), w - max(0, dx)
        a_parts.append(index[0:h - dy, x0:x1].ravel())
        b_parts.append(index[dy:h, x0 + dx:x1 + dx].ravel())
    a, b = np.concatenate(a_parts), np.concatenate(b_parts)
    flat = planes.reshape(len(planes), -1)
    squared = np.zeros(len(a))
    for channel in flat:
        diff = channel[a] - channel[b]
        squared = squared + diff * diff
    weight = np.sqrt(squared).astype(np.float32)
    order = np.argsort(weight, kind="stable")
    return a[order], b[order], weight[order]


def _segment(planes: np.ndarray, k: float, min_size: int) -> np.ndarray:
    """Felzenszwalb-Huttenlocher on float64 planes (C, H, W), smoothing already done."""
    _, h, w = planes.shape
    a, b, weight = _grid_edges(planes)
    parent = list(range(h * w))
    size = [1] * (h * w)
    threshold = [k] * (h * w)

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def join(x, y):
        if size[x] < size[y]:
            x, y = y, x
        parent[y] = x
        size[x] += size[y]
        return x

    for p, q, wt in zip(a.tolist(), b.tolist(), weight.astype(np.float64).tolist()):
        rp, rq = find(p), find(q)
        if rp != rq and wt <= threshold[rp] and wt <= threshold[rq]:
            root = join(rp, rq)
            threshold[root] = wt + k / size[root]
    for p, q in zip(a.tolist(), b.tolist()):
        rp, rq = find(p), find(q)
        if rp != rq and (size[rp] < min_size or size[rq] < min_size):
            join(rp, rq)
    roots = np.array([find(p) for p in range(h * w)])
    _, first, inverse = np.unique(roots, return_index=True, return_inverse=True)
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first)] = np.arange(len(first))  # number regions by their first pixel
    return rank[inverse].reshape(h, w)


def _smooth(planes: np.ndarray, sigma: float) -> np.ndarray:
    if sigma == 0:
        return planes.astype(np.float64)
    g = gaussian_kernel(sigma)
    return np.stack([separable_filter(p.astype(np.float64), g, g) for p in planes])


def felzenszwalb(image: np.ndarray, scale: float = 1.0, sigma: float = 0.8, min_size: int = 20) -> np.ndarray:
    """Labels (H, W) int64 of a uint8 (H, W, C) image; see :func:`detkit.proposals.felzenszwalb`."""
    planes = np.moveaxis(np.asarray(image, np.uint8).reshape(image.shape[0], image.shape[1], -1), 2, 0)
    return _segment(_smooth(planes, sigma), scale, min_size)


def _to_u8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(values + 0.5), 0, 255).astype(np.uint8)


def _hue(r, g, b, v, d):
    safe = np.where(d == 0, 1.0, d)
    h = np.select([v == r, v == g], [(g - b) / safe, 2.0 + (b - r) / safe], 4.0 + (r - g) / safe)
    h = np.where(h < 0, h + 6.0, h)
    return np.where(d == 0, 0.0, h * 42.5)


def convert_color(rgb: np.ndarray, color_space: str) -> np.ndarray:
    """Planar uint8 (C, H, W) channels of an (H, W, 3) uint8 RGB image in a colour space."""
    r, g, b = (rgb[:, :, c].astype(np.float64) for c in range(3))
    if color_space == "lab":
        lut = np.array([c / 12.92 if c <= 0.04045 else math.pow((c + 0.055) / 1.055, 2.4)
                        for c in (v / 255.0 for v in range(256))])
        r, g, b = (lut[rgb[:, :, c]] for c in range(3))
        x = (0.412453 * r + 0.357580 * g + 0.180423 * b) / 0.950456
        y = 0.212671 * r + 0.715160 * g + 0.072169 * b
        z = (0.019334 * r + 0.119193 * g + 0.950227 * b) / 1.088754
        fx, fy, fz = (np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16.0 / 116.0) for t in (x, y, z))
        return np.stack([_to_u8((116.0 * fy - 16.0) * 255.0 / 100.0),
                         _to_u8(500.0 * (fx - fy) + 128.0), _to_u8(200.0 * (fy - fz) + 128.0)])
    v = np.maximum(np.maximum(r, g), b)
    d = v - np.minimum(np.minimum(r, g), b)
    s = r + g + b
    hue = _to_u8(_hue(r, g, b, v, d))
    intensity = _to_u8(s / 3.0)
    if color_space == "hsv":
        saturation = np.where(v > 0, _to_u8(d * 255.0 / np.where(v > 0, v, 1.0)), 0).astype(np.uint8)
        return np.stack([hue, saturation, v.astype(np.uint8)])
    if color_space == "rgi":
        total = np.where(s > 0, s, 1.0)
        return np.stack([np.where(s > 0, _to_u8(r * 255.0 / total), 0).astype(np.uint8),
                         np.where(s > 0, _to_u8(g * 255.0 / total), 0).astype(np.uint8), intensity])
    if color_space == "h":
        return hue[None]
    return intensity[None]


def _oriented(gx: np.ndarray, gy: np.ndarray) -> list:
    s = math.sqrt(0.5)
    return [gx, (gx + gy) * s, gy, (gy - gx) * s, -gx, -(gx + gy) * s, -gy, (gx - gy) * s]


def texture_bins(planes: np.ndarray) -> np.ndarray:
    """(H, W, 8 C) bins 0..9 of the positive oriented Gaussian derivatives (sigma 1) of each channel."""
    g, dg = gaussian_kernel(1.0), gaussian_kernel(1.0, derivative=True)
    bins = []
    for plane in planes.astype(np.float64):
        gx, gy = separable_filter(plane, dg, g), separable_filter(plane, g, dg)
        for response in _oriented(gx, gy):
            top = max(0.0, float(response.max()))
            positive = np.maximum(0.0, response)
            bins.append(np.minimum(9, np.floor(positive * 10.0 / top)) if top > 0 else np.zeros_like(plane))
    return np.stack(bins, axis=-1).astype(np.uint8)


class SplitMix64:
    """The ranking stream: uniform doubles in (0, 1] from splitmix64, seeded by (seed, stream)."""

    def __init__(self, seed: int, stream: int):
        self.state = (seed ^ ((_GOLDEN * (stream + 1)) & _MASK64)) & _MASK64

    def uniform(self) -> float:
        self.state = (self.state + _GOLDEN) & _MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        z ^= z >> 31
        return float((z >> 11) + 1) * (1.0 / 9007199254740992.0)


def _initial_regions(labels: np.ndarray, planes: np.ndarray, tex: np.ndarray) -> dict:
    """Sizes, boxes, normalised colour / texture histograms and adjacent pairs of the segments."""
    h, w = labels.shape
    n = int(labels.max()) + 1
    flat = labels.ravel()
    channels = len(planes)
    size = np.bincount(flat, minlength=n)
    ys, xs = np.divmod(np.arange(h * w), w)
    boxes = np.stack([np.full(n, w), np.full(n, h), np.zeros(n, np.int64), np.zeros(n, np.int64)], axis=1)
    np.minimum.at(boxes[:, 0], flat, xs)
    np.minimum.at(boxes[:, 1], flat, ys)
    np.maximum.at(boxes[:, 2], flat, xs + 1)
    np.maximum.at(boxes[:, 3], flat, ys + 1)
    colour_bins = (planes.reshape(channels, -1).astype(np.int64) * 25) // 256
    colour = np.stack([np.bincount(flat * 25 + colour_bins[c], minlength=25 * n).reshape(n, 25)
                       for c in range(channels)], axis=1).reshape(n, -1)
    tex_flat = tex.reshape(h * w, -1).astype(np.int64)
    texture = np.stack([np.bincount(flat * 10 + tex_flat[:, j], minlength=10 * n).reshape(n, 10)
                        for j in range(tex_flat.shape[1])], axis=1).reshape(n, -1)
    colour = colour.astype(np.float32) / (size[:, None] * channels).astype(np.float32)
    texture = texture.astype(np.float32) / (size[:, None] * channels * 8).astype(np.float32)
    pairs = set()
    for dy, dx in ((0, 1), (1, -1), (1, 0), (1, 1)):
        x0, x1 = max(0, -dx), w - max(0, dx)
        p, q = labels[0:h - dy, x0:x1].ravel(), labels[dy:h, x0 + dx:x1 + dx].ravel()
        diff = p != q
        pairs.update(zip(np.minimum(p, q)[diff].tolist(), np.maximum(p, q)[diff].tolist()))
    return {"size": size.tolist(), "boxes": boxes.tolist(), "colour": list(colour), "texture": list(texture),
            "pairs": sorted(pairs)}


def _group(init: dict, strategy: str, image_size: int) -> dict:
    """Greedy hierarchical grouping of one strategy; returns merges, similarities, region boxes."""
    n = len(init["size"])
    size, boxes = list(init["size"]), [list(b) for b in init["boxes"]]
    colour, texture = list(init["colour"]), list(init["texture"])

    def similarity(a, b):
        s = 0.0
        if "C" in strategy:
            s += float(np.minimum(colour[a], colour[b]).astype(np.float64).sum())
        if "T" in strategy:
            s += float(np.minimum(texture[a], texture[b]).astype(np.float64).sum())
        if "S" in strategy:
            s += 1.0 - (size[a] + size[b]) / image_size
        if "F" in strategy:
            bw = max(boxes[a][2], boxes[b][2]) - min(boxes[a][0], boxes[b][0])
            bh = max(boxes[a][3], boxes[b][3]) - min(boxes[a][1], boxes[b][1])
            s += 1.0 - (bw * bh - size[a] - size[b]) / image_size
        return s

    neighbours = [set() for _ in range(n)]
    heap = []  # (-similarity, a, b): pops the most similar pair, ties by smaller (a, b)
    for a, b in init["pairs"]:
        neighbours[a].add(b)
        neighbours[b].add(a)
        heap.append((-similarity(a, b), a, b))
    heapq.heapify(heap)
    alive = [True] * n
    merges, similarities = [], []
    while heap:
        neg_sim, a, b = heapq.heappop(heap)
        if not (alive[a] and alive[b]):
            continue
        t = len(size)
        merges.append((a, b))
        similarities.append(-neg_sim)
        size.append(size[a] + size[b])
        fa, fb, ft = np.float32(size[a]), np.float32(size[b]), np.float32(size[t])
        colour.append((fa * colour[a] + fb * colour[b]) / ft)
        texture.append((fa * texture[a] + fb * texture[b]) / ft)
        boxes.append([min(boxes[a][0], boxes[b][0]), min(boxes[a][1], boxes[b][1]),
                      max(boxes[a][2], boxes[b][2]), max(boxes[a][3], boxes[b][3])])
        alive[a] = alive[b] = False
        alive.append(True)
        neighbours.append({r for r in neighbours[a] | neighbours[b] if alive[r]})
        for r in sorted(neighbours[t]):
            neighbours[r].add(t)
            heapq.heappush(heap, (-similarity(r, t), r, t))
    return {"merges": np.array(merges, np.int64).reshape(-1, 2), "similarity": np.array(similarities),
            "boxes": np.array(boxes, np.int64).reshape(-1, 4)}


def selective_search(image: np.ndarray, color_spaces, strategies, ks, sigma: float = 0.8,
                     min_box_size: int = 20, max_proposals=None, seed: int = 0,
                     return_hierarchy: bool = False):
    """Selective search on an (H, W, 3) uint8 RGB image with explicit settings.

    ``color_spaces``: names from ("hsv", "lab", "rgi", "h", "i"); ``strategies``: strings of the
    letters C, T, S, F; ``ks``: thresholds. See :func:`detkit.proposals.selective_search`.
    """
    h, w, _ = image.shape
    hierarchies = []
    for space in color_spaces:
        planes = convert_color(image, space)
        smooth = _smooth(planes, sigma)
        tex = texture_bins(planes)
        for k in ks:
            labels = _segment(smooth, k, math.floor(k))
            init = _initial_regions(labels, planes, tex)
            for strategy in strategies:
                rng = SplitMix64(seed, len(hierarchies))
                hier = _group(init, strategy, h * w)
                regions = len(hier["boxes"])
                hier["priority"] = np.array([(regions - r) * rng.uniform() for r in range(regions)])
                hier.update(color_space=space, k=float(k), strategy=strategy, labels=labels)
                hierarchies.append(hier)
    priority = np.concatenate([hier["priority"] for hier in hierarchies])
    boxes = np.concatenate([hier["boxes"] for hier in hierarchies])
    big = (boxes[:, 2] - boxes[:, 0] >= min_box_size) & (boxes[:, 3] - boxes[:, 1] >= min_box_size)
    boxes, priority = boxes[big], priority[big]
    proposals, seen = [], set()
    for box in boxes[np.argsort(priority, kind="stable")].tolist():
        if max_proposals is not None and len(proposals) >= max_proposals:
            break
        if tuple(box) not in seen:
            seen.add(tuple(box))
            proposals.append(box)
    proposals = np.array(proposals, np.int64).reshape(-1, 4)
    return (proposals, hierarchies) if return_hierarchy else proposals


# Proposal quality metrics (twins of detkit.eval.proposals); inputs are lists of per-image arrays.

def _best_overlaps(proposals: list, gt_boxes: list, max_proposals=None) -> np.ndarray:
    from detkit.reference.boxes import box_iou

    best = []
    for props, gts in zip(proposals, gt_boxes):
        props = np.asarray(props, np.float64).reshape(-1, 4)[:max_proposals]
        for gt in np.asarray(gts, np.float64).reshape(-1, 4):
            best.append(box_iou(gt[None], props).max() if len(props) else 0.0)
    return np.array(best)


def proposal_recall(proposals: list, gt_boxes: list, iou_thresholds, max_proposals=None) -> np.ndarray:
    """Recall of the ground truth at each IoU threshold (best overlap >= threshold)."""
    best = _best_overlaps(proposals, gt_boxes, max_proposals)
    return np.array([np.mean(best >= t) for t in np.atleast_1d(iou_thresholds)])


def average_best_overlap(proposals: list, gt_boxes: list, gt_labels: list, max_proposals=None) -> tuple:
    """(MABO, {label: ABO}) over per-image label arrays."""
    best = _best_overlaps(proposals, gt_boxes, max_proposals)
    labels = np.concatenate([np.asarray(lab, np.int64).reshape(-1) for lab in gt_labels])
    abo = {}
    for label in sorted(set(labels.tolist())):
        abo[label] = float(np.mean(best[labels == label]))
    return float(np.mean(list(abo.values()))), abo


def average_recall(proposals: list, gt_boxes: list, max_proposals=None, steps: int = 100_000) -> float:
    """2 x the integral of recall over IoU in [0.5, 1], by the midpoint rule on ``steps`` intervals."""
    best = _best_overlaps(proposals, gt_boxes, max_proposals)
    thresholds = 0.5 + (np.arange(steps) + 0.5) * (0.5 / steps)
    recall = (best[None, :] >= thresholds[:, None]).mean(axis=1)
    return float(2.0 * recall.sum() * (0.5 / steps))
