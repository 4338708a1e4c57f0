"""Mask overlaps for segm evaluation: per (image, category) cell, the IoU of the cell's
detections (score order, cut at maxDets[-1]) with its gts, as pycocotools' ``maskUtils.iou``.

Masks come as RLE tables (one counts buffer, offsets, sizes; see ``detkit._cy_mask``). A COCO read
from a file converts the segmentations the native scanner read; a dict-based COCO (or a
pycocotools one) goes through ``annToRLE`` record by record. A record the native conversion
cannot take (a segmentation of another shape, an invalid RLE) sends the whole set through
``annToRLE``, which gives pycocotools' result or names the bad record.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from detkit import _C, _cy_mask
from detkit.eval.cocoeval import _positions


def image_sizes_of(image_sizes: Optional[tuple], image_id: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(heights, widths) of the images ``image_id`` from (ids, heights, widths) of the images
    list (-1 where unknown); a repeated image id takes its last entry, as the ``imgs`` dict."""
    if image_sizes is None or len(image_sizes[0]) == 0:
        unknown = np.full(len(image_id), -1, np.int64)
        return unknown, unknown
    ids, heights, widths = image_sizes
    pos = _positions(image_id, ids)  # a repeated id: its last entry
    known = pos >= 0
    rows = np.maximum(pos, 0)
    return np.where(known, heights[rows], -1), np.where(known, widths[rows], -1)


def native_rles(cols: dict, rows: np.ndarray) -> Optional[Tuple[tuple, tuple]]:
    """(RLE table (counts, offsets, sizes), its geometry (boxes, areas)) of file rows ``rows``
    from the scanner's segmentation columns, or None when some record needs the general path (or
    there are no such columns)."""
    seg = cols.get("segmentation")
    if seg is None or "record_parts" not in seg:  # not read by the scanner (e.g. box result dicts)
        return None
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    if len(rows) and (seg["kind"][rows] == _cy_mask.SEGM_RLE_STRING).all():
        return _string_rles(seg, rows)
    heights, widths = image_sizes_of(cols.get("image_sizes"), cols["image_id"][rows])
    # work per record: its string's length, or its number of coordinates / run lengths
    work = np.diff(seg["chars_offsets"])[rows] + np.diff(seg["part_offsets"][seg["record_parts"]])[rows]

    def convert(first: int, last: int):
        return _cy_mask.segmentation_rles(
            seg["kind"], seg["size"], seg["record_parts"], seg["part_offsets"], seg["values"],
            seg["chars_offsets"], seg["chars"], rows[first:last], heights[first:last], widths[first:last])

    parts = _in_parallel(convert, np.cumsum(work), min_work=20_000)
    if any(bad >= 0 for *_, bad in parts):
        return None
    if len(parts) == 1:
        table = parts[0][:3]
    else:
        shifts = np.cumsum([0] + [len(counts) for counts, *_ in parts[:-1]])
        offsets = np.concatenate([parts[0][1][:1]] + [off[1:] + shift for (_, off, *_), shift in zip(parts, shifts)])
        table = (np.concatenate([p[0] for p in parts]), offsets, np.concatenate([p[2] for p in parts]))
    return table, rle_geometry(table)


def _string_rles(seg: dict, rows: np.ndarray) -> Optional[Tuple[tuple, tuple]]:
    """native_rles of compressed strings only (the usual mask results): their counts are counted
    first, so each thread decodes its range straight into the one table (no parts to join), and
    takes each mask's geometry while its counts are in cache."""
    n = len(rows)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(_cy_mask.string_counts(seg["chars_offsets"], seg["chars"], rows), out=offsets[1:])
    counts = np.empty(int(offsets[-1]), dtype=np.uint32)
    sizes = np.empty((n, 2), dtype=np.int64)
    boxes, areas = np.empty((n, 4)), np.empty(n, np.uint32)
    bad = _in_parallel(lambda first, last: _cy_mask.string_rles_into(
        seg["kind"], seg["size"], seg["chars_offsets"], seg["chars"], rows, offsets, counts, sizes, boxes, areas,
        first, last), offsets[1:], min_work=20_000)
    return None if any(b >= 0 for b in bad) else ((counts, offsets, sizes), (boxes, areas))


def rle_geometry(table: tuple) -> tuple:
    """(boxes, areas) of an RLE table, computed in parallel ranges of RLEs."""
    counts, offsets, sizes = table
    n = len(offsets) - 1
    boxes, areas = np.empty((n, 4)), np.empty(n, np.uint32)
    _in_parallel(lambda first, last: _cy_mask.geometry_into(counts, offsets, sizes, boxes, areas, first, last),
                 offsets[1:])
    return boxes, areas


