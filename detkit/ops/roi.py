"""RoI feature extraction: RoIAlign, RoIPool, their input gradients and FPN multi-scale RoIAlign.

Shared conventions (torchvision's, so the numbers are the ones torchvision users know):

* ``input`` is an (N, C, H, W) feature array, float32 or float64 (other real dtypes become
  float64); outputs and gradients have its dtype. H and W must be >= 1.
* ``boxes`` is either a (K, 5) array of rows ``[batch_index, x1, y1, x2, y2]`` or a list of up
  to N per-image (K_i, 4) arrays of ``x1, y1, x2, y2`` (the RoIs of image i, in order), in image
  coordinates (a list is per-image when all its items are 2-D; a nested list of 5-number rows is
  a (K, 5) array); ``spatial_scale`` maps them onto the feature map (1/4 for a stride-4 map). They
  are converted to the input dtype. Boxes must be finite, batch indices integers in [0, N), and
  ``|coordinate * spatial_scale| <= 2**30``. Inverted boxes are accepted and behave as in
  torchvision (see each function).
* ``output_size`` is an int or an (h, w) pair of ints >= 1. Outputs are (K, C, h, w).
* Feature values are not checked (that would cost a pass over the whole map); a non-finite value
  propagates to the bins that read it.
* The kernels release the GIL and split work over feature planes (image, channel) with
  :func:`detkit.set_num_threads` threads; results do not depend on the thread count.
"""

from __future__ import annotations

import numbers
from typing import Mapping, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from detkit import _C
from detkit._validation import as_float_array, as_real, check_finite

__all__ = [
    "roi_align",
    "roi_align_backward",
    "roi_pool",
    "roi_pool_backward",
    "multiscale_roi_align",
    "MultiScaleRoIAlign",
]

ArrayLike = npt.ArrayLike
BoxesLike = Union[ArrayLike, Sequence[ArrayLike]]
SizeLike = Union[int, Sequence[int]]
_MAX_SCALED = 2.0 ** 30
_INT32_MAX = 2 ** 31 - 1


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _as_features(value, name: str = "input") -> np.ndarray:
    arr = as_float_array(value, name)
    if arr.ndim != 4:
        raise ValueError(f"{name} must have shape (N, C, H, W), got shape {arr.shape}")
    if arr.shape[2] < 1 or arr.shape[3] < 1:
        raise ValueError(f"{name} must have height and width >= 1, got shape {arr.shape}")
    return arr


def _output_size(value) -> tuple[int, int]:
    pair = (value, value) if _is_int(value) else value
    try:
        h, w = pair
    except (TypeError, ValueError):
        raise TypeError(f"output_size must be an int or an (h, w) pair of ints, got {value!r}") from None
    if not (_is_int(h) and _is_int(w)):
        raise TypeError(f"output_size must be an int or an (h, w) pair of ints, got {value!r}")
    if h < 1 or w < 1:
        raise ValueError(f"output_size must be >= 1, got {value!r}")
    if h > _INT32_MAX or w > _INT32_MAX:
        raise ValueError(f"output_size must be at most 2**31 - 1, got {value!r}")
    return int(h), int(w)


def _sampling_ratio(value) -> int:
    if not _is_int(value):
        raise TypeError(f"sampling_ratio must be an int (<= 0 for adaptive sampling), got {value!r}")
    if value > _INT32_MAX:
        raise ValueError(f"sampling_ratio must be at most 2**31 - 1, got {value}")
    return int(value)


def _aligned(value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"aligned must be a bool, got {value!r}")
    return bool(value)


def _spatial_scale(value) -> float:
    return as_real(value, "spatial_scale", low=0.0, low_open=True)


def _is_per_image(boxes) -> bool:
    """A list/tuple of 2-D (or empty) arrays is per-image boxes; anything else is (K, 5) rows."""
    return (isinstance(boxes, (list, tuple)) and len(boxes) > 0
            and all(np.ndim(b) == 2 or np.size(b) == 0 for b in boxes))


