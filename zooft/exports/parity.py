"""Parity maths shared by every exporter: compare an artifact's outputs with the Keras model's.

numpy only (no TensorFlow), so the comparison rules are unit-tested in milliseconds and third-party
exporters get the same metrics, gates and report shape as the built-in ones.

Outputs are always handled as ``{output name: array}`` dicts, because runtimes disagree about
order (ONNX sorts dict outputs by key): comparisons look outputs up by name, never by position.

Gates are ``{metric: bound}`` dicts. ``top1_agreement``, ``*_agreement`` and ``min_*`` gates are
lower bounds (:func:`is_lower_bound`); every other gate is an upper bound. A gate whose metric
cannot be computed (e.g. ``accuracy_drop`` without labels) is listed under ``skipped_gates``; if
*no* gate can be evaluated the check fails, because a parity check that checks nothing is a
warn-only check in disguise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .protocol import ParityReport

EPSILON = 1e-6  # floor of the denominator in relative differences: probabilities near 0 blow up
LOWER_BOUND_GATES = frozenset({"top1_agreement"})


def is_lower_bound(gate: str) -> bool:
    """Whether ``gate`` is a minimum: ``top1_agreement``, any ``*_agreement`` or ``min_*`` gate
    (a task's own, e.g. ``min_box_iou``); every other gate is a maximum."""
    return gate in LOWER_BOUND_GATES or gate.endswith("_agreement") or gate.startswith("min_")
# Gates for tasks without a task metric yet (detect, text …): when a mode's gates are all
# task-specific, this normalised numeric gate replaces them (max abs diff / reference range).
NUMERIC_FALLBACK_GATES: dict[str, float] = {"max_abs_norm": 0.05}

Outputs = dict[str, np.ndarray]


def as_output_dict(raw: Any, names: Sequence[str]) -> Outputs:
    """Normalise a model's outputs (array, list or dict, numpy or tensors) to ``{name: ndarray}``.

    Dict outputs keep their own keys (Keras dict-output models are keyed by the dict the model
    was built with, not by layer name); positional outputs are named by ``names`` in order.
    """
    if isinstance(raw, Mapping):
        return {str(k): np.asarray(v) for k, v in raw.items()}
    if isinstance(raw, (list, tuple)):
        if len(raw) != len(names):
            raise ValueError(f"{len(raw)} outputs but {len(names)} output names {list(names)}")
        return {str(n): np.asarray(v) for n, v in zip(names, raw)}
    if len(names) != 1:
        raise ValueError(f"one output but {len(names)} output names {list(names)}")
    return {str(names[0]): np.asarray(raw)}


def _f64(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def max_abs(a: Any, b: Any) -> float:
    """Largest absolute difference (``nan`` if either side holds a non-finite value)."""
    a, b = _f64(a), _f64(b)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return math.nan
    return float(np.max(np.abs(a - b)))


def mean_abs(a: Any, b: Any) -> float:
    """Mean absolute difference."""
    a, b = _f64(a), _f64(b)
    return float(np.mean(np.abs(a - b))) if a.size else 0.0


def max_rel(a: Any, b: Any, eps: float = EPSILON) -> float:
    """Largest ``|a - b| / max(|a|, eps)``, with ``a`` the reference."""
    a, b = _f64(a), _f64(b)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a), eps)))


def max_abs_norm(a: Any, b: Any, eps: float = EPSILON) -> float:
    """Max abs difference divided by the reference's value range: scale-free, for logits/boxes."""
    a = _f64(a)
    if a.size == 0:
        return 0.0
    return max_abs(a, b) / max(float(a.max() - a.min()), eps)


def top1_agreement(reference: Any, candidate: Any) -> float:
    """Fraction of rows whose arg-max (last axis) is the same in both."""
    r, c = np.asarray(reference), np.asarray(candidate)
    if len(r) == 0:
        return 1.0
    return float(np.mean(np.argmax(r, axis=-1) == np.argmax(c, axis=-1)))


#: A reference row counts as confident when its top-1 probability leads the runner-up by at
#: least this much. Quantization moves probabilities by a few hundredths (int8 outputs step in
#: 1/256): rows closer than this are near-ties whose flips say nothing about the export.
CONFIDENT_MARGIN = 0.2


def confident_rows(reference: Any, margin: float = CONFIDENT_MARGIN) -> np.ndarray:
    """Mask of rows whose top-1 score leads the second by at least ``margin``."""
    r = np.asarray(reference, dtype=np.float64)
    if r.ndim != 2 or r.shape[-1] < 2 or len(r) == 0:
        return np.ones(len(r), dtype=bool)
    top2 = np.sort(r, axis=-1)[:, -2:]
    return (top2[:, 1] - top2[:, 0]) >= margin


