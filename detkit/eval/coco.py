"""``COCO``: the pycocotools dataset API over columnar storage.

Code written for ``pycocotools.coco.COCO`` runs unchanged: ``dataset``, ``anns``, ``imgs``, ``cats``,
``imgToAnns``, ``catToImgs``, ``getAnnIds``/``getCatIds``/``getImgIds``, ``loadAnns``/``loadCats``/
``loadImgs``, ``loadRes`` (file name, list of dicts or (N, 7) array), ``annToRLE``/``annToMask``.

Difference in cost, not in behaviour: a COCO built from a *file* reads only the columns evaluation
needs (ids, boxes, areas, crowd flags, keypoints, segmentations, image sizes) with a native JSON
scanner, and segm evaluation converts its polygons and RLEs natively; the nested dicts
(``dataset``, ``anns``...) are built from the file the first time they are accessed. Once they have
been accessed they are the source of truth again (edits to them are seen by the evaluation).
``loadRes`` of a list of box or keypoint result dicts works the same way: the list is read into
columns, and completed in place (``id``, ``area``...) as pycocotools' ``loadRes`` does only when
the result set's dicts are first accessed. A COCO built from a dict (and a list of mask results)
always reads the dicts.

Result files (``loadRes``) follow pycocotools: the record kind is decided by the first record
(``bbox`` -> area = w * h, a box polygon as segmentation when absent; ``segmentation`` -> area and
bbox from the mask; ``keypoints`` -> area and bbox from the keypoints' extent); ids are 1..N and
``iscrowd`` is 0. Deliberate differences, all raising ``ValueError`` with the record index where
pycocotools crashes or silently computes garbage: an empty result list gives an empty result set
(every AP/AR is 0 where there are ground truths); unknown image ids, missing/NaN/infinite scores,
missing or non-finite boxes and boxes with negative width or height are rejected. Detections of
category ids absent from the ground truth are kept but never evaluated (as in pycocotools); a
``UserWarning`` says how many there are.
"""

from __future__ import annotations

import copy
import itertools
import json
import operator
import os
import warnings
from collections import defaultdict
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from detkit import _C, _cy_mask, _cy_results

__all__ = ["COCO"]


def _is_array_like(obj: Any) -> bool:
    return hasattr(obj, "__iter__") and hasattr(obj, "__len__")


