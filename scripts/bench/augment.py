"""Augmentation throughput: Keras's random preprocessing layers vs zooft's fused warp.

Both run on the same decoded training batches (in memory, so decoding is not timed) with the
same settings (zooft's default: zoom 0.1, rotation 0.05, contrast 0.1). The Keras path is the
one zooft used before: RandomRotation, RandomZoom and RandomContrast applied in turn, run
sequentially because their stateful seed generator makes a parallel seeded pipeline racy.
zooft's path composes the geometry into one warp and draws from stateless per-batch seeds, so
it runs in parallel. Rounds alternate between the two; the medians are reported.

    .venv/bin/python scripts/bench/augment.py [--rounds 3] [--data digits]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from datasets import KINDS, write_dataset  # noqa: E402
from results import load_note, machine_line, publish  # noqa: E402


def keras_layers(settings: dict) -> object:
    """Keras 3's random layers for ``settings``, in the order zooft applied them."""
    import keras
    import tensorflow as tf

    layers = [
        keras.layers.RandomRotation(settings["rotation"], fill_mode="reflect", seed=1),
        keras.layers.RandomZoom(settings["zoom"], fill_mode="reflect", seed=2),
        keras.layers.RandomContrast(settings["contrast"], value_range=(0, 255), seed=3),
    ]

    def apply(images: tf.Tensor, *rest: tf.Tensor) -> tuple:
        for layer in layers:
            images = layer(images, training=True)
        return (tf.clip_by_value(images, 0.0, 255.0), *rest)

    return apply


def rate(ds: object, epochs: int) -> tuple[float, float]:
    """Images/s, and CPU milliseconds per image (all threads: what training would lose)."""
    n, start, cpu = 0, time.perf_counter(), time.process_time()
    for _ in range(epochs):
        for images, _labels in ds:
            n += int(images.shape[0])
    return n / (time.perf_counter() - start), 1000 * (time.process_time() - cpu) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=KINDS, default="digits")
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2, help="epochs per timed round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    from zooft.data.images import DEFAULT_AUGMENT, make_image_dataset

    work = Path(tempfile.mkdtemp(prefix="zooft-bench-augment-"))
    counts, described = write_dataset(args.data, work / "data")
    paths = sorted(str(p) for p in (work / "data" / "train").glob("*/*") if p.is_file())
    labels = np.zeros(len(paths), np.int64)
    size = (args.image_size, args.image_size)

    def zooft_ds(augment: dict | None) -> object:
        return make_image_dataset(paths, image_size=size, batch_size=args.batch_size, targets=labels, training=True,
                                  augment=augment, shuffle_seed=0, cache="")

    plain = zooft_ds(None)
    keras_ds = plain.map(keras_layers(DEFAULT_AUGMENT)).prefetch(tf.data.AUTOTUNE)  # sequential: seeded layers
    fused = zooft_ds(DEFAULT_AUGMENT)
    for ds in (plain, keras_ds, fused):  # fill the memory cache, trace the functions
        rate(ds, 1)
    rates: dict[str, list[float]] = {"none": [], "keras": [], "zooft": []}
    cpu: dict[str, list[float]] = {"none": [], "keras": [], "zooft": []}
    for _ in range(args.rounds):
        for name, ds in (("none", plain), ("keras", keras_ds), ("zooft", fused)):
            images_per_second, cpu_ms = rate(ds, args.epochs)
            rates[name].append(images_per_second)
            cpu[name].append(cpu_ms)
    med = {k: statistics.median(v) for k, v in rates.items()}
    ms = {k: statistics.median(v) for k, v in cpu.items()}
    per_round = {k: " / ".join(f"{x:.0f}" for x in v) for k, v in rates.items()}
    section = f"""
## Augmentation: Keras random layers vs zooft's fused warp

{machine_line()} · TensorFlow {tf.__version__}

{load_note()}

{counts['train']} training images ({described}) at {args.image_size} px, batch {args.batch_size}, decoded \
images cached in memory (decoding not timed), zooft's default augmentation (zoom 0.1, rotation 0.05, \
contrast 0.1); {args.rounds} alternating rounds of {args.epochs} epochs, no model attached.

| pipeline | images/s (median) | per round | ratio to Keras layers | CPU ms per image (all threads) |
|---|---|---|---|---|
| no augmentation | {med['none']:.0f} | {per_round['none']} | {med['none'] / med['keras']:.1f} | {ms['none']:.2f} |
| Keras RandomRotation → RandomZoom → RandomContrast (sequential, seeded) | {med['keras']:.0f} | {per_round['keras']} | 1.0 | {ms['keras']:.2f} |
| zooft fused warp + contrast (parallel, stateless seeds) | {med['zooft']:.0f} | {per_round['zooft']} | {med['zooft'] / med['keras']:.1f} | {ms['zooft']:.2f} |

Command: `.venv/bin/python scripts/bench/augment.py --data {args.data} --rounds {args.rounds} --epochs {args.epochs}`
"""
    publish(section, write=not args.no_write)


if __name__ == "__main__":
    main()
