# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Run-length-encoded binary masks (Cython): the kernels behind detkit.eval.mask.

Masks follow the COCO conventions: an h x w mask is read in column-major (Fortran) order and stored
as alternating run lengths ("counts") of 0s and 1s, starting with 0s. Counts travel as the COCO
compressed string: each count (from the fourth on, its difference to the count two places before)
is written in 5-bit groups, least significant first, as the characters chr(48 + group), with 0x20
marking "more groups follow" and 0x10 in the last group giving the sign.

Parsed RLEs are held as one uint32 buffer of counts, int64 offsets (n + 1) delimiting each RLE and
an (n, 2) int64 array of sizes (h, w). Every RLE given to a kernel here has counts summing to h * w
(parse() checks it), which keeps every run-walking loop inside its buffers and finite.
"""

import numpy as np

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.math cimport ceil, floor, fmax, fmin
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, qsort, realloc
from libc.string cimport memcpy, memset
from cython cimport view

# Largest number of pixels of a mask (counts are uint32; polygon rasterisation uses int arithmetic).
MAX_PIXELS = 2**31 - 1
cdef int64_t _MAX_PIXELS = MAX_PIXELS
# Largest number of upsampled boundary points a polygon may produce before rasterisation.
MAX_POLY_POINTS = 2**28
cdef int64_t _MAX_POLY_POINTS = MAX_POLY_POINTS


# ---------------------------------------------------------------------------------------------
# compressed string <-> counts

cdef Py_ssize_t _write_string(const uint32_t* cnts, Py_ssize_t m, char* out) noexcept nogil:
    """Writes the compressed string of counts into out (room for 8 chars per count); its length."""
    cdef Py_ssize_t i, p = 0
    cdef int64_t x
    cdef char group
    cdef bint more
    for i in range(m):
        x = cnts[i]
        if i > 2:
            x -= cnts[i - 2]
        more = True
        while more:
            group = <char>(x & 0x1f)
            x >>= 5  # arithmetic shift: x is signed
            more = (x != -1) if (group & 0x10) else (x != 0)
            if more:
                group |= 0x20
            out[p] = group + 48
            p += 1
    return p


cdef bytes _to_bytes(const uint32_t* cnts, Py_ssize_t m):
    cdef char* buf = <char*> malloc(8 * m + 1)
    if buf == NULL:
        raise MemoryError()
    cdef Py_ssize_t length
    with nogil:
        length = _write_string(cnts, m, buf)
    try:
        return PyBytes_FromStringAndSize(buf, length)
    finally:
        free(buf)


cdef struct _Counts:  # a growable buffer of run lengths
    uint32_t* data
    Py_ssize_t size, capacity


cdef bint _reserve(_Counts* c, Py_ssize_t extra) noexcept nogil:
    """Room for `extra` more counts after c.size; False when out of memory."""
    cdef uint32_t* grown
    if c.size + extra <= c.capacity:
        return True
    grown = <uint32_t*> realloc(c.data, 2 * (c.size + extra) * sizeof(uint32_t))
    if grown == NULL:
        return False
    c.data = grown
    c.capacity = 2 * (c.size + extra)
    return True


cdef Py_ssize_t _read_string(const char* s, Py_ssize_t length, uint32_t* cnts, int64_t* total,
                             Py_ssize_t* error_at) noexcept nogil:
    """Decodes a compressed string into cnts; returns the number of counts or a negative code:
    -1 invalid character, -2 string ends inside a number, -3 number too long, -4 count outside
    [0, 2**32). error_at receives the character position of the error."""
    cdef Py_ssize_t p = 0, m = 0
    cdef int k
    cdef int64_t x
    cdef int c
    cdef bint more
    total[0] = 0
    while p < length:
        c = <unsigned char>s[p] - 48
        if 0 <= c < 32:  # the usual one-character number: 5 bits, bit 4 the sign
            x = c - ((c & 0x10) << 1)
            p += 1
            more = False
        else:
            x = 0
            k = 0
            more = True
        while more:
            if p >= length:
                error_at[0] = p
                return -2
            c = <unsigned char>s[p] - 48
            if c < 0 or c > 63:
                error_at[0] = p
                return -1
            if k >= 12:
                error_at[0] = p
                return -3
            x |= (<int64_t>(c & 0x1f)) << (5 * k)
            more = (c & 0x20) != 0
            p += 1
            k += 1
            if not more and (c & 0x10):
                x -= (<int64_t>1) << (5 * k)  # sign-extend the k * 5-bit group
        if m > 2:
            x += cnts[m - 2]
        if x < 0 or x > <int64_t>0xFFFFFFFF:
            error_at[0] = p - 1
            return -4
        cnts[m] = <uint32_t>x
        total[0] += x
        m += 1
    return m


_STRING_ERRORS = {
    -1: "invalid character (valid: ASCII 48-111, '0' to 'o')",
    -2: "string ends inside a number (last character has the continuation bit 0x20)",
    -3: "number longer than 12 characters",
    -4: "decoded count is negative or does not fit in uint32",
}


def counts_to_bytes(const uint32_t[::1] counts):
    """Compressed string of uncompressed counts."""
    return _to_bytes(&counts[0] if counts.shape[0] else NULL, counts.shape[0])


# ---------------------------------------------------------------------------------------------
# parsing Python RLE records

def _size_of(obj, str where):
    size = obj["size"]
    try:
        h, w = size
    except (TypeError, ValueError):
        raise ValueError(f"{where}['size'] must be [height, width], got {size!r}") from None
    for name, v in (("height", h), ("width", w)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{where}['size'] {name} must be an integer, got {v!r}")
        if v < 0:
            raise ValueError(f"{where}['size'] {name} must be >= 0, got {v}")
        if v > MAX_PIXELS:
            raise ValueError(f"{where}['size'] {name} must be at most {MAX_PIXELS}, got {v}")
    h, w = int(h), int(w)
    if h * w > MAX_PIXELS:
        raise ValueError(f"{where}['size'] must have at most {MAX_PIXELS} pixels, got {h} x {w}")
    return h, w


def parse(objs, str name):
    """Validates a sequence of RLE dicts; returns (counts uint32, offsets int64 (n+1), sizes int64 (n, 2)).

    'counts' may be a compressed string (bytes or ASCII str) or a sequence of run lengths
    (uncompressed RLE). Raises TypeError / ValueError naming ``name[i]`` for malformed records.
    """
    cdef Py_ssize_t n = len(objs), i, capacity = 0, m, pos
    cdef int64_t total
    cdef Py_ssize_t error_at = 0
    sizes = np.empty((n, 2), dtype=np.int64)
    offsets = np.empty(n + 1, dtype=np.int64)
    cdef int64_t[:, ::1] sz = sizes
    cdef int64_t[::1] off = offsets
    items = []
    for i in range(n):
        obj = objs[i]
        where = f"{name}[{i}]"
        if not isinstance(obj, dict):
            raise TypeError(f"{where} must be an RLE dict with 'size' and 'counts', got {type(obj).__name__}")
        if "size" not in obj or "counts" not in obj:
            raise ValueError(f"{where} must have keys 'size' and 'counts', got keys {sorted(map(str, obj))}")
        sz[i, 0], sz[i, 1] = _size_of(obj, where)
        counts = obj["counts"]
        if isinstance(counts, str):
            try:
                counts = counts.encode("ascii")
            except UnicodeEncodeError:
                raise ValueError(f"{where}['counts'] is not a valid compressed RLE string: "
                                 "non-ASCII character") from None
        elif isinstance(counts, bytearray):  # a compressed string, as pycocotools reads it
            counts = bytes(counts)
        elif not isinstance(counts, bytes):
            arr = np.asarray(counts)
            if arr.size == 0:
                arr = arr.astype(np.int64)
            if arr.ndim != 1 or arr.dtype.kind not in "iu":
                raise TypeError(f"{where}['counts'] must be a compressed string (bytes/str) or a 1-D sequence "
                                f"of integer run lengths, got {type(obj['counts']).__name__}")
            if arr.size and (arr.min() < 0 or arr.max() > 0xFFFFFFFF):
                raise ValueError(f"{where}['counts'] run lengths must be in [0, 2**32), "
                                 f"got {arr.min()} .. {arr.max()}")
            counts = arr
        items.append(counts)
        capacity += len(counts)
    buffer = np.empty(capacity, dtype=np.uint32)
    cdef uint32_t[::1] buf = buffer
    cdef const char* s
    pos = 0
    for i in range(n):
        counts = items[i]
        off[i] = pos
        if isinstance(counts, bytes):
            s = PyBytes_AS_STRING(counts)
            m = _read_string(s, PyBytes_GET_SIZE(counts), &buf[pos] if capacity else NULL, &total, &error_at)
            if m < 0:
                raise ValueError(f"{name}[{i}]['counts'] is not a valid compressed RLE string: "
                                 f"{_STRING_ERRORS[m]} at position {error_at}")
        else:
            m = len(counts)
            buffer[pos:pos + m] = counts
            total = int(counts.sum(dtype=np.int64)) if m else 0
        if total != sz[i, 0] * sz[i, 1]:
            raise ValueError(f"{name}[{i}]['counts'] run lengths sum to {total}, but 'size' "
                             f"{sz[i, 0]} x {sz[i, 1]} has {sz[i, 0] * sz[i, 1]} pixels")
        pos += m
    off[n] = pos
    return buffer, offsets, sizes


# ---------------------------------------------------------------------------------------------
# encode / decode

cdef inline uint64_t _load8(const uint8_t* p) noexcept nogil:
    cdef uint64_t v
    memcpy(&v, p, 8)
    return v


cdef Py_ssize_t _encode_one(const uint8_t* mask, Py_ssize_t a, uint32_t* cnts) noexcept nogil:
    """Run lengths of a column-major mask of a pixels (any nonzero byte is foreground)."""
    cdef Py_ssize_t j = 0, start = 0, k = 0
    cdef uint64_t word
    cdef bint fg = False, pixel
    while j < a:
        # Skip whole 8-byte words that continue the current run (all zero / no zero byte).
        if fg:
            while j + 8 <= a:
                word = _load8(mask + j)
                if ((word - 0x0101010101010101ULL) & ~word & 0x8080808080808080ULL) != 0:
                    break
                j += 8
        else:
            while j + 8 <= a and _load8(mask + j) == 0:
                j += 8
        if j >= a:
            break
        pixel = mask[j] != 0
        if pixel != fg:
            cnts[k] = <uint32_t>(j - start)
            k += 1
            start = j
            fg = pixel
        j += 1
    cnts[k] = <uint32_t>(a - start)
    return k + 1


def encode(const uint8_t[::1] masks, Py_ssize_t h, Py_ssize_t w, Py_ssize_t n):
    """Compressed strings of n column-major h x w masks stored back to back."""
    cdef Py_ssize_t a = h * w, i, m
    cdef uint32_t* cnts = <uint32_t*> malloc((a + 1) * sizeof(uint32_t))
    if cnts == NULL:
        raise MemoryError()
    out = []
    try:
        for i in range(n):
            with nogil:
                m = _encode_one(&masks[0] + i * a if a else NULL, a, cnts)
            out.append(_to_bytes(cnts, m))
    finally:
        free(cnts)
    return out


def decode(const uint32_t[::1] counts, const int64_t[::1] offsets, Py_ssize_t a):
    """Dense masks (n * a bytes, each column-major) of n RLEs of a pixels each."""
    cdef Py_ssize_t n = offsets.shape[0] - 1, i, j, pos = 0
    out = np.empty(n * a, dtype=np.uint8)
    cdef uint8_t[::1] o = out
    cdef uint8_t value
    with nogil:
        for i in range(n):
            value = 0
            for j in range(offsets[i], offsets[i + 1]):
                memset(&o[0] + pos, value, counts[j])
                pos += counts[j]
                value = 1 - value
    return out


def area(const uint32_t[::1] counts, const int64_t[::1] offsets):
    """Foreground pixel count of each RLE (sum of the odd-indexed runs)."""
    cdef Py_ssize_t n = offsets.shape[0] - 1, i, j
    out = np.empty(n, dtype=np.uint32)
    cdef uint32_t[::1] o = out
    cdef uint32_t s
    with nogil:
        for i in range(n):
            s = 0
            for j in range(offsets[i] + 1, offsets[i + 1], 2):
                s += counts[j]
            o[i] = s
    return out


cdef uint32_t _geometry_one(const uint32_t* cnts, Py_ssize_t m, uint32_t h, double* box) noexcept nogil:
    """Tight xywh box of an RLE (zeros when it has no foreground pixel, or h is 0) and its area."""
    cdef uint32_t xs = 0xFFFFFFFF, ys = h, xe = 0, ye = 0, total = 0
    # the run's first pixel: index start, column x, row y (kept by steps, not divisions: runs
    # rarely span more than a column)
    cdef uint64_t start = 0, x = 0, y = 0, c, x1, y1
    cdef Py_ssize_t j
    for j in range(m):
        c = cnts[j]
        if j % 2 == 1 and c != 0:
            total += <uint32_t>c
            if h != 0:
                # the run's last pixel
                y1 = y + c - 1
                x1 = x
                if y1 >= h:
                    x1 = x + y1 // h
                    y1 = y1 % h
                if x < xs:
                    xs = <uint32_t>x
                if x1 > xe:
                    xe = <uint32_t>x1
                if x < x1:  # the run wraps to the next column: every row is covered
                    ys = 0
                    ye = h - 1
                else:
                    if y < ys:
                        ys = <uint32_t>y
                    if y1 > ye:
                        ye = <uint32_t>y1
        start += c
        if h != 0:
            y += c
            if y >= h:
                if y < 2 * <uint64_t>h:
                    y -= h
                    x += 1
                else:
                    x += y // h
                    y = y % h
    if total == 0 or h == 0:
        box[0] = box[1] = box[2] = box[3] = 0
    else:
        box[0] = xs
        box[1] = ys
        box[2] = xe - xs + 1
        box[3] = ye - ys + 1
    return total


def to_bbox(const uint32_t[::1] counts, const int64_t[::1] offsets, const int64_t[:, ::1] sizes):
    """(n, 4) float64 xywh boxes of n RLEs."""
    cdef Py_ssize_t n = offsets.shape[0] - 1, i
    out = np.empty((n, 4), dtype=np.float64)
    cdef double[:, ::1] o = out
    with nogil:
        for i in range(n):
            _geometry_one(&counts[0] + offsets[i] if counts.shape[0] else NULL, offsets[i + 1] - offsets[i],
                          <uint32_t>sizes[i, 0], &o[i, 0])
    return out


def geometry_into(const uint32_t[::1] counts, const int64_t[::1] offsets, const int64_t[:, ::1] sizes,
                  double[:, ::1] boxes, uint32_t[::1] areas, Py_ssize_t first, Py_ssize_t last):
    """Boxes and areas of RLEs first..last-1 of a table, written to the aligned rows of boxes
    (n, 4) and areas (n). Releases the GIL."""
    cdef Py_ssize_t i
    if not (0 <= first <= last <= offsets.shape[0] - 1 and boxes.shape[0] >= last and areas.shape[0] >= last
            and boxes.shape[1] == 4):
        raise ValueError("geometry_into: rows or output arrays do not match the table")
    with nogil:
        for i in range(first, last):
            areas[i] = _geometry_one(&counts[0] + offsets[i] if counts.shape[0] else NULL,
                                     offsets[i + 1] - offsets[i], <uint32_t>sizes[i, 0], &boxes[i, 0])


def _check_cells(const int64_t[::1] rows, const int64_t[::1] cells, Py_ssize_t table_size, Py_ssize_t first,
                 Py_ssize_t last, str what):
    """ValueError unless cells first..last index rows in order and rows index the table."""
    cdef Py_ssize_t k, i
    if not (0 <= first <= last < cells.shape[0]):
        raise ValueError(f"cell_ious: cells {first}..{last} outside the {what} cell offsets")
    for k in range(first, last):
        if not (0 <= cells[k] <= cells[k + 1] <= rows.shape[0]):
            raise ValueError(f"cell_ious: {what} cell offsets must rise within the rows")
        for i in range(cells[k], cells[k + 1]):
            if not (0 <= rows[i] < table_size):
                raise ValueError(f"cell_ious: {what} row {rows[i]} is not in its RLE table")


def rle_geometry(const uint32_t[::1] counts, const int64_t[::1] offsets, const int64_t[:, ::1] sizes):
    """(boxes, areas) of an RLE table (see geometry_into)."""
    n = offsets.shape[0] - 1
    boxes, areas = np.empty((n, 4)), np.empty(n, np.uint32)
    geometry_into(counts, offsets, sizes, boxes, areas, 0, n)
    return boxes, areas


# ---------------------------------------------------------------------------------------------
# merge and iou: walks over two run sequences at once

cdef Py_ssize_t _merge_two(const uint32_t* A, Py_ssize_t ma, const uint32_t* B, Py_ssize_t mb,
                           bint intersect, uint32_t* out) noexcept nogil:
    """Union / intersection of two RLEs of equal size (and equal count sums); writes at most
    ma + mb + 1 counts. A new count starts whenever the combined value changes.

    Both sides can reach a zero-length run at once with pixels still to come (e.g. [0, 0, 4]):
    the walk ends only once both are exhausted, trailing zero runs aside (pycocotools stops at the
    first such point, so its counts can fall short of h * w)."""
    while ma > 0 and A[ma - 1] == 0:
        ma -= 1
    while mb > 0 and B[mb - 1] == 0:
        mb -= 1
    cdef uint64_t ca = A[0] if ma else 0, cb = B[0] if mb else 0, c, run = 0
    cdef Py_ssize_t ia = 1, ib = 1, k = 0
    cdef bint va = False, vb = False, v = False, nv, done
    while True:
        c = ca if ca < cb else cb
        run += c
        ca -= c
        if ca == 0 and ia < ma:
            ca = A[ia]
            ia += 1
            va = not va
        cb -= c
        if cb == 0 and ib < mb:
            cb = B[ib]
            ib += 1
            vb = not vb
        nv = (va and vb) if intersect else (va or vb)
        done = ca + cb == 0 and ia >= ma and ib >= mb
        if nv != v or done:
            out[k] = <uint32_t>run
            k += 1
            run = 0
        v = nv
        if done:
            return k


cdef Py_ssize_t _merge_all(const uint32_t* base, const int64_t* offsets, Py_ssize_t n, bint intersect,
                           uint32_t** acc, uint32_t** tmp) noexcept nogil:
    """Merges the n >= 1 RLEs base[offsets[i]:offsets[i + 1]] left to right into *acc (the two
    buffers hold offsets[n] - offsets[0] + 1 counts each and may be swapped); the count."""
    cdef Py_ssize_t i, m = offsets[1] - offsets[0]
    cdef uint32_t* swap
    if m:
        memcpy(acc[0], base + offsets[0], m * sizeof(uint32_t))
    for i in range(1, n):
        m = _merge_two(acc[0], m, base + offsets[i], offsets[i + 1] - offsets[i], intersect, tmp[0])
        swap = acc[0]
        acc[0] = tmp[0]
        tmp[0] = swap
    return m


def merge(const uint32_t[::1] counts, const int64_t[::1] offsets, bint intersect):
    """Counts of the union (or intersection) of n >= 1 RLEs of one size, merged left to right."""
    cdef Py_ssize_t n = offsets.shape[0] - 1, m, cap = counts.shape[0] + 1
    cdef uint32_t* acc = <uint32_t*> malloc(cap * sizeof(uint32_t))
    cdef uint32_t* tmp = <uint32_t*> malloc(cap * sizeof(uint32_t))
    if acc == NULL or tmp == NULL:
        free(acc)
        free(tmp)
        raise MemoryError()
    try:
        with nogil:
            m = _merge_all(&counts[0] if counts.shape[0] else NULL, &offsets[0], n, intersect, &acc, &tmp)
        return _to_bytes(acc, m)
    finally:
        free(acc)
        free(tmp)


cdef Py_ssize_t _run_at(const uint32_t* starts, Py_ssize_t m, uint64_t p) noexcept nogil:
    """Index of the run containing pixel p (the last run starting at or before p)."""
    cdef Py_ssize_t lo = 0, hi = m, mid
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if starts[mid] <= p:
            lo = mid
        else:
            hi = mid
    return lo


cdef uint64_t _intersection(const uint32_t* A, const uint32_t* sa, Py_ssize_t ma,
                            const uint32_t* B, const uint32_t* sb, Py_ssize_t mb,
                            uint64_t begin, uint64_t end) noexcept nogil:
    """Foreground pixels common to two RLEs among pixels [begin, end); sa, sb hold the start pixel
    of each run. A two-pointer sweep over the foreground runs (the odd ones) of both."""
    cdef Py_ssize_t ia = _run_at(sa, ma, begin), ib = _run_at(sb, mb, begin)
    cdef uint64_t inter = 0, lo, hi, a1, b1
    ia += 1 - (ia & 1)  # the first foreground run ending after begin
    ib += 1 - (ib & 1)
    while ia < ma and ib < mb and sa[ia] < end and sb[ib] < end:
        a1 = sa[ia] + A[ia]
        b1 = sb[ib] + B[ib]
        lo = sa[ia] if sa[ia] > sb[ib] else sb[ib]
        if lo < begin:
            lo = begin
        hi = a1 if a1 < b1 else b1
        if hi > end:
            hi = end
        if hi > lo:
            inter += hi - lo
        if a1 < b1:
            ia += 2
        else:
            ib += 2
    return inter


cdef void _box_iou(const double[:, ::1] dt, const double[:, ::1] gt, const uint8_t[::1] crowd,
                   double[:, ::1] out) noexcept nogil:
    """COCO box IoU of xywh boxes: inter / (area_dt + area_gt - inter), or inter / area_dt for a crowd
    gt; 0 unless the boxes overlap with positive width and height."""
    cdef Py_ssize_t d, g, nd = dt.shape[0], ng = gt.shape[0]
    cdef double iw, ih, inter, da, ga
    for d in range(nd):
        da = dt[d, 2] * dt[d, 3]
        for g in range(ng):
            out[d, g] = 0
            iw = fmin(dt[d, 2] + dt[d, 0], gt[g, 2] + gt[g, 0]) - fmax(dt[d, 0], gt[g, 0])
            if iw <= 0:
                continue
            ih = fmin(dt[d, 3] + dt[d, 1], gt[g, 3] + gt[g, 1]) - fmax(dt[d, 1], gt[g, 1])
            if ih <= 0:
                continue
            inter = iw * ih
            ga = gt[g, 2] * gt[g, 3]
            out[d, g] = inter / (da if crowd[g] else da + ga - inter)


def box_iou(const double[:, ::1] dt, const double[:, ::1] gt, const uint8_t[::1] crowd):
    out = np.empty((dt.shape[0], gt.shape[0]), dtype=np.float64)
    cdef double[:, ::1] o = out
    with nogil:
        _box_iou(dt, gt, crowd, o)
    return out


cdef double _mask_iou(const uint32_t* A, const uint32_t* sa, Py_ssize_t ma, const int64_t* asize,
                      const double* abox, uint64_t aarea,
                      const uint32_t* B, const uint32_t* sb, Py_ssize_t mb, const int64_t* bsize,
                      const double* bbox, uint64_t barea, bint crowd) noexcept nogil:
    """IoU of detection mask A with ground-truth mask B, given their boxes, run starts and areas:
    0 unless the boxes overlap with positive width and height, -1 when the sizes differ,
    intersection / area(A) when B is a crowd. Only the columns both boxes span are intersected."""
    cdef double left = fmax(abox[0], bbox[0]), right = fmin(abox[0] + abox[2], bbox[0] + bbox[2])
    cdef uint64_t inter, h
    if right - left <= 0 or fmin(abox[1] + abox[3], bbox[1] + bbox[3]) - fmax(abox[1], bbox[1]) <= 0:
        return 0
    if asize[0] != bsize[0] or asize[1] != bsize[1]:
        return -1
    h = <uint64_t>asize[0]
    inter = _intersection(A, sa, ma, B, sb, mb, <uint64_t>left * h, <uint64_t>right * h)
    if inter == 0:
        return 0
    return <double>inter / <double>(aarea if crowd else aarea + barea - inter)


def rle_iou(const uint32_t[::1] dc, const int64_t[::1] doff, const int64_t[:, ::1] dsize,
            const uint32_t[::1] gc, const int64_t[::1] goff, const int64_t[:, ::1] gsize,
            const uint8_t[::1] crowd):
    """(D, G) mask IoU (see _mask_iou); -1 where the masks' sizes differ and their boxes overlap."""
    nd, ng = doff.shape[0] - 1, goff.shape[0] - 1
    out = np.empty((nd, ng), dtype=np.float64)
    if nd and ng:  # one cell: every detection with every gt
        cell_ious(dc, doff, dsize, rle_geometry(dc, doff, dsize), np.arange(nd), np.array([0, nd]),
                  gc, goff, gsize, rle_geometry(gc, goff, gsize), np.arange(ng), np.array([0, ng]), crowd,
                  out.reshape(-1), 0, 1)
    return out


