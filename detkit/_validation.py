"""Input checking for the public API: done once, here, before any native kernel runs.

Every check raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, wrong shape or
content) with a message naming the argument, what was expected and what was received. Arrays are
returned C-contiguous in float32/float64 (kept) or float64 (every other real dtype), so kernels can
read them without further checks. Inputs are never modified: non-contiguous or read-only arrays are
read as they are or copied.
"""

from __future__ import annotations

import numbers
from typing import Any, Optional

import numpy as np

from detkit import _C

BOX_FORMATS = ("xyxy", "xywh", "cxcywh")


def _describe(arr: np.ndarray) -> str:
    return f"shape {arr.shape} and dtype {arr.dtype}"


def as_float_array(value: Any, name: str) -> np.ndarray:
    """Returns ``value`` as a C-contiguous float32/float64 array.

    float32 and float64 are kept; other real dtypes (integers, float16) become float64. Booleans,
    complex numbers, strings and objects raise ``TypeError``; ragged nested sequences ``ValueError``.
    """
    try:
        arr = np.asarray(value)
    except ValueError:
        raise ValueError(f"{name} must be a rectangular array, got a ragged sequence") from None
    kind = arr.dtype.kind
    if kind == "f":
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float64)
    elif kind in "iu":
        arr = arr.astype(np.float64)
    else:
        raise TypeError(f"{name} must hold real numbers (float32/float64 preferred), got dtype {arr.dtype}")
    return np.ascontiguousarray(arr)


def common_float_dtype(*arrays: np.ndarray) -> np.dtype:
    """float64 if any array is float64, else float32."""
    return np.result_type(*[a.dtype for a in arrays])


def _native_layout(arr: np.ndarray) -> bool:
    """Whether the single-pass native checks can read ``arr`` in place."""
    return arr.dtype in (np.float32, np.float64) and arr.flags.c_contiguous


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raises ``ValueError`` naming the first NaN or infinite entry of ``arr``."""
    if not arr.size:
        return
    if _native_layout(arr):
        if _C.first_non_finite(arr.reshape(-1)) < 0:
            return
    elif np.isfinite(arr).all():
        return
    bad = np.argwhere(~np.isfinite(arr))[0]
    raise ValueError(f"{name} must be finite, found {arr[tuple(bad)]} at index {tuple(int(i) for i in bad)}")


def as_boxes(value: Any, name: str = "boxes", fmt: str = "xyxy") -> np.ndarray:
    """Validates an (N, 4) box array in format ``fmt``.

    Accepts any array-like; an empty sequence is an empty (0, 4) array. Boxes must be finite and
    not inverted: x2 >= x1 and y2 >= y1 for xyxy, w >= 0 and h >= 0 for xywh and cxcywh.
    """
    arr = as_float_array(value, name)
    if arr.size == 0 and arr.ndim == 1:
        arr = arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4), got {_describe(arr)}")
    if _C.first_invalid_box(arr, fmt == "xyxy") < 0:  # one native pass; details only on failure
        return arr
    check_finite(arr, name)
    if fmt == "xyxy":
        bad = (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
        what = "x2 >= x1 and y2 >= y1"
    else:
        bad = (arr[:, 2] < 0) | (arr[:, 3] < 0)
        what = "width >= 0 and height >= 0"
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must be {fmt} boxes with {what}; box {i} is {arr[i].tolist()}")
    return arr


def as_scores(value: Any, n: int, name: str = "scores") -> np.ndarray:
    """Validates a 1-D array of ``n`` finite scores, returned as float64 (exact for float32)."""
    arr = as_float_array(value, name)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match the boxes, got {_describe(arr)}")
    check_finite(arr, name)
    return arr.astype(np.float64, copy=False)


def as_labels(value: Any, n: int, name: str = "idxs") -> np.ndarray:
    """Validates a 1-D integer array of length ``n``, returned as int64."""
    arr = np.asarray(value)
    if arr.size == 0 and arr.dtype.kind == "f":  # an empty list has dtype float64
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match the boxes, got {_describe(arr)}")
    if arr.dtype == np.uint64 and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{name} values must fit in int64")
    return np.ascontiguousarray(arr, dtype=np.int64)


def as_real(value: Any, name: str, *, low: Optional[float] = None, high: Optional[float] = None,
            low_open: bool = False) -> float:
    """Validates a finite real scalar inside [low, high] (or (low, high] with ``low_open``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be in {bracket}{low}, {high if high is not None else 'inf'}], got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return value


