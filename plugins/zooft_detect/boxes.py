"""Box maths in numpy: IoU, SSD box encoding/decoding, anchor matching and NMS (no TensorFlow).

Boxes are ``[x0, y0, x1, y1]`` rows, normalised to the model input (0–1) unless a function says
otherwise. The same functions serve the training pipeline (matching and encoding run inside
tf.data through ``tf.numpy_function``), host-side post-processing of TFLite outputs, evaluation
and the unit tests, so there is one implementation of each rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Per-object kinds carried beside the class labels through the pipeline: an object, a crowd
#: region (COCO ``iscrowd``, TFRecord ``is_crowd``) and a difficult object (VOC ``difficult``).
OBJECT, CROWD, DIFFICULT = 0, 1, 2

#: SSD's variances: offsets are divided by them so both regression targets have unit-ish scale.
VARIANCES = (0.1, 0.2)


def area(boxes: np.ndarray) -> np.ndarray:
    """Area of each ``[x0, y0, x1, y1]`` row (0 for inverted boxes)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    return np.clip(boxes[..., 2] - boxes[..., 0], 0, None) * np.clip(boxes[..., 3] - boxes[..., 1], 0, None)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU ``(len(a), len(b))``."""
    a, b = np.asarray(a, dtype=np.float64).reshape(-1, 4), np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def to_center(boxes: np.ndarray) -> np.ndarray:
    """``[x0, y0, x1, y1]`` -> ``[cx, cy, w, h]``."""
    boxes = np.asarray(boxes, dtype=np.float64)
    wh = boxes[..., 2:] - boxes[..., :2]
    return np.concatenate([boxes[..., :2] + wh / 2, wh], axis=-1)


def to_corners(boxes: np.ndarray) -> np.ndarray:
    """``[cx, cy, w, h]`` -> ``[x0, y0, x1, y1]``."""
    boxes = np.asarray(boxes, dtype=np.float64)
    half = boxes[..., 2:] / 2
    return np.concatenate([boxes[..., :2] - half, boxes[..., :2] + half], axis=-1)


def encode(boxes: np.ndarray, anchors: np.ndarray, variances: tuple[float, float] = VARIANCES) -> np.ndarray:
    """SSD offsets of ``boxes`` relative to ``anchors`` (same shape ``(..., 4)``, corners)."""
    b, a = to_center(boxes), to_center(anchors)
    wh = np.maximum(b[..., 2:], 1e-8)
    center = (b[..., :2] - a[..., :2]) / a[..., 2:] / variances[0]
    size = np.log(wh / a[..., 2:]) / variances[1]
    return np.concatenate([center, size], axis=-1).astype(np.float32)


def decode(offsets: np.ndarray, anchors: np.ndarray, variances: tuple[float, float] = VARIANCES) -> np.ndarray:
    """Inverse of :func:`encode`: corner boxes from offsets and anchors."""
    t, a = np.asarray(offsets, dtype=np.float64), to_center(anchors)
    center = a[..., :2] + t[..., :2] * variances[0] * a[..., 2:]
    size = a[..., 2:] * np.exp(np.clip(t[..., 2:] * variances[1], -10, 10))
    return to_corners(np.concatenate([center, size], axis=-1)).astype(np.float32)


def ioa(regions: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over each box's own area ``(len(regions), len(boxes))``: how much of a box
    lies inside a region (pycocotools' overlap with a crowd region)."""
    a, b = np.asarray(regions, dtype=np.float64).reshape(-1, 4), np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    own = area(b)[None, :]
    return np.where(own > 0, wh[..., 0] * wh[..., 1] / np.maximum(own, 1e-12), 0.0)


#: A background anchor with at least this much of its area inside an ignore region (a crowd, or a
#: difficult object with ``difficult=ignore``) is ignored rather than taught as background; the
#: same 0.5 at which COCO evaluation stops counting a detection inside a crowd as a false positive.
IGNORE_IOA = 0.5


@dataclass(frozen=True)
class MatchConfig:
    """IoU thresholds of anchor matching: positive at ``positive`` and above, background below
    ``negative``, ignored in between; each object's best anchor is always positive."""

    positive: float = 0.5
    negative: float = 0.4