def _read_bytes(path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _parse_file(path, parser):
    """Columns from the native scanner reading the file through a memory map (no copy), or None
    when the scanner does not handle the content (the caller then uses the json module)."""
    import mmap

    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return None
        # Pages are mapped as the scanner reaches them (not populated up front) and dropped once
        # read (a read-only shared mapping allows it): the file is never resident in full.
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as view:
            return parser(view, release_parsed_pages=True)


def _first_occurrence_unique(values: np.ndarray) -> np.ndarray:
    """Unique values in order of first occurrence (dict key order)."""
    if len(values) == 0:
        return values
    _, first = np.unique(values, return_index=True)
    return values[np.sort(first)]


class COCO:
    """The COCO dataset API (a drop-in for ``pycocotools.coco.COCO``).

    Parameters
    ----------
    annotation_file : str or os.PathLike or dict, optional
        An instances/keypoints JSON file, or an already loaded dataset dict (kept by reference).

    Examples
    --------
    >>> from detkit.eval import COCO
    >>> gt = COCO({"images": [{"id": 1}], "categories": [{"id": 3, "name": "car"}],
    ...            "annotations": [{"id": 7, "image_id": 1, "category_id": 3,
    ...                             "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0}]})
    >>> gt.getAnnIds(imgIds=[1]), gt.getCatIds(catNms=["car"])
    ([7], [3])
    >>> dt = gt.loadRes([{"image_id": 1, "category_id": 3, "bbox": [1, 1, 10, 10], "score": 0.9}])
    >>> dt.loadAnns(1)[0]["area"]
    100
    """

    def __init__(self, annotation_file=None):
        self._dataset: Optional[dict] = None
        self._index: Optional[dict] = None
        self._columns: Optional[Dict[str, Any]] = None  # parsed columns (file mode only)
        self._materialize = None  # callable building the dataset dict in file mode
        if annotation_file is None:
            self._dataset = {}
        elif isinstance(annotation_file, dict):
            self._dataset = annotation_file
        elif isinstance(annotation_file, (str, bytes, os.PathLike)):
            cols = _parse_file(annotation_file, _C.coco_parse_instances)
            if cols is None:
                dataset = json.loads(_read_bytes(annotation_file))
                if not isinstance(dataset, dict):
                    raise ValueError(f"annotation_file must hold a JSON object, got {type(dataset).__name__}")
                self._dataset = dataset
            else:
                self._columns = cols
                self._materialize = _Loader(annotation_file)
        else:
            raise TypeError(f"annotation_file must be a path or a dict, got {type(annotation_file).__name__}")

    # ------------------------------------------------------------------ dicts (pycocotools API)
    @property
    def dataset(self) -> dict:
        if self._dataset is None:
            self._dataset = self._materialize()
            self._columns = None
        return self._dataset

    @dataset.setter
    def dataset(self, value: dict) -> None:
        self._dataset = value
        self._columns = None
        self._index = None

    def createIndex(self) -> None:
        """Builds ``anns``, ``imgs``, ``cats``, ``imgToAnns`` and ``catToImgs`` from ``dataset``."""
        ds = self.dataset
        anns, cats, imgs = {}, {}, {}
        img_to_anns, cat_to_imgs = defaultdict(list), defaultdict(list)
        for ann in ds.get("annotations", []):
            img_to_anns[ann["image_id"]].append(ann)
            anns[ann["id"]] = ann
        for img in ds.get("images", []):
            imgs[img["id"]] = img
        for cat in ds.get("categories", []):
            cats[cat["id"]] = cat
        if "annotations" in ds and "categories" in ds:
            for ann in ds["annotations"]:
                cat_to_imgs[ann["category_id"]].append(ann["image_id"])
        self._index = {"anns": anns, "imgs": imgs, "cats": cats, "imgToAnns": img_to_anns,
                       "catToImgs": cat_to_imgs}

    def _get_index(self, name: str):
        if self._index is None:
            self.createIndex()
        return self._index[name]

    def _set_index(self, name: str, value) -> None:
        if self._index is None:
            self.createIndex()
        self._index[name] = value

    anns = property(lambda self: self._get_index("anns"), lambda self, v: self._set_index("anns", v))
    imgs = property(lambda self: self._get_index("imgs"), lambda self, v: self._set_index("imgs", v))
    cats = property(lambda self: self._get_index("cats"), lambda self, v: self._set_index("cats", v))
    imgToAnns = property(lambda self: self._get_index("imgToAnns"),
                         lambda self, v: self._set_index("imgToAnns", v))
    catToImgs = property(lambda self: self._get_index("catToImgs"),
                         lambda self, v: self._set_index("catToImgs", v))

    def info(self) -> None:
        for key, value in self.dataset["info"].items():
            print(f"{key}: {value}")

    def getAnnIds(self, imgIds=[], catIds=[], areaRng=[], iscrowd=None) -> List[int]:  # noqa: B006
        """Ids of annotations on the given images, of the given categories, strictly inside the
        given area range and with the given crowd flag (an empty filter keeps everything)."""
        imgIds = imgIds if _is_array_like(imgIds) else [imgIds]
        catIds = catIds if _is_array_like(catIds) else [catIds]
        if len(imgIds) == len(catIds) == len(areaRng) == 0:
            anns = self.dataset["annotations"]
        else:
            if len(imgIds):
                index = self.imgToAnns
                anns = list(itertools.chain.from_iterable(index[i] for i in imgIds if i in index))
            else:
                anns = self.dataset["annotations"]
            if len(catIds):
                anns = [a for a in anns if a["category_id"] in catIds]
            if len(areaRng):
                anns = [a for a in anns if areaRng[0] < a["area"] < areaRng[1]]
        if iscrowd is not None:
            return [a["id"] for a in anns if a["iscrowd"] == iscrowd]
        return [a["id"] for a in anns]

    def getCatIds(self, catNms=[], supNms=[], catIds=[]) -> List[int]:  # noqa: B006
        """Ids of categories with the given names, supercategories and ids (file order)."""
        catNms = catNms if _is_array_like(catNms) else [catNms]
        supNms = supNms if _is_array_like(supNms) else [supNms]
        catIds = catIds if _is_array_like(catIds) else [catIds]
        if len(catNms) == len(supNms) == len(catIds) == 0 and self._dataset is None:
            return self._eval_columns()["category_ids"].tolist()
        cats = self.dataset["categories"]
        if len(catNms):
            cats = [c for c in cats if c["name"] in catNms]
        if len(supNms):
            cats = [c for c in cats if c["supercategory"] in supNms]
        if len(catIds):
            cats = [c for c in cats if c["id"] in catIds]
        return [c["id"] for c in cats]

    def getImgIds(self, imgIds=[], catIds=[]) -> List[int]:  # noqa: B006
        """Ids of the given images that contain every given category (all images by default)."""
        imgIds = imgIds if _is_array_like(imgIds) else [imgIds]
        catIds = catIds if _is_array_like(catIds) else [catIds]
        if len(imgIds) == len(catIds) == 0:
            if self._dataset is None:
                return self._eval_columns()["image_ids"].tolist()
            return list(self.imgs.keys())
        ids = set(imgIds)
        for i, cat_id in enumerate(catIds):
            if i == 0 and len(ids) == 0:
                ids = set(self.catToImgs[cat_id])
            else:
                ids &= set(self.catToImgs[cat_id])
        return list(ids)

    def _load(self, table: dict, ids) -> list:
        if _is_array_like(ids):
            return [table[i] for i in ids]
        if isinstance(ids, (int, np.integer)):
            return [table[ids]]
        return []

    def loadAnns(self, ids=[]) -> List[dict]:  # noqa: B006
        return self._load(self.anns, ids)

    def loadCats(self, ids=[]) -> List[dict]:  # noqa: B006
        return self._load(self.cats, ids)

    def loadImgs(self, ids=[]) -> List[dict]:  # noqa: B006
        return self._load(self.imgs, ids)

    # ------------------------------------------------------------------ masks
    def annToRLE(self, ann: dict) -> dict:
        """The annotation's segmentation as a compressed RLE (polygons merged, uncompressed RLE
        compressed), using the image's height and width."""
        from detkit.eval import mask as mask_utils

        img = self.imgs[ann["image_id"]]
        h, w = img["height"], img["width"]
        segm = ann["segmentation"]
        if isinstance(segm, list):
            return mask_utils.merge(mask_utils.frPyObjects(segm, h, w))
        if isinstance(segm["counts"], list):
            return mask_utils.frPyObjects(segm, h, w)
        return segm

    def annToMask(self, ann: dict) -> np.ndarray:
        """The annotation's segmentation as an (H, W) uint8 mask."""
        from detkit.eval import mask as mask_utils

        return mask_utils.decode(self.annToRLE(ann))

    # ------------------------------------------------------------------ results
    def loadNumpyAnnotations(self, data: np.ndarray) -> List[dict]:
        """Result dicts from an (N, 7) array of rows ``[image_id, x, y, w, h, score, category_id]``."""
        data = np.asarray(data)
        if data.ndim != 2 or data.shape[1] != 7:
            raise ValueError(f"data must have shape (N, 7), got {data.shape}")
        return [{"image_id": int(r[0]), "bbox": [r[1], r[2], r[3], r[4]], "score": r[5],
                 "category_id": int(r[6])} for r in data]

    def loadRes(self, resFile) -> "COCO":
        """Loads detection results (JSON file name, list of dicts or (N, 7) array) against this
        ground truth; see the module docstring for the rules and the errors."""
        if isinstance(resFile, (str, bytes, os.PathLike)):
            cols = _parse_file(resFile, _C.coco_parse_results)
            if cols is not None and self._fast_results_ok(cols):
                res = self._results_from_columns(cols, _Loader(resFile, self), from_json_file=True)
                if res is not None:
                    return res
            anns = json.loads(_read_bytes(resFile))
        elif isinstance(resFile, np.ndarray):
            arr = np.asarray(resFile, dtype=np.float64)
            if arr.ndim != 2 or arr.shape[1] != 7:
                raise ValueError(f"resFile array must have shape (N, 7), got {arr.shape}")
            cols = {"image_id": arr[:, 0].astype(np.int64), "category_id": arr[:, 6].astype(np.int64),
                    "bbox": np.ascontiguousarray(arr[:, 1:5]), "score": arr[:, 5].copy()}
            return self._results_from_columns(cols, _Loader(None, self, resFile))
        else:
            anns = resFile
        if not isinstance(anns, list):
            raise ValueError(f"results must be a list of objects, got {type(anns).__name__}")
        cols = _result_columns_of_dicts(anns)  # box and keypoint results: columns, dicts completed later
        if cols is not None and self._fast_results_ok(cols):
            res = self._results_from_columns(cols, _Loader(None, self, anns=anns))
            if res is not None:
                return res
        return self._results_from_dicts(anns)

    def _result_header(self) -> dict:
        ds = self.dataset
        return {"info": copy.deepcopy(ds.get("info", {})), "images": list(ds.get("images", []))}

    @staticmethod
    def _fast_results_ok(cols: dict) -> bool:
        """Box records, mask records (compressed RLEs) without boxes or keypoint records without
        either, the branches of pycocotools' loadRes in its order (decided by the first record)."""
        n = len(cols["image_id"])
        if n == 0:
            return False
        if cols["has_bbox"][0]:
            return bool(cols["has_bbox"].all())
        kind = cols["segmentation"]["kind"]
        if kind[0] != _cy_mask.SEGM_ABSENT:
            return bool((kind == _cy_mask.SEGM_RLE_STRING).all())
        return "keypoints" in cols and bool(cols["has_keypoints"].all())

    def _results_from_columns(self, cols: dict, load_dicts, from_json_file: bool = False) -> "COCO":
        """A result COCO in column mode, with areas and boxes as pycocotools' loadRes computes
        them: box records (area = w * h), mask records (area and missing boxes from the mask)
        or keypoint records (box and area from the keypoints' extent). None when a mask, or a
        keypoint list without an (x, y) pair, needs the general path (the caller then reads the
        dicts). ``from_json_file``: the columns are the native scanner's (JSON numbers, so finite)."""
        n = len(cols["image_id"])
        gt = self._eval_columns()
        kind = "bbox" if "has_bbox" not in cols or cols["has_bbox"][0] else \
            "segm" if cols["segmentation"]["kind"][0] else "keypoints"
        rle = cols.get("segmentation", {}).get("rle")  # masks of result dicts, already parsed
        extra = {} if rle is None else {"rle": rle}
        if kind == "bbox":
            area = cols["bbox"][:, 2] * cols["bbox"][:, 3]
        elif kind == "segm":
            from detkit.eval._segm import native_rles, rle_geometry

            converted = native_rles(cols, np.arange(n)) if rle is None else (rle, rle_geometry(rle))
            if converted is None:
                return None
            extra["rle"], extra["rle_geometry"] = converted
            boxes, areas = converted[1]
            area = areas.astype(np.float64)
            has = cols["has_bbox"].astype(bool)[:, None]
            cols = dict(cols, bbox=np.where(has, cols["bbox"], boxes))
        else:
            if cols["keypoints"].ndim != 2 or cols["keypoints"].shape[1] < 2:
                return None  # no (x, y) pair: the dict path fails as pycocotools does
            boxes, area = _C.keypoint_boxes(cols["keypoints"])
            cols = dict(cols, bbox=boxes)
        _check_result_columns(cols, gt, require_box=kind == "bbox")
        res = COCO.__new__(COCO)
        res._dataset = None
        res._index = None
        res._columns = {
            "image_id": cols["image_id"], "category_id": cols["category_id"], "bbox": cols["bbox"],
            "score": cols["score"], "area": area,
            # results have no crowd, ignore or num_keypoints values: zeros and NaNs that take no
            # memory until read (a result COCO used as ground truth)
            "id": np.arange(1, n + 1, dtype=np.int64), "iscrowd": np.zeros(n),
            "ignore": np.zeros(n), "num_keypoints": np.broadcast_to(np.float64(np.nan), (n,)),
            "category_ids_gt": gt["category_ids"], "image_ids_gt": gt["image_ids"],
            "ids_unique": True, **extra,
            # box results were checked finite above, keypoints read from a JSON file are numbers:
            # evaluation need not look for NaN in them again
            "bbox_finite": kind == "bbox", "keypoints_finite": from_json_file and kind == "keypoints",
        }
        if "keypoints" in cols:
            res._columns["keypoints"] = cols["keypoints"]
        # the scanner's segmentations are kept for box results that have some (their masks are
        # drawn when needed) and for mask results read from a file (their compressed strings: the
        # decoded RLE table is released by the first evaluation, see _segm._rle_table)
        seg = cols.get("segmentation")
        if seg is not None and rle is None and (seg["kind"] != _cy_mask.SEGM_ABSENT).any():
            res._columns["segmentation"] = seg
        if "image_sizes" in gt:  # polygons in results are drawn on the ground truth's images
            res._columns["image_sizes"] = gt["image_sizes"]
        res._materialize = load_dicts
        return res

    def _results_from_dicts(self, anns: List[dict]) -> "COCO":
        res = COCO()
        res.dataset.update(self._result_header())
        if len(anns) == 0:
            res.dataset["categories"] = copy.deepcopy(self.dataset.get("categories", []))
            res.dataset["annotations"] = []
            return res
        gt_images = set(self.getImgIds())
        if not all(type(ann) is dict and ann.get("image_id") in gt_images for ann in anns):
            for i, ann in enumerate(anns):  # name the first bad record
                if not isinstance(ann, dict):
                    raise ValueError(f"results[{i}] must be an object, got {type(ann).__name__}")
                if "image_id" not in ann:
                    raise ValueError(f"results[{i}] has no 'image_id'")
                if ann["image_id"] not in gt_images:
                    raise ValueError(f"results[{i}] has image_id {ann['image_id']!r}, which is not in the ground truth")
        first = anns[0]
        if "caption" in first:
            ids = gt_images & {a["image_id"] for a in anns}
            res.dataset["images"] = [img for img in res.dataset["images"] if img["id"] in ids]
            for i, ann in enumerate(anns):
                ann["id"] = i + 1
        elif "bbox" in first and not first["bbox"] == []:
            res.dataset["categories"] = copy.deepcopy(self.dataset["categories"])
            _checked_boxes(anns)
            for i, ann in enumerate(anns):  # from the given numbers: ints stay ints, as pycocotools
                bb = ann["bbox"]
                x1, x2, y1, y2 = bb[0], bb[0] + bb[2], bb[1], bb[1] + bb[3]
                if "segmentation" not in ann:
                    ann["segmentation"] = [[x1, y1, x1, y2, x2, y2, x2, y1]]
                ann["area"] = bb[2] * bb[3]
                ann["id"] = i + 1
                ann["iscrowd"] = 0
        elif "segmentation" in first:
            from detkit.eval import mask as mask_utils

            res.dataset["categories"] = copy.deepcopy(self.dataset["categories"])
            areas, boxes = _rle_areas_and_boxes(anns, mask_utils)
            for i, ann in enumerate(anns):
                ann["area"] = areas[i] if areas is not None else mask_utils.area(ann["segmentation"])
                if "bbox" not in ann:
                    ann["bbox"] = boxes[i] if boxes is not None else mask_utils.toBbox(ann["segmentation"])
                ann["id"] = i + 1
                ann["iscrowd"] = 0
        elif "keypoints" in first:
            res.dataset["categories"] = copy.deepcopy(self.dataset["categories"])
            for i, ann in enumerate(anns):
                s = ann["keypoints"]
                x, y = s[0::3], s[1::3]
                x0, x1, y0, y1 = np.min(x), np.max(x), np.min(y), np.max(y)
                ann["area"] = (x1 - x0) * (y1 - y0)
                ann["id"] = i + 1
                ann["bbox"] = [x0, y0, x1 - x0, y1 - y0]
        else:
            raise ValueError("results[0] has none of 'bbox', 'segmentation', 'keypoints', 'caption'")
        known = {c["id"] for c in self.dataset.get("categories", [])}
        unknown = [a["category_id"] for a in anns if a.get("category_id") not in known]
        if unknown and "categories" in res.dataset:
            _warn_unknown_categories(len(unknown), unknown[0])
        res.dataset["annotations"] = anns  # the index (anns, imgToAnns...) is built when first used
        return res

    # ------------------------------------------------------------------ columns for evaluation
    def _eval_columns(self) -> Dict[str, Any]:
        """Flat arrays of every annotation (file order) plus image and category ids."""
        if self._dataset is None:
            cols = self._columns
            if "image_ids_gt" in cols:  # result set: images/categories are the ground truth's
                return {**cols, "image_ids": cols["image_ids_gt"], "category_ids": cols["category_ids_gt"]}
            return {**cols, "image_ids": _first_occurrence_unique(cols["image_id"]),
                    "category_ids": cols["category_id"], "image_id": cols["ann_image_id"],
                    "category_id": cols["ann_category_id"], "ids_unique": None,
                    "image_sizes": (cols["image_id"], cols["image_height"], cols["image_width"])}
        return _columns_from_dicts(self.dataset)


class _Loader:
    """Builds a column-mode COCO's dataset dict on first access (a class, so COCO objects pickle):
    the JSON file itself, or for results the pycocotools ``loadRes`` dicts of a file, an array or
    a list of result dicts (completed in place then, as pycocotools does in ``loadRes``)."""

    def __init__(self, path, gt: Optional["COCO"] = None, array: Optional[np.ndarray] = None,
                 anns: Optional[List[dict]] = None):
        self.path, self.gt, self.array, self.anns = path, gt, array, anns

    def __call__(self) -> dict:
        if self.gt is None:
            return json.loads(_read_bytes(self.path))
        if self.array is not None:
            anns = self.gt.loadNumpyAnnotations(self.array)
        elif self.anns is not None:
            anns = self.anns
        else:
            anns = json.loads(_read_bytes(self.path))
        return self.gt._results_from_dicts(anns).dataset


_NO_BOX = (float("nan"),) * 4


def _result_columns_of_dicts(anns: list) -> Optional[Dict[str, Any]]:
    """The native scanner's result columns for a list of box, mask (compressed RLE) or keypoint
    result dicts (integer ids, numeric fields; masks as an RLE table), or None for anything else:
    other shapes and bad records take the dict path, which also names the bad record. Plain box
    and keypoint records are read by one Cython pass; the rest by _general_result_columns."""
    cols = _cy_results.result_columns(anns)
    return cols if cols is not None else _general_result_columns(anns)


def _general_result_columns(anns: list) -> Optional[Dict[str, Any]]:
    """_result_columns_of_dicts for any shape. Every pass over the records is a C-level ``map``
    (a Python loop per field would cost more than the evaluation); a field present in every
    record (the usual case) takes one pass."""
    n = len(anns)
    if n == 0 or set(map(type, anns)) != {dict}:
        return None

    def has(key: str) -> np.ndarray:
        return np.fromiter(map(operator.contains, anns, itertools.repeat(key)), dtype=bool, count=n)

    def field(key: str) -> Optional[list]:  # every record's value, or None when one lacks it
        try:
            return list(map(operator.itemgetter(key), anns))
        except KeyError:
            return None

    def any_has(key: str) -> bool:
        return any(map(operator.contains, anns, itertools.repeat(key)))

    segmentation = {"kind": np.zeros(n, np.uint8)}
    masks = any_has("segmentation")
    if masks:  # compressed RLEs only, read here into an RLE table
        segs = field("segmentation")
        if segs is None or set(map(type, segs)) != {dict} or \
                not {type(seg.get("counts")) for seg in segs} <= {str, bytes}:
            return None
        try:
            rle = _cy_mask.parse(segs, "segmentation")
        except (TypeError, ValueError, KeyError):
            return None
        segmentation = {"kind": np.full(n, _cy_mask.SEGM_RLE_STRING, np.uint8), "rle": rle}
    image_ids, category_ids, scores = field("image_id"), field("category_id"), field("score")
    if image_ids is None or category_ids is None:
        return None
    all_present = np.ones(n, dtype=bool)
    try:
        image_id = _int_ids(image_ids, "result image")
        category_id = _int_ids(category_ids, "result category")
        score = _float_column(scores if scores is not None else
                              list(map(operator.methodcaller("get", "score"), anns)), _number)
    except (TypeError, ValueError):
        return None
    cols = {"image_id": image_id, "category_id": category_id, "score": score,
            "has_score": all_present if scores is not None else has("score"), "segmentation": segmentation}
    for key in ("bbox", "keypoints"):
        rows = field(key)
        present = all_present if rows is not None else has(key) if key == "bbox" or any_has(key) else None
        cols["has_" + key] = present if present is not None else np.zeros(n, dtype=bool)
        if rows is None:
            if present is None or not present.any():
                if key == "bbox":
                    cols[key] = np.full((n, 4), np.nan)
                continue
            if key != "bbox" or not masks:  # only mask results may lack boxes (they get the mask's)
                return None
            rows = [a.get(key, _NO_BOX) for a in anns]
        width = len(rows[0]) if hasattr(rows[0], "__len__") else -1
        if (key == "bbox" and width != 4) or width < 0 or set(map(len, rows)) != {width}:
            return None
        try:
            values = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.float64, count=n * width)
        except (TypeError, ValueError):
            return None
        cols[key] = values.reshape(n, width)
    return cols


