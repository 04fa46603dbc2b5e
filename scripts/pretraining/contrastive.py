#!/usr/bin/env python
"""Self-supervised candidates for zooft's embedded backbone: MobileNetV2 (alpha 0.35, 96x96).

An experiment of issue 17, not (yet) what ships: ``scripts/pretrain_embedded.py`` reproduces the
shipped model. Results against a random initialisation are in BENCHMARKS.md. The script:

1. builds a pool of training images: random crops of real photographs shipped inside the
   scikit-image and scikit-learn wheels (``scripts/pretraining/photos.py``) and, optionally,
   procedural shapes (``scripts/pretraining/shapes.py``), before TensorFlow is imported,
2. trains ``MobileNetV2 → GlobalAveragePooling2D → projector`` contrastively (SimCLR's NT-Xent
   between two random views of every image, ``scripts/pretraining/simclr.py``) with Adam (warm-up
   + cosine learning rate, progressive resizing) for a fixed number of steps or, with
   ``--steps 0``, as many steps as fit in ``--minutes``,
3. re-estimates the BatchNorm moving statistics exactly at 96 px ("precise BN"),
4. measures linear probes on two held-out real sets (``scripts/bench/heldout.py``: digits and
   textures) for the trained backbone and for a random initialisation of the same network,
5. unless ``--no-save``: saves only the backbone weights, verifies that
   ``keras.applications.MobileNetV2(..., weights=<file>)`` loads them and reproduces the outputs,
   and writes a JSON summary next to it (fine-tune results come from
   scripts/bench/embedded_transfer.py).

Exact reproduction of a budgeted run: ``--steps <planned> --stop-at <done> --minutes 0`` with the
same other flags (the log's last line gives both). CPU kernels may differ in the last bits.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts" / "pretraining"))
sys.path.insert(0, str(REPO / "scripts" / "bench"))
sys.path.insert(0, str(REPO / "scripts"))

import heldout  # noqa: E402
import photos  # noqa: E402
import simclr  # noqa: E402
from pretrain_embedded import features, log, machine, sha256_of, verify_load  # noqa: E402  (the supervised script's helpers)
from shapes import PRETRAIN_CLASSES, render_pretrain_image  # noqa: E402

NAME = "mobilenet_v2_035_shapes96"
SIZE = 96
ALPHA = 0.35
POOL_SIZE = 80  # side of the stored pool images; views are cropped from them
ORIGINAL_BN_MOMENTUM = 0.999  # MobileNetV2's own; restored before saving


# ----------------------------------------------------------------------------------------------
# Data (numpy + Pillow only, before TensorFlow is imported)
# ----------------------------------------------------------------------------------------------


def shapes_pool(n: int, seed: int) -> np.ndarray:
    """n procedural images (classes cycled) at POOL_SIZE px; one generator per image."""
    from PIL import Image

    out = np.empty((n, POOL_SIZE, POOL_SIZE, 3), np.uint8)
    for i in range(n):
        img = render_pretrain_image(np.random.default_rng([seed, 2, i]), i % len(PRETRAIN_CLASSES), SIZE)
        out[i] = np.asarray(Image.fromarray(img).resize((POOL_SIZE, POOL_SIZE), Image.BOX))
    return out


def build_pool(n: int, shapes_fraction: float, seed: int) -> tuple[np.ndarray, int]:
    """(pool, number of shape images): photo crops followed by procedural shapes."""
    n_shapes = int(round(n * shapes_fraction))
    crops = photos.crop_pool(photos.load_photos(), n - n_shapes, POOL_SIZE, np.random.default_rng([seed, 1]))
    if n_shapes == 0:
        return crops, 0
    return np.concatenate([crops, shapes_pool(n_shapes, seed)]), n_shapes


# ----------------------------------------------------------------------------------------------
# Evaluation
# ----------------------------------------------------------------------------------------------


def probes(base: Any, sets: dict[str, heldout.Split]) -> dict[str, float]:
    """Linear-probe test accuracy (fit on train, score on test) on every held-out set."""
    result = {}
    for name, split in sets.items():
        (xa, ya), (xb, yb) = split["train"], split["test"]
        result[name] = round(heldout.linear_probe(features(base, xa), ya, features(base, xb), yb), 4)
    return result


# ----------------------------------------------------------------------------------------------
# Outputs
# ----------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------


def parse_stages(text: str) -> list[tuple[int, float]]:
    """'48:0.5,64:0.5' → [(48, 0.5), (64, 0.5)] (fractions normalised)."""
    try:
        stages = [(int(a), float(b)) for a, b in (part.split(":") for part in text.split(","))]
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad --stages {text!r}: expected size:fraction,...")
    total = sum(f for _, f in stages)
    if total <= 0 or any(f < 0 or r not in (32, 48, 64, 80, 96) for r, f in stages):
        raise argparse.ArgumentTypeError(f"bad --stages {text!r}: sizes among 32/48/64/80/96")
    return [(r, f / total) for r, f in stages]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--minutes", type=float, default=20.0,
                   help="wall-clock budget for the training steps (0 = no limit)")
    p.add_argument("--steps", type=int, default=0,
                   help="number of training steps (0 = as many as fit in --minutes)")
    p.add_argument("--stop-at", type=int, default=0,
                   help="stop after this many steps while the learning-rate schedule and the "
                        "resizing stages stay planned for --steps (how a run that hit its wall-clock "
                        "budget is reproduced exactly)")
    p.add_argument("--batch-size", type=int, default=64, help="images per step (two views each)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--temperature", type=float, default=0.2)
    p.add_argument("--bn-momentum", type=float, default=0.99)
    p.add_argument("--stages", type=parse_stages, default=parse_stages("48:0.6,64:0.4"),
                   help="progressive resizing: view size:fraction of the steps, ...")
    p.add_argument("--pool-images", type=int, default=16000,
                   help=f"stored training images ({POOL_SIZE}x{POOL_SIZE}, uint8)")
    p.add_argument("--shapes-fraction", type=float, default=0.25,
                   help="fraction of the pool drawn by the procedural shapes generator")
    p.add_argument("--precise-bn-batches", type=int, default=40)
    p.add_argument("--init", type=Path, default=None,
                   help="start from these backbone weights (a .weights.h5 of the 96 px model)")
    p.add_argument("--no-save", action="store_true", help="experiment: report probes only")
    p.add_argument("--no-random-probe", action="store_true",
                   help="skip the linear probes of the random initialisation (before training)")
    p.add_argument("--weights-dir", type=Path, default=REPO / "runs" / "pretraining",
                   help="where the candidate's weights and summary go (not the packaged file)")
    p.add_argument("--summary", type=Path, default=None, help="also write the JSON summary here")
    args = p.parse_args(argv)
    if args.steps <= 0 and args.minutes <= 0:
        p.error("give --steps, --minutes, or both")
    return args


def train(args: argparse.Namespace, encoder: Any, projector: Any, pool: np.ndarray) -> tuple[int, float]:
    """Run the contrastive training loop; returns (steps done, seconds)."""
    import keras
    import tensorflow as tf

    opt = keras.optimizers.Adam(learning_rate=args.lr)
    steps_fn = simclr.make_step(encoder, projector, opt, args.temperature)
    rng = np.random.default_rng([args.seed, 99])
    budget = args.minutes * 60 if args.minutes > 0 else float("inf")
    total = args.steps if args.steps > 0 else 10 ** 6
    t0 = time.time()
    loss_sum = acc_sum = 0.0
    step = 0
    while step < total:
        if args.stop_at and step >= args.stop_at:
            log(f"--stop-at {args.stop_at} reached")
            break
        if time.time() - t0 > budget:
            log(f"wall-clock budget reached after {step} steps: stopping")
            break
        if args.steps <= 0 and step == 30:
            # Auto mode: fix the step count from the speed of steps 10..30 at the current size.
            per = (time.time() - t_cal) / 20
            total = int(budget * 0.9 / per)
            log(f"{per:.2f} s/step → {total} steps in {args.minutes} min")
        if step == 10:
            t_cal = time.time()
        acc_frac, res = 0.0, args.stages[-1][0]
        for r, f in args.stages:
            acc_frac += f
            if step < acc_frac * total:
                res = r
                break
        opt.learning_rate.assign(simclr.lr_at(step, total, args.lr, args.warmup))
        idx = rng.integers(0, len(pool), args.batch_size)
        loss, acc = steps_fn[res](tf.constant(pool[idx]), tf.constant([args.seed, step], tf.int64))
        loss_sum, acc_sum = loss_sum + float(loss), acc_sum + float(acc)
        step += 1
        if step % 50 == 0:
            log(f"step {step}/{total} loss {loss_sum / 50:.3f} pair-acc {acc_sum / 50:.3f} "
                f"lr {float(opt.learning_rate.numpy()):.2e} {res}px elapsed {time.time() - t0:.0f}s")
            loss_sum = acc_sum = 0.0
    log(f"planned {total} steps (--steps {total} --stop-at {step} reproduces this run)")
    return step, time.time() - t0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t = time.time()
    pool, n_shapes = build_pool(args.pool_images, args.shapes_fraction, args.seed)
    pool_seconds = time.time() - t
    log(f"pool: {len(pool) - n_shapes} photo crops + {n_shapes} shapes in {pool_seconds:.0f}s")
    sets = {name: heldout.load(name, SIZE) for name in heldout.SETS}

    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(args.seed)
    base, encoder, projector = simclr.build(ALPHA)
    if args.init is not None:
        start = keras.applications.MobileNetV2(input_shape=(SIZE, SIZE, 3), alpha=ALPHA,
                                               include_top=False, weights=str(args.init))
        base.set_weights(start.get_weights())
    simclr.set_bn_momentum(base, args.bn_momentum)
    random_probe = None if args.no_random_probe else probes(base, sets)
    log(f"linear probes, random init: {random_probe}")

    steps, seconds = train(args, encoder, projector, pool)
    log(f"trained {steps} steps in {seconds:.0f}s")
    simclr.precise_bn(base, pool, SIZE, args.precise_bn_batches, args.batch_size, args.seed,
                      ORIGINAL_BN_MOMENTUM)
    probe = probes(base, sets)
    log(f"linear probes, pretrained: {probe}")
    record: dict[str, Any] = {
        "steps": steps,
        "seconds": round(seconds, 1),
        "seed": args.seed,
        "linear_probe": probe,
        "linear_probe_random_init": random_probe,
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "photos": [f"{p}:{n}" for p, n in photos.PHOTOS],
        "shape_images": n_shapes,
        "pool_seconds": round(pool_seconds, 1),
        "machine": machine(),
        "tf_version": tf.__version__,
        "keras_version": keras.__version__,
    }
    if not args.no_save:
        # The shipped file is saved from the 96x96 MobileNetV2 that zooft builds.
        fixed = keras.applications.MobileNetV2(input_shape=(SIZE, SIZE, 3), alpha=ALPHA,
                                               include_top=False, weights=None)
        fixed.set_weights(base.get_weights())
        args.weights_dir.mkdir(parents=True, exist_ok=True)
        wpath = args.weights_dir / f"{NAME}.weights.h5"
        fixed.save_weights(str(wpath))
        diff = verify_load(wpath, base, sets["digits"]["test"][0][:16])
        if diff > 1e-5:
            raise SystemExit(f"reloaded backbone differs from the trained one (max diff {diff})")
        record.update(sha256=sha256_of(wpath), bytes=wpath.stat().st_size, params=fixed.count_params())
        log(f"saved {wpath} ({record['bytes']:,} bytes, sha256 {record['sha256']}); reload diff {diff:.2e}")
        (args.weights_dir / f"{NAME}.json").write_text(json.dumps(record, indent=2) + "\n")
    if args.summary:
        args.summary.write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
