"""Evaluation: COCO (a drop-in for pycocotools), RLE masks, Pascal VOC and proposal quality.

- :class:`COCO`, :class:`COCOeval`, :class:`Params`: the pycocotools API over native kernels.
- :mod:`detkit.eval.mask`: RLE masks, a drop-in for ``pycocotools.mask``.
- :func:`proposal_recall`, :func:`average_best_overlap`, :func:`average_recall`: proposal quality.
"""

from detkit.eval import mask
from detkit.eval.coco import COCO
from detkit.eval.cocoeval import COCOeval, Params
from detkit.eval.proposals import average_best_overlap, average_recall, best_overlaps, proposal_recall

__all__ = [
    "COCO",
    "COCOeval",
    "Params",
    "mask",
    "proposal_recall",
    "average_best_overlap",
    "average_recall",
    "best_overlaps",
]
