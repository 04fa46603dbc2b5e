"""COCO metrics with pycocotools: mAP@[.5:.95], mAP@.5, per-class AP and PR curves (no TensorFlow).

Ground truth and detections are plain per-image arrays in *pixel* coordinates of the original
images, so the numbers equal what pycocotools gives on the data set's own annotation file and
``zooft predict --json`` output (boxes there are the same pixel coordinates).

Crowd regions go to pycocotools as ``iscrowd: 1`` annotations, exactly as in the original file:
a detection mostly inside one (of its class) is neither a true nor a false positive. Difficult
objects (VOC) are ignored the same way pycocotools ignores any ground truth: a detection matching
one counts neither way and a missed one costs no recall (VOC's protocol), with the usual IoU.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import zooft

from .boxes import CROWD, DIFFICULT


@dataclass
class ImageRecord:
    """One evaluated image: its objects and the detections, pixel ``[x0, y0, x1, y1]``."""

    width: float
    height: float
    gt_boxes: np.ndarray
    gt_labels: np.ndarray
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    classes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    gt_kinds: np.ndarray | None = None  # per object: OBJECT, CROWD or DIFFICULT (.boxes); None: all objects


def _pycocotools() -> Any:
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError:
        raise zooft.ConfigError(
            "detection evaluation needs pycocotools, which is not installed",
            hint="pip install 'zooft[detect]'",
        ) from None

    class IgnoringEval(COCOeval):  # type: ignore[misc, valid-type]
        """COCOeval that also ignores ground truth marked ``difficult``: its ``_prepare`` sets
        every ``ignore`` flag from ``iscrowd``, so the flag is set again afterwards."""

        def _prepare(self) -> None:
            super()._prepare()
            for objects in self._gts.values():
                for gt in objects:
                    gt["ignore"] = gt["ignore"] or gt.get("difficult", 0)

    return COCO, IgnoringEval


def _xywh(boxes: np.ndarray) -> list[list[float]]:
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return [[float(x0), float(y0), float(x1 - x0), float(y1 - y0)] for x0, y0, x1, y1 in b]


def coco_metrics(records: Sequence[ImageRecord], classes: Sequence[str], *, curves: bool = True) -> dict[str, Any]:
    """``map`` (AP@[.5:.95]), ``map_50``, ``map_75``, ``per_class`` ``{name: {ap, ap_50, objects}}``
    (APs ``None`` for classes without objects), ``images``, ``objects``, ``detections`` and, with ``curves``,
    ``pr_curves`` ``{name: [[recall, precision] ...]}`` at IoU 0.5 (101 recall points)."""
    COCO, COCOeval = _pycocotools()
    images, annotations, results = [], [], []
    for image_id, rec in enumerate(records, start=1):
        images.append({"id": image_id, "width": float(rec.width), "height": float(rec.height)})
        labels = np.asarray(rec.gt_labels).reshape(-1)
        kinds = np.zeros(len(labels), np.int64) if rec.gt_kinds is None else np.asarray(rec.gt_kinds).reshape(-1)
        for box, label, kind in zip(_xywh(rec.gt_boxes), labels, kinds):
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": int(label) + 1,
                                "bbox": box, "area": box[2] * box[3], "iscrowd": int(kind == CROWD),
                                "difficult": int(kind == DIFFICULT)})
        for box, score, label in zip(_xywh(rec.boxes), np.asarray(rec.scores).reshape(-1), np.asarray(rec.classes).reshape(-1)):
            results.append({"image_id": image_id, "category_id": int(label) + 1, "bbox": box, "score": float(score)})
    counted = [a for a in annotations if not (a["iscrowd"] or a["difficult"])]
    summary: dict[str, Any] = {"images": len(records), "objects": len(counted), "detections": len(results)}
    ignored = len(annotations) - len(counted)
    if ignored:
        summary["ignored_objects"] = ignored  # crowd regions and difficult objects
    counts = np.bincount([a["category_id"] - 1 for a in counted], minlength=len(classes))
    per_class: dict[str, Any] = {name: {"ap": 0.0 if counts[k] else None, "ap_50": 0.0 if counts[k] else None,
                                        "objects": int(counts[k])} for k, name in enumerate(classes)}
    empty = {"map": 0.0, "map_50": 0.0, "map_75": 0.0, "per_class": per_class, **summary, **({"pr_curves": {}} if curves else {})}
    if not counted:
        raise zooft.DataError("no objects to evaluate against", hint="the evaluation images carry no boxes (crowd and difficult ones do not count)")
    if not results:
        return empty
    categories = [{"id": i + 1, "name": name} for i, name in enumerate(classes)]
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress to stdout
        truth = COCO()
        truth.dataset = {"images": images, "annotations": annotations, "categories": categories}
        truth.createIndex()
        detections = truth.loadRes(results)
        evaluator = COCOeval(truth, detections, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    precision = evaluator.eval["precision"]  # (iou T, recall R, class K, area A, maxdets M)
    pr: dict[str, list[list[float]]] = {}
    for k, name in enumerate(classes):
        p = precision[:, :, k, 0, -1]
        if (p > -1).any():
            per_class[name].update(ap=float(np.mean(p[p > -1])), ap_50=float(np.mean(p[0][p[0] > -1])))
            if curves:
                pr[name] = [[float(r), float(max(v, 0.0))] for r, v in zip(evaluator.params.recThrs, p[0])]
    stats = evaluator.stats
    metrics = {"map": max(float(stats[0]), 0.0), "map_50": max(float(stats[1]), 0.0), "map_75": max(float(stats[2]), 0.0),
               "per_class": per_class, **summary}
    if curves:
        metrics["pr_curves"] = pr
    return metrics
