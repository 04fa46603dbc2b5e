"""Side-by-side runs of a plain ``zooft tune``: every variant in turn, each a fresh process.

For each repeat and data set all variants run one after the other, so a load change on a shared
machine hits them alike; ratios are then taken within one data set and repeat.
"""

from __future__ import annotations

import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import describe_kind, reuse_or_write  # noqa: E402


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, str, str]:
    """Run ``argv``; return its wall time, stdout and stderr. A failure ends the benchmark with
    the command and the tail of its stderr."""
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {shlex.join(argv)}\n{proc.stderr[-3000:]}")
    return seconds, proc.stdout, proc.stderr


def plain_tune(data: Path, out: Path, *flags: str, launcher: tuple[str, ...] = ("-m", "zooft")) -> list[str]:
    """The command of a plain ``zooft tune --backbone embedded --task classify --data DATA`` writing
    its run to ``out``, with ``flags`` after it; ``launcher`` starts the CLI (e.g. ``("-c", CODE)``)."""
    return [sys.executable, *launcher, "tune", "--backbone", "embedded", "--task", "classify", "--data", str(data),
            "--output", str(out), *flags]


def tune_once(argv: list[str], out: Path, env: dict[str, str] | None = None) -> dict:
    """Run ``argv`` (a ``zooft tune`` writing its run to ``out``); return its wall time, the head
    and fine-tune phases' wall times (timing.json) and its test accuracy (metrics.json)."""
    wall, _, _ = timed(argv, env)
    phases = json.loads((out / "timing.json").read_text()).get("phase_wall_seconds", {})
    return {"seconds": wall, "head": phases.get("head", 0.0), "fine-tune": phases.get("fine-tune", 0.0),
            "accuracy": json.loads((out / "metrics.json").read_text())["accuracy"]}


def alternate(variants: dict[str, Any], kinds: list[str], repeats: int, data_root: str | None,
              run: Callable[[Any, Path, Path, int], dict]) -> list[dict]:
    """``run(variant_value, data_dir, out_dir, repeat)`` for every repeat, data set and variant,
    variants innermost. Data sets are written under ``data_root`` unless already there
    (``datasets.reuse_or_write``). Returns rows ``{"data", "variant", "repeat", **run's
    result}``, printing each."""
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(data_root) if data_root else Path(tmp)
        sets = {kind: reuse_or_write(kind, root) for kind in kinds}
        for repeat in range(repeats):
            for kind in kinds:
                for i, (name, value) in enumerate(variants.items()):
                    out = Path(tmp) / f"run-{kind}-{repeat}-{i}"
                    row = {"data": kind, "variant": name, "repeat": repeat, **run(value, sets[kind], out, repeat)}
                    rows.append(row)
                    print(f"{kind} {repeat} {name}: {row['seconds']:.1f}s, accuracy {row['accuracy']:.4f}", flush=True)
    return rows


def without(names: tuple[str, ...]) -> dict[str, str]:
    """This process's environment without the variables ``names``."""
    return {k: v for k, v in os.environ.items() if k not in names}


def ratio_table(rows: list[dict], variants: list[str], baseline: str) -> str:
    """One Markdown table per data set of :func:`alternate`'s rows: per variant the median wall
    time, each repeat's wall time over ``baseline``'s in the same data set and repeat, the
    phases' median wall times and the test accuracy (mean; per repeat)."""
    out = []
    for kind in dict.fromkeys(r["data"] for r in rows):
        sub = [r for r in rows if r["data"] == kind]
        base = {r["repeat"]: r["seconds"] for r in sub if r["variant"] == baseline}
        out += [f"\n**{describe_kind(kind)}**\n",
                f"| variant | wall (s, median) | wall / {baseline}, per repeat | head phase (s, median) | "
                "fine-tune phase (s, median) | test accuracy (mean; per repeat) |",
                "|---|---|---|---|---|---|"]
        for name in variants:
            runs = sorted((r for r in sub if r["variant"] == name), key=lambda r: r["repeat"])
            if not runs:
                continue
            ratios = " / ".join(f"{r['seconds'] / base[r['repeat']]:.2f}" for r in runs if r["repeat"] in base)
            per_repeat = " / ".join(f"{r['accuracy']:.3f}" for r in runs)
            out.append(
                f"| {name} | {statistics.median(r['seconds'] for r in runs):.1f} | {ratios} | "
                f"{statistics.median(r['head'] for r in runs):.2f} | {statistics.median(r['fine-tune'] for r in runs):.1f} | "
                f"{statistics.mean(r['accuracy'] for r in runs):.4f}; {per_repeat} |")
    return "\n".join(out)