def _as_rois(boxes, dtype, batch: int, spatial_scale: Optional[float]) -> np.ndarray:
    """Validated (K, 5) RoIs in `dtype` from a (K, 5) array or a list of per-image (K_i, 4).

    With a spatial_scale, the scaled corners must also be within 2**30 (None: not checked).
    """
    if _is_per_image(boxes):
        if len(boxes) > batch:
            raise ValueError(f"boxes is a list of {len(boxes)} per-image arrays but input holds {batch} images")
        parts = []
        for i, b in enumerate(boxes):
            arr = as_float_array(b, f"boxes[{i}]")
            if arr.size == 0 and arr.ndim == 1:
                arr = arr.reshape(0, 4)
            if arr.ndim != 2 or arr.shape[1] != 4:
                raise ValueError(f"boxes[{i}] must have shape (K_i, 4), got shape {arr.shape}")
            parts.append(np.concatenate([np.full((len(arr), 1), i, dtype=np.float64), arr], axis=1))
        rois = np.concatenate(parts) if parts else np.zeros((0, 5))
    else:
        rois = as_float_array(boxes, "boxes")
        if rois.size == 0 and rois.ndim == 1:
            rois = rois.reshape(0, 5)
        if rois.ndim != 2 or rois.shape[1] != 5:
            raise ValueError(f"boxes must be a (K, 5) array [batch_index, x1, y1, x2, y2] or a list of "
                             f"(K_i, 4) arrays, got shape {rois.shape}")
        check_finite(rois, "boxes")
        index = rois[:, 0]
        bad = (index != np.floor(index)) | (index < 0) | (index >= batch)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"boxes[:, 0] must hold integer batch indices in [0, {batch}); "
                             f"row {i} has {float(index[i])}")
    with np.errstate(over="ignore"):
        rois = np.ascontiguousarray(rois, dtype=dtype)
    check_finite(rois, "boxes")  # also catches float64 values that overflow float32
    if spatial_scale is None:
        return rois
    scaled = np.abs(rois[:, 1:].astype(np.float64) * spatial_scale)
    if scaled.size and scaled.max() > _MAX_SCALED:
        i = int(np.argmax(scaled.max(axis=1)))
        raise ValueError(f"boxes must satisfy |coordinate * spatial_scale| <= 2**30; row {i} is "
                         f"{rois[i, 1:].tolist()} with spatial_scale {spatial_scale}")
    return rois


def _as_input_shape(value, channels: int) -> tuple[int, int, int, int]:
    try:
        shape = tuple(value)
    except TypeError:
        raise TypeError(f"input_shape must be a sequence (N, C, H, W) of ints, got {value!r}") from None
    if len(shape) != 4 or not all(_is_int(v) for v in shape):
        raise TypeError(f"input_shape must be a sequence (N, C, H, W) of ints, got {value!r}")
    n, c, h, w = (int(v) for v in shape)
    if n < 0 or h < 1 or w < 1:
        raise ValueError(f"input_shape must have N >= 0 and H, W >= 1, got {shape}")
    if max(n, h, w) > _INT32_MAX:
        raise ValueError(f"input_shape N, H and W must be at most 2**31 - 1, got {shape}")
    if c != channels:
        raise ValueError(f"input_shape has {c} channels but grad_output has {channels}")
    return n, c, h, w


def _as_grad_output(value, output_size) -> np.ndarray:
    grad = as_float_array(value, "grad_output")
    if grad.ndim != 4 or grad.shape[2:] != tuple(output_size):
        raise ValueError(f"grad_output must have shape (K, C, {output_size[0]}, {output_size[1]}), "
                         f"got shape {grad.shape}")
    return grad


def _check_roi_count(rois: np.ndarray, grad: np.ndarray) -> None:
    if len(rois) != len(grad):
        raise ValueError(f"grad_output has {len(grad)} rows but boxes hold {len(rois)} RoIs")


