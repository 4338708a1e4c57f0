"""Reference RoI operations: RoIAlign, RoIPool, their input gradients and FPN multi-scale RoIAlign.

Direct transcriptions of torchvision's CPU kernels: one RoI at a time, all channels at once, each
bilinear sample with its four taps. Arithmetic runs in the dtype of the input, in the kernels'
operation order. ``rois`` is a (K, 5) array ``[batch_index, x1, y1, x2, y2]`` in the input dtype;
``output_size`` is an int or an (h, w) pair. Feature values are assumed finite.
"""

import numpy as np

_FLT_MAX = np.finfo(np.float32).max


def _pair(output_size):
    return (output_size, output_size) if np.isscalar(output_size) else tuple(output_size)


def _axis_samples(start, bin_size, pooled, grid, size):
    """Bilinear taps of the pooled * grid samples along one axis, bin-major.

    Returns (low, high, w_low, w_high); samples outside [-1, size] get zero weights.
    """
    t = type(start)
    p = np.arange(pooled).astype(t)[:, None]
    i = (np.arange(grid).astype(np.float32) + np.float32(0.5)).astype(t)[None, :]
    coord = (start + p * bin_size + i * bin_size / t(grid)).ravel()
    valid = (coord >= -1) & (coord <= size)
    coord = np.where(valid, np.maximum(coord, t(0)), t(0))
    low = coord.astype(np.int64)
    at_edge = low >= size - 1
    low = np.where(at_edge, size - 1, low)
    high = np.where(at_edge, size - 1, low + 1)
    coord = np.where(at_edge, low.astype(t), coord)
    frac = coord - low.astype(t)
    w_high = np.where(valid, frac, t(0))
    w_low = np.where(valid, t(1) - frac, t(0))
    return low, high, w_low, w_high


def _align_geometry(roi, output_size, spatial_scale, sampling_ratio, aligned, height, width):
    """(y taps, x taps, grid_h, grid_w) of one RoI, as torchvision computes them."""
    t = roi.dtype.type
    ph, pw = output_size
    scale = t(spatial_scale)
    shift = t(0.5) if aligned else t(0)
    start_x, start_y = roi[1] * scale - shift, roi[2] * scale - shift
    roi_w = (roi[3] * scale - shift) - start_x
    roi_h = (roi[4] * scale - shift) - start_y
    if not aligned:
        roi_w, roi_h = max(roi_w, t(1)), max(roi_h, t(1))
    bin_h, bin_w = roi_h / t(ph), roi_w / t(pw)
    grid_h = sampling_ratio if sampling_ratio > 0 else int(np.ceil(roi_h / t(ph)))
    grid_w = sampling_ratio if sampling_ratio > 0 else int(np.ceil(roi_w / t(pw)))
    ys = _axis_samples(start_y, bin_h, ph, max(grid_h, 0), height)
    xs = _axis_samples(start_x, bin_w, pw, max(grid_w, 0), width)
    return ys, xs, grid_h, grid_w


