"""Peak memory of ``zooft tune`` at 1× and 10× the data set size.

The 10× set repeats every training image ten times under new file names (val and test stay
the same). Each run is a fresh process that reports its own peak resident set size
(``ru_maxrss``) when it ends; the pipeline streams files, so memory should stay flat.

    .venv/bin/python scripts/bench/memory.py [--scale 10]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from datasets import write_digits  # noqa: E402
from results import load_note, machine_line, publish  # noqa: E402

WRAPPER = """
import resource, sys
from zooft.cli import run
code = run(sys.argv[1:])
print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(code)
"""


def peak_kb(data: Path, out: Path, args: argparse.Namespace) -> int:
    argv = [sys.executable, "-c", WRAPPER, "tune", "--backbone", "embedded", "--data", str(data / "train"),
            "--val-data", str(data / "val"), "--test-data", str(data / "test"), "--epochs", str(args.epochs),
            "--fine-tune-epochs", str(args.fine_tune_epochs), "--unfreeze", "1", "--image-size", str(args.image_size),
            "--augment", "none", "--output", str(out)]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"failed: {' '.join(argv)}\n{proc.stderr[-3000:]}")
    return int(proc.stdout.split("MAXRSS_KB")[-1].split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--fine-tune-epochs", type=int, default=1)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--digits-size", type=int, default=32)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zooft-bench-mem-"))
    small = write_digits(work / "x1", size=args.digits_size)
    large = write_digits(work / f"x{args.scale}", size=args.digits_size, copies=args.scale)
    one = peak_kb(work / "x1", work / "run1", args)
    many = peak_kb(work / f"x{args.scale}", work / "runN", args)
    section = f"""
## Peak memory at 1× and {args.scale}× data

{machine_line()}

{load_note()}

`zooft tune` (embedded MobileNetV2 α=0.35, {args.image_size} px, {args.epochs} head epoch(s) with the feature \
cache + {args.fine_tune_epochs} fine-tuning epoch(s), no augmentation), each a fresh process; peak RSS from ru_maxrss.

| data | train images | peak RSS (MB) |
|---|---|---|
| 1× | {small['train']} | {one / 1024:.0f} |
| {args.scale}× | {large['train']} | {many / 1024:.0f} |

Ratio {args.scale}× / 1×: **{many / one:.2f}**.

Command: `.venv/bin/python scripts/bench/memory.py --scale {args.scale} --image-size {args.image_size}`
"""
    publish(section, write=not args.no_write)


if __name__ == "__main__":
    main()