def cell_ious(const uint32_t[::1] dc, const int64_t[::1] doff, const int64_t[:, ::1] dsize, dgeometry,
              const int64_t[::1] d_rows, const int64_t[::1] d_cells,
              const uint32_t[::1] gc, const int64_t[::1] goff, const int64_t[:, ::1] gsize, ggeometry,
              const int64_t[::1] g_rows, const int64_t[::1] g_cells, const uint8_t[::1] crowd,
              double[::1] out, Py_ssize_t first, Py_ssize_t last):
    """Mask IoU blocks of cells first..last-1 (evaluation's (image, category) cells), written to
    out one (D_k, G_k) row-major block after another from out[0] on (the caller places out).

    Cell k pairs the detections d_rows[d_cells[k]:d_cells[k + 1]] of the detection RLE table with
    the ground truths g_rows[g_cells[k]:g_cells[k + 1]] of the gt table (crowd flags aligned with
    g_rows); the geometries are rle_geometry() of the tables. Releases the GIL: disjoint cell
    ranges may run in parallel threads."""
    cdef const double[:, ::1] db = dgeometry[0]
    cdef const double[:, ::1] gb = ggeometry[0]
    cdef const uint32_t[::1] da = dgeometry[1]
    cdef const uint32_t[::1] ga = ggeometry[1]
    cdef Py_ssize_t k, i, j, d, g, pos = 0, md, mg, at_d, at_g
    cdef const uint32_t* dbase = &dc[0] if dc.shape[0] else NULL
    cdef const uint32_t* gbase = &gc[0] if gc.shape[0] else NULL
    cdef _Counts dstarts, gstarts  # run start pixels of the cell's masks, one after another
    cdef bint no_memory = False
    _check_cells(d_rows, d_cells, doff.shape[0] - 1, first, last, "detection")
    _check_cells(g_rows, g_cells, goff.shape[0] - 1, first, last, "ground-truth")
    cdef Py_ssize_t nd = doff.shape[0] - 1, ng = goff.shape[0] - 1, blocks = 0
    for k in range(first, last):
        blocks += (d_cells[k + 1] - d_cells[k]) * (g_cells[k + 1] - g_cells[k])
    if not (db.shape[0] == da.shape[0] == nd and gb.shape[0] == ga.shape[0] == ng
            and crowd.shape[0] >= g_rows.shape[0] and out.shape[0] >= blocks):
        raise ValueError("cell_ious: geometry, crowd flags or output do not match the tables and cells")
    dstarts.data = gstarts.data = NULL
    dstarts.size = gstarts.size = dstarts.capacity = gstarts.capacity = 0
    try:
        with nogil:
            for k in range(first, last):
                if not (_cell_starts(dbase, doff, d_rows, d_cells[k], d_cells[k + 1], &dstarts)
                        and _cell_starts(gbase, goff, g_rows, g_cells[k], g_cells[k + 1], &gstarts)):
                    no_memory = True
                    break
                at_d = 0
                for i in range(d_cells[k], d_cells[k + 1]):
                    d = d_rows[i]
                    md = doff[d + 1] - doff[d]
                    at_g = 0
                    for j in range(g_cells[k], g_cells[k + 1]):
                        g = g_rows[j]
                        mg = goff[g + 1] - goff[g]
                        out[pos] = _mask_iou(dbase + doff[d], dstarts.data + at_d, md, &dsize[d, 0], &db[d, 0], da[d],
                                             gbase + goff[g], gstarts.data + at_g, mg, &gsize[g, 0], &gb[g, 0], ga[g],
                                             crowd[j])
                        pos += 1
                        at_g += mg
                    at_d += md
    finally:
        free(dstarts.data)
        free(gstarts.data)
    if no_memory:
        raise MemoryError()