def _rle_areas_and_boxes(anns: List[dict], mask_utils) -> tuple:
    """Areas and boxes of every result's RLE in one call each (the same values as one call per
    record), or (None, None) when a segmentation is not an RLE dict or a call fails: the caller
    then goes record by record, which also names the bad record."""
    segs = [ann["segmentation"] for ann in anns]
    if not all(isinstance(seg, dict) for seg in segs):
        return None, None
    try:
        return mask_utils.area(segs), mask_utils.toBbox(segs)
    except (ValueError, TypeError):
        return None, None


def _checked_boxes(anns: List[dict]) -> np.ndarray:
    """(N, 4) float64 boxes of box results; ValueError naming the first record without a finite
    [x, y, w, h] or with a negative width or height."""
    boxes = [ann.get("bbox") for ann in anns]
    try:
        arr = np.array(boxes, dtype=np.float64)
    except (TypeError, ValueError):  # ragged, missing or non-numeric: found record by record below
        arr = None
    if arr is None or arr.shape != (len(anns), 4):
        for i, bb in enumerate(boxes):
            if bb is None or not hasattr(bb, "__len__") or len(bb) != 4:
                raise ValueError(f"results[{i}] needs 'bbox' as [x, y, w, h], got {bb!r}")
            try:
                np.array(bb, dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"results[{i}] needs 'bbox' as [x, y, w, h] of numbers, got {bb!r}") from None
        raise ValueError("results need 'bbox' as [x, y, w, h]")  # pragma: no cover - found above
    _check_box_rows(arr, boxes)
    return arr


