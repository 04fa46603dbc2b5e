"""Exported-model latency vs the Keras model (``zooft export`` + ``zooft bench``).

Exports a finished run to TFLite (float32 and int8) and ONNX, then times every artifact next to
the Keras model called as a tf.function (batch 1, median of ``--runs``), in one ``zooft bench``
call. Without ``--run`` it first trains a small run on the digits.

    .venv/bin/python scripts/bench/latency.py [--run RUN_DIR]
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

from datasets import write_digits  # noqa: E402
from results import load_note, machine_line, publish  # noqa: E402

FORMATS = (("tflite", []), ("tflite", ["--quantize", "int8"]), ("onnx", []))


def zooft(*argv: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "zooft", *argv], capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"zooft {' '.join(argv)} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", help="a finished run directory (default: train one)")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.run:
        run = Path(args.run)
    else:
        work = Path(tempfile.mkdtemp(prefix="zooft-bench-lat-"))
        write_digits(work / "digits", size=32)
        run = work / "run"
        zooft("tune", "--backbone", "embedded", "--data", str(work / "digits" / "train"), "--val-data",
              str(work / "digits" / "val"), "--epochs", "2", "--augment", "none", "--output", str(run))
    exported = {p.name for p in (run / "exports").glob("*")} if (run / "exports").is_dir() else set()
    for fmt, extra in FORMATS:
        name = fmt + ("-" + extra[-1] if extra else "")
        if name not in exported:
            zooft("export", str(run), "--format", fmt, *extra)
    result = json.loads(zooft("bench", str(run), "--runs", str(args.runs), "--json"))
    rows = "\n".join(
        f"| {r['name']} | {r['runtime']} | {r['size_bytes'] / 1e6:.2f} | {r['latency_ms_p50']:.2f} | "
        f"{r['latency_ms_p90']:.2f} | {r['speedup_vs_keras']:.1f}× |"
        for r in result["rows"]
    )
    size = json.loads((run / "config.json").read_text())["values"]["image_size"]
    section = f"""
## Exported-model latency vs Keras

{machine_line()}

{load_note()}

The embedded MobileNetV2 α=0.35 classifier at {size[0]}×{size[1]} px, batch {result['batch']}, \
median of {result['runs']} calls after warm-up.

| artifact | runtime | size (MB) | p50 (ms) | p90 (ms) | speed-up vs Keras |
|---|---|---|---|---|---|
{rows}

Command: `.venv/bin/python scripts/bench/latency.py --runs {args.runs}{' --run ' + str(args.run) if args.run else ''}`
"""
    publish(section, write=not args.no_write)


if __name__ == "__main__":
    main()