def match(
    gt_boxes: np.ndarray, gt_labels: np.ndarray, anchors: np.ndarray, config: MatchConfig = MatchConfig(),
    ignore: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Assign objects to anchors.

    ``gt_labels`` are class indices ``0..C-1``; rows with a negative label are padding and
    ignored. Rows where ``ignore`` is true are ignore regions (crowds): never positives, and
    background anchors lying mostly inside one (:data:`IGNORE_IOA`) are ignored. Returns
    ``(matched_boxes (A, 4), labels (A,))`` where labels are ``0`` for background, ``c + 1`` for
    class ``c``, and ``-1`` for ignored anchors (IoU between the thresholds, or inside an ignore
    region); ``matched_boxes`` holds each anchor's object (the anchor itself for background).
    """
    anchors = np.asarray(anchors, dtype=np.float64)
    gt_boxes = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    gt_labels = np.asarray(gt_labels).reshape(-1)
    flags = np.zeros(len(gt_labels), bool) if ignore is None else np.asarray(ignore).reshape(-1).astype(bool)
    valid = (gt_labels >= 0) & (area(gt_boxes) > 0)
    regions = gt_boxes[valid & flags]
    keep = valid & ~flags
    gt_boxes, gt_labels = gt_boxes[keep], gt_labels[keep].astype(np.int64)
    labels = np.zeros(len(anchors), dtype=np.int32)
    matched = anchors.copy()
    if len(regions):
        labels[ioa(regions, anchors).max(axis=0) >= IGNORE_IOA] = -1
    if len(gt_boxes) == 0:
        return matched.astype(np.float32), labels
    overlaps = iou(gt_boxes, anchors)  # (G, A)
    best_gt = overlaps.argmax(axis=0)
    best_iou = overlaps.max(axis=0)
    # every object keeps its best anchor, even below the threshold (small or odd-shaped objects)
    forced = overlaps.argmax(axis=1)
    best_gt[forced] = np.arange(len(gt_boxes))
    best_iou[forced] = 2.0
    in_region = labels < 0
    labels[:] = np.where(best_iou >= config.positive, gt_labels[best_gt] + 1, 0)
    labels[((best_iou >= config.negative) & (best_iou < config.positive)) | (in_region & (labels == 0))] = -1
    positive = labels > 0
    matched[positive] = gt_boxes[best_gt[positive]]
    return matched.astype(np.float32), labels


def encode_targets(
    gt_boxes: np.ndarray, gt_labels: np.ndarray, anchors: np.ndarray, config: MatchConfig = MatchConfig(),
    ignore: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Training targets of one image: ``(offsets_and_flag (A, 5) float32, labels (A,) int32)``.

    Column 4 of the first array is 1 for positive anchors: the box loss needs the positives, and
    Keras hands each output's loss only its own target. ``ignore`` marks ignore regions (see :func:`match`).
    """
    matched, labels = match(gt_boxes, gt_labels, anchors, config, ignore)
    offsets = encode(matched, anchors)
    flag = (labels > 0).astype(np.float32)[:, None]
    return np.concatenate([offsets * flag, flag], axis=1).astype(np.float32), labels


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, max_output: int) -> np.ndarray:
    """Greedy NMS: indices kept, best first (a box is dropped when its IoU with a kept one exceeds
    ``iou_threshold``, as in TensorFlow's kernels). Ties keep the lower index first."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    boxes = np.asarray(boxes, dtype=np.float64)
    keep: list[int] = []
    while order.size and len(keep) < max_output:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        overlaps = iou(boxes[i : i + 1], boxes[order[1:]])[0]
        order = order[1:][overlaps <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


@dataclass(frozen=True)
class NMSConfig:
    """Post-processing settings; they travel in an export's metadata (``postprocess``)."""

    score_threshold: float = 0.05
    iou_threshold: float = 0.5
    max_detections: int = 100
    max_per_class: int = 100
    mode: str = "per_class"  # or "agnostic": one NMS over all classes

    def to_dict(self) -> dict[str, object]:
        """JSON-ready view."""
        return {
            "score_threshold": self.score_threshold,
            "iou_threshold": self.iou_threshold,
            "max_detections": self.max_detections,
            "max_per_class": self.max_per_class,
            "nms": self.mode,
        }

    @classmethod
    def from_dict(cls, doc: dict[str, object]) -> NMSConfig:
        """Inverse of :meth:`to_dict`."""
        return cls(
            score_threshold=float(doc.get("score_threshold", 0.05)),  # type: ignore[arg-type]
            iou_threshold=float(doc.get("iou_threshold", 0.5)),  # type: ignore[arg-type]
            max_detections=int(doc.get("max_detections", 100)),  # type: ignore[call-overload]
            max_per_class=int(doc.get("max_per_class", 100)),  # type: ignore[call-overload]
            mode=str(doc.get("nms", "per_class")),
        )


def postprocess(boxes: np.ndarray, scores: np.ndarray, config: NMSConfig) -> dict[str, np.ndarray]:
    """Detections of ONE image from decoded boxes ``(A, 4)`` and class scores ``(A, C)``.

    Mirrors ``tf.image.combined_non_max_suppression`` (per class) with ``clip_boxes=True``:
    scores must exceed ``score_threshold``; at most ``max_per_class`` per class, then the best
    ``max_detections`` overall; output boxes clipped to [0, 1]. Returns ``boxes (K, 4)``,
    ``scores (K,)``, ``classes (K,)`` sorted by score.
    """
    boxes = np.asarray(boxes, dtype=np.float32)
    scores = np.asarray(scores, dtype=np.float32)
    found_boxes, found_scores, found_classes = [], [], []
    if config.mode == "agnostic":
        best = scores.argmax(axis=1)
        best_scores = scores[np.arange(len(scores)), best]
        candidates = np.flatnonzero(best_scores > config.score_threshold)
        kept = candidates[nms(boxes[candidates], best_scores[candidates], config.iou_threshold, config.max_detections)]
        found_boxes, found_scores, found_classes = [boxes[kept]], [best_scores[kept]], [best[kept]]
    else:
        for c in range(scores.shape[1]):
            candidates = np.flatnonzero(scores[:, c] > config.score_threshold)
            if not candidates.size:
                continue
            kept = candidates[nms(boxes[candidates], scores[candidates, c], config.iou_threshold, config.max_per_class)]
            found_boxes.append(boxes[kept])
            found_scores.append(scores[kept, c])
            found_classes.append(np.full(len(kept), c, dtype=np.int64))
    if not found_boxes:
        return {"boxes": np.zeros((0, 4), np.float32), "scores": np.zeros(0, np.float32), "classes": np.zeros(0, np.int64)}
    all_boxes = np.concatenate(found_boxes)
    all_scores = np.concatenate(found_scores)
    all_classes = np.concatenate(found_classes)
    order = np.argsort(-all_scores, kind="stable")[: config.max_detections]
    return {
        "boxes": np.clip(all_boxes[order], 0.0, 1.0),
        "scores": all_scores[order],
        "classes": all_classes[order].astype(np.int64),
    }
