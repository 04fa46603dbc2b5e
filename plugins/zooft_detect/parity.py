"""Detection parity: does an exported model find the same objects as the Keras model? (numpy)

Both sides are post-processed the same way (:func:`.postprocess.detections`; NMS in the graph or
host-side), then the reference's confident detections (score >= ``CONFIDENT``) are matched
greedily to the candidate's of the same class (IoU >= 0.5; candidates down to half that score,
so a score crossing the threshold by a hair is not a miss). Metrics:

- ``miss_rate``: reference detections the export does not find;
- ``extra_rate``: confident export detections the reference does not have;
- ``iou_loss_max``: ``1 - `` the smallest IoU of a matched pair; ``score_max_diff``: the largest
  score difference of a matched pair;
- ``map_drop``: ``1 - `` mAP@.5 of the export's detections scored against the reference's
  confident ones as ground truth (pycocotools).

All gates are upper bounds (the convention of zooft.build_parity_report for names outside LOWER_BOUND_GATES).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .boxes import NMSConfig, iou

CONFIDENT = 0.3
#: Gates per quantization mode. Float exports compute the same maths: detections must agree
#: almost exactly. Quantized ones move scores and boxes by a few quantization steps.
GATES: dict[str, dict[str, float]] = {
    "none": {"miss_rate": 0.01, "extra_rate": 0.01, "iou_loss_max": 0.02, "score_max_diff": 0.01, "map_drop": 0.01},
    "float16": {"miss_rate": 0.03, "extra_rate": 0.03, "iou_loss_max": 0.1, "score_max_diff": 0.05, "map_drop": 0.03},
    "quantized": {"miss_rate": 0.15, "extra_rate": 0.15, "map_drop": 0.15},
}
# Generous NMS for comparisons: both sides use it on raw outputs; in-graph NMS uses the model's own.
PARITY_NMS = NMSConfig(score_threshold=CONFIDENT / 2, iou_threshold=0.5, max_detections=100, max_per_class=100)


def gates_for(quantize: str | None) -> dict[str, float]:
    """The gates of an export mode (``None``/``none`` = float32)."""
    mode = quantize or "none"
    return dict(GATES.get(mode, GATES["quantized"]))


def _match(ref: dict[str, np.ndarray], cand: dict[str, np.ndarray]) -> tuple[int, int, int, list[float], list[float]]:
    """``(confident refs, missed, extras, matched IoUs, matched score diffs)`` of one image."""
    refs = np.flatnonzero(ref["scores"] >= CONFIDENT)
    cands = np.flatnonzero(cand["scores"] >= CONFIDENT / 2)
    used: set[int] = set()
    ious, diffs, missed = [], [], 0
    for r in refs[np.argsort(-ref["scores"][refs], kind="stable")]:
        same = [c for c in cands if c not in used and cand["classes"][c] == ref["classes"][r]]
        if not same:
            missed += 1
            continue
        overlaps = iou(ref["boxes"][r : r + 1], cand["boxes"][same])[0]
        best = int(np.argmax(overlaps))
        if overlaps[best] < 0.5:
            missed += 1
            continue
        used.add(same[best])
        ious.append(float(overlaps[best]))
        diffs.append(abs(float(ref["scores"][r]) - float(cand["scores"][same[best]])))
    # extras: confident candidates that no reference detection (down to half the threshold) explains
    loose = np.flatnonzero(ref["scores"] >= CONFIDENT / 2)
    extras = 0
    for c in np.flatnonzero(cand["scores"] >= CONFIDENT):
        same = [r for r in loose if ref["classes"][r] == cand["classes"][c]]
        if not same or iou(cand["boxes"][c : c + 1], ref["boxes"][same]).max() < 0.5:
            extras += 1
    return len(refs), missed, extras, ious, diffs


def _truth_map(found: list[dict[str, np.ndarray]], targets: list[Any], classes: list[str]) -> float | None:
    """mAP@.5 against the samples' annotated boxes (informational: the parity images are plainly
    resized, so this is the task metric only for ``resize=plain`` runs)."""
    from .cocoeval import ImageRecord, coco_metrics

    records = []
    for f, target in zip(found, targets):
        if not isinstance(target, Mapping) or not target.get("width") or not target.get("height"):
            return None
        w, h = float(target["width"]), float(target["height"])
        gt = np.asarray(target.get("boxes") or [], dtype=np.float64).reshape(-1, 4)
        records.append(ImageRecord(w, h, gt, np.asarray(target.get("labels") or [], dtype=np.int64),
                                   f["boxes"] * [w, h, w, h], f["scores"], f["classes"]))
    if not records or not any(len(r.gt_boxes) for r in records):
        return None
    return float(coco_metrics(records, classes, curves=False)["map_50"])


def detection_parity(
    reference: Mapping[str, np.ndarray], candidate: Mapping[str, np.ndarray], *, classes: list[str], quantize: str | None,
    targets: list[Any] | None = None,
) -> tuple[dict[str, Any], dict[str, float]]:
    """``(metrics, gates)`` for the task ``parity`` hook; with ``targets`` (the samples' annotations)
    also both models' mAP@.5 against the real boxes."""
    from .cocoeval import ImageRecord, coco_metrics
    from .postprocess import detections

    ref_found, cand_found = detections(reference, PARITY_NMS), detections(candidate, PARITY_NMS)
    if len(ref_found) != len(cand_found):
        raise ValueError(f"{len(ref_found)} reference images but {len(cand_found)} exported")
    total = missed = extras = n_cand = 0
    ious: list[float] = []
    diffs: list[float] = []
    records = []
    for ref, cand in zip(ref_found, cand_found):
        n, m, e, i, d = _match(ref, cand)
        total, missed, extras = total + n, missed + m, extras + e
        n_cand += int((cand["scores"] >= CONFIDENT).sum())
        ious += i
        diffs += d
        confident = ref["scores"] >= CONFIDENT
        records.append(ImageRecord(1.0, 1.0, ref["boxes"][confident] * 100, ref["classes"][confident],
                                   cand["boxes"] * 100, cand["scores"], cand["classes"]))
    metrics: dict[str, Any] = {
        "reference_detections": total,
        "export_detections": n_cand,
        "miss_rate": missed / total if total else None,
        "extra_rate": extras / n_cand if n_cand else (0.0 if total else None),
        "matched_iou_min": min(ious) if ious else None,
        "matched_iou_mean": float(np.mean(ious)) if ious else None,
        "iou_loss_max": 1.0 - min(ious) if ious else None,
        "score_max_diff": max(diffs) if diffs else None,
        "score_mean_diff": float(np.mean(diffs)) if diffs else None,
        "confident_threshold": CONFIDENT,
    }
    if total:
        found = coco_metrics(records, classes, curves=False)
        metrics["map_50_vs_reference"] = found["map_50"]
        metrics["map_drop"] = 1.0 - found["map_50"]
    if targets is not None and len(targets) == len(ref_found):
        metrics["map_50_reference"] = _truth_map(ref_found, targets, classes)
        metrics["map_50_export"] = _truth_map(cand_found, targets, classes)
    return metrics, gates_for(quantize)
