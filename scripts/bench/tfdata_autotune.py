"""How long freeing a tf.data iterator takes, with and without tf.data's autotuning thread.

Each pass reads the digits' training images through zooft's image pipeline
(``make_image_dataset``: decode, resize, batch, prefetch) and runs MobileNetV2 α=0.35 (96 px,
random weights, inference) on every batch, as the feature cache does; then the iterator is
freed, as Keras frees one after every epoch and every validation. The two settings alternate
pass by pass in one process, so a load change hits both alike.

    .venv/bin/python scripts/bench/tfdata_autotune.py --passes 12
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

from datasets import reuse_or_write  # noqa: E402
from results import load_note, machine_line, publish  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passes", type=int, default=12, help="passes per setting")
    parser.add_argument("--data-root", help="reuse data sets written here earlier (DIR/digits)")
    parser.add_argument("--no-write", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args()
    load = load_note()

    from zooft import tfruntime

    tfruntime.configure()  # the oneDNN setting zooft runs with
    tfruntime.quiet()
    import keras
    import tensorflow as tf

    from zooft.data.images import make_image_dataset

    root = Path(args.data_root) if args.data_root else Path(tempfile.mkdtemp(prefix="zooft-autotune-"))
    data = reuse_or_write("digits", root)
    paths = sorted(str(p) for p in (data / "train").rglob("*.png"))
    base = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, include_top=False, weights=None, pooling="avg")
    forward = tf.function(lambda x: base(x / 127.5 - 1.0, training=False), input_signature=[tf.TensorSpec([None, 96, 96, 3])],
                          autograph=False)
    forward.get_concrete_function()
    times: dict[str, dict[str, list[float]]] = {"on": {"pass": [], "free": []}, "off": {"pass": [], "free": []}}
    for _ in range(args.passes):
        for setting in ("on", "off"):
            ds = make_image_dataset(paths, image_size=(96, 96), batch_size=128, targets=None, training=False, augment=None,
                                    shuffle_seed=None)
            options = tf.data.Options()
            options.autotune.enabled = setting == "on"
            ds = ds.with_options(options)
            start = time.perf_counter()
            iterator = iter(ds)
            for batch in iterator:
                forward(batch).numpy()
            freed = time.perf_counter()
            del iterator
            times[setting]["pass"].append(freed - start)
            times[setting]["free"].append(time.perf_counter() - freed)
    rows = []
    for setting, label in (("on", "on (TensorFlow's default)"), ("off", "off (zooft's pipelines)")):
        free, passes = times[setting]["free"], times[setting]["pass"]
        slow = sum(1 for s in free if s > 0.1)
        rows.append(f"| {label} | {statistics.median(passes):.2f} | {statistics.median(free) * 1000:.0f} | "
                    f"{max(free) * 1000:.0f} | {slow} of {len(free)} | {sum(passes) + sum(free):.1f} |")
    section = f"""
## tf.data autotuning: freeing an iterator

{machine_line()} · {load}

{len(paths):,} digits images (96 px) per pass through `make_image_dataset` and MobileNetV2 α=0.35
(inference, batch 128), then the iterator is freed; settings alternate pass by pass.

| tf.data autotuning | pass (s, median) | free (ms, median) | free (ms, max) | frees over 100 ms | total (s) |
|---|---|---|---|---|---|
{chr(10).join(rows)}

Command: `.venv/bin/python scripts/bench/tfdata_autotune.py --passes {args.passes}`
"""
    publish(section, write=not args.no_write)


if __name__ == "__main__":
    main()
