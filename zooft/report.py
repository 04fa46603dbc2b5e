"""The human report of a run: ``report.md`` and ``report.html`` with PNG plots under ``plots/``.

Both files are rendered from one list of blocks (headings, key/value tables, tables, images),
so they always say the same thing. :func:`write_report` reads nothing from the run directory
and overwrites everything it writes, atomically, so it can be called again after ``export``
or ``bench`` to refresh the report. matplotlib (the ``report`` extra) is imported only here,
and only its object-oriented Agg API is used: no pyplot global state, no GUI backend.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

# keys of a history epoch that are bookkeeping, not curves
_NOT_CURVES = {"epoch", "lr", "learning_rate", "seconds", "images_per_second"}
_MAX_ANNOTATED_CLASSES = 40  # above this, counts in a confusion-matrix cell are unreadable
Block = tuple[str, Any]


# -- helpers -----------------------------------------------------------------------------------
def _atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` then move the temp file over ``path`` (readers never see half)."""
    # a unique name rather than mkstemp: mkstemp creates files 0600, and a report is meant
    # to be shared or served, so it should get the usual umask-based permissions
    tmp = str(path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"))
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def _fmt(value: Any) -> str:
    """A table cell: floats to 4 significant places, containers as compact JSON."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return str(value)


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return _fmt(seconds)
    minutes, secs = divmod(float(seconds), 60)
    return f"{int(minutes)}m {secs:.1f}s" if minutes else f"{secs:.1f}s"


def _size(num_bytes: Any) -> str:
    if not isinstance(num_bytes, (int, float)):
        return _fmt(num_bytes)
    for unit in ("B", "KB", "MB"):
        if num_bytes < 1024:
            return f"{num_bytes:.0f} {unit}" if unit == "B" else f"{num_bytes:.1f} {unit}"
        num_bytes /= 1024
    return f"{num_bytes:.1f} GB"


def _flatten(mapping: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            rows.extend(_flatten(value, f"{prefix}{key}."))
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


# -- plots -------------------------------------------------------------------------------------
def _new_figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: Path) -> None:
    # bbox_inches="tight" fits labels without tight_layout's warnings on tiny (1-epoch) plots
    _atomic_write(path, lambda tmp: figure.savefig(tmp, format="png", bbox_inches="tight"))


def _curve_plots(history: dict[str, Any], plots: Path) -> list[Block]:
    """One PNG per metric (``loss`` first), all phases on one x-axis, a line at each phase change."""
    from matplotlib.ticker import MaxNLocator

    phases = [p for p in history.get("phases", []) if p.get("epochs")]
    epochs = [e for p in phases for e in p["epochs"]]
    names = sorted({k.removeprefix("val_") for e in epochs for k in e} - _NOT_CURVES)
    names.sort(key=lambda n: n != "loss")  # stable: loss first, the rest alphabetical
    blocks: list[Block] = []
    for metric in names:
        figure = _new_figure(7, 3.6)
        axes = figure.add_subplot()
        for key, label in ((metric, "train"), (f"val_{metric}", "validation")):
            y = [math.nan if e.get(key) is None else float(e[key]) for e in epochs]
            if not all(map(math.isnan, y)):  # NaN gaps keep epochs aligned when a value is missing
                axes.plot(range(1, len(y) + 1), y, marker="o", ms=3, label=label)
        boundary = 0
        for index, phase in enumerate(phases):
            if index:
                axes.axvline(boundary + 0.5, color="grey", linestyle="--", linewidth=1)
            axes.text(boundary + 0.6, 1.0, phase.get("name", ""), transform=axes.get_xaxis_transform(),
                      va="bottom", fontsize=8, color="dimgrey")  # x in epochs, y in axes fraction
            boundary += len(phase["epochs"])
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("epoch (all phases)")
        axes.set_ylabel(metric)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
        path = plots / f"curve_{re.sub(r'[^A-Za-z0-9_.-]', '_', metric)}.png"  # a safe, link-able name
        _save(figure, path)
        blocks.append(("image", (f"plots/{path.name}", f"{metric} per epoch")))
    return blocks


def _confusion_plot(matrix: list[list[int]], classes: list[str], plots: Path) -> Block:
    """Cells coloured by row fraction (recall) so small classes stay visible; text shows counts."""
    import numpy as np

    counts = np.asarray(matrix, dtype=np.int64)
    n = counts.shape[0]
    rows = counts.sum(axis=1, keepdims=True)
    fraction = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    side = min(max(4.5, 0.38 * n + 2.5), 16)
    figure = _new_figure(side + 1, side)
    axes = figure.add_subplot()
    image = axes.imshow(fraction, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="fraction of true class")
    names = [c if len(c) <= 18 else c[:17] + "…" for c in classes]
    tick_size = max(6, 10 - n // 8)
    axes.set_xticks(range(n), names, rotation=90, fontsize=tick_size)
    axes.set_yticks(range(n), names, fontsize=tick_size)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    if n <= _MAX_ANNOTATED_CLASSES:
        for (i, j), count in np.ndenumerate(counts):
            if count:
                axes.text(j, i, str(count), ha="center", va="center", fontsize=max(6, min(11, 220 / n)),
                          color="white" if fraction[i, j] > 0.5 else "black")
    path = plots / "confusion_matrix.png"
    _save(figure, path)
    return ("image", (f"plots/{path.name}", "confusion matrix"))


# -- sections ----------------------------------------------------------------------------------
def _epoch_table(history: dict[str, Any]) -> list[Block]:
    """Every logged value of every epoch; columns are whatever the task and trainer logged."""
    epochs = [(p.get("name", ""), e) for p in history.get("phases", []) for e in p.get("epochs", [])]
    columns = list(dict.fromkeys(k for _, e in epochs for k in e))
    rows = [[name, *(e.get(c) for c in columns)] for name, e in epochs]
    return [("table", (["phase", *columns], rows))] if rows else []


def _pr_plot(curves: dict[str, list[list[float]]], plots: Path) -> Block:
    """Precision-recall curves per class (detection, IoU 0.5): ``{class: [[recall, precision] ...]}``."""
    figure = _new_figure(6, 4.5)
    axes = figure.add_subplot()
    for name, points in curves.items():
        if points:
            recall, precision = zip(*points)
            axes.plot(recall, precision, label=name)
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    path = plots / "pr_curves.png"
    _save(figure, path)
    return ("image", (f"plots/{path.name}", "precision-recall curves (IoU 0.5)"))


def _metrics_blocks(metrics: dict[str, Any]) -> list[Block]:
    summary: list[tuple[str, Any]] = []
    for key, value in metrics.items():
        if key in ("per_class", "confusion_matrix", "classes", "pr_curves"):
            continue
        if isinstance(value, dict) and {"k", "accuracy"} <= value.keys():
            summary.append((f"top-{value['k']} accuracy", value["accuracy"]))
        elif isinstance(value, dict):
            summary.extend((f"{key}.{k}", v) for k, v in _flatten(value))
        elif value is not None:
            summary.append((key, value))
    blocks: list[Block] = [("kv", summary)] if summary else []
    per_class = metrics.get("per_class") or {}
    if per_class:
        columns = list(dict.fromkeys(k for row in per_class.values() for k in row))
        rows = [[name, *(row.get(c) for c in columns)] for name, row in per_class.items()]
        blocks += [("h3", "Per class"), ("table", (["class", *columns], rows))]
    return blocks


def _data_blocks(summary: dict[str, Any]) -> list[Block]:
    info = [(k, v) for k, v in summary.items() if k not in ("counts", "skipped", "classes", "examples", "warnings")]
    blocks: list[Block] = [("kv", info)] if info else []
    counts: dict[str, dict[str, int]] = summary.get("counts") or {}
    if counts:
        splits = list(counts)
        classes = list(dict.fromkeys(c for per in counts.values() for c in per))
        rows: list[list[Any]] = []
        for name in [*classes, "total"]:
            per_split = [sum(counts[s].values()) if name == "total" else counts[s].get(name, 0) for s in splits]
            rows.append([name, *per_split, sum(per_split)])
        if classes:
            blocks.append(("table", (["class", *splits, "all"], rows)))
        else:  # a task without classes (target_kind "value"): examples per split, no empty class table
            sizes = [int((summary.get("examples") or {}).get(s, 0)) for s in splits]
            blocks.append(("table", (["", *splits, "all"], [["examples", *sizes, sum(sizes)]])))
    warnings = summary.get("warnings") or []
    if warnings:
        blocks += [("h3", f"Data warnings ({len(warnings)})"), ("table", (["warning"], [[w] for w in warnings]))]
    skipped = summary.get("skipped") or []
    if skipped:
        shown = [list(item) if isinstance(item, (list, tuple)) else [item, ""] for item in skipped[:50]]
        blocks += [("h3", f"Skipped files ({len(skipped)})"), ("table", (["file", "reason"], shown))]
        if len(skipped) > 50:
            blocks.append(("text", f"… and {len(skipped) - 50} more."))
    return blocks


def _timing_blocks(timing: dict[str, Any]) -> list[Block]:
    rows = [("total", _duration(timing.get("total_seconds")))]
    run, stopped = timing.get("epochs_run") or {}, timing.get("stopped") or {}
    for name, sec in (timing.get("phases") or {}).items():
        # the epochs a phase ran (an auto phase decides them) and why it stopped
        detail = stopped.get(name) or (f"{run[name]} epochs" if name in run else "")
        rows.append((f"phase {name}", _duration(sec) + (f" ({detail})" if detail else "")))
    if timing.get("images_per_second") is not None:
        rows.append(("throughput", f"{timing['images_per_second']:.1f} images/s"))
    shown = ("total_seconds", "phases", "images_per_second", "epochs_run", "stopped")
    rows += [(k, "; ".join(f"{a}: {b}" for a, b in v.items()) if isinstance(v, dict) else v)
             for k, v in timing.items() if k not in shown]
    return [("kv", rows)]


def _lookup(entry: dict[str, Any], *keys: str) -> Any:
    """An export field, flat or nested as in ``ParityReport.to_dict()`` (``metrics`` / ``parity``)."""
    parity = entry.get("parity") or {}
    for scope in (entry, parity, entry.get("metrics") or {}, parity.get("metrics") or {}):
        for key in keys:
            if scope.get(key) is not None:
                return scope[key]
    return None


def _export_blocks(exports: list[dict[str, Any]]) -> list[Block]:
    rows = []
    for entry in exports:
        passed = _lookup(entry, "passed")
        verified = _lookup(entry, "verified")
        parity = "not verified" if verified is False else "—" if passed is None else "pass" if passed else "FAIL"
        size = _size(_lookup(entry, "size_bytes", "size"))
        rows.append([
            _lookup(entry, "format"), _lookup(entry, "options", "quantize"), size, parity,
            _lookup(entry, "max_abs", "max_diff"), _lookup(entry, "top1_agreement"), _lookup(entry, "path"),
        ])
    return [("table", (["format", "options", "size", "parity", "max abs diff", "top-1 agreement", "path"], rows))]


def _bench_blocks(bench: dict[str, Any]) -> list[Block]:
    rows = [
        [r["name"], _size(r.get("size_bytes")), r.get("latency_ms_p50"), r.get("latency_ms_p90"),
         r.get("throughput"), r.get("speedup_vs_keras")]
        for r in bench["rows"]
    ]
    text = f"Batch {bench.get('batch', 1)}, {bench.get('runs', '?')} timed runs each, on this machine."
    header = ["artifact", "size", "p50 ms", "p90 ms", "images/s", "speed-up vs Keras"]
    return [("text", text), ("table", (header, rows))]


# -- rendering ---------------------------------------------------------------------------------
def _md_cell(value: Any) -> str:
    return _fmt(value).replace("|", "\\|").replace("\n", " ")


def _render_md(title: str, blocks: list[Block]) -> str:
    out = [f"# {title}", ""]
    for kind, body in blocks:
        if kind in ("h2", "h3"):
            out += ["#" * int(kind[1]) + f" {body}", ""]
        elif kind == "text":
            out += [body, ""]
        elif kind == "image":
            out += [f"![{body[1]}]({body[0]})", ""]
        elif kind in ("kv", "table"):
            headers, rows = (["", ""], body) if kind == "kv" else body
            out.append("| " + " | ".join(headers) + " |")
            out.append("|" + "---|" * len(headers))
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            out.append("")
    return "\n".join(out)


_CSS = """body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}td.k{font-weight:600}img{max-width:100%;display:block;margin:.5em 0 1.5em}"""


def _render_html(title: str, blocks: list[Block]) -> str:
    esc = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{esc(title)}</title>",
           f"<style>{_CSS}</style></head><body>", f"<h1>{esc(title)}</h1>"]
    for kind, body in blocks:
        if kind in ("h2", "h3"):
            out.append(f"<{kind}>{esc(body)}</{kind}>")
        elif kind == "text":
            out.append(f"<p>{esc(body)}</p>")
        elif kind == "image":
            out.append(f'<img src="{esc(body[0])}" alt="{esc(body[1])}">')
        elif kind == "kv":
            cells = "".join(f'<tr><td class="k">{esc(_fmt(k))}</td><td>{esc(_fmt(v))}</td></tr>' for k, v in body)
            out.append(f"<table>{cells}</table>")
        elif kind == "table":
            headers, rows = body
            head = "".join(f"<th>{esc(h)}</th>" for h in headers)
            cells = "".join("<tr>" + "".join(f"<td>{esc(_fmt(c))}</td>" for c in row) + "</tr>" for row in rows)
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_report(
    run_dir: Path,
    *,
    config: dict[str, Any],
    history: dict[str, Any],
    metrics: dict[str, Any],
    data_summary: dict[str, Any],
    timing: dict[str, Any],
    exports: list[dict[str, Any]] | None = None,
    bench: dict[str, Any] | None = None,
) -> Path:
    """Write ``report.md`` and ``report.html`` (plots in ``plots/``) into ``run_dir``; return the HTML path.

    Safe to call again (after ``export`` or ``bench``): it reads nothing from ``run_dir`` and
    replaces every file it writes, atomically.

    ``history`` is ``{"phases": [{"name", "epochs": [{"epoch", "loss", "val_loss", ...}]}]}``;
    every metric with a value in some epoch gets a curve. ``metrics`` is the task's evaluation:
    top-level scalars are summarised, ``per_class`` becomes a table and ``confusion_matrix``
    (with ``classes``) an image, each only if present. ``data_summary`` holds ``format``,
    ``root``, ``counts`` (``{split: {class: n}}``) and ``skipped`` (``[(path, reason)]``);
    ``timing`` holds ``total_seconds``, ``phases`` (``{name: seconds}``) and
    ``images_per_second``. ``exports`` entries carry ``format``, ``size_bytes``, ``path`` and
    the parity fields (``passed``, ``max_abs``, ``top1_agreement``), flat or as in
    :meth:`zooft.ParityReport.to_dict`. ``bench`` is what ``zooft bench`` measured
    (``{"batch", "rows": [{"name", "size_bytes", "latency_ms_p50", ...}]}``). Without matplotlib the report is written without
    plots and says how to get them.
    """
    run_dir = Path(run_dir)
    plots = run_dir / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    try:
        import matplotlib  # noqa: F401 - only probing for the optional [report] extra

        have_plots = True
    except ImportError:
        have_plots = False
    # plots this function owns are removed first, so a refresh never leaves a stale image behind
    for old in [*plots.glob("curve_*.png"), plots / "confusion_matrix.png", plots / "pr_curves.png"]:
        old.unlink(missing_ok=True)

    blocks: list[Block] = [("h2", "Training curves")]
    if have_plots:
        blocks += _curve_plots(history, plots) or [("text", "No epochs recorded.")]
    else:
        blocks.append(("text", "Plots need matplotlib: pip install 'zooft[report]', then refresh the report."))
    blocks += _epoch_table(history)
    blocks += [("h2", "Evaluation"), *_metrics_blocks(metrics)]
    matrix = metrics.get("confusion_matrix")
    if matrix:
        classes = metrics.get("classes") or [str(i) for i in range(len(matrix))]
        blocks.append(("h3", "Confusion matrix (rows: true, columns: predicted)"))
        if have_plots:
            blocks.append(_confusion_plot(matrix, classes, plots))
        else:  # still readable as counts
            blocks.append(("table", (["", *classes], [[name, *row] for name, row in zip(classes, matrix)])))
    if metrics.get("pr_curves") and have_plots:
        blocks += [("h3", "Precision-recall (IoU 0.5)"), _pr_plot(metrics["pr_curves"], plots)]
    blocks += [("h2", "Data set"), *_data_blocks(data_summary)]
    blocks += [("h2", "Time and throughput"), *_timing_blocks(timing)]
    if exports:
        blocks += [("h2", "Exports"), *_export_blocks(exports)]
    if bench and bench.get("rows"):
        blocks += [("h2", "Exported-model benchmark"), *_bench_blocks(bench)]
    blocks += [("h2", "Configuration"), ("kv", _flatten(config))]

    title = f"zooft run report: {run_dir.resolve().name}"
    _write_text(run_dir / "report.md", _render_md(title, blocks))
    _write_text(run_dir / "report.html", _render_html(title, blocks))
    return run_dir / "report.html"