def roi_align(input: ArrayLike, boxes: BoxesLike, output_size: SizeLike, spatial_scale: float = 1.0,
              sampling_ratio: int = -1, aligned: bool = False) -> np.ndarray:
    """RoIAlign (He et al., Mask R-CNN, 2017), as ``torchvision.ops.roi_align``.

    Each RoI is cut into ``output_size`` bins; a bin is the average of a grid of bilinear samples
    of the feature map. Semantics are torchvision's CPU kernel: corners are scaled by
    ``spatial_scale`` (and shifted by -0.5 when ``aligned``); without ``aligned`` an RoI is at
    least 1 x 1 feature pixel (inverted boxes become 1 x 1), with ``aligned`` an inverted or empty
    box gives zeros under adaptive sampling (where torchvision raises an error for inverted
    boxes) and samples backwards with a fixed ``sampling_ratio``. A sample farther than one pixel outside the map
    (y < -1 or y > H) contributes 0 but still counts in the average; samples in [-1, 0) read row
    0, and samples at or beyond the last row read it alone.

    Parameters
    ----------
    input : (N, C, H, W) array_like
        Feature maps.
    boxes : (K, 5) array_like or list of (K_i, 4) array_like
        RoIs ``[batch_index, x1, y1, x2, y2]``, or per-image ``x1, y1, x2, y2`` boxes.
    output_size : int or (int, int)
        Bins per RoI, (height, width).
    spatial_scale : float > 0
        Factor from box coordinates to feature-map coordinates.
    sampling_ratio : int
        Samples per bin along each axis; <= 0 chooses ``ceil(roi_size / output_size)`` per RoI
        and axis (adaptive).
    aligned : bool
        Shift the box by -0.5 pixel so that sample centres align with pixel centres (the
        Detectron2 convention).

    Returns
    -------
    (K, C, h, w) ndarray
        Pooled features, in the dtype of ``input``.

    Notes
    -----
    The result equals torchvision's up to floating-point rounding (a few ulp): detkit sums
    separable per-axis weights instead of four taps per sample. To use the op inside an
    autograd, pair it with :func:`roi_align_backward`, e.g. in PyTorch (not executed here)::

        class RoIAlign(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, rois, output_size, scale, ratio, aligned):
                ctx.save_for_backward(rois)
                ctx.args = (x.shape, output_size, scale, ratio, aligned)
                return torch.from_numpy(detkit.roi_align(x.detach().numpy(), rois.numpy(),
                                                         output_size, scale, ratio, aligned))

            @staticmethod
            def backward(ctx, grad):
                (rois,) = ctx.saved_tensors
                shape, size, scale, ratio, aligned = ctx.args
                gx = detkit.roi_align_backward(grad.numpy(), rois.numpy(), tuple(shape), size,
                                               scale, ratio, aligned)
                return torch.from_numpy(gx), None, None, None, None, None

    Examples
    --------
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> roi_align(x, [[0, 0, 0, 2, 2]], output_size=1, sampling_ratio=2, aligned=True)
    array([[[[2.5]]]], dtype=float32)
    >>> roi_align(x, [np.array([[0, 0, 2, 2]])], (1, 2), sampling_ratio=1, aligned=True)[0, 0]
    array([[2., 3.]], dtype=float32)
    """
    x = _as_features(input)
    size = _output_size(output_size)
    scale = _spatial_scale(spatial_scale)
    ratio = _sampling_ratio(sampling_ratio)
    is_aligned = _aligned(aligned)
    rois = _as_rois(boxes, x.dtype, x.shape[0], scale)
    return _C.roi_align(x, rois, size[0], size[1], scale, ratio, is_aligned)


