"""The speed cost of zooft's oneDNN setting: a plain ``zooft tune`` under three settings.

Settings (each a fresh ``zooft tune`` process; for every data set and seed the settings run in
turn, so a load change on a shared machine hits all three alike):
- ``oneDNN, all ISAs``: TensorFlow's default on x86 (``ONEDNN_MAX_CPU_ISA=ALL``); on AVX-512
  CPUs this crashes small residual nets (see docs/training.md "Native crashes and oneDNN").
- ``oneDNN, AVX2 kernels``: ``ONEDNN_MAX_CPU_ISA=AVX2`` (``ZOOFT_ONEDNN=avx2``).
- ``oneDNN off``: ``TF_ENABLE_ONEDNN_OPTS=0`` (TensorFlow's own Eigen kernels).

The run is the default one (``zooft tune --backbone embedded --task classify --data DIR`` plus
``--flags``) on held-out data sets (``datasets.py``), so it covers everything a default run does:
feature extraction, the head on cached features, fine-tuning, evaluation. Reported per data set
and setting: median wall time, its ratio to oneDNN off per seed, the head and fine-tune phases'
wall times (timing.json) and test accuracy. Appended to BENCHMARKS.md unless --no-write.

    .venv/bin/python scripts/bench/onednn.py --data digits --data textures --seeds 3
"""

from __future__ import annotations

import argparse
import json
import os
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

SETTINGS = {
    "oneDNN, all ISAs": {"ONEDNN_MAX_CPU_ISA": "ALL"},
    "oneDNN, AVX2 kernels": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
    "oneDNN off": {"TF_ENABLE_ONEDNN_OPTS": "0"},
}
#: The setting the others are compared with.
BASELINE = "oneDNN off"
_OWN_VARS = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "TF_ENABLE_ONEDNN_OPTS", "ZOOFT_ONEDNN")


def run_once(data: Path, out: Path, env: dict[str, str], seed: int, flags: list[str]) -> dict:
    """Wall time, phase wall times and test accuracy of one ``zooft tune`` process."""
    clean = {k: v for k, v in os.environ.items() if k not in _OWN_VARS}
    argv = [sys.executable, "-m", "zooft", "tune", "--backbone", "embedded", "--task", "classify",
            "--data", str(data), "--seed", str(seed), "--output", str(out), *flags]
    start = time.perf_counter()
    proc = subprocess.run(argv, env={**clean, **env}, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {shlex.join(argv)}\n{proc.stderr[-3000:]}")
    timing = json.loads((out / "timing.json").read_text())
    phases = timing.get("phase_wall_seconds", {})
    return {"seconds": wall, "head": phases.get("head", 0.0), "fine-tune": phases.get("fine-tune", 0.0),
            "accuracy": json.loads((out / "metrics.json").read_text())["accuracy"]}


def table(rows: list[dict]) -> str:
    """One Markdown table per data set: a row per setting (medians, per-seed wall ratios)."""
    out = []
    for kind in dict.fromkeys(r["data"] for r in rows):
        sub = [r for r in rows if r["data"] == kind]
        base = {r["seed"]: r["seconds"] for r in sub if r["setting"] == BASELINE}
        out += [f"\n**{describe_kind(kind)}**\n",
                f"| setting | wall (s, median) | wall / {BASELINE}, per seed | head phase (s, median) | "
                "fine-tune phase (s, median) | test accuracy (mean; per seed) |",
                "|---|---|---|---|---|---|"]
        for name in SETTINGS:
            runs = sorted((r for r in sub if r["setting"] == name), key=lambda r: r["seed"])
            if not runs:
                continue
            ratios = " / ".join(f"{r['seconds'] / base[r['seed']]:.2f}" for r in runs if r["seed"] in base)
            accuracy = statistics.mean(r["accuracy"] for r in runs)
            per_seed = " / ".join(f"{r['accuracy']:.3f}" for r in runs)
            out.append(
                f"| {name} | {statistics.median(r['seconds'] for r in runs):.1f} | {ratios} | "
                f"{statistics.median(r['head'] for r in runs):.1f} | {statistics.median(r['fine-tune'] for r in runs):.1f} | "
                f"{accuracy:.4f}; {per_seed} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", action="append", help="data set kind (repeatable): digits, textures, shapes, …")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--flags", default="", help="extra zooft tune flags (default: none, the plain default run)")
    parser.add_argument("--data-root", help="reuse data sets written here earlier (DIR/<kind>), write missing ones there")
    parser.add_argument("--no-write", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args()
    kinds = args.data or ["digits"]
    flags = shlex.split(args.flags)
    load = load_note()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.data_root) if args.data_root else Path(tmp)
        sets = {kind: root / kind if (root / kind / "train").is_dir() else write_any(kind, root / kind) for kind in kinds}
        for seed in range(args.seeds):
            for kind in kinds:
                for i, (name, env) in enumerate(SETTINGS.items()):
                    row = {"data": kind, "setting": name, "seed": seed,
                           **run_once(sets[kind], Path(tmp) / f"run-{kind}-{seed}-{i}", env, seed, flags)}
                    rows.append(row)
                    print(f"{kind} seed {seed} {name}: {row['seconds']:.1f}s, accuracy {row['accuracy']:.4f}", flush=True)
    command = " ".join(["scripts/bench/onednn.py", *(f"--data {k}" for k in kinds), f"--seeds {args.seeds}",
                        *([f"--flags {shlex.quote(args.flags)}"] if args.flags else [])])
    section = f"""
## oneDNN setting: a plain `zooft tune` on held-out data under three settings

{machine_line()} · started {started} · {load}

`zooft tune --backbone embedded --task classify --data DIR --seed S{' ' + args.flags if args.flags else ''}`, each run a
fresh process; for each data set and seed the three settings run in turn. Seeds 0–{args.seeds - 1}.
{table(rows)}

Command: `.venv/bin/python {command}`
"""
    publish(section, write=not args.no_write)


if __name__ == "__main__":
    main()
