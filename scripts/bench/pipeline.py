"""zooft's image pipeline vs ``ImageDataGenerator.flow_from_directory``, in images/s.

Both read the same image folders (``--data digits``: small PNGs; ``--data photos``: 400×300
JPEGs), resize to the same size and batch the same way for the same
number of epochs (training order: shuffled), with no model attached: this is the input
pipeline alone. ImageDataGenerator runs as a subprocess under TF_USE_LEGACY_KERAS=1 (it needs
tf_keras, ``pip install -e '.[bench]'``); zooft's pipeline is timed without cache (decoding
every epoch, as a large data set would) and with ``--cache memory``.

    .venv/bin/python scripts/bench/pipeline.py [--epochs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from datasets import KINDS, write_dataset  # noqa: E402
from results import load_note, machine_line, publish  # noqa: E402


def zooft_rate(train: Path, args: argparse.Namespace, cache: str | None) -> float:
    import numpy as np
    import tensorflow as tf  # noqa: F401 - imported before the clock starts, as in the IDG process

    from zooft.data.images import make_image_dataset

    start = time.perf_counter()  # listing the files counts, as flow_from_directory's scan does
    paths = sorted(str(p) for p in train.glob("*/*") if p.is_file())
    labels = np.eye(10, dtype=np.float32)[[int(Path(p).parent.name) for p in paths]]
    ds = make_image_dataset(paths, image_size=(args.image_size, args.image_size), batch_size=args.batch_size,
                            targets=labels, training=True, augment=None, shuffle_seed=0, cache=cache)
    n = 0
    for _ in range(args.epochs):
        for images, _labels in ds:
            n += int(images.shape[0])
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--digits-size", type=int, default=32)
    parser.add_argument("--data", choices=KINDS, default="digits")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zooft-bench-pipe-"))
    counts, described = write_dataset(args.data, work / "digits", digits_size=args.digits_size)
    idg_cmd = [sys.executable, str(HERE / "seed_recipe.py"), str(work / "digits"), "--pipeline-only",
               "--epochs", str(args.epochs), "--image-size", str(args.image_size), "--batch-size", str(args.batch_size)]
    proc = subprocess.run(idg_cmd, capture_output=True, text=True, env=dict(os.environ, TF_USE_LEGACY_KERAS="1"), check=False)
    if proc.returncode:
        raise SystemExit(f"ImageDataGenerator run failed:\n{proc.stderr[-3000:]}")
    idg = json.loads(proc.stdout.strip().splitlines()[-1])["images_per_second"]
    plain = zooft_rate(work / "digits" / "train", args, None)
    cached = zooft_rate(work / "digits" / "train", args, "")
    section = f"""
## Input pipeline: zooft vs ImageDataGenerator.flow_from_directory

{machine_line()}

{load_note()}

{counts['train']} images ({described}) → {args.image_size} px, batch {args.batch_size}, \
{args.epochs} shuffled epochs, no model; time includes listing the files and building the pipeline \
(for ImageDataGenerator: its directory scan). ImageDataGenerator resizes with nearest-neighbour (its \
default), zooft with bilinear (antialiased when shrinking).

| pipeline | images/s | ratio to ImageDataGenerator |
|---|---|---|
| zooft make_image_dataset (decode every epoch) | {plain:.0f} | {plain / idg:.2f} |
| zooft make_image_dataset (--cache memory) | {cached:.0f} | {cached / idg:.2f} |
| ImageDataGenerator.flow_from_directory (tf_keras) | {idg:.0f} | 1.00 |

Command: `.venv/bin/python scripts/bench/pipeline.py --data {args.data} --epochs {args.epochs} --image-size {args.image_size}`
"""
    publish(section, write=not args.no_write)


if __name__ == "__main__":
    main()
