"""``COCOeval``: COCO bbox / segm / keypoints evaluation, bit-identical to pycocotools 2.0.

The algorithm (matching, accumulation) runs natively on flat columns (see
``csrc/core/coco_eval.h`` for every rule); ``.stats``, ``.eval["precision"|"recall"|"scores"]``
equal pycocotools' arrays exactly, including its quirks:

* detections are stably sorted by score per image and category and cut at ``maxDets[-1]``;
  gts are visited non-ignored first; the match test is ``iou >= min(t, 1 - 1e-10)`` and among
  equal overlaps the later gt wins; crowd gts can absorb any number of detections and their IoU is
  ``intersection / area(detection)``;
* a gt is ignored when it is a crowd (the annotation's own ``ignore`` field is overwritten by
  ``iscrowd``, as pycocotools does), has no keypoints (keypoints), or its ``area`` field lies outside
  the area range; unmatched detections whose ``area`` lies outside the range are ignored;
* matched ids are tested against 0, so a gt with id 0 counts as never matched (``fix_zero_ids``);
* precision is ``tp / (tp + fp + spacing(1))``, made monotone from the right and sampled at the
  recall thresholds with ``searchsorted(side="left")`` (0 past the last recall); cells without
  non-ignored gts are -1; ``summarize`` averages the entries > -1;
* OKS uses ``(2 sigma)^2`` variances, the gt's ``area + spacing(1)``, and for gts without visible
  keypoints the distance to the box enlarged by its size on every side; its exponentials go
  through numpy's own ``exp`` loop, because on some CPUs (AVX-512) numpy's exp differs from the C
  library's in the last bit for a few percent of inputs;
* with ``useCats = 0`` all categories of an image are pooled (for keypoints pycocotools then finds
  no overlaps at all, so nothing matches; reproduced).

Opt-in fixes (default off, i.e. pycocotools' behaviour): ``fix_zero_ids`` (ids 0 match normally)
and ``use_ignore_flag`` (an annotation's ``ignore: 1`` also ignores it).

Differences: ``evalImgs`` and ``ious`` are built on first access (same content); no progress
lines are printed except by ``summarize``; annotations are not modified by ``evaluate`` (pycocotools
adds ``ignore``/``_ignore`` keys and converts segmentations to RLE in place).
"""

from __future__ import annotations

import copy
import datetime
from collections import defaultdict
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from detkit import _C

__all__ = ["COCOeval", "Params"]

_IOU_BOX, _IOU_OKS, _IOU_PRECOMPUTED = 0, 1, 2


class Params:
    """Evaluation parameters, as ``pycocotools.cocoeval.Params`` (same attributes and defaults)."""

    def setDetParams(self) -> None:
        self.imgIds: List[int] = []
        self.catIds: List[int] = []
        # linspace, not arange: arange's points drift above the round values
        self.iouThrs = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
        self.recThrs = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
        self.maxDets = [1, 10, 100]
        self.areaRng = [[0 ** 2, 1e5 ** 2], [0 ** 2, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e5 ** 2]]
        self.areaRngLbl = ["all", "small", "medium", "large"]
        self.useCats = 1

    def setKpParams(self) -> None:
        self.imgIds = []
        self.catIds = []
        self.iouThrs = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
        self.recThrs = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
        self.maxDets = [20]
        self.areaRng = [[0 ** 2, 1e5 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e5 ** 2]]
        self.areaRngLbl = ["all", "medium", "large"]
        self.useCats = 1
        self.kpt_oks_sigmas = np.array([0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62,
                                        0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89]) / 10.0

    def __init__(self, iouType: str = "segm"):
        if iouType in ("segm", "bbox"):
            self.setDetParams()
        elif iouType == "keypoints":
            self.setKpParams()
        else:
            raise ValueError(f"iouType must be 'bbox', 'segm' or 'keypoints', got {iouType!r}")
        self.iouType = iouType
        self.useSegm = None  # deprecated switch, honoured by evaluate()

    def __deepcopy__(self, memo) -> "Params":
        # Params hold lists of plain numbers and numpy arrays: copying those containers is a deep
        # copy, and far cheaper than the generic walk over thousands of image ids.
        new = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, np.ndarray):
                setattr(new, name, value.copy())
            elif isinstance(value, list):
                setattr(new, name, [list(v) if isinstance(v, list) else v for v in value])
        return new