def _rle_table(coco, cols: dict, rows: np.ndarray, name: str) -> Tuple[tuple, np.ndarray, tuple]:
    """(RLE table, table row of each of ``rows``, the table's geometry) for the annotations at
    file rows ``rows``."""
    if "rle" in cols:  # results: converted once when they were loaded
        own = getattr(coco, "_columns", None)
        if own is not None and "segmentation" in own:
            # results read from a file keep their compressed strings: the decoded table (about 4x
            # their size) goes to this evaluation and is freed with it; another one decodes again
            own.pop("rle", None)
        return cols["rle"], rows, cols["rle_geometry"] if "rle_geometry" in cols else rle_geometry(cols["rle"])
    converted = native_rles(cols, rows)
    if converted is None:
        anns = cols["dicts"] if "dicts" in cols else coco.dataset["annotations"]
        table = _cy_mask.parse([coco.annToRLE(anns[r]) for r in rows.tolist()], name)
        converted = table, rle_geometry(table)
    return converted[0], np.arange(len(rows), dtype=np.int64), converted[1]


def segm_overlaps(coco_gt, coco_dt, gt: dict, dt: dict, run: dict, max_det: int) -> Tuple[np.ndarray, np.ndarray]:
    """(flat overlaps, per-cell offsets) in the layout ``coco_evaluate`` reads for precomputed
    overlaps: only cells with both detections and gts get a (D, G) block."""
    num_cells = run["num_cells"]
    g_cell = run["gt"]["cell"]
    d_bounds, d_order = _C.coco_sort_detections(run["dt"]["cell"], run["dt"]["score"], num_cells, max_det)
    g_order = np.argsort(g_cell, kind="stable")
    g_order = g_order[g_cell[g_order] >= 0]
    g_bounds = np.searchsorted(g_cell[g_order], np.arange(num_cells + 1))
    d_count, g_count = np.diff(d_bounds), np.diff(g_bounds)
    both = (d_count > 0) & (g_count > 0)
    dets = d_order[np.repeat(both, d_count)]  # the cells' detections and gts, cell after cell
    gts = g_order[np.repeat(both, g_count)]
    d_table, d_rows, d_geometry = _rle_table(coco_dt, dt, _file_rows(run["dt_rows"], dets), "detections")
    g_table, g_rows, g_geometry = _rle_table(coco_gt, gt, _file_rows(run["gt_rows"], gts), "ground truths")
    d_cells = np.concatenate([[0], np.cumsum(d_count[both])])
    g_cells = np.concatenate([[0], np.cumsum(g_count[both])])
    blocks = d_count[both] * g_count[both]
    ends = np.cumsum(blocks)
    block_offsets = np.zeros(num_cells, np.int64)
    block_offsets[both] = ends - blocks
    flat = np.empty(int(ends[-1]) if len(ends) else 0, np.float64)
    crowd = np.ascontiguousarray(run["gt"]["iscrowd"][gts], dtype=np.uint8)

    def fill(first: int, last: int) -> None:
        start = int(ends[first - 1]) if first else 0
        _cy_mask.cell_ious(*d_table, d_geometry, d_rows, d_cells, *g_table, g_geometry, g_rows, g_cells, crowd,
                           flat[start:], first, last)

    _in_parallel(fill, ends, min_work=2_000)
    return flat, block_offsets


def _file_rows(rows: Optional[np.ndarray], picked: np.ndarray) -> np.ndarray:
    """File rows of evaluation rows ``picked`` (rows None: they are file rows)."""
    return np.ascontiguousarray(picked if rows is None else rows[picked], dtype=np.int64)


def _in_parallel(fn, ends: np.ndarray, min_work: int = 200_000) -> list:
    """[fn(first, last), ...] over ranges of the items whose cumulative work is ``ends``: one
    range, or one per thread of about equal work (fn must release the GIL) when there is at
    least ``min_work`` per thread. The calling thread runs the first range itself; the others go
    to long-lived worker threads (starting threads per call delayed the second range by
    milliseconds, as much as the work itself)."""
    from detkit import get_num_threads

    n = len(ends)
    total = int(ends[-1]) if n else 0
    threads = min(get_num_threads(), max(1, total // min_work))
    if threads <= 1:
        return [fn(0, n)]
    cuts = np.searchsorted(ends, np.arange(1, threads) * (total / threads))
    bounds = [0, *sorted({int(c) for c in cuts if 0 < c < n}), n]
    others = [_workers(len(bounds) - 2).submit(fn, first, last) for first, last in zip(bounds[1:-1], bounds[2:])]
    try:
        head = fn(bounds[0], bounds[1])
    finally:
        rest = [f.result() for f in others]  # every range has finished before an error propagates
    return [head, *rest]


_pool: Optional[tuple] = None  # (process id, thread count, executor)


def _workers(count: int):
    """A thread pool of at least ``count`` threads, kept for later calls. A forked child process
    (whose copy of the pool has no threads) gets a new one."""
    global _pool
    import os
    from concurrent.futures import ThreadPoolExecutor

    if _pool is None or _pool[0] != os.getpid() or _pool[1] < count:
        if _pool is not None and _pool[0] == os.getpid():
            _pool[2].shutdown(wait=False)
        _pool = (os.getpid(), count, ThreadPoolExecutor(count, thread_name_prefix="detkit-mask"))
    return _pool[2]