cdef bint _cell_starts(const uint32_t* base, const int64_t[::1] offsets, const int64_t[::1] rows, Py_ssize_t first,
                       Py_ssize_t last, _Counts* out) noexcept nogil:
    """The start pixel of every run of RLEs rows[first:last], one RLE after another, into out
    (reused from cell to cell: only the cell's masks, in cache, instead of a table-wide array);
    False when out of memory."""
    cdef Py_ssize_t i, j, r, n = 0
    cdef uint32_t* to
    cdef uint32_t start
    for i in range(first, last):
        r = rows[i]
        n += offsets[r + 1] - offsets[r]
    out.size = 0
    if not _reserve(out, n):
        return False
    to = out.data
    for i in range(first, last):
        r = rows[i]
        start = 0  # < 2**31: masks have at most MAX_PIXELS pixels
        for j in range(offsets[r], offsets[r + 1]):
            to[0] = start
            start += base[j]
            to += 1
    return True


# ---------------------------------------------------------------------------------------------
# polygons and boxes

cdef int _cmp_uint32(const void* a, const void* b) noexcept nogil:
    cdef uint32_t x = (<const uint32_t*>a)[0], y = (<const uint32_t*>b)[0]
    return (x > y) - (x < y)


cdef inline int _iabs(int v) noexcept nogil:
    return -v if v < 0 else v


