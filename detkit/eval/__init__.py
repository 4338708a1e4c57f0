"""Evaluation: COCO-style RLE masks (:mod:`detkit.eval.mask`, a drop-in for ``pycocotools.mask``) and
Pascal VOC detection AP (:func:`evaluate_voc`)."""

from detkit.eval import mask
from detkit.eval.voc import VOCResult, evaluate_voc, voc_ap