def _check_box_rows(bbox: np.ndarray, given: Optional[list] = None) -> None:
    """ValueError naming the first result whose (x, y, w, h) row is not finite or has a negative
    width or height, shown as given (or as the row)."""
    def bad(rows: np.ndarray, problem: str) -> None:
        if rows.any():
            i = int(np.flatnonzero(rows)[0])
            raise ValueError(f"results[{i}] has {problem} {given[i] if given is not None else bbox[i].tolist()!r}")

    if _C.first_invalid_box(np.ascontiguousarray(bbox, dtype=np.float64).reshape(-1, 4), False) < 0:
        return  # the usual case, one native pass (the row-wise reductions below cost ten times more)
    bad(~np.isfinite(bbox).all(axis=1), "a non-finite bbox")
    bad((bbox[:, 2:] < 0).any(axis=1), "a negative width or height in bbox")


def _check_result_columns(cols: dict, gt: dict, require_box: bool) -> None:
    """Raises ValueError naming the first bad record; warns about unknown categories."""
    def first_bad(mask: np.ndarray) -> int:
        return int(np.flatnonzero(mask)[0])

    if "has_score" in cols and not cols["has_score"].all():
        raise ValueError(f"results[{first_bad(~cols['has_score'].astype(bool))}] has no 'score'")
    score = cols["score"]
    if _C.first_non_finite(np.ascontiguousarray(score, dtype=np.float64)) >= 0:
        i = first_bad(~np.isfinite(score))
        raise ValueError(f"results[{i}] has a non-finite score {score[i]!r}; scores must be finite")
    if require_box:
        _check_box_rows(cols["bbox"])
    from detkit.eval.cocoeval import _positions

    known = _positions(cols["image_id"], gt["image_ids"]) >= 0  # (any id order: a position or -1)
    if not known.all():
        i = first_bad(~known)
        raise ValueError(f"results[{i}] has image_id {int(cols['image_id'][i])}, which is not in the ground truth")
    cats = _positions(cols["category_id"], gt["category_ids"]) >= 0
    if not cats.all():
        _warn_unknown_categories(int((~cats).sum()), int(cols["category_id"][~cats][0]))