class COCOeval:
    """COCO evaluation (a drop-in for ``pycocotools.cocoeval.COCOeval``).

    Parameters
    ----------
    cocoGt, cocoDt : detkit.eval.COCO or pycocotools.coco.COCO, optional
        Ground truth and results (``cocoGt.loadRes(...)``).
    iouType : {"segm", "bbox", "keypoints"}
    fix_zero_ids : bool, keyword-only
        Count matches to gts with id 0 (and by detections with id <= 0) normally. Default False
        reproduces pycocotools, where they are lost.
    use_ignore_flag : bool, keyword-only
        Also ignore gts whose ``ignore`` field is set. Default False reproduces pycocotools, which
        overwrites ``ignore`` with ``iscrowd``.

    Examples
    --------
    >>> from detkit.eval import COCO, COCOeval
    >>> gt = COCO({"images": [{"id": 1}], "categories": [{"id": 1}],
    ...            "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
    ...                             "bbox": [10, 10, 40, 40], "area": 1600, "iscrowd": 0}]})
    >>> dt = gt.loadRes([{"image_id": 1, "category_id": 1, "bbox": [12, 10, 40, 40], "score": 0.8}])
    >>> E = COCOeval(gt, dt, "bbox")
    >>> E.evaluate(); E.accumulate()
    >>> round(float(E.eval["precision"][0, :, 0, 0, 2].mean()), 3)  # AP at IoU 0.5
    1.0
    """

    def __init__(self, cocoGt=None, cocoDt=None, iouType: str = "segm", *, fix_zero_ids: bool = False,
                 use_ignore_flag: bool = False):
        if not iouType:
            iouType = "segm"
        self.cocoGt = cocoGt
        self.cocoDt = cocoDt
        self.params = Params(iouType=iouType)
        self.fix_zero_ids = bool(fix_zero_ids)
        self.use_ignore_flag = bool(use_ignore_flag)
        self._evalImgs: Any = defaultdict(list)
        self._ious: Any = {}
        self.eval: Dict[str, Any] = {}
        self._paramsEval: Any = {}
        self.stats: Any = []
        self._run: Optional[dict] = None  # inputs and native state of the last evaluate()
        if cocoGt is not None:
            self.params.imgIds = sorted(cocoGt.getImgIds())
            self.params.catIds = sorted(cocoGt.getCatIds())

    # ------------------------------------------------------------------ evaluate
    def evaluate(self) -> None:
        """Matches detections to ground truths per image, category and area range."""
        p = self.params
        if p.useSegm is not None:
            p.iouType = "segm" if p.useSegm == 1 else "bbox"
        p.imgIds = list(np.unique(p.imgIds))
        if p.useCats:
            p.catIds = list(np.unique(p.catIds))
        p.maxDets = sorted(p.maxDets)
        self.params = p
        run = _prepare(self.cocoGt, self.cocoDt, p, self.use_ignore_flag)
        run["options"] = dict(
            num_cells=run["num_cells"], num_images=run["I"], iou_thresholds=[float(t) for t in p.iouThrs],
            area_ranges=[float(v) for rng in p.areaRng for v in rng], max_det=int(p.maxDets[-1]),
            zero_id_quirk=not self.fix_zero_ids)
        run["state"] = _native_evaluate(run, keep_details=False)
        self._run = run
        self._evalImgs = None
        self._ious = None
        self._paramsEval = copy.deepcopy(p)

    # ------------------------------------------------------------------ lazily built pycocotools views
    @property
    def evalImgs(self):
        """Per (category, area range, image) match records, as pycocotools builds them."""
        if self._evalImgs is None:
            self._evalImgs = _eval_imgs(self._run, self._paramsEval)
        return self._evalImgs

    @evalImgs.setter
    def evalImgs(self, value) -> None:
        self._evalImgs = value

    @property
    def ious(self):
        """{(imgId, catId): (D, G) overlaps, or [] when either side is empty}."""
        if self._ious is None:
            self._ious = _ious(self._run, self._paramsEval)
        return self._ious

    @ious.setter
    def ious(self, value) -> None:
        self._ious = value

    # ------------------------------------------------------------------ accumulate
    def accumulate(self, p: Optional[Params] = None) -> None:
        """Builds ``self.eval``: precision (T, R, K, A, M), recall (T, K, A, M) and scores."""
        if self._run is None:
            raise RuntimeError("accumulate() needs evaluate() to have run first")
        if p is None:
            p = self.params
        p.catIds = p.catIds if p.useCats == 1 else [-1]
        T, R = len(p.iouThrs), len(p.recThrs)
        K = len(p.catIds) if p.useCats else 1
        A, M = len(p.areaRng), len(p.maxDets)
        pe = self._paramsEval
        set_k = set(pe.catIds if pe.useCats else [-1])
        set_a = set(map(tuple, pe.areaRng))
        set_m = set(pe.maxDets)
        set_i = set(pe.imgIds)
        k_list = [n for n, k in enumerate(p.catIds) if k in set_k]
        m_list = [m for m in p.maxDets if m in set_m]
        a_list = [n for n, a in enumerate(map(tuple, p.areaRng)) if a in set_a]
        i_list = [n for n, i in enumerate(p.imgIds) if i in set_i]
        st = self._run["state"]
        precision, recall, scores = _C.coco_accumulate(
            st["dt_offsets"], st["dt_score"], st["status"], st["npig"], num_areas=len(pe.areaRng),
            num_thresholds=len(pe.iouThrs), num_images=len(pe.imgIds), categories=k_list, areas=a_list,
            max_dets=[int(m) for m in m_list], images=i_list,
            recall_thresholds=[float(r) for r in p.recThrs], out_categories=K, out_areas=A, out_max_dets=M)
        self.eval = {
            "params": p,
            "counts": [T, R, K, A, M],
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
            "precision": precision,
            "recall": recall,
            "scores": scores,
        }

    # ------------------------------------------------------------------ summarize
    def summarize(self) -> None:
        """Prints the 12 (detection) or 10 (keypoints) summary lines and sets ``self.stats``."""
        if not self.eval:
            raise RuntimeError("summarize() needs accumulate() to have run first")
        self.stats, lines = summarize_eval(self.eval, self.params)
        print("\n".join(lines))

    def __str__(self) -> str:
        if not self.eval:
            return "COCOeval (not accumulated)"
        return "\n".join(summarize_eval(self.eval, self.params)[1])

    # ------------------------------------------------------------------ merging shards
    def merge(self, *others: "COCOeval") -> "COCOeval":
        """Combines evaluations of disjoint image sets into one, in place (returns self).

        Each evaluator must have run :meth:`evaluate` with the same parameters except ``imgIds``
        (which must not overlap). After merging, :meth:`accumulate` and :meth:`summarize` give
        exactly the results of evaluating all images at once. This is how evaluation is split
        across processes or machines: each worker evaluates its shard and sends its evaluator
        (it pickles; or just its :meth:`state`) to one process that merges them.
        """
        from detkit.eval._merge import merge_runs

        runs = [self._run] + [o._run for o in others]
        params = [self._paramsEval] + [o._paramsEval for o in others]
        if any(r is None for r in runs):
            raise RuntimeError("merge() needs evaluate() to have run on every evaluator")
        self._run, self._paramsEval = merge_runs(runs, params)
        self.params = copy.deepcopy(self._paramsEval)
        self._evalImgs = None
        self._ious = None
        self.eval = {}
        return self