# Polygon rasterisation (the COCO rule): vertices are upsampled by 5 and rounded as int(5 v + 0.5);
# every edge is walked one upsampled pixel at a time along its longer axis (from its lower end on
# that axis, the other coordinate rounded as int(c + slope * t + 0.5)), the walks of all edges
# forming one sequence of points. Between two consecutive points whose upsampled columns differ, the
# left column ul is a pixel-centre column when ul = 5 x + 2 (then x is the pixel column); the
# column toggles at row ceil(clamp((vl - 2) / 5, 0, h)), vl being the lower of the two upsampled
# rows. Only those steps matter, so x-major edges visit every fifth step and no point is stored.

cdef struct _Edge:
    int xs, ys, dx, dy    # lower end on the walking axis; lengths
    bint flip, xmajor
    double s              # slope of the other coordinate per step


cdef inline void _edge(int x0, int y0, int x1, int y1, _Edge* e) noexcept nogil:
    e.dx = _iabs(x1 - x0)
    e.dy = _iabs(y1 - y0)
    e.xmajor = e.dx >= e.dy
    e.flip = (x0 > x1) if e.xmajor else (y0 > y1)
    if e.flip:
        e.xs, e.ys = x1, y1
        x1, y1 = x0, y0
    else:
        e.xs, e.ys = x0, y0
    if e.xmajor:
        e.s = <double>(y1 - e.ys) / e.dx if e.dx else 0.0  # a single point: the slope is unused
    else:
        e.s = <double>(x1 - e.xs) / e.dy