def confident_top1_agreement(reference: Any, candidate: Any, margin: float = CONFIDENT_MARGIN) -> float | None:
    """Top-1 agreement over the rows where the reference is confident (:func:`confident_rows`);
    ``None`` when no row is, so a gate on it is skipped rather than passed on nothing."""
    mask = confident_rows(reference, margin)
    if not mask.any():
        return None
    return top1_agreement(np.asarray(reference)[mask], np.asarray(candidate)[mask])


def _labelled(labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Integer labels and the mask of rows that have one (``None`` / negative = unlabelled)."""
    raw = [(-1 if (lbl is None or isinstance(lbl, (tuple, list))) else int(lbl)) for lbl in labels]
    arr = np.asarray(raw, dtype=np.int64)
    return arr, arr >= 0


def accuracy(probs: Any, labels: Any) -> float | None:
    """Top-1 accuracy over the labelled rows; ``None`` when no row is labelled."""
    y, mask = _labelled(labels)
    if not mask.any():
        return None
    pred = np.argmax(np.asarray(probs), axis=-1)
    return float(np.mean(pred[mask] == y[mask]))


def per_class_accuracy(probs: Any, labels: Any, classes: Sequence[str]) -> dict[str, float | None]:
    """Accuracy (recall) per class; ``None`` for classes absent from ``labels``."""
    y, mask = _labelled(labels)
    pred = np.argmax(np.asarray(probs), axis=-1)
    result: dict[str, float | None] = {}
    for index, name in enumerate(classes):
        rows = mask & (y == index)
        result[name] = float(np.mean(pred[rows] == index)) if rows.any() else None
    return result


def numeric_metrics(reference: Outputs, candidate: Outputs) -> dict[str, Any]:
    """``max_abs``, ``mean_abs``, ``max_rel``, ``max_abs_norm`` over all outputs, and per output."""
    missing = sorted(set(reference) - set(candidate))
    if missing:
        raise ValueError(f"artifact lacks outputs {missing}; it has {sorted(candidate)}")
    per_output = {
        name: {
            "max_abs": max_abs(ref, candidate[name]),
            "mean_abs": mean_abs(ref, candidate[name]),
            "max_rel": max_rel(ref, candidate[name]),
            "max_abs_norm": max_abs_norm(ref, candidate[name]),
        }
        for name, ref in reference.items()
    }
    result: dict[str, Any] = {}
    for key in ("max_abs", "mean_abs", "max_rel", "max_abs_norm"):
        values = [m[key] for m in per_output.values()]
        # max() would silently drop a nan that is not first: make non-finite values win
        result[key] = math.nan if any(math.isnan(v) for v in values) else max(values, default=0.0)
    result["outputs"] = per_output
    return result


def classification_output(reference: Outputs, classes: Sequence[str]) -> str | None:
    """Name of the output holding class scores: the first of shape ``(n, len(classes))``."""
    for name, arr in reference.items():
        if arr.ndim == 2 and arr.shape[-1] == len(classes):
            return name
    return None


def classify_metrics(reference: Outputs, candidate: Outputs, labels: Any, classes: Sequence[str]) -> dict[str, Any]:
    """Top-1 agreement, accuracy of both models, its drop, and per-class accuracy of both."""
    name = classification_output(reference, classes)
    if name is None:
        return {}
    ref, cand = reference[name], candidate[name]
    metrics: dict[str, Any] = {
        "top1_agreement": top1_agreement(ref, cand),
        # quantized exports gate on these two: agreement where the reference is sure, and accuracy
        "confident_top1_agreement": confident_top1_agreement(ref, cand),
        "confident_rows": int(confident_rows(ref).sum()),
    }
    if labels is not None and len(labels) == len(ref):
        acc_ref, acc_exp = accuracy(ref, labels), accuracy(cand, labels)
        if acc_ref is not None and acc_exp is not None:
            metrics.update(accuracy_reference=acc_ref, accuracy_export=acc_exp, accuracy_drop=acc_ref - acc_exp)
            ref_pc, exp_pc = per_class_accuracy(ref, labels, classes), per_class_accuracy(cand, labels, classes)
            metrics["per_class_accuracy"] = {c: {"reference": ref_pc[c], "export": exp_pc[c]} for c in classes}
    return metrics


# Task name -> extra metrics. Tasks without an entry get numeric diffs only (for now).
TASK_METRICS: dict[str, Callable[[Outputs, Outputs, Any, Sequence[str]], dict[str, Any]]] = {
    "classify": classify_metrics,
}


def compare(
    reference: Outputs, candidate: Outputs, *, task: str, labels: Any = None, classes: Sequence[str] = ()
) -> dict[str, Any]:
    """All parity metrics: numeric diffs plus the task's metrics, if the task has any."""
    metrics = numeric_metrics(reference, candidate)
    task_fn = TASK_METRICS.get(task)
    if task_fn is not None:
        metrics.update(task_fn(reference, candidate, labels, classes))
    return metrics


def resolve_gates(gates: Mapping[str, float], *, task: str, tolerance: float | None = None) -> dict[str, float]:
    """The gates actually applied: the mode's defaults, adapted to the task, then ``tolerance``
    (see :func:`_apply_tolerance`)."""
    resolved = dict(gates)
    if task not in TASK_METRICS and not any("max_abs" in k for k in resolved):
        resolved = dict(NUMERIC_FALLBACK_GATES)
    return _apply_tolerance(resolved, tolerance)


def _apply_tolerance(gates: dict[str, float], tolerance: float | None) -> dict[str, float]:
    """``tolerance`` replaces the numeric (``*max_abs*``) gates where there are any; otherwise it
    replaces the agreement gates: each lower-bound gate becomes ``>= 1 - tolerance`` and every
    other gate ``<= tolerance`` (e.g. ``accuracy_drop``)."""
    if tolerance is None:
        return gates
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    numeric = [k for k in gates if "max_abs" in k]
    if numeric:
        gates.update(dict.fromkeys(numeric, float(tolerance)))
        return gates
    return {k: (max(0.0, 1.0 - tolerance) if is_lower_bound(k) else float(tolerance)) for k in gates}


def check(metrics: Mapping[str, Any], gates: Mapping[str, float]) -> tuple[bool, str, list[str]]:
    """Evaluate ``gates`` on ``metrics``: ``(passed, reason, skipped gate names)``.

    ``reason`` names the first failing metric, its value and the bound, in one line.
    """
    failures: list[str] = []
    skipped: list[str] = []
    for name, bound in gates.items():
        value = metrics.get(name)
        if value is None:
            skipped.append(name)
            continue
        value = float(value)
        if is_lower_bound(name):
            ok = value >= bound  # nan compares False: fails, as it should
            text = f"{name} {value:.4g} < {bound:.4g} (minimum)"
        else:
            ok = value <= bound
            text = f"{name} {value:.4g} > {bound:.4g} (maximum)"
        if math.isnan(value):
            text = f"{name} is nan: the artifact produced non-finite outputs"
        if not ok:
            failures.append(text)
    if failures:
        return False, "; ".join(failures), skipped
    if len(skipped) == len(gates):
        return False, f"no parity gate could be evaluated (missing metrics: {', '.join(skipped)})", skipped
    return True, "", skipped


def build_report(
    format: str,  # noqa: A002 - same name as ParityReport.format
    reference: Outputs,
    candidate: Outputs,
    *,
    task: Any,
    gates: Mapping[str, float],
    labels: Any = None,
    classes: Sequence[str] = (),
    tolerance: float | None = None,
    extra: Mapping[str, Any] | None = None,
    quantize: str | None = None,
    targets: Any = None,
) -> ParityReport:
    """Compare, gate and wrap everything in a :class:`~zooft.ParityReport` (what ``verify`` returns).

    ``task`` is the task name, or the task object: one with a ``parity`` hook (zooft/task.py)
    supplies its own metrics and gates (``quantize`` tells it the mode; ``targets`` are the samples'
    task annotations, e.g. ground-truth boxes), which replace ``gates``.
    ``extra`` metrics (runtime name, an exporter's own measurements) join the computed ones
    before gating, so ``gates`` may refer to them.
    """
    hook = None if isinstance(task, str) else getattr(task, "parity", None)
    if hook is not None:
        metrics, task_gates = hook(
            reference, candidate, labels=labels, targets=targets, classes=classes, format=format, quantize=quantize
        )
        metrics = dict(metrics)
        metrics.update(extra or {})
        resolved = _apply_tolerance(dict(task_gates), tolerance)
    else:
        name = task if isinstance(task, str) else str(getattr(task, "name", ""))
        metrics = compare(reference, candidate, task=name, labels=labels, classes=classes)
        metrics.update(extra or {})  # before gating: exporters may gate on metrics of their own
        resolved = resolve_gates(gates, task=name, tolerance=tolerance)
    passed, reason, skipped = check(metrics, resolved)
    if skipped:
        metrics["skipped_gates"] = skipped
    if tolerance is not None:
        metrics["tolerance"] = tolerance
    samples = len(next(iter(reference.values()))) if reference else 0
    return ParityReport(format=format, passed=passed, samples=samples, metrics=metrics, thresholds=resolved, reason=reason)
