"""Multi-label metrics and per-label thresholds in plain numpy (single-label metrics are
``zooft_classify``'s: accuracy, top-k, macro-F1, per-class, confusion matrix).

Conventions: a label is predicted when its probability is ``>= threshold``; 0/0 is 0.0 (like
sklearn's ``zero_division=0``); macro-F1 averages over the labels that occur in the targets or
the predictions (sklearn's ``labels=None``), micro-F1 pools every decision.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import numpy as np

from zooft import ConfigError, DataError

DEFAULT_THRESHOLD = 0.5


def parse_thresholds(value: Any, classes: Sequence[str]) -> list[float]:
    """Per-label thresholds from ``--thresholds``: ``0.4`` (all), ``spam=0.3,toxic=0.6`` (the rest
    0.5) or both (``0.4,spam=0.3``), or a ``{label: t}`` mapping. Raises ConfigError on unknown
    labels (with the closest one) and values outside (0, 1)."""
    result = [DEFAULT_THRESHOLD] * len(classes)
    if value is None or value == "":
        return result
    items = list(value.items()) if isinstance(value, dict) else [
        tuple(part.split("=", 1)) if "=" in part else (None, part) for part in str(value).split(",") if part.strip()
    ]
    default = DEFAULT_THRESHOLD
    named: dict[str, float] = {}
    for name, raw in items:
        try:
            number = float(raw)
        except (TypeError, ValueError):
            number = -1.0
        if not 0.0 < number < 1.0:
            raise ConfigError(f"invalid threshold {raw!r} in --thresholds {value!r}: expected a number in (0, 1)",
                              hint="e.g. --thresholds 0.4 or --thresholds spam=0.3,toxic=0.6")
        if name is None:
            default = number
            continue
        name = str(name).strip()
        if name not in classes:
            close = difflib.get_close_matches(name, list(classes), n=1)
            raise ConfigError(f"--thresholds names label {name!r}, which the data does not have",
                              hint=f"did you mean {close[0]!r}?" if close else f"labels: {', '.join(classes)}")
        named[name] = number
    return [named.get(c, default) for c in classes]


def multi_hot(examples_labels: Sequence[Any], num_classes: int) -> np.ndarray:
    """``(n, C)`` float32 0/1 rows from label tuples (an int counts as a one-label tuple)."""
    out = np.zeros((len(examples_labels), num_classes), dtype=np.float32)
    for row, labels in enumerate(examples_labels):
        items = labels if isinstance(labels, (tuple, list)) else (() if labels is None else (labels,))
        for label in items:
            if not 0 <= int(label) < num_classes:
                raise DataError(f"label index {label} is outside 0..{num_classes - 1}")
            out[row, int(label)] = 1.0
    return out


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros(a.shape, dtype=np.float64)
    np.divide(a, b, out=out, where=b != 0)
    return out


def multilabel_metrics(targets: Any, probabilities: Any, classes: Sequence[str], thresholds: Sequence[float]) -> dict[str, Any]:
    """Everything ``zooft eval`` reports for a multi-label run, JSON-ready.

    ``accuracy`` is the subset accuracy (every label of a text right); ``label_accuracy`` the
    fraction of right (text, label) decisions; ``loss`` the mean binary cross-entropy.
    """
    y = np.asarray(targets, dtype=np.float64) > 0.5
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape != y.shape or probs.shape[1] != len(classes):
        raise DataError(f"expected targets and probabilities of shape (n, {len(classes)}), got {y.shape} and {probs.shape}")
    pred = probs >= np.asarray(thresholds, dtype=np.float64)[None, :]
    tp = (pred & y).sum(axis=0)
    predicted, support = pred.sum(axis=0), y.sum(axis=0)
    precision, recall = _divide(tp, predicted), _divide(tp, support)
    f1 = _divide(2 * precision * recall, precision + recall)
    present = (support > 0) | (predicted > 0)
    micro_p, micro_r = _divide(tp.sum(keepdims=True), predicted.sum(keepdims=True)), _divide(tp.sum(keepdims=True), support.sum(keepdims=True))
    clipped = np.clip(probs, 1e-7, 1 - 1e-7)
    n = int(y.shape[0])
    return {
        "multi_label": True,
        "accuracy": float(np.mean(np.all(pred == y, axis=1))) if n else 0.0,
        "label_accuracy": float(np.mean(pred == y)) if n else 0.0,
        "loss": float(-np.mean(y * np.log(clipped) + (~y) * np.log(1 - clipped))) if n else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "micro_f1": float(_divide(2 * micro_p * micro_r, micro_p + micro_r)[0]),
        "thresholds": {c: float(t) for c, t in zip(classes, thresholds)},
        "per_class": {
            c: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]), "support": int(support[i])}
            for i, c in enumerate(classes)
        },
        "classes": list(classes),
        "samples": n,
    }
