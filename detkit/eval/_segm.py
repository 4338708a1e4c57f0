"""Mask overlaps for segm evaluation: per (image, category) cell, the IoU of the cell's
detections (score order, cut at maxDets[-1]) with its gts, via :func:`detkit.eval.mask.iou`."""

from __future__ import annotations

from typing import Tuple

import numpy as np

from detkit import _C


def segm_overlaps(coco_gt, coco_dt, gt: dict, dt: dict, run: dict, max_det: int) -> Tuple[np.ndarray, np.ndarray]:
    """(flat overlaps, per-cell offsets) in the layout ``coco_evaluate`` reads for precomputed
    overlaps; the segmentations are converted with ``annToRLE`` (polygons merged, as pycocotools)."""
    try:
        from detkit.eval import mask as mask_utils
    except ImportError as err:  # pragma: no cover - the mask module ships with detkit.eval
        raise ImportError("segm evaluation needs detkit.eval.mask") from err
    num_cells = run["num_cells"]
    g_cell, d_cell = run["gt"]["cell"], run["dt"]["cell"]
    g_dicts, d_dicts = gt["dicts"], dt["dicts"]
    g_rows, d_rows = run["gt_rows"], run["dt_rows"]
    offsets, order = _C.coco_sort_detections(d_cell, run["dt"]["score"], num_cells, max_det)
    g_order = np.argsort(g_cell, kind="stable")
    g_order = g_order[g_cell[g_order] >= 0]
    g_bounds = np.searchsorted(g_cell[g_order], np.arange(num_cells + 1))
    crowd = run["gt"]["iscrowd"]

    def row(rows, i):
        return int(i) if rows is None else int(rows[i])

    blocks, block_offsets, filled = [], np.zeros(num_cells, np.int64), 0
    for c in np.flatnonzero((np.diff(offsets) > 0) & (np.diff(g_bounds) > 0)):
        gi = g_order[g_bounds[c]:g_bounds[c + 1]]
        di = order[offsets[c]:offsets[c + 1]]
        g_rle = [coco_gt.annToRLE(g_dicts[row(g_rows, i)]) for i in gi]
        d_rle = [coco_dt.annToRLE(d_dicts[row(d_rows, i)]) for i in di]
        ious = np.ascontiguousarray(mask_utils.iou(d_rle, g_rle, crowd[gi]), dtype=np.float64)
        block_offsets[c] = filled
        blocks.append(ious.ravel())
        filled += ious.size
    flat = np.concatenate(blocks) if blocks else np.zeros(0, np.float64)
    return flat, block_offsets
