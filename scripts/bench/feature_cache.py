"""The frozen-feature cache on vs off for the head phase: wall time and losses, side by side.

Two ``zooft tune`` runs on the same digits folders, backbone, seed and epochs (head phase
only, no augmentation), one with ``--no-feature-cache``. The head-phase time is each run's own
wall time for the phase (feature extraction and graph tracing included, process start-up
excluded); the losses per epoch must agree. Appends a section to BENCHMARKS.md.

    .venv/bin/python scripts/bench/feature_cache.py [--epochs 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from datasets import KINDS, write_dataset  # noqa: E402
from results import append_section, load_note, machine_line  # noqa: E402


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
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zooft-bench-fc-"))
    counts, described = write_dataset(args.data, work / "digits", digits_size=args.digits_size, copies=args.copies)
    on = tune(work / "digits", work / "on", args)
    off = tune(work / "digits", work / "off", args, "--no-feature-cache")
    diff = max(abs(a - b) for a, b in zip(on["losses"] + on["val_losses"], off["losses"] + off["val_losses"]))
    rows = "\n".join(
        f"| {name} | {r['seconds']:.1f} | {' '.join(f'{x:.4f}' for x in r['losses'])} | {' '.join(f'{x:.4f}' for x in r['val_losses'])} |"
        for name, r in (("cache on", on), ("cache off (--no-feature-cache)", off))
    )
    section = f"""
## Frozen-feature cache: head phase with and without

{machine_line()}

{load_note()}

Data: {described} ({counts['train']} train / {counts['val']} val images), \
{args.image_size} px input, embedded MobileNetV2 α=0.35, batch 32, {args.epochs} head epochs, no augmentation. \
Time: the head phase's wall time inside each run (features computed once + head training, graph tracing included).

| run | head phase (s) | train loss per epoch | val loss per epoch |
|---|---|---|---|
{rows}

Speed-up: **{off['seconds'] / on['seconds']:.1f}×**; largest loss difference **{diff:.1e}**.
Cache: {on['note']}.

Command: `.venv/bin/python scripts/bench/feature_cache.py --data {args.data} --epochs {args.epochs} --image-size {args.image_size} --copies {args.copies}`
"""
    print(section)
    if not args.no_write:
        append_section(section)


if __name__ == "__main__":
    main()