def summarize_eval(ev: Dict[str, Any], p: Params) -> Tuple[np.ndarray, List[str]]:
    """(stats, printed lines) of pycocotools' summarize for an accumulated ``eval`` dict."""
    if p.iouType in ("segm", "bbox"):
        md = p.maxDets
        requests = [(1, None, "all", 100), (1, 0.5, "all", md[2]), (1, 0.75, "all", md[2]),
                    (1, None, "small", md[2]), (1, None, "medium", md[2]), (1, None, "large", md[2]),
                    (0, None, "all", md[0]), (0, None, "all", md[1]), (0, None, "all", md[2]),
                    (0, None, "small", md[2]), (0, None, "medium", md[2]), (0, None, "large", md[2])]
    else:
        requests = [(1, None, "all", 20), (1, 0.5, "all", 20), (1, 0.75, "all", 20), (1, None, "medium", 20),
                    (1, None, "large", 20), (0, None, "all", 20), (0, 0.5, "all", 20), (0, 0.75, "all", 20),
                    (0, None, "medium", 20), (0, None, "large", 20)]
    means: List[float] = [0.0] * len(requests)
    for ap in (1, 0):
        picked = [n for n, r in enumerate(requests) if r[0] == ap]
        for n, mean in zip(picked, _summary_means(ev["precision"] if ap == 1 else ev["recall"], p,
                                                  [requests[n][1:] for n in picked])):
            means[n] = mean
    line = " {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}"
    lines = []
    for (ap, iou_thr, area_rng, max_dets), mean in zip(requests, means):
        iou = "{:0.2f}:{:0.2f}".format(p.iouThrs[0], p.iouThrs[-1]) if iou_thr is None else "{:0.2f}".format(iou_thr)
        lines.append(line.format("Average Precision" if ap == 1 else "Average Recall", "(AP)" if ap == 1 else "(AR)",
                                 iou, area_rng, max_dets, mean))
    return np.array(means, dtype=np.float64), lines


