"""Merging COCOeval runs over disjoint image sets (see ``COCOeval.merge``)."""

from __future__ import annotations

import copy
from typing import List, Tuple

import numpy as np

_SAME = ("iouType", "catIds", "useCats", "maxDets")
_SAME_ARRAYS = ("iouThrs", "recThrs", "areaRng")


def _check_params(params: list) -> None:
    first = params[0]
    for p in params[1:]:
        for name in _SAME:
            if list(np.atleast_1d(getattr(p, name))) != list(np.atleast_1d(getattr(first, name))):
                raise ValueError(f"merge needs equal params.{name}, got {getattr(first, name)!r} and {getattr(p, name)!r}")
        for name in _SAME_ARRAYS:
            if not np.array_equal(np.asarray(getattr(p, name)), np.asarray(getattr(first, name))):
                raise ValueError(f"merge needs equal params.{name}")
        if first.iouType == "keypoints" and not np.array_equal(p.kpt_oks_sigmas, first.kpt_oks_sigmas):
            raise ValueError("merge needs equal params.kpt_oks_sigmas")


def _remap(cell: np.ndarray, I_old: int, new_pos: np.ndarray, I_new: int) -> np.ndarray:
    k, i = np.divmod(np.maximum(cell, 0), max(I_old, 1))
    return np.where(cell >= 0, k * I_new + new_pos[i] if len(new_pos) else -1, -1).astype(np.int64)


def merge_runs(runs: List[dict], params: list) -> Tuple[dict, object]:
    """One run equal to evaluating the union of the runs' (disjoint) images at once."""
    _check_params(params)
    img_lists = [np.asarray(p.imgIds, dtype=np.int64) for p in params]
    all_imgs = np.concatenate(img_lists)
    merged_imgs = np.unique(all_imgs)
    if len(merged_imgs) != len(all_imgs):
        raise ValueError("merge needs disjoint image sets; some imgIds were evaluated in more than one run")
    I, K = len(merged_imgs), runs[0]["K"]
    C = K * I
    A, T = len(params[0].areaRng), len(params[0].iouThrs)
    counts = np.zeros(C, np.int64)
    src_start = np.zeros(C, np.int64)
    npig = np.zeros((C, A), np.int64)
    j_base = 0
    parts = {"dt_index": [], "dt_score": [], "status": []}
    gt_cols, dt_cols, pre, pre_off = [], [], [], np.zeros(C, np.int64)
    g_base = d_base = pre_base = 0
    for run, imgs in zip(runs, img_lists):
        st, I_old = run["state"], run["I"]
        new_pos = np.searchsorted(merged_imgs, imgs)
        old_cells = np.arange(run["num_cells"])
        new_cells = _remap(old_cells, I_old, new_pos, I)
        off = st["dt_offsets"]
        counts[new_cells] = np.diff(off)
        src_start[new_cells] = off[:-1] + j_base
        npig[new_cells] = st["npig"].reshape(-1, A)
        parts["dt_index"].append(st["dt_index"] + d_base)
        parts["dt_score"].append(st["dt_score"])
        parts["status"].append(st["status"].reshape(-1, A * T))
        gt_cols.append(dict(run["gt"], cell=_remap(run["gt"]["cell"], I_old, new_pos, I)))
        dt_cols.append(dict(run["dt"], cell=_remap(run["dt"]["cell"], I_old, new_pos, I)))
        if run.get("precomputed") is not None:
            pre.append(run["precomputed"])
            pre_off[new_cells] = run["precomputed_offsets"] + pre_base
            pre_base += len(run["precomputed"])
        j_base += int(off[-1])
        g_base += len(run["gt"]["cell"])
        d_base += len(run["dt"]["cell"])
    offsets = np.zeros(C + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    gather = np.repeat(src_start - offsets[:-1], counts) + np.arange(offsets[-1])
    dt_index = np.concatenate(parts["dt_index"])[gather]
    dt_score = np.concatenate(parts["dt_score"])[gather]
    status = np.concatenate(parts["status"])[gather].reshape(-1)
    merged = dict(runs[0])
    merged.update(
        num_cells=C, I=I,
        gt={key: np.concatenate([c[key] for c in gt_cols]) for key in gt_cols[0]},
        dt={key: np.concatenate([c[key] for c in dt_cols]) for key in dt_cols[0]},
        state={"dt_offsets": offsets, "dt_index": dt_index, "dt_score": dt_score,
               "status": np.ascontiguousarray(status), "npig": npig.reshape(-1)},
        options=dict(runs[0]["options"], num_cells=C, num_images=I),
    )
    merged.pop("gt_rows", None)
    merged.pop("dt_rows", None)
    if pre:
        merged["precomputed"], merged["precomputed_offsets"] = np.concatenate(pre), pre_off
    p = copy.deepcopy(params[0])
    p.imgIds = list(merged_imgs)
    return merged, p
