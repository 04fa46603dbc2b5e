"""What freezing the imported objects (``tfruntime.freeze_imports``) saves a plain ``zooft tune``.

Two ways to run the same default ``zooft tune --backbone embedded --task classify --data DIR``,
each a fresh process, alternating (for each data set and repeat, both in turn):
- ``frozen``: the CLI as shipped: once Keras is imported, :func:`gc.freeze` moves the objects
  the imports left out of the garbage collector's reach.
- ``not frozen``: the same CLI with ``freeze_imports`` replaced by a no-op (Python's default).

Reported per data set: median wall time, per-repeat wall ratio, the head phase (feature
extraction and the head on cached features) and fine-tune phase wall times (timing.json),
and the test accuracy (the freeze changes no computation, so accuracies must match).

    .venv/bin/python scripts/bench/gc_freeze.py --data digits --data textures --repeats 3
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from datasets import describe_kind, write_any  # noqa: E402
from results import load_note, machine_line, publish  # noqa: E402

#: How each variant starts the CLI (``python -c CODE tune ...``).
VARIANTS = {
    "frozen": "import sys, zooft.cli; sys.exit(zooft.cli.run(sys.argv[1:]))",
    "not frozen": ("import sys, zooft.tfruntime, zooft.cli; zooft.tfruntime.freeze_imports = lambda: None; "
                   "sys.exit(zooft.cli.run(sys.argv[1:]))"),
}


def run_once(code: str, data: Path, out: Path) -> dict:
    """Wall time, phase wall times and accuracy of one default ``zooft tune`` process."""
    argv = [sys.executable, "-c", code, "tune", "--backbone", "embedded", "--task", "classify", "--data", str(data),
            "--output", str(out)]
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {shlex.join(argv)}\n{proc.stderr[-3000:]}")
    phases = json.loads((out / "timing.json").read_text()).get("phase_wall_seconds", {})
    return {"seconds": wall, "head": phases.get("head", 0.0), "fine-tune": phases.get("fine-tune", 0.0),
            "accuracy": json.loads((out / "metrics.json").read_text())["accuracy"]}


def table(rows: list[dict]) -> str:
    """A row per data set and variant: medians, and each repeat's wall ratio to ``not frozen``."""
    lines = ["| data | variant | wall (s, median) | wall / not frozen, per repeat | head phase (s, median) | "
             "fine-tune phase (s, median) | test accuracy |", "|---|---|---|---|---|---|---|"]
    for kind in dict.fromkeys(r["data"] for r in rows):
        base = {r["repeat"]: r["seconds"] for r in rows if r["data"] == kind and r["variant"] == "not frozen"}
        for name in VARIANTS:
            runs = [r for r in rows if r["data"] == kind and r["variant"] == name]
            ratios = " / ".join(f"{r['seconds'] / base[r['repeat']]:.2f}" for r in runs)
            accuracies = " / ".join(sorted({f"{r['accuracy']:.4f}" for r in runs}))
            lines.append(f"| {describe_kind(kind)} | {name} | {statistics.median(r['seconds'] for r in runs):.1f} | {ratios} | "
                         f"{statistics.median(r['head'] for r in runs):.2f} | {statistics.median(r['fine-tune'] for r in runs):.1f} | "
                         f"{accuracies} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", action="append", help="data set kind (repeatable): digits, textures, shapes, …")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-root", help="reuse data sets written here earlier (DIR/<kind>), write missing ones there")
    parser.add_argument("--no-write", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args()
    kinds = args.data or ["digits"]
    load = load_note()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.data_root) if args.data_root else Path(tmp)
        sets = {kind: root / kind if (root / kind / "train").is_dir() else write_any(kind, root / kind) for kind in kinds}
        for repeat in range(args.repeats):
            for kind in kinds:
                for i, (name, code) in enumerate(VARIANTS.items()):
                    row = {"data": kind, "variant": name, "repeat": repeat,
                           **run_once(code, sets[kind], Path(tmp) / f"run-{kind}-{repeat}-{i}")}
                    rows.append(row)
                    print(f"{kind} {repeat} {name}: {row['seconds']:.1f}s, accuracy {row['accuracy']:.4f}", flush=True)
    command = " ".join(["scripts/bench/gc_freeze.py", *(f"--data {k}" for k in kinds), f"--repeats {args.repeats}"])
    section = f"""
## Garbage collection after the imports: a plain `zooft tune` with and without `gc.freeze`

{machine_line()} · {load}

Each run a fresh default `zooft tune --backbone embedded --task classify --data DIR` process
(seed 0); for each data set and repeat both variants in turn. `not frozen` replaces
`zooft.tfruntime.freeze_imports` with a no-op.

{table(rows)}

Command: `.venv/bin/python {command}`
"""
    publish(section, write=not args.no_write)


if __name__ == "__main__":
    main()
