"""``evaluate_coco``: COCO evaluation in one call, with a per-class table."""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional

import numpy as np

from detkit.eval.coco import COCO
from detkit.eval.cocoeval import COCOeval, summarize_eval

__all__ = ["COCOResult", "evaluate_coco"]

_STAT_NAMES = {
    "bbox": ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"],
    "keypoints": ["AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"],
}
_STAT_NAMES["segm"] = _STAT_NAMES["bbox"]


@dataclasses.dataclass
class COCOResult:
    """What :func:`evaluate_coco` returns.

    Attributes
    ----------
    stats : (12,) or (10,) ndarray of float64
        pycocotools' ``COCOeval.stats`` (bit-identical).
    metrics : dict of str to float
        ``stats`` by name (``AP``, ``AP50``, ..., ``ARl``).
    per_class : list of dict
        One row per category: ``category_id``, ``name``, ``AP`` (IoU 0.50:0.95), ``AP50``, ``AP75``
        and ``AR`` (at the largest maxDets), all for area "all"; NaN where the category has no
        ground truth (pycocotools' -1 cells).
    precision, recall, scores : ndarray
        ``COCOeval.eval`` arrays: (T, R, K, A, M), (T, K, A, M), (T, R, K, A, M).
    summary : str
        The summary lines exactly as pycocotools prints them.
    params : Params
    """

    stats: np.ndarray
    metrics: Dict[str, float]
    per_class: List[Dict[str, Any]]
    precision: np.ndarray
    recall: np.ndarray
    scores: np.ndarray
    summary: str
    params: Any

    def to_dict(self) -> Dict[str, Any]:
        """JSON-serialisable summary: metrics, per-class rows and the summary text."""
        def clean(v):
            return None if isinstance(v, float) and np.isnan(v) else v

        return {"metrics": dict(self.metrics),
                "per_class": [{k: clean(v) for k, v in row.items()} for row in self.per_class],
                "summary": self.summary, "iou_type": self.params.iouType}

    def __str__(self) -> str:
        return self.summary


def _mean_valid(values: np.ndarray) -> float:
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else float("nan")


def evaluate_coco(gt, dt, iou_type: str = "bbox", *, fix_zero_ids: bool = False,
                  use_ignore_flag: bool = False, **params) -> COCOResult:
    """Evaluates detections against COCO ground truth (bbox, segm or keypoints).

    Parameters
    ----------
    gt : str, os.PathLike, dict or COCO
        Ground truth: an instances/keypoints JSON file, its dict, or a :class:`COCO`.
    dt : str, os.PathLike, list of dict, (N, 7) ndarray or COCO
        Results: a JSON file, result records, rows ``[image_id, x, y, w, h, score, category_id]``,
        or an already loaded result :class:`COCO`.
    iou_type : {"bbox", "segm", "keypoints"}
    fix_zero_ids, use_ignore_flag : bool
        Opt-in fixes of pycocotools behaviour (see :class:`COCOeval`).
    **params
        Any :class:`Params` attribute: ``imgIds``, ``catIds``, ``iouThrs``, ``recThrs``, ``maxDets``,
        ``areaRng``, ``areaRngLbl``, ``useCats``, ``kpt_oks_sigmas``.

    Returns
    -------
    COCOResult

    Examples
    --------
    >>> gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "cat"}],
    ...       "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
    ...                        "bbox": [10, 10, 40, 40], "area": 1600, "iscrowd": 0}]}
    >>> res = evaluate_coco(gt, [{"image_id": 1, "category_id": 1, "bbox": [12, 10, 40, 40],
    ...                           "score": 0.8}])
    >>> round(res.metrics["AP50"], 3), res.per_class[0]["name"]
    (1.0, 'cat')
    >>> print(res.summary.splitlines()[0])
     Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.900
    """
    if iou_type not in _STAT_NAMES:
        raise ValueError(f"iou_type must be 'bbox', 'segm' or 'keypoints', got {iou_type!r}")
    coco_gt = gt if isinstance(gt, COCO) else COCO(gt)
    coco_dt = dt if isinstance(dt, COCO) else coco_gt.loadRes(dt)
    E = COCOeval(coco_gt, coco_dt, iou_type, fix_zero_ids=fix_zero_ids, use_ignore_flag=use_ignore_flag)
    for name, value in params.items():
        if not hasattr(E.params, name) or name.startswith("_"):
            raise ValueError(f"unknown evaluation parameter {name!r}")
        setattr(E.params, name, value)
    E.evaluate()
    E.accumulate()
    stats, lines = summarize_eval(E.eval, E.params)
    p = E.params
    precision, recall = E.eval["precision"], E.eval["recall"]
    per_class = []
    cat_ids = p.catIds if p.useCats else [-1]
    t50 = np.flatnonzero(np.asarray(p.iouThrs) == 0.5)
    t75 = np.flatnonzero(np.asarray(p.iouThrs) == 0.75)
    for k, cat_id in enumerate(cat_ids):
        info = coco_gt.cats.get(cat_id, {}) if cat_id != -1 else {}
        per_class.append({
            "category_id": cat_id,
            "name": info.get("name", str(cat_id)),
            "AP": _mean_valid(precision[:, :, k, 0, -1]),
            "AP50": _mean_valid(precision[t50, :, k, 0, -1]),
            "AP75": _mean_valid(precision[t75, :, k, 0, -1]),
            "AR": _mean_valid(recall[:, k, 0, -1]),
        })
    names = _STAT_NAMES[iou_type]
    return COCOResult(stats=stats, metrics={n: float(v) for n, v in zip(names, stats)}, per_class=per_class,
                      precision=precision, recall=recall, scores=E.eval["scores"], summary="\n".join(lines),
                      params=p)
