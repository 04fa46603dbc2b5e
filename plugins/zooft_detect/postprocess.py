"""From model or artifact outputs to detections, in numpy (the host side of TFLite exports).

Four output forms are understood, by their keys:

* ``num_detections``: TFLite's ``TFLite_Detection_PostProcess`` op (:mod:`.tflite_op`):
  ``detection_boxes (n, K, 4)`` as ``[ymin, xmin, ymax, xmax]``, ``detection_classes``,
  ``detection_scores (n, K)``, ``num_detections (n,)``; boxes are reordered and clipped to [0, 1]
  as zooft's own NMS clips them;
* ``count`` present: NMS already ran in the graph (SavedModel, ONNX exports):
  ``boxes (n, K, 4)``, ``scores (n, K)``, ``classes (n, K)``, ``count (n,)``;
* ``scores`` without ``count``: raw decoded boxes ``(n, A, 4)`` and class probabilities
  ``(n, A, C)`` (TFLite exports) -> :func:`zooft_detect.boxes.postprocess` with the settings
  shipped in the export metadata (``postprocess``);
* ``logits``: the trained Keras model (softmax over ``C + 1``, background dropped) -> the same.

So a run, a TFLite file and a SavedModel give the same detections for the same pixels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import zooft

from .boxes import NMSConfig, postprocess


def softmax_scores(logits: np.ndarray) -> np.ndarray:
    """Class probabilities without the background column."""
    z = np.asarray(logits, dtype=np.float32)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True))[..., 1:]


def detections(outputs: Mapping[str, Any], settings: NMSConfig) -> list[dict[str, np.ndarray]]:
    """Per image ``{"boxes" (K, 4) normalised to the input, "scores" (K,), "classes" (K,)}``."""
    out = {k: np.asarray(v) for k, v in outputs.items()}
    if "num_detections" in out:
        result = []
        for i, count in enumerate(out["num_detections"].reshape(len(out["detection_boxes"]), -1)[:, 0]):
            k = int(round(float(count)))
            yxyx = out["detection_boxes"][i, :k].astype(np.float32)
            result.append({"boxes": np.clip(yxyx[:, [1, 0, 3, 2]], 0.0, 1.0),
                           "scores": out["detection_scores"][i, :k].astype(np.float32),
                           "classes": np.round(out["detection_classes"][i, :k]).astype(np.int64)})
        return result
    if "count" in out:
        result = []
        for i, count in enumerate(np.asarray(out["count"]).reshape(-1)):
            k = int(count)
            result.append({"boxes": out["boxes"][i, :k].astype(np.float32), "scores": out["scores"][i, :k].astype(np.float32),
                           "classes": np.round(out["classes"][i, :k]).astype(np.int64)})
        return result
    if "scores" in out:
        scores = out["scores"]
    elif "logits" in out:
        scores = softmax_scores(out["logits"])
    else:
        raise zooft.ExportError(f"detection outputs must hold scores or logits; got {sorted(out)}")
    if "boxes" not in out:
        raise zooft.ExportError(f"detection outputs must hold boxes; got {sorted(out)}")
    return [postprocess(b, s, settings) for b, s in zip(out["boxes"], scores)]


def to_original(boxes: np.ndarray, width: float, height: float, params: Sequence[float]) -> np.ndarray:
    """Input-normalised boxes -> pixel boxes of the original image (undoing the letterbox)."""
    sx, sy, ox, oy = params
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    norm = (b - [ox, oy, ox, oy]) / [sx, sy, sx, sy]
    return np.clip(norm, 0.0, 1.0) * [width, height, width, height]


def as_json(found: dict[str, np.ndarray], classes: Sequence[str], width: float, height: float, params: Sequence[float]) -> list[dict[str, Any]]:
    """JSON-ready detections of one image, pixel boxes ``[x0, y0, x1, y1]``."""
    pixels = to_original(found["boxes"], width, height, params)
    return [
        {"label": classes[int(c)] if 0 <= int(c) < len(classes) else str(int(c)), "class_index": int(c),
         "score": float(s), "box": [float(v) for v in box]}
        for box, s, c in zip(pixels, found["scores"], found["classes"])
    ]
