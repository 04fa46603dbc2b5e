"""The speed cost of zooft's oneDNN setting: ``zooft tune`` on the embedded model under three settings.

Settings (each a fresh ``zooft tune`` process, alternating, ``--repeats`` times):
- ``oneDNN, all ISAs``: TensorFlow's default on x86 (``ONEDNN_MAX_CPU_ISA=ALL``); on AVX-512
  CPUs this crashes small residual nets (see docs/training.md "Native crashes and oneDNN").
- ``oneDNN, AVX2 kernels``: ``ONEDNN_MAX_CPU_ISA=AVX2`` (``ZOOFT_ONEDNN=avx2``).
- ``oneDNN off``: ``TF_ENABLE_ONEDNN_OPTS=0`` (TensorFlow's own Eigen kernels; zooft's default).

Reported: the wall time of the whole command and the head / fine-tune phase times that zooft
prints (sums of the per-epoch times), as medians. Appended to BENCHMARKS.md unless --no-write.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import load_note, machine_line, publish  # noqa: E402

SETTINGS = {
    "oneDNN, all ISAs": {"ONEDNN_MAX_CPU_ISA": "ALL"},
    "oneDNN, AVX2 kernels": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
    "oneDNN off (zooft default)": {"TF_ENABLE_ONEDNN_OPTS": "0"},
}
EPOCH = re.compile(r"^(head|fine-tune) epoch \d+/\d+ .* ([\d.]+)s\s+\d+ img/s", re.M)


def run_once(data: Path, out: Path, env: dict[str, str], epochs: int) -> tuple[float, dict[str, float]]:
    """Wall time and per-phase epoch-time sums of one ``zooft tune``."""
    clean = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_MAX_CPU_ISA", "TF_ENABLE_ONEDNN_OPTS", "ZOOFT_ONEDNN")}
    argv = [sys.executable, "-m", "zooft", "tune", "--backbone", "embedded", "--task", "classify",
            "--data", str(data), "--epochs", str(epochs), "--fine-tune-epochs", str(epochs), "--output", str(out)]
    start = time.perf_counter()
    proc = subprocess.run(argv, env={**clean, **env}, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    phases: dict[str, float] = {"head": 0.0, "fine-tune": 0.0}
    for phase, seconds in EPOCH.findall(proc.stderr + proc.stdout):
        phases[phase] += float(seconds)
    return wall, phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    results: dict[str, list[tuple[float, dict[str, float]]]] = {name: [] for name in SETTINGS}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "shapes"
        subprocess.run([sys.executable, "-m", "zooft", "demo-data", "classify", str(data)], check=True,
                       capture_output=True)
        for repeat in range(args.repeats):
            for i, (name, env) in enumerate(SETTINGS.items()):
                result = run_once(data, Path(tmp) / f"run{repeat}-{i}", env, args.epochs)
                results[name].append(result)
                print(f"{name}: wall {result[0]:.1f}s, {result[1]}", flush=True)
    rows = []
    for name, values in results.items():
        wall = statistics.median(v[0] for v in values)
        head = statistics.median(v[1]["head"] for v in values)
        tune = statistics.median(v[1]["fine-tune"] for v in values)
        rows.append(f"| {name} | {wall:.1f} | {head:.1f} | {tune:.1f} |")
    section = f"""
## oneDNN setting: speed of `zooft tune` on the embedded model

{machine_line()} · {load_note()}

`python scripts/bench/onednn.py --repeats {args.repeats} --epochs {args.epochs}`: `zooft tune --backbone embedded
--task classify --data <demo-data classify> --epochs {args.epochs} --fine-tune-epochs {args.epochs}`, each setting
a fresh process, settings alternating, medians of {args.repeats}. Phase times are the sums of the
per-epoch times zooft prints (the head phase's first epoch includes graph tracing).

| setting | wall (s) | head phase (s) | fine-tune phase (s) |
| --- | --- | --- | --- |
""" + "\n".join(rows) + "\n"
    publish(section, write=not args.no_write)


if __name__ == "__main__":
    main()
