# cython: language_level=3, boundscheck=False, wraparound=False
"""COCO result dicts to columns (Cython): the fast path of ``COCO.loadRes`` for a list of dicts.

A list of box or keypoint results, as detectors produce them in a training loop, is read in one
pass over the records with direct dictionary lookups. Only the plain shapes are taken here:
``int`` ids, ``float``/``int`` numbers, ``list``/``tuple`` boxes and keypoints, every record
with a score, and a box (or keypoints) in every record or in none. Anything else returns None and
the general reader in ``detkit.eval.coco`` (which gives the same columns for these shapes) takes
the list.
"""

import numpy as np

from cpython.dict cimport PyDict_GetItem
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_Check
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_CheckExact
from cpython.object cimport PyObject
from cpython.sequence cimport PySequence_Fast_GET_ITEM, PySequence_Fast_GET_SIZE
from libc.stdint cimport int64_t

# Integers up to this magnitude convert to float64 exactly, as float() does.
cdef int64_t _EXACT_INT = 2 ** 53


cdef inline bint _integer(PyObject* v, int64_t* out):
    """An exact int that fits int64 (bool and other types: False)."""
    cdef int overflow = 0
    if v == NULL or not PyLong_CheckExact(<object>v):
        return False
    out[0] = PyLong_AsLongLongAndOverflow(<object>v, &overflow)
    return overflow == 0


cdef inline bint _number(PyObject* v, double* out):
    """A float (or float subclass such as numpy.float64) or an exactly representable int."""
    cdef int64_t i = 0
    if v == NULL:
        return False
    if PyFloat_Check(<object>v):
        out[0] = PyFloat_AS_DOUBLE(<object>v)
        return True
    if _integer(v, &i) and -_EXACT_INT <= i <= _EXACT_INT:
        out[0] = <double>i
        return True
    return False


cdef inline bint _numbers(PyObject* v, Py_ssize_t width, double* out):
    """A list or tuple of exactly `width` numbers (see _number)."""
    cdef Py_ssize_t j
    if v == NULL or (type(<object>v) is not list and type(<object>v) is not tuple):
        return False
    if PySequence_Fast_GET_SIZE(<object>v) != width:
        return False
    for j in range(width):
        if not _number(<PyObject*>PySequence_Fast_GET_ITEM(<object>v, j), out + j):
            return False
    return True


def result_columns(list anns not None):
    """Columns of box or keypoint result dicts: image_id, category_id (int64), score, bbox (N, 4)
    and keypoints (N, K) (float64) with their presence flags and an empty segmentation, as
    ``detkit.eval.coco`` reads them; None for any other shape (see the module docstring)."""
    cdef Py_ssize_t n = PyList_GET_SIZE(anns), i, width = -1
    if n == 0 or type(anns[0]) is not dict:
        return None
    first = anns[0]
    cdef bint with_box = "bbox" in first, with_kp = "keypoints" in first
    if with_kp:
        kp0 = first["keypoints"]
        if type(kp0) is not list and type(kp0) is not tuple:
            return None
        width = len(kp0)
        if width < 2:
            return None
    image_id = np.empty(n, dtype=np.int64)
    category_id = np.empty(n, dtype=np.int64)
    score = np.empty(n, dtype=np.float64)
    bbox = np.empty((n, 4), dtype=np.float64) if with_box else np.full((n, 4), np.nan)
    keypoints = np.empty((n, width), dtype=np.float64) if with_kp else None
    cdef int64_t[::1] img = image_id, cat = category_id
    cdef double[::1] sc = score
    cdef double[:, ::1] box = bbox
    cdef double[:, ::1] kp = keypoints if with_kp else np.empty((0, 0))
    cdef PyObject* rec
    for i in range(n):
        rec = <PyObject*>PyList_GET_ITEM(anns, i)
        if type(<object>rec) is not dict:
            return None
        if not (_integer(PyDict_GetItem(<object>rec, "image_id"), &img[i])
                and _integer(PyDict_GetItem(<object>rec, "category_id"), &cat[i])
                and _number(PyDict_GetItem(<object>rec, "score"), &sc[i])):
            return None
        if PyDict_GetItem(<object>rec, "segmentation") != NULL:
            return None  # mask results: the general reader
        if with_box:
            if not _numbers(PyDict_GetItem(<object>rec, "bbox"), 4, &box[i, 0]):
                return None
        elif PyDict_GetItem(<object>rec, "bbox") != NULL:
            return None
        if with_kp:
            if not _numbers(PyDict_GetItem(<object>rec, "keypoints"), width, &kp[i, 0]):
                return None
        elif PyDict_GetItem(<object>rec, "keypoints") != NULL:
            return None
    present = np.ones(n, dtype=bool)
    cols = {"image_id": image_id, "category_id": category_id, "score": score, "has_score": present,
            "segmentation": {"kind": np.zeros(n, np.uint8)}, "bbox": bbox,
            "has_bbox": present if with_box else np.zeros(n, dtype=bool),
            "has_keypoints": present if with_kp else np.zeros(n, dtype=bool)}
    if with_kp:
        cols["keypoints"] = keypoints
    return cols
