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
import shlex
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from alternating import alternate, plain_tune, ratio_table, tune_once, without  # noqa: E402
from results import load_note, machine_line, publish  # noqa: E402

SETTINGS = {
    "oneDNN, all ISAs": {"ONEDNN_MAX_CPU_ISA": "ALL"},
    "oneDNN, AVX2 kernels": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
    "oneDNN off": {"TF_ENABLE_ONEDNN_OPTS": "0"},
}
#: The setting the others are compared with.
BASELINE = "oneDNN off"
#: The variables that choose oneDNN's kernels; each run sets its own.
ONEDNN_VARS = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "TF_ENABLE_ONEDNN_OPTS", "ZOOFT_ONEDNN")


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

    def run(env: dict[str, str], data: Path, out: Path, seed: int) -> dict:
        return tune_once(plain_tune(data, out, "--seed", str(seed), *flags), out, env={**without(ONEDNN_VARS), **env})

    rows = alternate(SETTINGS, kinds, args.seeds, args.data_root, run)
    command = " ".join(["scripts/bench/onednn.py", *(f"--data {k}" for k in kinds), f"--seeds {args.seeds}",
                        *([f"--flags {shlex.quote(args.flags)}"] if args.flags else [])])
    section = f"""
## oneDNN setting: a plain `zooft tune` on held-out data under three settings

{machine_line()} · started {started} · {load}

`zooft tune --backbone embedded --task classify --data DIR --seed S{' ' + args.flags if args.flags else ''}`, each run a
fresh process; for each data set and seed the three settings run in turn. Seeds 0–{args.seeds - 1}.
{ratio_table(rows, list(SETTINGS), BASELINE)}

Command: `.venv/bin/python {command}`
"""
    publish(section, write=not args.no_write)


if __name__ == "__main__":
    main()
