"""Evaluation: COCO (a drop-in for pycocotools), RLE masks, Pascal VOC and proposal quality.

- :class:`COCO`, :class:`COCOeval`, :class:`Params`: the pycocotools API over native kernels;
  :func:`evaluate_coco` -> :class:`COCOResult`, the functional form.
- :mod:`detkit.eval.mask`: RLE masks, a drop-in for ``pycocotools.mask``.
- :func:`evaluate_voc` -> :class:`VOCResult`: Pascal VOC AP (07 11-point and all-point).
- :func:`proposal_recall`, :func:`average_best_overlap`, :func:`average_recall`: proposal quality.
"""

from detkit.eval import mask
from detkit.eval.coco import COCO
from detkit.eval.cocoeval import COCOeval, Params
from detkit.eval.functional import COCOResult, evaluate_coco
from detkit.eval.proposals import average_best_overlap, average_recall, best_overlaps, proposal_recall
from detkit.eval.voc import VOCResult, evaluate_voc, voc_ap

__all__ = [
    "COCO",
    "COCOeval",
    "Params",
    "COCOResult",
    "evaluate_coco",
    "mask",
    "VOCResult",
    "evaluate_voc",
    "voc_ap",
    "proposal_recall",
    "average_best_overlap",
    "average_recall",
    "best_overlaps",
]