def as_threshold(value: Any, name: str) -> float:
    """An IoU-style threshold in [0, 1]."""
    return as_real(value, name, low=0.0, high=1.0)


def as_offset(value: Any) -> float:
    """The pixel-convention offset: 0 (continuous coordinates) or 1 (legacy "+1" convention)."""
    if isinstance(value, (bool, np.bool_)) or value not in (0, 1):
        raise ValueError(f"offset must be 0 or 1, got {value!r}")
    return float(value)


def as_count(value: Any, name: str) -> int:
    """A non-negative integer limit, or None for no limit (returned as -1 for the kernels)."""
    if value is None:
        return -1
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a non-negative integer or None, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer or None, got {value}")
    return int(value)


def as_choice(value: Any, name: str, choices: tuple) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def as_output(out: Any, shape: tuple, dtype: np.dtype, inputs: tuple = (), name: str = "out") -> Optional[np.ndarray]:
    """Validates a caller-provided result buffer (None means: allocate a new array).

    It must be a writeable, C-contiguous ndarray of exactly ``shape`` and ``dtype`` that shares no
    memory with ``inputs`` (the kernel writes while it still reads them).
    """
    if out is None:
        return None
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != dtype or out.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)} and dtype {np.dtype(dtype)}, got {_describe(out)}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError(f"{name} must be C-contiguous and writeable")
    if any(np.shares_memory(out, arr) for arr in inputs):
        raise ValueError(f"{name} must not share memory with the inputs")
    return out


def as_image(value: Any, name: str = "image", *, channels: Optional[tuple] = None) -> np.ndarray:
    """Validates an image and returns it as a C-contiguous (H, W, C) uint8 array.

    Accepts (H, W) (one channel) or (H, W, C) arrays with H, W >= 1, C in ``channels`` (any C >= 1
    when None). uint8 is kept; other integer images must hold values in [0, 255]; float32/float64
    images must hold finite values in [0, 1] and are mapped to uint8 by ``round(255 * x)``; other
    dtypes (bool, float16, complex, objects) raise ``TypeError``.
    """
    arr = np.asarray(value)
    if arr.dtype.kind == "f" and arr.dtype in (np.float32, np.float64):
        check_finite(arr, name)
        if arr.size and (arr.min() < 0 or arr.max() > 1):
            raise ValueError(f"{name}: float images must hold values in [0, 1], got range "
                             f"[{arr.min()}, {arr.max()}]")
        arr = np.floor(arr.astype(np.float64) * 255.0 + 0.5).astype(np.uint8)
    elif arr.dtype.kind in "iu" and arr.dtype != np.uint8:
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError(f"{name}: integer images must hold values in [0, 255], got range "
                             f"[{arr.min()}, {arr.max()}]")
        arr = arr.astype(np.uint8)
    elif arr.dtype != np.uint8:
        raise TypeError(f"{name} must be a uint8 image (or integers in [0, 255], or float32/float64 in "
                        f"[0, 1]), got dtype {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise ValueError(f"{name} must have shape (H, W) or (H, W, C), got {_describe(arr)}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must be at least 1 x 1 pixels, got {_describe(arr)}")
    if arr.shape[0] * arr.shape[1] >= 2**30:
        raise ValueError(f"{name} must have fewer than 2**30 pixels, got {_describe(arr)}")
    if (channels is not None and arr.shape[2] not in channels) or arr.shape[2] < 1:
        expected = " or ".join(map(str, channels)) if channels else ">= 1"
        raise ValueError(f"{name} must have {expected} channels, got {_describe(arr)}")
    return np.ascontiguousarray(arr)