def roi_align(input, rois, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    """RoIAlign: (K, C, ph, pw) averages of bilinear samples of input (N, C, H, W)."""
    input = np.asarray(input)
    rois = np.asarray(rois, dtype=input.dtype)
    ph, pw = _pair(output_size)
    _, channels, height, width = input.shape
    out = np.zeros((len(rois), channels, ph, pw), dtype=input.dtype)
    for k, roi in enumerate(rois):
        (yl, yh, wyl, wyh), (xl, xh, wxl, wxh), gh, gw = _align_geometry(
            roi, (ph, pw), spatial_scale, sampling_ratio, aligned, height, width)
        if gh <= 0 or gw <= 0:
            continue
        f = input[int(roi[0])]
        samples = ((wyl[:, None] * wxl[None, :]) * f[:, yl[:, None], xl[None, :]]
                   + (wyl[:, None] * wxh[None, :]) * f[:, yl[:, None], xh[None, :]]
                   + (wyh[:, None] * wxl[None, :]) * f[:, yh[:, None], xl[None, :]]
                   + (wyh[:, None] * wxh[None, :]) * f[:, yh[:, None], xh[None, :]])
        bins = samples.reshape(channels, ph, gh, pw, gw).sum(axis=(2, 4))
        out[k] = bins / input.dtype.type(gh * gw)
    return out


def roi_align_backward(grad_output, rois, input_shape, output_size, spatial_scale=1.0,
                       sampling_ratio=-1, aligned=False):
    """Gradient of roi_align w.r.t. its input, (N, C, H, W), given grad_output (K, C, ph, pw)."""
    grad_output = np.asarray(grad_output)
    rois = np.asarray(rois, dtype=grad_output.dtype)
    ph, pw = _pair(output_size)
    _, channels, height, width = input_shape
    grad_input = np.zeros(input_shape, dtype=grad_output.dtype)
    for k, roi in enumerate(rois):
        (yl, yh, wyl, wyh), (xl, xh, wxl, wxh), gh, gw = _align_geometry(
            roi, (ph, pw), spatial_scale, sampling_ratio, aligned, height, width)
        if gh <= 0 or gw <= 0:
            continue
        # Every sample of bin (i, j) receives grad / count, spread over its four taps.
        g = grad_output[k] / grad_output.dtype.type(gh * gw)
        g = np.repeat(np.repeat(g, gh, axis=1), gw, axis=2)
        target = grad_input[int(roi[0])]
        for rows, wy in ((yl, wyl), (yh, wyh)):
            for cols, wx in ((xl, wxl), (xh, wxh)):
                np.add.at(target, (slice(None), rows[:, None], cols[None, :]),
                          g * (wy[:, None] * wx[None, :]))
    return grad_input


def _round_half_away(v):
    v = float(v)
    return int(np.sign(v) * np.floor(abs(v) + 0.5))


def _pool_edges(start, extent, pooled, size, t):
    """Clipped [lo, hi) of each bin along one axis."""
    bin_size = t(extent) / t(pooled)
    edges = []
    for p in range(pooled):
        lo = int(np.floor(t(p) * bin_size)) + start
        hi = int(np.ceil(t(p + 1) * bin_size)) + start
        edges.append((min(max(lo, 0), size), min(max(hi, 0), size)))
    return edges


def roi_pool(input, rois, output_size, spatial_scale=1.0):
    """RoIPool: (output, argmax), both (K, C, ph, pw); argmax is h * W + w in the plane or -1."""
    input = np.asarray(input)
    rois = np.asarray(rois, dtype=input.dtype)
    t = input.dtype.type
    ph, pw = _pair(output_size)
    _, channels, height, width = input.shape
    out = np.zeros((len(rois), channels, ph, pw), dtype=input.dtype)
    argmax = np.full(out.shape, -1, dtype=np.int64)
    scale = t(spatial_scale)
    for k, roi in enumerate(rois):
        sx, sy, ex, ey = (_round_half_away(v * scale) for v in roi[1:])
        rows = _pool_edges(sy, max(ey - sy + 1, 1), ph, height, t)
        cols = _pool_edges(sx, max(ex - sx + 1, 1), pw, width, t)
        f = input[int(roi[0])]
        for i, (hs, he) in enumerate(rows):
            for j, (ws, we) in enumerate(cols):
                if he <= hs or we <= ws:
                    continue
                region = f[:, hs:he, ws:we].reshape(channels, -1)
                best = region.argmax(axis=1)  # first maximum in row-major order
                out[k, :, i, j] = region[np.arange(channels), best]
                argmax[k, :, i, j] = (hs + best // (we - ws)) * width + ws + best % (we - ws)
                # torchvision starts each maximum at -FLT_MAX and keeps only larger values.
                none = out[k, :, i, j] <= -_FLT_MAX
                out[k, none, i, j] = -_FLT_MAX
                argmax[k, none, i, j] = -1
    return out, argmax


def roi_pool_backward(grad_output, rois, argmax, input_shape):
    """Gradient of roi_pool w.r.t. its input: each grad_output entry added at its argmax cell."""
    grad_output = np.asarray(grad_output)
    grad_input = np.zeros(input_shape, dtype=grad_output.dtype)
    channels = input_shape[1]
    for k, roi in enumerate(np.asarray(rois)):
        plane = grad_input[int(roi[0])].reshape(channels, -1)
        chosen = argmax[k] >= 0
        channel = np.broadcast_to(np.arange(channels)[:, None, None], argmax[k].shape)
        np.add.at(plane, (channel[chosen], argmax[k][chosen]), grad_output[k][chosen])
    return grad_input


def infer_scale(feature_size, image_size):
    """torchvision's scale of a feature map: 2 ** round(log2(H / image H)), in float32 steps."""
    approx = float(feature_size[0]) / float(image_size[0])
    return 2.0 ** float(np.round(np.log2(np.float32(approx))))


def map_levels(boxes, k_min, k_max, canonical_scale=224, canonical_level=4, eps=1e-6):
    """FPN level (0 = k_min) of each (K, 4) box: floor(k0 + log2(sqrt(area) / s0) + eps), clamped."""
    boxes = np.asarray(boxes)
    t = boxes.dtype.type
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    with np.errstate(divide="ignore"):
        level = np.floor(t(canonical_level) + np.log2(np.sqrt(area) / t(canonical_scale)) + t(eps))
    return (np.clip(level, k_min, k_max) - k_min).astype(np.int64)


def multiscale_roi_align(features, boxes, image_shapes, output_size, sampling_ratio,
                         canonical_scale=224, canonical_level=4, aligned=False):
    """torchvision's MultiScaleRoIAlign on a list of (N, C, H_l, W_l) maps and per-image boxes."""
    image_size = (max(s[0] for s in image_shapes), max(s[1] for s in image_shapes))
    scales = [infer_scale(f.shape[-2:], image_size) for f in features]
    dtype = features[0].dtype
    rois = np.concatenate([np.concatenate([np.full((len(b), 1), i), b], axis=1)
                           for i, b in enumerate(boxes)]).astype(dtype)
    if len(features) == 1:
        return roi_align(features[0], rois, output_size, scales[0], sampling_ratio, aligned)
    k_min = int(-np.log2(np.float32(scales[0])))
    k_max = int(-np.log2(np.float32(scales[-1])))
    levels = map_levels(rois[:, 1:], k_min, k_max, canonical_scale, canonical_level)
    ph, pw = _pair(output_size)
    out = np.zeros((len(rois), features[0].shape[1], ph, pw), dtype=dtype)
    for level, (feature, scale) in enumerate(zip(features, scales)):
        chosen = np.flatnonzero(levels == level)
        out[chosen] = roi_align(feature, rois[chosen], (ph, pw), scale, sampling_ratio, aligned)
    return out