cdef inline void _edge_point(const _Edge* e, int t, int* u, int* v) noexcept nogil:
    if e.xmajor:
        u[0] = e.xs + t
        v[0] = <int>(e.ys + e.s * t + 0.5)
    else:
        v[0] = e.ys + t
        u[0] = <int>(e.xs + e.s * t + 0.5)


cdef inline void _toggle(int ul, int vl, uint32_t h, uint32_t w, uint32_t* a, uint32_t* col,
                         Py_ssize_t* k) noexcept nogil:
    cdef int64_t x, y
    if ul < 2 or (ul - 2) % 5 != 0:
        return
    x = (ul - 2) // 5
    if x > <int64_t>w - 1:
        return
    if vl <= 2:
        y = 0
    elif <int64_t>vl - 2 >= 5 * <int64_t>h:
        y = h
    else:
        y = (<int64_t>vl + 2) // 5  # ceil((vl - 2) / 5)
    a[k[0]] = <uint32_t>(x * h + y)
    col[k[0]] = <uint32_t>x
    k[0] += 1


cdef Py_ssize_t _poly_toggles(const int* px, const int* py, Py_ssize_t k, uint32_t h, uint32_t w,
                              uint32_t* a, uint32_t* col) noexcept nogil:
    """Writes the toggle positions x * h + y into a (and their columns x into col); their count."""
    cdef Py_ssize_t j, n = 0
    cdef _Edge e
    cdef int t, t1, lo, hi, u0, v0, u1, v1, pu = 0, pv = 0, last
    cdef int64_t r
    for j in range(k):
        _edge(px[j], py[j], px[(j + 1) % k], py[(j + 1) % k], &e)
        last = e.dx if e.xmajor else e.dy
        # The step from the previous edge's last point to this edge's first point.
        _edge_point(&e, last if e.flip else 0, &u0, &v0)
        if j > 0 and u0 != pu:
            _toggle(u0 if u0 < pu else u0 - 1, v0 if v0 < pv else pv, h, w, a, col, &n)
        _edge_point(&e, 0 if e.flip else last, &pu, &pv)
        if e.xmajor:
            # Steps (t1, t1 + 1) have ul = xs + t1: visit those with ul = 5 x + 2, 0 <= x < w.
            lo = 2 - e.xs if e.xs < 2 else 0
            r = (<int64_t>e.xs + lo - 2) % 5
            t1 = lo + <int>((5 - r) % 5)
            hi = e.dx - 1
            if <int64_t>hi > 5 * (<int64_t>w - 1) + 2 - e.xs:
                hi = <int>(5 * (<int64_t>w - 1) + 2 - e.xs)
            while t1 <= hi:
                v0 = <int>(e.ys + e.s * t1 + 0.5)
                v1 = <int>(e.ys + e.s * (t1 + 1) + 0.5)
                _toggle(e.xs + t1, v0 if v0 < v1 else v1, h, w, a, col, &n)
                t1 += 5
        else:
            _ymajor_toggles(&e, h, w, a, col, &n)
    return n


