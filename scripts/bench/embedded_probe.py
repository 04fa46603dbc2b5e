"""Linear probes of MobileNetV2 α=0.35 (96 px) backbones on the held-out sets of ``heldout.py``.

Frozen backbone in inference mode → global-average-pooled features → standardised logistic
regression fitted on the train split, accuracy on the test split. Compares weight files with
random initialisations of the same network (one per ``--random-seeds`` seed):

    python scripts/bench/embedded_probe.py --weights new=zooft/weights/mobilenet_v2_035_shapes96.weights.h5 \\
        --random-seeds 0,1,2
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import heldout  # noqa: E402


def features(base, x_uint8: np.ndarray) -> np.ndarray:  # noqa: ANN001 - a Keras model
    """Global-average-pooled backbone features in inference mode (inputs scaled to [-1, 1])."""
    out = []
    for i in range(0, len(x_uint8), 128):
        x = x_uint8[i:i + 128].astype("float32") / 127.5 - 1.0
        out.append(np.asarray(base(x, training=False)).mean(axis=(1, 2)))
    return np.concatenate(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", action="append", default=[], help="label=path of a .weights.h5 file")
    p.add_argument("--random-seeds", default="", help="comma-separated seeds of random inits")
    args = p.parse_args()
    sets = {name: heldout.load(name) for name in heldout.SETS}
    import keras

    variants = [(w.split("=", 1)[0], w.split("=", 1)[1], None) for w in args.weights]
    variants += [(f"random-{s}", None, int(s)) for s in args.random_seeds.split(",") if s]
    for label, path, seed in variants:
        if seed is not None:
            keras.utils.set_random_seed(seed)
        base = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, include_top=False,
                                              weights=path)
        row = {"label": label}
        for name, split in sets.items():
            (xa, ya), (xb, yb) = split["train"], split["test"]
            row[name] = round(heldout.linear_probe(features(base, xa), ya, features(base, xb), yb), 4)
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