def roi_align_backward(grad_output: ArrayLike, boxes: BoxesLike, input_shape: Sequence[int],
                       output_size: SizeLike, spatial_scale: float = 1.0, sampling_ratio: int = -1,
                       aligned: bool = False) -> np.ndarray:
    """Gradient of :func:`roi_align` with respect to its input.

    Every output bin's gradient is spread back onto the feature cells its bilinear samples read,
    with the same weights (divided by the number of samples of the bin); contributions of all
    RoIs add up. The other parameters must be those of the forward call.

    Parameters
    ----------
    grad_output : (K, C, h, w) array_like
        Gradient of the loss w.r.t. the output of :func:`roi_align`.
    boxes : (K, 5) array_like or list of (K_i, 4) array_like
        The RoIs of the forward call.
    input_shape : (N, C, H, W) sequence of int
        Shape of the forward input.
    output_size, spatial_scale, sampling_ratio, aligned
        As in :func:`roi_align`.

    Returns
    -------
    (N, C, H, W) ndarray
        Gradient w.r.t. the input, in the dtype of ``grad_output``.

    Notes
    -----
    roi_align is linear in its input, so ``(roi_align_backward(g, ...) * x).sum()`` equals
    ``(g * roi_align(x, ...)).sum()`` for any x. Threads split the work by feature plane, so no
    two threads add into the same cell and the result does not depend on the thread count. See
    :func:`roi_align` for an autograd wrapper.

    Examples
    --------
    >>> g = roi_align_backward(np.ones((1, 1, 1, 1)), [[0, 0, 0, 2, 2]], (1, 1, 3, 3), 1,
    ...                        sampling_ratio=2, aligned=True)
    >>> g[0, 0]
    array([[0.25, 0.25, 0.  ],
           [0.25, 0.25, 0.  ],
           [0.  , 0.  , 0.  ]])
    """
    size = _output_size(output_size)
    grad = _as_grad_output(grad_output, size)
    n, _, h, w = _as_input_shape(input_shape, grad.shape[1])
    scale = _spatial_scale(spatial_scale)
    ratio = _sampling_ratio(sampling_ratio)
    is_aligned = _aligned(aligned)
    rois = _as_rois(boxes, grad.dtype, n, scale)
    _check_roi_count(rois, grad)
    return _C.roi_align_backward(grad, rois, n, h, w, scale, ratio, is_aligned)