cdef inline int _u_at(const _Edge* e, int t) noexcept nogil:
    """Column of a y-major edge's point at step t >= 1 (step 0 is the vertex itself, e.xs)."""
    return <int>(e.xs + e.s * t + 0.5)


cdef void _ymajor_toggles(const _Edge* e, uint32_t h, uint32_t w, uint32_t* a, uint32_t* col,
                          Py_ssize_t* k) noexcept nogil:
    """Toggles of a y-major edge, as a walk over its steps t = 1..dy would find them: a toggle
    at every step where the column changes, at ul = min(u(t - 1), u(t)) and row ys + t - 1.

    The column moves monotonically, so for each pixel-centre column c = 5 x + 2 (the only ones
    _toggle keeps) only the step where u leaves c can toggle it: the first t with u(t) > c
    (rising) or u(t) < c + 1 (falling), found from the line equation and settled with the exact
    per-step rounding; it toggles c when that step's ul is c (a rounding jump over c does not)."""
    cdef int u_end = _u_at(e, e.dy), lo, hi, c, t, before, after
    cdef bint rising = u_end > e.xs
    if u_end == e.xs:
        return
    if rising:  # the values ul can take
        lo = e.xs
        hi = u_end - 1
    else:
        lo = u_end
        hi = e.xs - 1
    if lo < 2:
        lo = 2
    if <int64_t>hi > 5 * (<int64_t>w - 1) + 2:
        hi = <int>(5 * (<int64_t>w - 1) + 2)
    c = lo + <int>((5 - (<int64_t>lo - 2) % 5) % 5)
    while c <= hi:
        t = <int>ceil((c + 0.5 - e.xs) / e.s)
        if t < 1:
            t = 1
        elif t > e.dy:
            t = e.dy
        if rising:  # the first t with u(t) >= c + 1 (u(dy) = u_end > c)
            while t > 1 and _u_at(e, t - 1) > c:
                t -= 1
            while _u_at(e, t) <= c:
                t += 1
        else:  # the first t with u(t) <= c (u(dy) = u_end <= c)
            while t > 1 and _u_at(e, t - 1) <= c:
                t -= 1
            while _u_at(e, t) > c:
                t += 1
        before = e.xs if t == 1 else _u_at(e, t - 1)
        after = _u_at(e, t)
        if (before if before < after else after) == c:
            _toggle(c, e.ys + t - 1, h, w, a, col, k)
        c += 5


cdef void _sort_toggles(uint32_t* a, const uint32_t* col, Py_ssize_t n, uint32_t* tmp) noexcept nogil:
    """Sorts n toggle positions x * h + y: counting sort on the column x (a polygon has a few
    toggles per column), then insertion sort inside each column (qsort for crowded columns)."""
    cdef Py_ssize_t j, i, k, lo, hi, width
    cdef uint32_t xmin = 0xFFFFFFFF, xmax = 0, x, v
    cdef Py_ssize_t* start
    if n < 2:
        return
    for j in range(n):
        x = col[j]
        if x < xmin:
            xmin = x
        if x > xmax:
            xmax = x
    width = xmax - xmin + 1
    start = <Py_ssize_t*> malloc((width + 1) * sizeof(Py_ssize_t)) if width <= 4 * n + 64 else NULL
    if start == NULL:
        qsort(a, n, sizeof(uint32_t), _cmp_uint32)
        return
    memset(start, 0, (width + 1) * sizeof(Py_ssize_t))
    for j in range(n):
        start[col[j] - xmin + 1] += 1
    for i in range(width):
        start[i + 1] += start[i]
    for j in range(n):
        x = col[j] - xmin
        tmp[start[x]] = a[j]
        start[x] += 1
    lo = 0
    for i in range(width):  # start[i] is now the end of column i
        hi = start[i]
        if hi - lo > 32:
            qsort(tmp + lo, hi - lo, sizeof(uint32_t), _cmp_uint32)
        else:
            for j in range(lo + 1, hi):
                v = tmp[j]
                k = j
                while k > lo and tmp[k - 1] > v:
                    tmp[k] = tmp[k - 1]
                    k -= 1
                tmp[k] = v
        lo = hi
    memcpy(a, tmp, n * sizeof(uint32_t))
    free(start)


cdef Py_ssize_t _toggles_to_counts(uint32_t* a, Py_ssize_t k, uint32_t* out) noexcept nogil:
    """Run lengths from k sorted toggle positions (the last one is h * w); a repeated position
    toggles twice and cancels out."""
    cdef Py_ssize_t j, m
    cdef uint32_t prev = 0, cur
    for j in range(k):
        cur = a[j]
        a[j] = cur - prev
        prev = cur
    out[0] = a[0]
    m = 1
    j = 1
    while j < k:
        if a[j] > 0:
            out[m] = a[j]
            m += 1
            j += 1
        else:
            j += 1
            if j < k:
                out[m - 1] += a[j]
                j += 1
    return m


cdef Py_ssize_t _poly_counts(const double* xy, Py_ssize_t k, uint32_t h, uint32_t w,
                             uint32_t** counts, double* bad_value) noexcept nogil:
    """Run lengths of the polygon of k vertices (x0, y0, x1, y1, ...) rasterised into an h x w
    mask, in a new buffer *counts (freed by the caller); their number, or a negative code
    (*counts NULL): -1 a coordinate (in *bad_value) is not finite or beyond +-1e8, -2 the polygon
    has more than MAX_POLY_POINTS upsampled boundary points (their number in *bad_value), -3 out
    of memory."""
    cdef Py_ssize_t j, n
    cdef int64_t cap = 2, work = 0
    cdef double c
    cdef int* px
    cdef int* py
    cdef uint32_t* a
    counts[0] = NULL
    for j in range(2 * k):
        c = xy[j]
        if not (-1e8 <= c <= 1e8):
            bad_value[0] = c
            return -1
    if h == 0 or w == 0:
        a = <uint32_t*> malloc(sizeof(uint32_t))
        if a == NULL:
            return -3
        a[0] = 0
        counts[0] = a
        return 1
    px = <int*> malloc((k + 1) * sizeof(int))
    py = <int*> malloc((k + 1) * sizeof(int))
    if px == NULL or py == NULL:
        free(px)
        free(py)
        return -3
    for j in range(k):
        px[j] = <int>(5.0 * xy[2 * j] + 0.5)
        py[j] = <int>(5.0 * xy[2 * j + 1] + 0.5)
    for j in range(k):
        cap += _iabs(px[(j + 1) % k] - px[j]) + 2
        work += max(_iabs(px[(j + 1) % k] - px[j]), _iabs(py[(j + 1) % k] - py[j])) + 1
    if work > _MAX_POLY_POINTS:
        free(px)
        free(py)
        bad_value[0] = work
        return -2
    a = <uint32_t*> malloc(3 * cap * sizeof(uint32_t))
    if a == NULL:
        free(px)
        free(py)
        return -3
    n = _poly_toggles(px, py, k, h, w, a, a + cap)
    _sort_toggles(a, a + cap, n, a + 2 * cap)
    a[n] = h * w
    n = _toggles_to_counts(a, n + 1, a + 2 * cap)
    memcpy(a, a + 2 * cap, n * sizeof(uint32_t))
    free(px)
    free(py)
    counts[0] = a
    return n


