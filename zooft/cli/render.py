"""Human-readable rendering of any task's predictions and metrics.

A task may define ``format_prediction(row) -> str`` and ``format_metrics(metrics) -> str``
(optional hooks, zooft/task.py); without them a prediction with ``label``/``probability`` is
shown the classification way and anything else as ``key value`` pairs, so ``predict`` and
``eval`` print something readable for every task instead of failing on a missing key.
"""

from __future__ import annotations

from typing import Any


def _value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        if len(value) > 8:
            return "[" + ", ".join(_value(v) for v in value[:8]) + f", … ({len(value)} values)]"
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in list(value.items())[:8]) + ("…" if len(value) > 8 else "") + "}"
    return str(value)


def generic_pairs(mapping: dict[str, Any], skip: tuple[str, ...] = ()) -> str:
    """``key value`` pairs of a JSON-ready mapping, on one line."""
    return "  ".join(f"{k} {_value(v)}" for k, v in mapping.items() if k not in skip)


def prediction_line(task: Any, row: dict[str, Any]) -> str:
    """One line for one input's prediction."""
    hook = getattr(task, "format_prediction", None)
    shown = row["file"] if "file" in row else repr(str(row.get("text", "?"))[:60])
    if hook is not None:
        return f"{shown}: {hook(row)}"
    if "label" in row and isinstance(row.get("probability"), (int, float)):
        extra = ", ".join(f"{t['label']} {t['probability']:.3f}" for t in row.get("top_k", [])[1:])
        return f"{shown}: {row['label']} {row['probability']:.3f}" + (f"  ({extra})" if extra else "")
    return f"{shown}: {generic_pairs(row, skip=('file', 'text'))}"


def metrics_text(task: Any, metrics: dict[str, Any]) -> str | None:
    """The task's own rendering of ``metrics``, or None (the CLI then uses its tables)."""
    hook = getattr(task, "format_metrics", None)
    return None if hook is None else str(hook(metrics))


def generic_metrics_lines(metrics: dict[str, Any]) -> list[str]:
    """Every top-level metric as ``name value``; nested mappings one level deep."""
    lines = []
    for key, value in metrics.items():
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            lines.append(f"{key}:")
            lines.extend(f"  {name}: {generic_pairs(row)}" for name, row in value.items())
        else:
            lines.append(f"{key} {_value(value)}")
    return lines