def _summary_means(values: np.ndarray, p: Params, requests: List[tuple]) -> List[float]:
    """pycocotools' ``_summarize`` means, ``np.mean(s[s > -1])`` or -1, of each (iouThr, areaRng
    label, maxDets) request over precision (T, R, K, A, M) or recall (T, K, A, M) ``values``, all
    in one native pass. A selection pycocotools' indexing would reject (positions that do not
    broadcast or lie outside the array) goes through that indexing, which raises the same error."""
    values = np.asarray(values)
    T, A, M = values.shape[0], values.shape[-2], values.shape[-1]
    picks, native = [], {}  # per request (tind, aind, mind); request -> (t rows, a * M + m columns)
    for n, (iou_thr, area_rng, max_dets) in enumerate(requests):
        tind = np.arange(T) if iou_thr is None else np.where(iou_thr == np.asarray(p.iouThrs))[0]
        aind = [i for i, lbl in enumerate(p.areaRngLbl) if lbl == area_rng]
        mind = [i for i, m in enumerate(p.maxDets) if m == max_dets]
        picks.append((tind, aind, mind))
        try:
            a, m = np.broadcast_arrays(np.asarray(aind, dtype=np.int64), np.asarray(mind, dtype=np.int64))
        except ValueError:
            continue
        if A * M > 0 and (len(tind) == 0 or tind.max() < T) and (len(a) == 0 or (a.max() < A and m.max() < M)):
            native[n] = ([int(t) for t in tind], [int(c) for c in a * M + m])
    means = {}
    if native:
        flat = np.ascontiguousarray(values, dtype=np.float64).reshape(T, -1, A * M)
        means = dict(zip(native, _C.coco_summary_means(flat, [t for t, _ in native.values()],
                                                        [c for _, c in native.values()])))
    out = []
    for n, (tind, aind, mind) in enumerate(picks):
        if n not in means:
            s = values[tind][..., aind, mind]
            valid = s[s > -1]
            means[n] = -1.0 if len(valid) == 0 else float(np.mean(valid))
        out.append(means[n])
    return out