def fr_poly(const double[::1] xy, uint32_t h, uint32_t w, str where):
    """Compressed string of the polygon (x0, y0, x1, y1, ...) rasterised into an h x w mask.
    Coordinates must be finite with magnitude at most 1e8 (checked here)."""
    cdef uint32_t* counts = NULL
    cdef double bad = 0
    cdef Py_ssize_t m
    with nogil:
        m = _poly_counts(&xy[0] if xy.shape[0] else NULL, xy.shape[0] // 2, h, w, &counts, &bad)
    try:
        if m == -1:
            raise ValueError(f"{where} coordinates must be finite and within +-1e8, got {bad}")
        if m == -2:
            raise ValueError(f"{where} is too long to rasterise: {int(bad)} upsampled boundary points "
                             f"(limit {MAX_POLY_POINTS})")
        if m == -3:
            raise MemoryError()
        return _to_bytes(counts, m)
    finally:
        free(counts)


# ---------------------------------------------------------------------------------------------
# segmentations read by the native COCO JSON scanner

# kinds of detkit._C's segmentation columns (SegmentationKind in csrc/core/coco_json.h)
SEGM_ABSENT, SEGM_POLYGONS, SEGM_RLE_STRING, SEGM_RLE_COUNTS, SEGM_OTHER = 0, 1, 2, 3, 4


cdef Py_ssize_t _segmentation_counts(uint8_t kind, const int64_t* size, const int64_t* parts, Py_ssize_t num_parts,
                                     const double* values, const char* chars, Py_ssize_t num_chars,
                                     int64_t h, int64_t w, _Counts* out, int64_t* out_size) noexcept nogil:
    """Writes the run lengths of one record's segmentation, as annToRLE computes them, after
    out.size (not advanced); their number, or -1 when this record cannot be converted here (the
    caller then takes the general path, which also names the error).

    Compressed and uncompressed RLEs keep their own size; polygons are rasterised into the h x w
    image and merged (union), a list whose first item has 4 values is a list of boxes."""
    cdef Py_ssize_t m = 0, j, k, total_counts, length
    cdef int64_t total = 0, pixels
    cdef Py_ssize_t error_at
    cdef double v, bad
    cdef double box[8]
    cdef uint32_t* dst
    cdef uint32_t* one
    cdef uint32_t* acc
    cdef uint32_t* tmp
    cdef uint32_t** pieces
    cdef int64_t* offsets
    cdef bint boxes
    if kind == 2 or kind == 3:
        h, w = size[0], size[1]
    elif kind != 1:
        return -1
    if h < 0 or w < 0 or h > _MAX_PIXELS or w > _MAX_PIXELS or h * w > _MAX_PIXELS:
        return -1
    out_size[0], out_size[1] = h, w
    pixels = h * w
    if kind == 2:  # a compressed string: at most one count per character
        if not _reserve(out, num_chars):
            return -1
        m = _read_string(chars, num_chars, out.data + out.size, &total, &error_at)
        return m if m >= 0 and total == pixels else -1
    if kind == 3:
        if num_parts != 1:
            return -1
        length = parts[1] - parts[0]
        if not _reserve(out, length):
            return -1
        dst = out.data + out.size
        for j in range(length):
            v = values[parts[0] + j]
            if not (0 <= v < 4294967296.0) or v != <double><int64_t>v:
                return -1
            dst[j] = <uint32_t>v
            total += <int64_t>v
        return length if total == pixels else -1
    if num_parts == 0:
        return -1
    boxes = parts[1] - parts[0] == 4
    pieces = <uint32_t**> malloc(num_parts * sizeof(uint32_t*))
    offsets = <int64_t*> malloc((num_parts + 1) * sizeof(int64_t))
    if pieces == NULL or offsets == NULL:
        free(pieces)
        free(offsets)
        return -1
    offsets[0] = 0
    for k in range(num_parts):
        pieces[k] = NULL
    for k in range(num_parts):
        length = parts[k + 1] - parts[k]
        if boxes:
            if length != 4:
                m = -1
                break
            # the box's corner polygon [x, y, x, y + h, x + w, y + h, x + w, y]
            box[0] = box[2] = values[parts[k]]
            box[1] = box[7] = values[parts[k] + 1]
            box[3] = box[5] = values[parts[k] + 1] + values[parts[k] + 3]
            box[4] = box[6] = values[parts[k]] + values[parts[k] + 2]
            m = _poly_counts(box, 4, <uint32_t>h, <uint32_t>w, &pieces[k], &bad)
        else:
            m = _poly_counts(values + parts[k], length // 2, <uint32_t>h, <uint32_t>w, &pieces[k], &bad)
        if m < 0:
            m = -1
            break
        offsets[k + 1] = offsets[k] + m
    if m >= 0:
        total_counts = offsets[num_parts]
        if not _reserve(out, total_counts + 1):
            m = -1
        elif num_parts == 1:
            m = total_counts
            memcpy(out.data + out.size, pieces[0], m * sizeof(uint32_t))
        else:
            one = <uint32_t*> malloc((total_counts + 1) * sizeof(uint32_t))
            acc = <uint32_t*> malloc((total_counts + 1) * sizeof(uint32_t))
            tmp = <uint32_t*> malloc((total_counts + 1) * sizeof(uint32_t))
            if one == NULL or acc == NULL or tmp == NULL:
                m = -1
            else:
                for k in range(num_parts):
                    memcpy(one + offsets[k], pieces[k], (offsets[k + 1] - offsets[k]) * sizeof(uint32_t))
                m = _merge_all(one, offsets, num_parts, False, &acc, &tmp)
                memcpy(out.data + out.size, acc, m * sizeof(uint32_t))
            free(one)
            free(acc)
            free(tmp)
    for k in range(num_parts):
        free(pieces[k])
    free(pieces)
    free(offsets)
    return m


def segmentation_rles(const uint8_t[::1] kind, const int64_t[:, ::1] size, const int64_t[::1] record_parts,
                      const int64_t[::1] part_offsets, const double[::1] values,
                      const int64_t[::1] chars_offsets, const uint8_t[::1] chars,
                      const int64_t[::1] rows, const int64_t[::1] heights, const int64_t[::1] widths):
    """RLE table (counts, offsets, sizes) of the segmentations of records ``rows`` (the scanner's
    columns), as ``COCO.annToRLE`` converts them; heights/widths give each row's image size (-1:
    unknown). Returns (counts, offsets, sizes, bad): bad is -1, or the position in rows of the
    first record converted only by the general path (another kind, an invalid RLE, a bad
    polygon), and the table is then incomplete."""
    cdef Py_ssize_t n = rows.shape[0], i, r, m, bad = -1, num = kind.shape[0]
    cdef _Counts buf
    offsets = np.empty(n + 1, dtype=np.int64)
    sizes = np.zeros((n, 2), dtype=np.int64)
    cdef int64_t[::1] off = offsets
    cdef int64_t[:, ::1] sz = sizes
    if heights.shape[0] != n or widths.shape[0] != n:
        raise ValueError(f"heights and widths must have one entry per row ({n}), got {heights.shape[0]} "
                         f"and {widths.shape[0]}")
    for i in range(n):
        if not (0 <= rows[i] < num):
            raise IndexError(f"rows[{i}] = {rows[i]} is not a record index (0..{num - 1})")
    buf.size = 0
    buf.capacity = 1024  # plus one count per character or run length given (polygons grow it)
    for i in range(n):
        r = rows[i]
        buf.capacity += chars_offsets[r + 1] - chars_offsets[r]
        if kind[r] == 3:
            buf.capacity += part_offsets[record_parts[r + 1]] - part_offsets[record_parts[r]]
    buf.data = <uint32_t*> malloc(buf.capacity * sizeof(uint32_t))
    if buf.data == NULL:
        raise MemoryError()
    try:
        with nogil:
            for i in range(n):
                r = rows[i]
                off[i] = buf.size
                m = _segmentation_counts(kind[r], &size[r, 0], &part_offsets[record_parts[r]],
                                         record_parts[r + 1] - record_parts[r],
                                         &values[0] if values.shape[0] else NULL,
                                         <const char*>&chars[0] + chars_offsets[r] if chars.shape[0] else NULL,
                                         chars_offsets[r + 1] - chars_offsets[r], heights[i], widths[i], &buf,
                                         &sz[i, 0])
                if m < 0:
                    bad = i
                    break
                buf.size += m
        off[n if bad < 0 else bad] = buf.size
        return _adopt(&buf), offsets, sizes, bad
    finally:
        free(buf.data)


def string_counts(const int64_t[::1] chars_offsets, const uint8_t[::1] chars, const int64_t[::1] rows):
    """Upper bound of the number of counts in each of records ``rows``' compressed strings: their
    valid characters that end a number (no continuation bit). Exact for valid strings; the
    decoder never writes more."""
    cdef Py_ssize_t n = rows.shape[0], i, r, j, num = chars_offsets.shape[0] - 1
    out = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] o = out
    cdef int64_t m
    cdef int c
    for i in range(n):
        if not (0 <= rows[i] < num):
            raise IndexError(f"rows[{i}] = {rows[i]} is not a record index (0..{num - 1})")
    with nogil:
        for i in range(n):
            r = rows[i]
            m = 0
            for j in range(chars_offsets[r], chars_offsets[r + 1]):
                c = <int>chars[j] - 48
                m += 0 <= c < 32
            o[i] = m
    return out


def string_rles_into(const uint8_t[::1] kind, const int64_t[:, ::1] size, const int64_t[::1] chars_offsets,
                     const uint8_t[::1] chars, const int64_t[::1] rows, const int64_t[::1] offsets,
                     uint32_t[::1] counts, int64_t[:, ::1] sizes, double[:, ::1] boxes, uint32_t[::1] areas,
                     Py_ssize_t first, Py_ssize_t last):
    """Decodes the compressed strings of records rows[first:last] (kind 2 only) into
    counts[offsets[i]:offsets[i + 1]] (offsets from string_counts), their sizes into sizes[i], and
    their geometry (see geometry_into) into boxes[i] and areas[i] while the counts are in cache.
    Returns -1, or the first position i whose record this cannot take (another kind, an invalid
    string or size, counts not summing to h * w): the general path then handles the set. Releases
    the GIL: disjoint ranges may run in parallel threads."""
    cdef Py_ssize_t i, r, m, num = kind.shape[0], bad = -1
    cdef int64_t total, h, w
    cdef Py_ssize_t error_at
    cdef const char* text = <const char*>&chars[0] if chars.shape[0] else NULL
    cdef uint32_t* out = &counts[0] if counts.shape[0] else NULL
    if not (0 <= first <= last <= rows.shape[0] and offsets.shape[0] == rows.shape[0] + 1
            and sizes.shape[0] == rows.shape[0] and sizes.shape[1] == 2 and counts.shape[0] >= offsets[last]
            and boxes.shape[0] == rows.shape[0] and boxes.shape[1] == 4 and areas.shape[0] == rows.shape[0]
            and chars_offsets.shape[0] == num + 1 and size.shape[0] == num):
        raise ValueError("string_rles_into: rows, offsets or outputs do not match")
    for i in range(first, last):
        if not (0 <= rows[i] < num and offsets[i] <= offsets[i + 1]):
            raise ValueError(f"string_rles_into: rows[{i}] or its offsets are out of range")
    with nogil:
        for i in range(first, last):
            r = rows[i]
            h, w = size[r, 0], size[r, 1]
            if kind[r] != 2 or h < 0 or w < 0 or h > _MAX_PIXELS or w > _MAX_PIXELS or h * w > _MAX_PIXELS:
                bad = i
                break
            # the decoder writes one count per character string_counts counted, never more
            m = _read_string(text + chars_offsets[r], chars_offsets[r + 1] - chars_offsets[r],
                             out + offsets[i], &total, &error_at)
            if m != offsets[i + 1] - offsets[i] or total != h * w:
                bad = i
                break
            sizes[i, 0] = h
            sizes[i, 1] = w
            areas[i] = _geometry_one(out + offsets[i], m, <uint32_t>h, &boxes[i, 0])
    return bad


cdef object _adopt(_Counts* c):
    """The buffer's counts as a uint32 array that owns (and will free) the memory; c is emptied."""
    cdef uint32_t* data = <uint32_t*> realloc(c.data, (c.size if c.size else 1) * sizeof(uint32_t))
    if data == NULL:  # shrinking failed: keep the larger block
        data = c.data
    c.data = NULL
    cdef view.array arr = view.array(shape=(c.size if c.size else 1,), itemsize=sizeof(uint32_t), format="I",
                                     mode="c", allocate_buffer=False)
    arr.data = <char*> data
    arr.callback_free_data = free
    return np.asarray(arr)[:c.size]