def _warn_unknown_categories(count: int, example) -> None:
    warnings.warn(f"{count} results have category ids absent from the ground truth (e.g. {example!r}); "
                  "they are not evaluated", UserWarning, stacklevel=4)


_INT_TYPES = (int, np.integer)


def _int_ids(values: list, what: str) -> np.ndarray:
    """int64 ids; ValueError naming the first id that is not an integer (e.g. the string "2299")."""
    types = set(map(type, values))
    if all(issubclass(t, _INT_TYPES) and t is not bool and t is not np.bool_ for t in types):
        return np.fromiter(values, dtype=np.int64, count=len(values))
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, _INT_TYPES):
            raise ValueError(f"{what} ids must be integers, got {v!r} ({type(v).__name__}) at index {i}")
    return np.array(values, dtype=np.int64)  # pragma: no cover - a bad id is found above


def _float_column(values: list, convert) -> np.ndarray:
    """float64 array of values (None -> NaN), converted one by one by ``convert`` only when numpy
    cannot take the list whole (e.g. a nested list, which then raises there)."""
    if all(t in _PLAIN_NUMBERS for t in set(map(type, values))):
        return np.array(values, dtype=np.float64) if None in values else \
            np.fromiter(values, dtype=np.float64, count=len(values))
    return np.array([convert(v) for v in values], dtype=np.float64)


