"""Evaluation: COCO-style RLE masks (:mod:`detkit.eval.mask`, a drop-in for ``pycocotools.mask``)."""

from detkit.eval import mask