# ---------------------------------------------------------------------- preparation
def _positions(values: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Index of each value in the unique ids, -1 where absent (one threaded native pass)."""
    return _C.id_positions(np.ascontiguousarray(values, dtype=np.int64), np.ascontiguousarray(ids, dtype=np.int64))


def _traversal_rows(cols: dict, img_pos: np.ndarray, p: Params) -> Tuple[np.ndarray, np.ndarray]:
    """Rows in the order pycocotools gathers annotations into cells, and their cells.

    pycocotools collects ann ids image by image, then loads each id from a dict, so a duplicated
    id always yields the *last* annotation with that id. Without duplicates and with categories
    in use, the file order already gives the right order within every cell.
    """
    n = len(cols["id"])
    rows = None  # identity: file order
    ids = cols["id"]
    unique = cols.get("ids_unique")
    if unique is None:  # rising ids (the usual file) are unique without a hash pass
        unique = bool((ids[1:] > ids[:-1]).all()) or len(np.unique(ids)) == n
    if not unique:
        rows = np.arange(n, dtype=np.int64)
        keep = img_pos >= 0
        if p.useCats:
            keep &= np.isin(cols["category_id"], np.asarray(p.catIds, dtype=np.int64))
        rows = rows[keep]
        rows = rows[np.argsort(img_pos[rows], kind="stable")]
        last = {}
        for r, i in enumerate(ids.tolist()):
            last[i] = r
        rows = np.array([last[i] for i in ids[rows].tolist()], dtype=np.int64)
    I = len(p.imgIds)
    cats = _take(cols["category_id"], rows)
    ipos = _take(img_pos, rows)
    if p.useCats:
        kpos = _positions(cats, np.asarray(p.catIds, dtype=np.int64))
        return rows, _C.coco_cells(kpos, np.ascontiguousarray(ipos, dtype=np.int64), I)
    # useCats = 0: an image's annotations pooled category by category, in p.catIds order
    parts = [np.flatnonzero(cats == c) for c in p.catIds]
    pick = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    rows, ipos = _take(np.arange(n, dtype=np.int64), rows)[pick], ipos[pick]
    return rows, np.where(ipos >= 0, ipos, -1)


def _take(arr, rows):
    """arr[rows], or arr itself when rows is None (identity)."""
    return arr if rows is None or arr is None else arr[rows]


def _keypoints_may_hold_nan(cols: dict, kp: np.ndarray) -> bool:
    """False when ``kp`` certainly holds no NaN (no false negatives): results read from a JSON file
    are finite numbers; a file read by the native scanner has NaN rows exactly where a record has
    no keypoints. Otherwise a search of the whole array."""
    if cols.get("keypoints_finite", False):
        return False
    if "has_keypoints" in cols:
        return not bool(np.asarray(cols["has_keypoints"]).all())
    return bool(np.isnan(kp).any())


def _prepare(coco_gt, coco_dt, p: Params, use_ignore_flag: bool) -> dict:
    if p.iouType not in ("bbox", "segm", "keypoints"):
        raise ValueError(f"iouType must be 'bbox', 'segm' or 'keypoints', got {p.iouType!r}")
    segm = p.iouType == "segm"
    gt = _columns_of(coco_gt)
    dt = _columns_of(coco_dt)
    img_sorted = np.asarray(p.imgIds, dtype=np.int64)
    I = len(img_sorted)
    K = len(p.catIds) if p.useCats else 1
    g_rows, g_cell = _traversal_rows(gt, _positions(gt["image_id"], img_sorted), p)
    d_rows, d_cell = _traversal_rows(dt, _positions(dt["image_id"], img_sorted), p)
    g_eval = g_cell >= 0
    d_eval = d_cell >= 0
    area = _take(gt["area"], g_rows)
    if np.isnan(area).any() and np.isnan(area[g_eval]).any():
        bad = int(_take(gt["id"], g_rows)[g_eval & np.isnan(area)][0])
        raise ValueError(f"ground-truth annotation {bad} has no 'area'")
    dscore = _take(dt["score"], d_rows)
    if "has_score" in dt:
        has = _take(dt["has_score"], d_rows)
        if not has.all() and not has[d_eval].all():
            raise ValueError(f"detection {int(_take(dt['id'], d_rows)[d_eval & ~has][0])} has no 'score'")
    if not np.isfinite(dscore).all():
        bad_rows = d_eval & ~np.isfinite(dscore)
        if bad_rows.any():
            bad = np.flatnonzero(bad_rows)[0]
            raise ValueError(f"detection {int(_take(dt['id'], d_rows)[bad])} has a non-finite score {dscore[bad]!r}")
    crowd = _take(gt["iscrowd"], g_rows) != 0
    ignore = crowd.copy()
    if use_ignore_flag:
        ignore |= _take(gt["ignore"], g_rows) != 0
    run: Dict[str, Any] = {"num_cells": K * I, "I": I, "K": K, "iou_type": p.iouType}
    kpt_vars: List[float] = []
    if p.iouType == "keypoints":
        nkp = _take(gt["num_keypoints"], g_rows)
        if np.isnan(nkp[g_eval]).any():
            raise ValueError("every ground truth needs 'num_keypoints' for keypoint evaluation")
        ignore |= nkp == 0
        sigmas = np.asarray(p.kpt_oks_sigmas, dtype=np.float64)
        kpt_vars = ((sigmas * 2) ** 2).tolist()
        width = 3 * len(sigmas)
        for name, cols, rows, sel in (("ground truth", gt, g_rows, g_eval), ("detection", dt, d_rows, d_eval)):
            kp = cols.get("keypoints")
            if sel.any() and (kp is None or kp.shape[1] != width or  # NaN rows matter only when evaluated
                              (_keypoints_may_hold_nan(cols, kp) and np.isnan(_take(kp, rows)[sel]).any())):
                raise ValueError(f"every {name} needs 'keypoints' with {width} values "
                                 f"(3 per sigma in kpt_oks_sigmas)")
    elif p.iouType == "bbox":
        for name, cols, rows, sel in (("ground truth", gt, g_rows, g_eval), ("detection", dt, d_rows, d_eval)):
            if cols.get("bbox_finite", False):
                continue
            box = _take(cols["bbox"], rows)
            if np.isnan(box).any() and np.isnan(box[sel]).any():
                raise ValueError(f"every {name} needs a finite 'bbox' [x, y, w, h]")
    run["gt"] = {"cell": g_cell, "bbox": _rows_of(gt["bbox"], g_rows, 4), "area": area,
                 "iscrowd": crowd.astype(np.uint8), "ignore": ignore.astype(np.uint8),
                 "id": _take(gt["id"], g_rows)}
    run["dt"] = {"cell": d_cell, "bbox": _rows_of(dt["bbox"], d_rows, 4), "area": _take(dt["area"], d_rows),
                 "score": dscore, "id": _take(dt["id"], d_rows)}
    if p.iouType == "keypoints":
        width = len(kpt_vars) * 3
        run["gt"]["keypoints"] = _rows_of(gt.get("keypoints"), g_rows, width, len(g_cell))
        run["dt"]["keypoints"] = _rows_of(dt.get("keypoints"), d_rows, width, len(d_cell))
    run["kpt_vars"] = kpt_vars
    run["iou_code"] = {"bbox": _IOU_BOX, "keypoints": _IOU_OKS, "segm": _IOU_PRECOMPUTED}[p.iouType]
    run["no_overlaps"] = p.iouType == "keypoints" and not p.useCats
    if segm:
        from detkit.eval._segm import segm_overlaps

        run["gt_rows"], run["dt_rows"] = g_rows, d_rows
        run["precomputed"], run["precomputed_offsets"] = segm_overlaps(
            coco_gt, coco_dt, gt, dt, run, int(p.maxDets[-1]))
    return run


def _rows_of(arr: Optional[np.ndarray], rows: Optional[np.ndarray], width: int, n: int = 0) -> np.ndarray:
    """(len(rows), width) float64 rows of arr (NaN when arr is missing or has another width)."""
    if arr is None or arr.ndim != 2 or arr.shape[1] != width:
        return np.full((n if rows is None else len(rows), width), np.nan)
    return np.ascontiguousarray(_take(arr, rows), dtype=np.float64)


def _columns_of(coco) -> dict:
    if hasattr(coco, "_eval_columns"):
        return coco._eval_columns()
    from detkit.eval.coco import _columns_from_dicts  # also a pycocotools COCO object: its dicts

    return _columns_from_dicts(coco.dataset)


def _native_evaluate(run: dict, keep_details: bool) -> dict:
    return _C.coco_evaluate(
        run["gt"], run["dt"], iou_type=run["iou_code"], kpt_vars=run["kpt_vars"],
        precomputed=run.get("precomputed"), precomputed_offsets=run.get("precomputed_offsets"),
        no_overlaps=run["no_overlaps"], keep_details=keep_details, **run["options"])


# ---------------------------------------------------------------------- lazy pycocotools views
def _cell_keys(pe: Params) -> Tuple[list, list]:
    cat_ids = pe.catIds if pe.useCats else [-1]
    return list(cat_ids), list(pe.imgIds)


def _ious(run: dict, pe: Params) -> dict:
    det = _native_evaluate(run, keep_details=True)
    cat_ids, img_ids = _cell_keys(pe)
    g_off, d_off, o_off = det["gt_offsets"], det["dt_offsets"], det["overlap_offsets"]
    out = {}
    I = len(img_ids)
    for k, cat in enumerate(cat_ids):
        for i, img in enumerate(img_ids):
            c = k * I + i
            G, D = g_off[c + 1] - g_off[c], d_off[c + 1] - d_off[c]
            if G == 0 or D == 0 or run["no_overlaps"]:
                out[img, cat] = []
            else:
                out[img, cat] = det["overlaps"][o_off[c]:o_off[c + 1]].reshape(D, G)
    return out


def _eval_imgs(run: dict, pe: Params) -> list:
    det = _native_evaluate(run, keep_details=True)
    cat_ids, img_ids = _cell_keys(pe)
    I, A, T = len(img_ids), len(pe.areaRng), len(pe.iouThrs)
    g_off, d_off = det["gt_offsets"], det["dt_offsets"]
    total_gt = int(g_off[-1])
    gt_id = run["gt"]["id"]
    dt_id = run["dt"]["id"]
    dt_rows = det["dt_index"]
    dt_match = det["dt_match"].reshape(-1, A, T)
    gt_match = det["gt_match"].reshape(A, max(total_gt, 0), T)
    gt_order = det["gt_order"].reshape(A, total_gt)
    gt_ig = det["gt_ignore"].reshape(A, total_gt)
    status = det["status"].reshape(-1, A, T)
    max_det = pe.maxDets[-1]
    out: List[Optional[dict]] = []
    for k, cat in enumerate(cat_ids):
        for a, rng in enumerate(pe.areaRng):
            for i, img in enumerate(img_ids):
                c = k * I + i
                g0, g1, d0, d1 = g_off[c], g_off[c + 1], d_off[c], d_off[c + 1]
                if g0 == g1 and d0 == d1:
                    out.append(None)
                    continue
                dm = dt_match[d0:d1, a, :].T
                gm = gt_match[a, g0:g1, :].T
                out.append({
                    "image_id": img,
                    "category_id": cat,
                    "aRng": rng,
                    "maxDet": max_det,
                    "dtIds": dt_id[dt_rows[d0:d1]].tolist(),
                    "gtIds": gt_id[gt_order[a, g0:g1]].tolist(),
                    "dtMatches": np.where(dm >= 0, gt_id[np.maximum(dm, 0)], 0).astype(np.float64),
                    "gtMatches": np.where(gm >= 0, dt_id[np.maximum(gm, 0)], 0).astype(np.float64),
                    "dtScores": det["dt_score"][d0:d1].tolist(),
                    "gtIgnore": gt_ig[a, g0:g1].astype(np.int64),
                    "dtIgnore": (status[d0:d1, a, :].T & 2) != 0,
                })
    return out
