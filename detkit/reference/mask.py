"""Reference COCO RLE masks (numpy only): the twin of :mod:`detkit.eval.mask`.

RLEs are decoded to dense boolean arrays and every operation (merge, area, IoU, bounding box) is
computed on the dense masks; the compressed counts string is coded in plain Python and polygons are
rasterised by a plain transcription of the COCO rule. Same interface and results as
``detkit.eval.mask`` on valid input (no validation here).
"""

import math

import numpy as np


# --- compressed counts string ----------------------------------------------------------------

def counts_to_string(counts):
    """COCO compressed string: from the 4th count on, the difference to the count 2 places before,
    in 5-bit little-endian groups + 48, 0x20 = more groups follow, 0x10 of the last group = sign."""
    out = bytearray()
    for i, count in enumerate(counts):
        x = int(count) - (int(counts[i - 2]) if i > 2 else 0)
        while True:
            group = x & 0x1F
            x >>= 5  # Python's >> floors, like an arithmetic shift
            more = x != -1 if group & 0x10 else x != 0
            out.append(48 + (group | 0x20 if more else group))
            if not more:
                break
    return bytes(out)


def string_to_counts(s):
    if isinstance(s, str):
        s = s.encode("ascii")
    counts, p = [], 0
    while p < len(s):
        x, k = 0, 0
        while True:
            c = s[p] - 48
            x |= (c & 0x1F) << (5 * k)
            p += 1
            k += 1
            if not c & 0x20:
                if c & 0x10:
                    x -= 1 << (5 * k)
                break
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def _counts(rle):
    c = rle["counts"]
    return string_to_counts(c) if isinstance(c, (bytes, str)) else [int(v) for v in c]


# --- dense <-> RLE ---------------------------------------------------------------------------

def _dense(rle):
    h, w = rle["size"]
    counts = _counts(rle)
    values = np.arange(len(counts)) % 2 == 1
    return np.repeat(values, counts).reshape((h, w), order="F")


def _rle_of(mask):
    h, w = mask.shape
    flat = mask.ravel(order="F") != 0
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    counts = np.diff(np.concatenate([[0], change, [flat.size]])).tolist()
    if flat.size and flat[0]:
        counts = [0] + counts
    return {"size": [h, w], "counts": counts_to_string(counts)}


def encode(bimask):
    if bimask.ndim == 2:
        return _rle_of(bimask)
    return [_rle_of(bimask[:, :, i]) for i in range(bimask.shape[2])]


def decode(rleObjs):
    if isinstance(rleObjs, dict):
        return np.asfortranarray(_dense(rleObjs).astype(np.uint8))
    return np.asfortranarray(np.stack([_dense(r) for r in rleObjs], axis=2).astype(np.uint8))


def merge(rleObjs, intersect=False):
    if not rleObjs:
        return {"size": [0, 0], "counts": b""}
    masks = [_dense(r) for r in rleObjs]
    combined = np.logical_and.reduce(masks) if intersect else np.logical_or.reduce(masks)
    return _rle_of(combined)


def area(rleObjs):
    if isinstance(rleObjs, dict):
        return np.uint32(_dense(rleObjs).sum())
    return np.array([_dense(r).sum() for r in rleObjs], dtype=np.uint32)


def _bbox_dense(mask):
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return [0.0, 0.0, 0.0, 0.0]
    return [cols[0], rows[0], cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1]


def toBbox(rleObjs):
    if isinstance(rleObjs, dict):
        return np.array(_bbox_dense(_dense(rleObjs)), dtype=np.float64)
    return np.array([_bbox_dense(_dense(r)) for r in rleObjs], dtype=np.float64).reshape(-1, 4)


# --- IoU ---------------------------------------------------------------------------------------

def box_iou(dt, gt, iscrowd):
    """COCO IoU of xywh boxes: inter / union, inter / area(dt) for crowd gt; 0 without overlap."""
    dt = np.asarray(dt, dtype=np.float64).reshape(-1, 4)[:, None, :]
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)[None, :, :]
    iw = np.minimum(dt[..., 2] + dt[..., 0], gt[..., 2] + gt[..., 0]) - np.maximum(dt[..., 0], gt[..., 0])
    ih = np.minimum(dt[..., 3] + dt[..., 1], gt[..., 3] + gt[..., 1]) - np.maximum(dt[..., 1], gt[..., 1])
    inter = iw * ih
    da = dt[..., 2] * dt[..., 3]
    union = np.where(np.asarray(iscrowd, dtype=bool)[None, :], da, da + gt[..., 2] * gt[..., 3] - inter)
    overlap = (iw > 0) & (ih > 0)
    with np.errstate(invalid="ignore", divide="ignore"):  # subnormal sizes: 0 / 0 as in C
        return np.where(overlap, inter / np.where(overlap, union, 1.0), 0.0)