_PLAIN_NUMBERS = {int, float, bool, type(None), np.float64, np.float32, np.int64, np.int32, np.uint32, np.uint8}


def _number(v) -> float:
    return float("nan") if v is None else float(v)


def _flag(v) -> float:
    return float(bool(v))


def _columns_from_dicts(ds: dict) -> Dict[str, Any]:
    anns = ds.get("annotations", [])
    n = len(anns)
    boxes = [a.get("bbox") for a in anns]
    try:
        bbox = np.array(boxes, dtype=np.float64) if n else np.full((0, 4), np.nan)
    except (TypeError, ValueError):  # missing or odd boxes: row by row (NaN where unusable)
        bbox = None
    if bbox is None or bbox.shape != (n, 4):
        bbox = np.full((n, 4), np.nan)
        for i, bb in enumerate(boxes):
            if bb is not None and len(bb) == 4:
                bbox[i] = bb
    crowd = [a.get("iscrowd", 0) for a in anns]
    ignore = [a.get("ignore", 0) for a in anns]
    cols = {
        "image_id": _int_ids([a["image_id"] for a in anns], "annotation image"),
        "category_id": _int_ids([a["category_id"] for a in anns], "annotation category"),
        "id": _int_ids([a["id"] for a in anns], "annotation"),
        "bbox": bbox,
        "area": _float_column([a.get("area") for a in anns], _number),
        "score": _float_column([a.get("score") for a in anns], _number),
        "has_score": np.array(["score" in a for a in anns], dtype=bool),
        # bool(v) of each flag: None is False, NaN is True
        "iscrowd": np.array([_flag(v) for v in crowd]) if None in crowd else (_float_column(crowd, _flag) != 0) * 1.0,
        "has_iscrowd": np.array(["iscrowd" in a for a in anns], dtype=bool),
        "ignore": np.array([_flag(v) for v in ignore]) if None in ignore else (_float_column(ignore, _flag) != 0) * 1.0,
        "num_keypoints": _float_column([a.get("num_keypoints") for a in anns], _number),
        "image_ids": _int_ids(list(dict.fromkeys(img["id"] for img in ds.get("images", []))), "image"),
        "category_ids": _int_ids([c["id"] for c in ds.get("categories", [])], "category"),
        "ids_unique": None,
        "dicts": anns,
    }
    keypoints = [a.get("keypoints") for a in anns]
    widths = {len(kp) for kp in keypoints if kp is not None}
    if len(widths) == 1:
        width = widths.pop()
        if None not in keypoints:
            cols["keypoints"] = np.array(keypoints, dtype=np.float64).reshape(n, width)
        else:
            kp = np.full((n, width), np.nan)
            for i, row in enumerate(keypoints):
                if row is not None:
                    kp[i] = row
            cols["keypoints"] = kp
    elif len(widths) > 1:
        cols["keypoints_error"] = f"keypoint arrays of different lengths {sorted(widths)}"
    return cols
