"""COCO and Pascal VOC evaluation."""

from detkit.eval.coco import COCO
from detkit.eval.cocoeval import COCOeval, Params
from detkit.eval.functional import COCOResult, evaluate_coco