def iou(dt, gt, iscrowd):
    """Mask IoU when dt and gt are RLE lists, box IoU otherwise (see box_iou). Masks whose boxes do
    not overlap have IoU 0; masks of different sizes whose boxes overlap have IoU -1."""
    iscrowd = np.zeros(len(gt), bool) if iscrowd is None else np.asarray(iscrowd, dtype=bool).reshape(-1)
    if len(dt) == 0 or len(gt) == 0:
        return np.zeros((len(dt), len(gt)))
    if not isinstance(dt[0], dict):
        return box_iou(dt, gt, iscrowd)
    out = box_iou(toBbox(list(dt)), toBbox(list(gt)), iscrowd)
    for d, drle in enumerate(dt):
        a = _dense(drle)
        for g, grle in enumerate(gt):
            if out[d, g] <= 0:
                continue
            b = _dense(grle)
            if a.shape != b.shape:
                out[d, g] = -1
                continue
            inter = np.logical_and(a, b).sum()
            union = a.sum() if iscrowd[g] else np.logical_or(a, b).sum()
            out[d, g] = inter / union if inter else 0.0
    return out


# --- polygons and boxes ----------------------------------------------------------------------

def poly_to_rle(xy, h, w):
    """Rasterises the closed polygon xy = [x0, y0, x1, y1, ...] into an h x w RLE (COCO rule).

    1. Upsample by 5 and round each vertex: int(5 * v + 0.5), truncating toward zero.
    2. Walk every edge one upsampled pixel at a time along its longer axis (from the edge's lower
       end on that axis), rounding the other coordinate the same way.
    3. Each step in x that lands on a pixel-centre column x toggles column x at the boundary row
       (downsampled, clamped to [0, h], rounded up).
    4. Sorting the toggle positions (column-major index x * h + y) gives the run lengths; two
       toggles at the same position cancel.
    """
    k = len(xy) // 2
    if h == 0 or w == 0:
        return {"size": [h, w], "counts": b"0"}
    xs = [int(5.0 * xy[2 * j] + 0.5) for j in range(k)]
    ys = [int(5.0 * xy[2 * j + 1] + 0.5) for j in range(k)]
    u, v = [], []
    for j in range(k):
        x0, y0, x1, y1 = xs[j], ys[j], xs[(j + 1) % k], ys[(j + 1) % k]
        dx, dy = abs(x1 - x0), abs(y1 - y0)
        flip = (dx >= dy and x0 > x1) or (dx < dy and y0 > y1)
        if flip:
            x0, y0, x1, y1 = x1, y1, x0, y0
        if dx >= dy:
            s = (y1 - y0) / dx if dx else 0.0
            for d in range(dx + 1):
                t = dx - d if flip else d
                u.append(t + x0)
                v.append(int(y0 + s * t + 0.5))
        else:
            s = (x1 - x0) / dy
            for d in range(dy + 1):
                t = dy - d if flip else d
                v.append(t + y0)
                u.append(int(x0 + s * t + 0.5))
    toggles = []
    for j in range(1, len(u)):
        if u[j] == u[j - 1]:
            continue
        xd = (min(u[j], u[j - 1]) + 0.5) / 5.0 - 0.5  # consecutive points differ by at most 1 in u
        if math.floor(xd) != xd or xd < 0 or xd > w - 1:
            continue
        yd = (min(v[j], v[j - 1]) + 0.5) / 5.0 - 0.5
        yd = math.ceil(min(max(yd, 0.0), float(h)))
        toggles.append(int(xd) * h + yd)
    mask = np.zeros(h * w + 1, dtype=np.int64)
    np.add.at(mask, toggles, 1)  # each toggle flips every pixel from its position on
    dense = (np.cumsum(mask)[:-1] % 2 == 1).reshape((h, w), order="F")
    return _rle_of(dense)


def frPyObjects(pyobj, h, w):
    """Boxes (N x 4 array or list of 4-lists), polygons (lists of > 4 values) or uncompressed RLE
    dicts to compressed RLEs; a single flat list or dict gives a single RLE."""
    if isinstance(pyobj, dict):
        return {"size": list(pyobj["size"]), "counts": counts_to_string(list(pyobj["counts"]))}
    if not isinstance(pyobj, np.ndarray) and not hasattr(pyobj[0], "__len__"):
        return frPyObjects([pyobj], h, w)[0]
    if isinstance(pyobj, np.ndarray) or len(pyobj[0]) == 4:
        boxes = np.asarray(pyobj, float).tolist()
        polys = [[x, y, x, y + bh, x + bw, y + bh, x + bw, y] for x, y, bw, bh in boxes]
        return [poly_to_rle(p, h, w) for p in polys]
    if isinstance(pyobj[0], dict):
        return [frPyObjects(r, h, w) for r in pyobj]
    return [poly_to_rle([float(v) for v in p], h, w) for p in pyobj]
