"""The frozen-feature cache on vs off for the head phase: wall time and losses, side by side.

Two ``zooft tune`` runs on the same digits folders, backbone, seed and epochs (head phase
only, no augmentation), one with ``--no-feature-cache``. The head-phase time is each run's own
wall time for the phase (feature extraction and graph tracing included, process start-up
excluded); the losses per epoch must agree. ``--repeats N`` alternates the two runs N times and
compares medians (single runs on a shared VM move by 10-30 %). Appends a section to BENCHMARKS.md.

    .venv/bin/python scripts/bench/feature_cache.py [--epochs 5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from datasets import KINDS, write_dataset  # noqa: E402
from results import load_note, machine_line, publish  # noqa: E402


def tune(data: Path, out: Path, args: argparse.Namespace, *extra: str) -> dict:
    argv = [sys.executable, "-m", "zooft", "tune", "--backbone", "embedded", "--data", str(data), "--epochs", str(args.epochs), "--image-size", str(args.image_size),
            "--batch-size", "32", "--augment", "none", "--output", str(out), *extra]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"failed: {' '.join(argv)}\n{proc.stderr[-3000:]}")
    history = json.loads((out / "history.json").read_text())["phases"][0]["epochs"]
    timing = json.loads((out / "timing.json").read_text())
    return {"seconds": timing["phase_wall_seconds"]["head"], "losses": [e["loss"] for e in history],
            "val_losses": [e["val_loss"] for e in history], "note": timing["feature_cache"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--digits-size", type=int, default=32)
    parser.add_argument("--data", choices=KINDS, default="digits")
    parser.add_argument("--copies", type=int, default=1, help="repeat the training images (a larger data set)")
    parser.add_argument("--repeats", type=int, default=1, help="alternate the two runs this many times, compare medians")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zooft-bench-fc-"))
    counts, described = write_dataset(args.data, work / "digits", digits_size=args.digits_size, copies=args.copies)
    ons, offs = [], []
    for i in range(args.repeats):  # alternated, so a slow spell of the machine hits both
        ons.append(tune(work / "digits", work / f"on-{i}", args))
        offs.append(tune(work / "digits", work / f"off-{i}", args, "--no-feature-cache"))
    on, off = ons[0], offs[0]
    diff = max(abs(a - b) for r in ons + offs for a, b in zip(r["losses"] + r["val_losses"], off["losses"] + off["val_losses"]))
    on_s, off_s = statistics.median(r["seconds"] for r in ons), statistics.median(r["seconds"] for r in offs)

    def times(runs: list[dict]) -> str:
        return " / ".join(f"{r['seconds']:.1f}" for r in runs)

    rows = "\n".join(
        f"| {name} | {median:.1f} | {times(runs)} | {' '.join(f'{x:.4f}' for x in runs[0]['losses'])} | "
        f"{' '.join(f'{x:.4f}' for x in runs[0]['val_losses'])} |"
        for name, median, runs in (("cache on", on_s, ons), ("cache off (--no-feature-cache)", off_s, offs))
    )
    section = f"""
## Frozen-feature cache: head phase with and without

{machine_line()}

{load_note()}

Data: {described} ({counts['train']} train / {counts['val']} val images), \
{args.image_size} px input, embedded MobileNetV2 α=0.35, batch 32, {args.epochs} head epochs, no augmentation. \
Time: the head phase's wall time inside each run (features computed once + head training, graph tracing included); \
{args.repeats} alternated run(s) each, median.

| run | head phase (s), median | each run (s) | train loss per epoch | val loss per epoch |
|---|---|---|---|---|
{rows}

Speed-up: **{off_s / on_s:.1f}×** (medians); largest loss difference over all runs **{diff:.1e}**.
Cache: {on['note']}.

Command: `.venv/bin/python scripts/bench/feature_cache.py --data {args.data} --epochs {args.epochs} --image-size {args.image_size} --copies {args.copies} --repeats {args.repeats}`
"""
    publish(section, write=not args.no_write)


if __name__ == "__main__":
    main()
