"""Evaluation: detection metrics and proposal quality."""

from detkit.eval.proposals import average_best_overlap, average_recall, best_overlaps, proposal_recall  # noqa: F401
"""Evaluation: COCO-style RLE masks (:mod:`detkit.eval.mask`, a drop-in for ``pycocotools.mask``)."""

from detkit.eval import mask
