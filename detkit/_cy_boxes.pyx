# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Elementwise box kernels (Cython): format conversion, area, clipping, small-box filtering.

Thin, single-pass loops over validated C-contiguous (N, 4) arrays; detkit.ops.boxes checks the
inputs. Formats are integer codes: 0 = xyxy, 1 = xywh, 2 = cxcywh. The arithmetic is written in the
same order as detkit.reference.boxes so both give identical results.
"""

import numpy as np

from cython cimport floating


def box_convert(const floating[:, ::1] boxes, int in_code, int out_code):
    cdef Py_ssize_t n = boxes.shape[0], i
    cdef floating a, b, c, d, x1, y1, x2, y2
    out = np.empty((n, 4), dtype=np.float32 if floating is float else np.float64)
    cdef floating[:, ::1] o = out
    with nogil:
        for i in range(n):
            a = boxes[i, 0]
            b = boxes[i, 1]
            c = boxes[i, 2]
            d = boxes[i, 3]
            if in_code == 0:
                x1 = a; y1 = b; x2 = c; y2 = d
            elif in_code == 1:
                x1 = a; y1 = b; x2 = a + c; y2 = b + d
            else:
                x1 = a - <floating>0.5 * c
                y1 = b - <floating>0.5 * d
                x2 = a + <floating>0.5 * c
                y2 = b + <floating>0.5 * d
            if out_code == 0:
                o[i, 0] = x1; o[i, 1] = y1; o[i, 2] = x2; o[i, 3] = y2
            elif out_code == 1:
                o[i, 0] = x1; o[i, 1] = y1; o[i, 2] = x2 - x1; o[i, 3] = y2 - y1
            else:
                o[i, 0] = (x1 + x2) / 2
                o[i, 1] = (y1 + y2) / 2
                o[i, 2] = x2 - x1
                o[i, 3] = y2 - y1
    return out


def box_area(const floating[:, ::1] boxes, double offset):
    cdef Py_ssize_t n = boxes.shape[0], i
    cdef floating off = <floating>offset
    out = np.empty(n, dtype=np.float32 if floating is float else np.float64)
    cdef floating[::1] o = out
    with nogil:
        for i in range(n):
            o[i] = (boxes[i, 2] - boxes[i, 0] + off) * (boxes[i, 3] - boxes[i, 1] + off)
    return out


cdef inline floating _clamp(floating v, floating hi) noexcept nogil:
    if v < 0:
        return 0
    if v > hi:
        return hi
    return v


def clip_boxes_to_image(const floating[:, ::1] boxes, double height, double width):
    cdef Py_ssize_t n = boxes.shape[0], i
    cdef floating h = <floating>height, w = <floating>width
    out = np.empty((n, 4), dtype=np.float32 if floating is float else np.float64)
    cdef floating[:, ::1] o = out
    with nogil:
        for i in range(n):
            o[i, 0] = _clamp(boxes[i, 0], w)
            o[i, 1] = _clamp(boxes[i, 1], h)
            o[i, 2] = _clamp(boxes[i, 2], w)
            o[i, 3] = _clamp(boxes[i, 3], h)
    return out


def remove_small_boxes(const floating[:, ::1] boxes, double min_size):
    cdef Py_ssize_t n = boxes.shape[0], i, count = 0
    cdef floating s = <floating>min_size
    keep = np.empty(n, dtype=np.int64)
    cdef long long[::1] k = keep
    with nogil:
        for i in range(n):
            if boxes[i, 2] - boxes[i, 0] >= s and boxes[i, 3] - boxes[i, 1] >= s:
                k[count] = i
                count += 1
    return keep[:count].copy()
