"""COCO and Pascal VOC evaluation."""

from detkit.eval.coco import COCO
from detkit.eval.cocoeval import COCOeval, Params