def roi_pool(input: ArrayLike, boxes: BoxesLike, output_size: SizeLike, spatial_scale: float = 1.0, *,
             return_argmax: bool = False) -> Union[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """RoIPool (Girshick, Fast R-CNN, 2015), as ``torchvision.ops.roi_pool``.

    Corners are scaled by ``spatial_scale`` and rounded half away from zero to whole feature
    pixels; the RoI spans ``max(x2 - x1 + 1, 1)`` columns (inverted boxes become one pixel) and
    likewise rows. Bin (i, j) covers rows ``[floor(i * bin_h), ceil((i + 1) * bin_h))`` of the RoI
    (bins may overlap by a pixel) and columns likewise, clipped to the map, and outputs its
    maximum. A bin entirely outside the map outputs 0.

    Parameters
    ----------
    input : (N, C, H, W) array_like
        Feature maps.
    boxes : (K, 5) array_like or list of (K_i, 4) array_like
        RoIs ``[batch_index, x1, y1, x2, y2]``, or per-image ``x1, y1, x2, y2`` boxes.
    output_size : int or (int, int)
        Bins per RoI, (height, width).
    spatial_scale : float > 0
        Factor from box coordinates to feature-map coordinates.
    return_argmax : bool
        Also return where each maximum was taken, for :func:`roi_pool_backward`.

    Returns
    -------
    output : (K, C, h, w) ndarray
        Bin maxima, in the dtype of ``input``.
    argmax : (K, C, h, w) ndarray of int64, only with ``return_argmax``
        Flat index ``y * W + x`` of each maximum within its (H, W) plane: the first maximum in
        row-major order; -1 for an empty bin (torchvision's convention, which also gives -1 and
        the value -FLT_MAX when no value exceeds -FLT_MAX).

    Notes
    -----
    Results equal torchvision's exactly (the same comparisons on the same values). For an
    autograd, keep ``argmax`` from the forward call and pass it to :func:`roi_pool_backward`
    (see :func:`roi_align` for a PyTorch ``autograd.Function`` sketch).

    Examples
    --------
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> out, argmax = roi_pool(x, [[0, 0, 0, 3, 1]], (1, 2), return_argmax=True)
    >>> out[0, 0], argmax[0, 0]
    (array([[5., 7.]], dtype=float32), array([[5, 7]]))
    """
    x = _as_features(input)
    size = _output_size(output_size)
    scale = _spatial_scale(spatial_scale)
    if not isinstance(return_argmax, (bool, np.bool_)):
        raise TypeError(f"return_argmax must be a bool, got {return_argmax!r}")
    rois = _as_rois(boxes, x.dtype, x.shape[0], scale)
    out, argmax = _C.roi_pool(x, rois, size[0], size[1], scale, bool(return_argmax))
    return (out, argmax) if return_argmax else out


def roi_pool_backward(grad_output: ArrayLike, boxes: BoxesLike, argmax: ArrayLike,
                      input_shape: Sequence[int]) -> np.ndarray:
    """Gradient of :func:`roi_pool` with respect to its input.

    Each output bin's gradient goes to the cell its maximum came from (``argmax`` of the forward
    call); bins with argmax -1 pass nothing. Contributions of all RoIs add up.

    Parameters
    ----------
    grad_output : (K, C, h, w) array_like
        Gradient of the loss w.r.t. the output of :func:`roi_pool`.
    boxes : (K, 5) array_like or list of (K_i, 4) array_like
        The RoIs of the forward call (only their batch indices are used).
    argmax : (K, C, h, w) array_like of int
        From ``roi_pool(..., return_argmax=True)``; values in [-1, H * W).
    input_shape : (N, C, H, W) sequence of int
        Shape of the forward input.

    Returns
    -------
    (N, C, H, W) ndarray
        Gradient w.r.t. the input, in the dtype of ``grad_output``.

    Examples
    --------
    >>> g = roi_pool_backward(np.ones((1, 1, 1, 2)), [[0, 0, 0, 3, 1]], [[[[5, 7]]]], (1, 1, 2, 4))
    >>> g[0, 0]
    array([[0., 0., 0., 0.],
           [0., 1., 0., 1.]])
    """
    grad = as_float_array(grad_output, "grad_output")
    if grad.ndim != 4:
        raise ValueError(f"grad_output must have shape (K, C, h, w), got shape {grad.shape}")
    n, _, h, w = _as_input_shape(input_shape, grad.shape[1])
    rois = _as_rois(boxes, grad.dtype, n, None)
    _check_roi_count(rois, grad)
    arg = np.asarray(argmax)
    if arg.dtype.kind not in "iu":
        raise TypeError(f"argmax must hold integers, got dtype {arg.dtype}")
    if arg.shape != grad.shape:
        raise ValueError(f"argmax must have the shape of grad_output {grad.shape}, got {arg.shape}")
    if arg.size and (arg.min() < -1 or arg.max() >= h * w):
        raise ValueError(f"argmax values must be in [-1, {h * w}) (H * W), got range "
                         f"[{arg.min()}, {arg.max()}]")
    arg = np.ascontiguousarray(arg, dtype=np.int64)
    return _C.roi_pool_backward(grad, arg, rois, n, h, w)


def _infer_scale(feature_size: tuple[int, int], image_size: tuple[int, int]) -> float:
    # torchvision rounds log2 of the height ratio in float32 (half to even).
    with np.errstate(over="ignore", divide="ignore"):
        ratio = np.float32(float(feature_size[0]) / float(image_size[0]))
        return 2.0 ** float(np.rint(np.log2(ratio)))


def _fpn_levels(rois: np.ndarray, k_min: int, k_max: int, canonical_scale: float,
                canonical_level: float) -> np.ndarray:
    t = rois.dtype.type
    side = np.sqrt((rois[:, 3] - rois[:, 1]) * (rois[:, 4] - rois[:, 2]))
    with np.errstate(divide="ignore"):
        target = np.floor(t(canonical_level) + np.log2(side / t(canonical_scale)) + t(1e-6))
    return np.clip(target, k_min, k_max).astype(np.int64) - k_min


def multiscale_roi_align(features: Sequence[ArrayLike], boxes: BoxesLike,
                         image_shapes: Sequence[Sequence[int]], output_size: SizeLike, sampling_ratio: int,
                         *, canonical_scale: float = 224, canonical_level: float = 4,
                         aligned: bool = False) -> np.ndarray:
    """Multi-scale RoIAlign over an FPN, as torchvision's ``MultiScaleRoIAlign``.

    Each RoI is pooled from one level, chosen by the FPN rule (Lin et al., 2017, eq. 1):
    ``floor(canonical_level + log2(sqrt(area) / canonical_scale) + 1e-6)``, computed in the
    feature dtype and clamped to the available levels. The scale of each map is inferred as
    torchvision does: ``2 ** round(log2(H_l / H_img))`` with H_img the largest image height, and
    the levels are ``-log2`` of the first and last scales (so maps go from fine to coarse).

    Parameters
    ----------
    features : sequence of (N, C, H_l, W_l) array_like
        Feature maps, finest first, with the same N and C (converted to a common dtype).
    boxes : list of (K_i, 4) array_like, or (K, 5) array_like
        Boxes per image in image coordinates (``x1 <= x2``, ``y1 <= y2``).
    image_shapes : sequence of (height, width)
        Sizes of the images the features were computed from (before batching/padding).
    output_size : int or (int, int)
        Bins per RoI.
    sampling_ratio : int
        As in :func:`roi_align`.
    canonical_scale, canonical_level : float
        The FPN constants 224 and k0 = 4.
    aligned : bool
        As in :func:`roi_align` (torchvision's MultiScaleRoIAlign uses False).

    Returns
    -------
    (K, C, h, w) ndarray
        Pooled features of all RoIs in input order.

    Notes
    -----
    torchvision's module infers the scales on its first call and reuses them afterwards; this
    function infers them on every call (the same values whenever the image sizes are the same).

    Examples
    --------
    >>> p2 = np.ones((1, 8, 64, 64), np.float32)
    >>> p3 = np.full((1, 8, 32, 32), 2, np.float32)
    >>> boxes = [np.array([[0, 0, 60, 60], [0, 0, 200, 200]], np.float32)]
    >>> out = multiscale_roi_align([p2, p3], boxes, [(256, 256)], 7, 2)
    >>> out.shape, out[:, 0, 3, 3]
    ((2, 8, 7, 7), array([1., 2.], dtype=float32))
    """
    if isinstance(features, np.ndarray) or not isinstance(features, Sequence) or len(features) == 0:
        raise TypeError("features must be a non-empty sequence of (N, C, H, W) arrays")
    maps = [_as_features(f, f"features[{i}]") for i, f in enumerate(features)]
    for i, f in enumerate(maps[1:], 1):
        if f.shape[:2] != maps[0].shape[:2]:
            raise ValueError(f"features[{i}] has (N, C) = {f.shape[:2]} but features[0] has {maps[0].shape[:2]}")
    dtype = np.result_type(*maps)
    maps = [np.ascontiguousarray(f, dtype=dtype) for f in maps]
    size = _output_size(output_size)
    ratio = _sampling_ratio(sampling_ratio)
    is_aligned = _aligned(aligned)
    image_size = _image_size(image_shapes)
    scales = [_infer_scale(f.shape[2:], image_size) for f in maps]
    for i, scale in enumerate(scales):
        if not 0 < scale < np.inf:
            raise ValueError(f"image_shapes (largest height {image_size[0]}) give features[{i}] a scale of "
                             f"{scale}: its height ratio must round to a finite power of 2")
    rois = _as_rois(boxes, dtype, maps[0].shape[0], max(scales))
    inverted = (rois[:, 3] < rois[:, 1]) | (rois[:, 4] < rois[:, 2])
    if inverted.any():
        i = int(np.flatnonzero(inverted)[0])
        raise ValueError(f"boxes must have x1 <= x2 and y1 <= y2; RoI {i} is {rois[i, 1:].tolist()}")
    if len(maps) == 1:
        return _C.roi_align(maps[0], rois, size[0], size[1], scales[0], ratio, is_aligned)
    k_min = int(-np.log2(np.float32(scales[0])))
    k_max = int(-np.log2(np.float32(scales[-1])))
    levels = _fpn_levels(rois, k_min, k_max, as_real(canonical_scale, "canonical_scale", low=0.0, low_open=True),
                         as_real(canonical_level, "canonical_level"))
    out = np.zeros((len(rois), maps[0].shape[1], size[0], size[1]), dtype=dtype)
    for level, (feature, scale) in enumerate(zip(maps, scales)):
        chosen = np.flatnonzero(levels == level)
        if chosen.size:
            out[chosen] = _C.roi_align(feature, np.ascontiguousarray(rois[chosen]), size[0], size[1], scale,
                                       ratio, is_aligned)
    return out


def _image_size(image_shapes) -> tuple[float, float]:
    try:
        shapes = [tuple(s) for s in image_shapes]
    except TypeError:
        raise TypeError(f"image_shapes must be a sequence of (height, width) pairs, got {image_shapes!r}") from None
    if not shapes or any(len(s) != 2 for s in shapes):
        raise ValueError(f"image_shapes must be a non-empty sequence of (height, width) pairs, got {image_shapes!r}")
    heights = [as_real(s[0], "image_shapes height", low=0.0, low_open=True) for s in shapes]
    widths = [as_real(s[1], "image_shapes width", low=0.0, low_open=True) for s in shapes]
    return max(heights), max(widths)


class MultiScaleRoIAlign:
    """Multi-scale RoIAlign module with torchvision's ``MultiScaleRoIAlign`` interface.

    Parameters
    ----------
    featmap_names : list of str
        Keys of the feature maps to pool from, in a mapping passed at call time.
    output_size : int or (int, int)
        Bins per RoI.
    sampling_ratio : int
        As in :func:`roi_align`.
    canonical_scale, canonical_level : float
        The FPN constants 224 and k0 = 4.

    Calling it with ``(x, boxes, image_shapes)``, where ``x`` maps names to (N, C, H, W) arrays,
    runs :func:`multiscale_roi_align` on the maps of ``x`` whose names are in ``featmap_names``,
    in the iteration order of ``x`` (as torchvision).

    Examples
    --------
    >>> pool = MultiScaleRoIAlign(["p2", "p3"], 3, 2)
    >>> x = {"p2": np.ones((1, 4, 64, 64)), "p3": np.ones((1, 4, 32, 32)), "p4": np.ones((1, 4, 16, 16))}
    >>> pool(x, [np.array([[0.0, 0.0, 100.0, 80.0]])], [(256, 256)]).shape
    (1, 4, 3, 3)
    """

    def __init__(self, featmap_names: Sequence[str], output_size: SizeLike, sampling_ratio: int, *,
                 canonical_scale: float = 224, canonical_level: float = 4):
        self.featmap_names = list(featmap_names)
        self.output_size = _output_size(output_size)
        self.sampling_ratio = _sampling_ratio(sampling_ratio)
        self.canonical_scale = canonical_scale
        self.canonical_level = canonical_level

    def __call__(self, x: Mapping[str, ArrayLike], boxes: BoxesLike,
                 image_shapes: Sequence[Sequence[int]]) -> np.ndarray:
        if not isinstance(x, Mapping):
            raise TypeError(f"x must be a mapping of feature-map names to arrays, got {type(x).__name__}")
        features = [v for k, v in x.items() if k in self.featmap_names]
        if not features:
            raise ValueError(f"x holds none of the feature maps {self.featmap_names}")
        return multiscale_roi_align(features, boxes, image_shapes, self.output_size, self.sampling_ratio,
                                    canonical_scale=self.canonical_scale,
                                    canonical_level=self.canonical_level)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(featmap_names={self.featmap_names}, "
                f"output_size={self.output_size}, sampling_ratio={self.sampling_ratio})")
