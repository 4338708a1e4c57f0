# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Pascal VOC matching (Cython): the sequential part of detkit.eval.voc.

Detections arrive in visiting order (by class, then decreasing score); each is compared with the
ground-truth boxes of its class and image (a contiguous range of the key-sorted ground truth) and
assigned as the devkit does. The IoU arithmetic is written in the same order as
detkit.reference.voc so both give identical results.
"""

import numpy as np

from libc.math cimport INFINITY, fmax, fmin
from libc.stdint cimport int64_t, uint8_t


def match(const int64_t[::1] order, const int64_t[::1] start, const int64_t[::1] count,
          const double[:, ::1] dboxes, const double[:, ::1] gboxes, const uint8_t[::1] gdiff,
          double threshold, double offset, bint strict):
    """TP and FP indicators (float64) of the detections order[0], order[1], ... in that order.

    Detection order[i] is compared with gt rows start[i] .. start[i] + count[i] - 1. It takes the
    gt of largest IoU (the first on ties); above the threshold (> if strict, else >= and > 0) a
    difficult gt makes it neither TP nor FP, an unmatched gt a TP (now matched), a matched one an
    FP; otherwise it is an FP.
    """
    cdef Py_ssize_t n = order.shape[0], i, j, jmax, d
    tp = np.zeros(n, dtype=np.float64)
    fp = np.zeros(n, dtype=np.float64)
    matched_arr = np.zeros(gboxes.shape[0], dtype=np.uint8)
    cdef double[::1] tpv = tp, fpv = fp
    cdef uint8_t[::1] matched = matched_arr
    cdef double iw, ih, inter, union, iou, ovmax, dw, dh
    cdef bint hit
    with nogil:
        for i in range(n):
            d = order[i]
            dw = dboxes[d, 2] - dboxes[d, 0] + offset
            dh = dboxes[d, 3] - dboxes[d, 1] + offset
            ovmax = -INFINITY
            jmax = -1
            for j in range(start[i], start[i] + count[i]):
                iw = fmax(fmin(gboxes[j, 2], dboxes[d, 2]) - fmax(gboxes[j, 0], dboxes[d, 0]) + offset, 0.0)
                ih = fmax(fmin(gboxes[j, 3], dboxes[d, 3]) - fmax(gboxes[j, 1], dboxes[d, 1]) + offset, 0.0)
                inter = iw * ih
                union = (dw * dh + (gboxes[j, 2] - gboxes[j, 0] + offset)
                         * (gboxes[j, 3] - gboxes[j, 1] + offset) - inter)
                iou = inter / union if union > 0 else 0.0
                if iou > ovmax:
                    ovmax = iou
                    jmax = j
            hit = ovmax > threshold if strict else (ovmax >= threshold and ovmax > 0)
            if not hit:
                fpv[i] = 1.0
            elif not gdiff[jmax]:
                if matched[jmax]:
                    fpv[i] = 1.0
                else:
                    tpv[i] = 1.0
                    matched[jmax] = 1
    return tp, fp
