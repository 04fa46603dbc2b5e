#!/usr/bin/env python
"""Pretrain zooft's embedded backbone: MobileNetV2 (alpha 0.35, 96x96) on procedural images.

zooft must fine-tune out of the box without downloading anything, so it ships this small
backbone, pretrained by us on ``render_pretrain_image`` (scripts/pretraining/shapes.py). The script:

1. renders a pool of training images (in worker processes, before TensorFlow is imported),
2. trains ``Rescaling(1/127.5, -1) → MobileNetV2 → GlobalAveragePooling2D → Dense(softmax)``
   with Adam (batch 64, warm-up + cosine learning rate, random 90° rotations/mirroring of the
   classes that allow it, progressive resizing 48 → 64 → 96 px) for a fixed number of steps or,
   with ``--steps 0``, as many steps as fit in ``--minutes``; ``--thumbnail-weight`` adds a
   second loss, a linear decoder from the pooled features to a grey thumbnail of the input,
   which keeps the image's layout in those features; ``--init`` continues from a weight file,
3. re-estimates the BatchNorm moving statistics exactly ("precise BN") with frozen weights,
4. evaluates top-1 accuracy on freshly generated held-out images (inference mode) and a
   linear-probe transfer check on sklearn's 8x8 digits upsampled to 96x96,
5. saves only the backbone weights, verifies that ``keras.applications.MobileNetV2(...,
   weights=<file>)`` loads them and reproduces the outputs, and writes a JSON summary and the
   model card.

Exact reproduction: ``python scripts/pretrain_embedded.py --seed 0 --steps <N> --minutes 0
--pool-images <P>`` (the model card records N and P). CPU kernels may differ in the last bits between machines.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

sys.path.insert(0, str(REPO / "scripts" / "pretraining"))
from letters import LETTER_CLASSES  # noqa: E402
from shapes import (  # noqa: E402
    PRETRAIN_CLASSES,
    PRETRAIN_UPRIGHT_CLASSES,
    render_pretrain_image,
)

NAME = "mobilenet_v2_035_shapes96"
SIZE = 96
ALPHA = 0.35
ORIGINAL_BN_MOMENTUM = 0.999  # MobileNetV2's own; restored before saving


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ----------------------------------------------------------------------------------------------
# Data (numpy only: runs in worker processes, before TensorFlow is imported)
# ----------------------------------------------------------------------------------------------


def _render_chunk(args: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Render images [start, stop) of stream ``stream``; labels cycle through all classes."""
    seed, stream, start, stop = args
    n_cls = len(PRETRAIN_CLASSES)
    x = np.empty((stop - start, SIZE, SIZE, 3), dtype=np.uint8)
    y = np.empty(stop - start, dtype=np.int32)
    for j, i in enumerate(range(start, stop)):
        # One generator per image so that the set does not depend on the chunking.
        rng = np.random.default_rng([seed, stream, i])
        y[j] = i % n_cls
        x[j] = render_pretrain_image(rng, int(y[j]), SIZE)
    return x, y


def render_set(seed: int, stream: int, n: int, workers: int) -> tuple[np.ndarray, np.ndarray]:
    """Render n labelled images (balanced classes) with ``workers`` processes."""
    bounds = np.linspace(0, n, max(workers * 8, 1) + 1).astype(int)
    jobs = [(seed, stream, int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    if workers <= 1:
        parts = [_render_chunk(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(_render_chunk, jobs))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def digits_96(resample: str) -> tuple[np.ndarray, np.ndarray]:
    """sklearn's 8x8 digits (0..16) as 96x96 RGB uint8 (grey on black), upsampled by Pillow."""
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    mode = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR}[resample]
    imgs = (d.images * (255.0 / 16.0)).round().astype(np.uint8)
    big = np.stack([np.asarray(Image.fromarray(im).resize((SIZE, SIZE), mode)) for im in imgs])
    return np.repeat(big[..., None], 3, axis=-1), d.target


def shrink(batch: np.ndarray, size: int) -> np.ndarray:
    """Downsample a uint8 batch (area averaging) for the low-resolution training phase."""
    from PIL import Image

    if batch.shape[1] == size:
        return batch
    return np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BOX))
                     for im in batch])


def dihedral(batch: np.ndarray, allowed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random 90° rotations and mirroring of the images where ``allowed`` (class-invariant)."""
    out = batch.copy()
    ks = rng.integers(0, 4, len(batch))
    flips = rng.random(len(batch)) < 0.5
    for i in np.flatnonzero(allowed):
        img = np.rot90(batch[i], int(ks[i]))
        out[i] = img[:, ::-1] if flips[i] else img
    return out


# Classes whose label survives 90° rotations and mirroring (the glyphs are upright symbols).
INVARIANT = np.array([c not in PRETRAIN_UPRIGHT_CLASSES for c in PRETRAIN_CLASSES])


# ----------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------


def build(n_classes: int, bn_momentum: float) -> tuple[Any, Any]:
    """(base, model): model = Rescaling to [-1, 1] → base → GAP → Dense(softmax).

    The backbone is built for any input size (same layers and variables as the 96x96 one) so
    that the first phase can train on 64x64 images, ~1.9x faster per step ("progressive
    resizing"); the weights are copied into a 96x96 MobileNetV2 at the end.
    """
    import keras

    base = keras.applications.MobileNetV2(input_shape=(None, None, 3), alpha=ALPHA,
                                          include_top=False, weights=None)
    # MobileNetV2's BN momentum (0.999) averages over ~1000 steps: in a few thousand steps of
    # from-scratch training its moving statistics would lag far behind the weights. 0.99 tracks
    # them; precise BN (below) then replaces them with exact averages anyway.
    set_bn_momentum(base, bn_momentum)
    inputs = keras.Input((None, None, 3), name="image")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="to_minus1_1")(inputs)
    x = base(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="shapes")(x)
    return base, keras.Model(inputs, outputs, name=f"{NAME}_pretrain")


def with_thumbnail_head(model: Any, size: int) -> Any:
    """The classifier plus a linear decoder from the pooled features to a size x size thumbnail.

    Classification alone lets the pooled features forget where the ink is (the digits linear
    probe of a trained backbone only tied a random one's); asking the same 1,280 numbers to
    reconstruct a coarse grey picture of the input keeps the image's layout in them.
    """
    import keras

    pooled = model.get_layer("gap").output
    thumb = keras.layers.Dense(size * size, name="thumbnail")(pooled)
    return keras.Model(model.inputs, {"shapes": model.outputs[0], "thumbnail": thumb},
                       name=f"{NAME}_pretrain_thumbnail")


def thumbnails(x: np.ndarray, size: int) -> np.ndarray:
    """Grey size x size area-averaged thumbnails of a float batch in [0, 255], scaled to [-1, 1]."""
    n, res = x.shape[0], x.shape[1]
    if res % size:
        raise ValueError(f"image size {res} is not a multiple of the thumbnail size {size}")
    k = res // size
    grey = x.mean(axis=-1).reshape(n, size, k, size, k).mean(axis=(2, 4))
    return (grey / 127.5 - 1.0).reshape(n, size * size).astype("float32")


def set_bn_momentum(base: Any, momentum: float) -> None:
    import keras

    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum


def lr_at(step: int, total: int, peak: float, warmup: int) -> float:
    """Linear warm-up then cosine decay to 2 % of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))


def precise_bn(base: Any, pool_x: np.ndarray, pool_y: np.ndarray, rng: np.random.Generator,
               batches: int, batch_size: int) -> None:
    """Replace BN moving statistics by their exact average over ``batches`` training batches.

    Runs the backbone eagerly in training mode (weights are not updated) with momentum
    (k-1)/k at the k-th batch, which makes each moving statistic the plain mean over batches.
    """
    import keras

    bns = [la for la in base.layers if isinstance(la, keras.layers.BatchNormalization)]
    for k in range(1, batches + 1):
        for la in bns:
            la.momentum = (k - 1) / k  # read at call time in eager mode
        idx = rng.choice(len(pool_x), batch_size, replace=False)
        x = dihedral(pool_x[idx], INVARIANT[pool_y[idx]], rng).astype("float32") / 127.5 - 1.0
        base(x, training=True)
    set_bn_momentum(base, ORIGINAL_BN_MOMENTUM)


def features(base: Any, x_uint8: np.ndarray) -> np.ndarray:
    """Global-average-pooled backbone features in inference mode."""
    out = []
    for i in range(0, len(x_uint8), 128):
        x = x_uint8[i:i + 128].astype("float32") / 127.5 - 1.0
        out.append(np.asarray(base(x, training=False)).mean(axis=(1, 2)))
    return np.concatenate(out)


def linear_probe(feats: np.ndarray, y: np.ndarray, seed: int) -> float:
    """5-fold stratified CV accuracy of a standardised logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=0.5))
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    return float(cross_val_score(clf, feats, y, cv=cv).mean())


# ----------------------------------------------------------------------------------------------
# Outputs
# ----------------------------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify_load(path: Path, base: Any, probe: np.ndarray) -> float:
    """Load the file the way zooft users will and return the max abs output difference."""
    import keras

    loaded = keras.applications.MobileNetV2(input_shape=(SIZE, SIZE, 3), alpha=ALPHA,
                                            include_top=False, weights=str(path))
    x = probe.astype("float32") / 127.5 - 1.0
    a = np.asarray(base(x, training=False))
    b = np.asarray(loaded(x, training=False))
    return float(np.abs(a - b).max())


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, {platform.system()} {platform.machine()}"


def write_card(path: Path, r: dict[str, Any]) -> None:
    classes = ", ".join(f"`{c}`" for c in r["classes"])
    stages = ", then ".join(f"{n:,} steps on images downsampled to {res}x{res}"
                            if res != SIZE else f"{n:,} steps at 96x96" for res, n in r["stages"])
    training_start = (f"- Started from an earlier weight file (sha256 `{r['init_sha256']}`), "
                      "not from a random initialisation; a new classification head.\n") if r["init_sha256"] else ""
    thumbnail = (f"- A second, linear head decoded a grey {r['thumbnail_size']}x{r['thumbnail_size']} "
                 "thumbnail of each input from the same pooled features (mean squared error, "
                 f"weight {r['thumbnail_weight']:g} next to the classification loss), so that the "
                 "pooled features keep where the image's light and dark parts are.\n"
                 ) if r["thumbnail_weight"] else ""
    reproduce_init = ("\n`--init` names the earlier weight file above (its own card, in this "
                      "file's git history, gives its command).\n") if r["init_sha256"] else ""
    text = f"""# Model card: `{NAME}`

The small backbone that zooft embeds so that fine-tuning works offline, out of the box.

| | |
|---|---|
| Architecture | `keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, include_top=False)` |
| File | `zooft/weights/{NAME}.weights.h5` (backbone only, no classification head) |
| Size | {r["bytes"]:,} bytes |
| sha256 | `{r["sha256"]}` |
| Parameters | {r["params"]:,} |
| Input | RGB, 96x96, **float values in [-1, 1]**, i.e. `x / 127.5 - 1` for uint8 pixels (MobileNetV2's own preprocessing); the file holds no preprocessing layer |
| Output | `(3, 3, 1280)` feature map; zooft pools it (global average) for classification |
| Licence | Apache-2.0 (same as zooft) |

Load it with:

```python
base = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, include_top=False,
                                      weights="zooft/weights/{NAME}.weights.h5")
```

## What it saw

Procedurally generated images from `scripts/pretraining/shapes.py`
(numpy + Pillow; the letters come from the TrueType fonts in Matplotlib's wheel, no other
external data): {len(r["classes"])} classes, {classes}.
Each image draws one primitive (filled or outlined shapes, textures in a region, pen strokes of
widths from about 1 px to 15 px, one of {r["n_glyphs"]} symbols of an invented upright
"alphabet" of two or three pen strokes, or one of {r["n_letters"]} letters and symbols from the
DejaVu, STIX and Computer Modern fonts) at a random position, scale, rotation (glyphs ±12°,
letters ±15°) and
colour, on a uniform, near-black, gradient, smooth-noise or white-noise background, with faint
distractor shapes, and random pixelation (down to 8x8 then upsampled), blur, sensor noise,
greyscale (35 %) and inversion (10 %). No digits or demo-set classes are drawn.

- Training pool: {r["pool_images"]:,} images of 96x96 (balanced classes), seen with random
  90° rotations and mirroring (except the upright glyphs and letters); {r["steps"]:,} steps of batch {r["batch_size"]}
  ({r["steps"] * r["batch_size"]:,} samples, {r["epochs"]:.1f} passes over the pool).
  Progressive resizing (small images make early steps cheaper): {stages}.
{training_start}{thumbnail}- Optimiser: Adam, peak learning rate {r["lr"]}, {r["warmup"]} warm-up steps then cosine decay.
- BatchNorm: momentum lowered to {r["bn_momentum"]} while training, then the moving statistics
  were recomputed exactly over {r["precise_bn_batches"]} batches of training images with frozen
  weights ("precise BN"), and the momentum restored to 0.999.
- Training wall time: {r["seconds"] / 60:.1f} min ({r["seconds"]:.0f} s) for the steps
  (+ {r["render_seconds"]:.0f} s rendering), on {r["machine"]}, TensorFlow {r["tf_version"]},
  Keras {r["keras_version"]}, float32, seed {r["seed"]}.

## Results

| Evaluation | Accuracy |
|---|---|
| Held-out generated images ({r["eval_images"]:,} fresh images, {len(r["classes"])} classes, inference mode) | {r["pretrain_accuracy"]:.3f} |
| Digits linear probe: sklearn `load_digits()` (1,797 images) upsampled to 96x96 grey-on-black RGB (bilinear), frozen pooled features → standardised logistic regression, 5-fold CV | **{r["digits_linear_probe_accuracy"]:.3f}** |
| Same, nearest-neighbour upsampling | {r["digits_linear_probe_accuracy_nearest"]:.3f} |
| Same probe on a randomly initialised backbone (reference) | {r["digits_linear_probe_random_init"]:.3f} |

The held-out images come from the same generator with other seeds, so that number measures the
pretraining task only; the digits probe measures transfer to real (hand-written) images.

## Transfer to held-out real images vs a random initialisation

Not measured by this script: a shipped file's card records, on the held-out sets of
`scripts/bench/heldout.py` (digits and textures), its linear probe against three random
initialisations and its fine-tuning against `--weights none`:

```bash
python scripts/bench/embedded_probe.py --weights new=zooft/weights/{NAME}.weights.h5 --random-seeds 0,1,2
python scripts/bench/embedded_transfer.py --label new --seeds 0,1,2
python scripts/bench/embedded_transfer.py --label random --weights none --seeds 0,1,2
```

## Reproduce

```bash
python scripts/pretrain_embedded.py {r["command"]}
```
{reproduce_init}

(`--steps 0 --minutes M`, the default mode, fits the number of steps to a wall-clock budget.)
Bitwise-identical weights need the same library versions and CPU kernels.

## Limits

- Trained on synthetic shapes, invented glyphs and font letters only, for about {r["seconds"] / 60:.0f} minutes on a CPU: its
  features are generic edges, strokes, blobs and textures, far weaker than ImageNet weights.
  Use it for demos, tests and offline smoke runs; for real work use ImageNet weights.
- No natural photographs, faces, handwriting or objects were seen; it has no notion of real-world
  object categories, and no fairness or robustness claims are made.
- 96x96 inputs only, in [-1, 1]. Feeding [0, 255] or [0, 1] values silently gives poor features.
- Fine-tune with `training=False` for the backbone's BatchNorm layers when the backbone is
  frozen (the usual Keras transfer-learning practice).
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--minutes", type=float, default=12.0,
                   help="wall-clock budget for the training steps (0 = no limit)")
    p.add_argument("--steps", type=int, default=0,
                   help="number of training steps (0 = as many as fit in --minutes)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=150)
    p.add_argument("--bn-momentum", type=float, default=0.99)
    p.add_argument("--stages", type=parse_stages, default=parse_stages("48:0.4,64:0.3,96:0.3"),
                   help="progressive resizing: image size:fraction of the steps, ..., ending at "
                        "96 (default 48:0.4,64:0.3,96:0.3; '96:1' trains at 96 px only)")
    p.add_argument("--pool-images", type=int, default=32000,
                   help="pre-rendered training images (uint8, ~27.6 kB each)")
    p.add_argument("--eval-images", type=int, default=1200)
    p.add_argument("--precise-bn-batches", type=int, default=50)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--init", type=Path, default=None,
                   help="start from these backbone weights (.weights.h5) instead of a random initialisation")
    p.add_argument("--thumbnail-weight", type=float, default=0.0,
                   help="weight of an auxiliary loss: reconstruct a grey thumbnail of the input "
                        "from the pooled features (0 = classification only)")
    p.add_argument("--thumbnail-size", type=int, default=16,
                   help="thumbnail side in pixels; every stage's image size must be a multiple")
    p.add_argument("--weights-dir", type=Path, default=REPO / "zooft" / "weights")
    p.add_argument("--card", type=Path, default=REPO / "docs" / "models" / f"{NAME}.md")
    args = p.parse_args(argv)
    if args.steps <= 0 and args.minutes <= 0:
        p.error("give --steps, --minutes, or both")
    if args.thumbnail_weight > 0 and any(res % args.thumbnail_size for res, _ in args.stages):
        # checked here, not at the first training step after minutes of rendering
        p.error(f"--thumbnail-size {args.thumbnail_size} must divide every --stages image size "
                f"({', '.join(str(res) for res, _ in args.stages)})")
    return args


def parse_stages(text: str) -> list[tuple[int, float]]:
    """'48:0.4,64:0.3,96:0.3' → [(48, 0.4), (64, 0.3), (96, 0.3)] (fractions normalised)."""
    try:
        stages = [(int(a), float(b)) for a, b in (part.split(":") for part in text.split(","))]
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad --stages {text!r}: expected size:fraction,...")
    total = sum(f for _, f in stages)
    if stages[-1][0] != SIZE or total <= 0 or any(f < 0 or r < 32 for r, f in stages):
        raise argparse.ArgumentTypeError(f"bad --stages {text!r}: must end at {SIZE} px")
    return [(r, f / total) for r, f in stages]


def relative_step_cost(res: int) -> float:
    """Time per step at ``res`` relative to 64 px (measured on 2 cores: 48→0.7, 96→1.9)."""
    return 0.35 + 0.65 * (res / 64) ** 2


def stage_ends(stages: list[tuple[int, float]], total: int) -> list[int]:
    """Cumulative last step (exclusive) of every stage."""
    ends, acc = [], 0.0
    for _, f in stages:
        acc += f
        ends.append(int(round(acc * total)))
    ends[-1] = total
    return ends


def train(args: argparse.Namespace, model: Any, pool_x: np.ndarray,
          pool_y: np.ndarray) -> tuple[int, list[int], float]:
    """Run the training loop; returns (steps done, steps done per stage, seconds)."""
    import keras

    opt = keras.optimizers.Adam(learning_rate=args.lr)
    thumb = args.thumbnail_weight > 0
    if thumb:
        model = with_thumbnail_head(model, args.thumbnail_size)
        model.compile(optimizer=opt,
                      loss={"shapes": "sparse_categorical_crossentropy", "thumbnail": "mse"},
                      loss_weights={"shapes": 1.0, "thumbnail": args.thumbnail_weight},
                      metrics={"shapes": ["accuracy"]})
    else:
        model.compile(optimizer=opt, loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    rng = np.random.default_rng([args.seed, 99])
    budget = args.minutes * 60 if args.minutes > 0 else float("inf")
    auto = args.steps <= 0
    # In auto mode the step count is fixed after timing steps 10..40 (after graph tracing).
    total = 10 ** 6 if auto else args.steps
    ends = stage_ends(args.stages, total)
    calibrate_from, calibrate_at = 10, 40
    done = [0] * len(args.stages)
    t0 = time.time()
    t_cal = t0
    loss_sum = acc_sum = thumb_sum = 0.0
    step = 0
    while step < total:
        if time.time() - t0 > budget:
            log(f"wall-clock budget reached after {step} of {total} steps: stopping early")
            break
        stage = next(i for i, e in enumerate(ends) if step < e)
        res = args.stages[stage][0]
        if stage > 0 and step == ends[stage - 1]:
            log(f"step {step}: now training on {res}x{res} images")
        opt.learning_rate.assign(lr_at(step, total, args.lr, args.warmup))
        idx = rng.integers(0, len(pool_x), args.batch_size)
        x = dihedral(shrink(pool_x[idx], res), INVARIANT[pool_y[idx]], rng).astype("float32")
        if thumb:
            out = model.train_on_batch(
                x, {"shapes": pool_y[idx], "thumbnail": thumbnails(x, args.thumbnail_size)},
                return_dict=True)
            loss, acc = out["loss"], out["shapes_accuracy"]
            thumb_sum += float(out["thumbnail_loss"])
        else:
            loss, acc = model.train_on_batch(x, pool_y[idx])
        loss_sum, acc_sum = loss_sum + float(loss), acc_sum + float(acc)
        done[stage] += 1
        step += 1
        if step == calibrate_from:
            t_cal = time.time()
        if auto and step == calibrate_at:
            per_step = (time.time() - t_cal) / (calibrate_at - calibrate_from)
            unit = per_step / relative_step_cost(res)  # seconds per step at 64 px
            mean_cost = unit * sum(f * relative_step_cost(r) for r, f in args.stages)
            total = int((budget - (time.time() - t0)) / mean_cost * 0.93) + step
            ends = stage_ends(args.stages, total)
            log(f"{per_step * 1000:.0f} ms/step at {res}px → {total} steps fit in "
                f"{args.minutes} min; stage ends {ends}")
        if step % 100 == 0:
            log(f"step {step}/{total} loss {loss_sum / 100:.3f} acc {acc_sum / 100:.3f} "
                f"lr {float(opt.learning_rate.numpy()):.2e} {res}px "
                + (f"thumbnail mse {thumb_sum / 100:.4f} " if thumb else "")
                + f"elapsed {time.time() - t0:.0f}s")
            loss_sum = acc_sum = thumb_sum = 0.0
    return step, done, time.time() - t0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    n_cls = len(PRETRAIN_CLASSES)
    t = time.time()
    log(f"rendering {args.pool_images} training + {args.eval_images} held-out images "
        f"({n_cls} classes) with {args.workers} workers")
    pool_x, pool_y = render_set(args.seed, 0, args.pool_images, args.workers)
    eval_x, eval_y = render_set(args.seed, 1, args.eval_images, args.workers)
    render_seconds = time.time() - t
    log(f"rendered in {render_seconds:.0f}s ({pool_x.nbytes / 1e6:.0f} MB)")

    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(args.seed)
    base, model = build(n_cls, args.bn_momentum)
    log(f"backbone parameters: {base.count_params():,}")
    digits = {m: digits_96(m) for m in ("bilinear", "nearest")}
    random_probe = linear_probe(features(base, digits["bilinear"][0]), digits["bilinear"][1],
                                args.seed)
    log(f"digits linear probe with the random-init backbone: {random_probe:.3f}")
    init_sha = None
    if args.init:
        base.load_weights(str(args.init))  # continue from these backbone weights (a new head)
        init_sha = sha256_of(args.init)
        log(f"backbone initialised from {args.init} (sha256 {init_sha})")

    steps, stage_steps, seconds = train(args, model, pool_x, pool_y)
    log(f"trained {steps} steps in {seconds:.0f}s")

    probs = model.predict(eval_x.astype("float32"), batch_size=128, verbose=0)
    acc_before = float((probs.argmax(1) == eval_y).mean())
    precise_bn(base, pool_x, pool_y, np.random.default_rng([args.seed, 7]),
               args.precise_bn_batches, args.batch_size)
    probs = model.predict(eval_x.astype("float32"), batch_size=128, verbose=0)
    pretrain_acc = float((probs.argmax(1) == eval_y).mean())
    log(f"held-out accuracy: {acc_before:.3f} with running BN stats, "
        f"{pretrain_acc:.3f} after precise BN")
    per_class = {c: float((probs.argmax(1)[eval_y == i] == i).mean())
                 for i, c in enumerate(PRETRAIN_CLASSES)}
    log("per class: " + ", ".join(f"{c} {a:.2f}" for c, a in per_class.items()))

    probe = {m: linear_probe(features(base, dx), dy, args.seed) for m, (dx, dy) in digits.items()}
    log(f"digits linear probe: bilinear {probe['bilinear']:.3f}, nearest {probe['nearest']:.3f}")

    # The shipped file is saved from the 96x96 MobileNetV2 that zooft builds.
    flex = base
    base = keras.applications.MobileNetV2(input_shape=(SIZE, SIZE, 3), alpha=ALPHA,
                                          include_top=False, weights=None)
    base.set_weights(flex.get_weights())
    args.weights_dir.mkdir(parents=True, exist_ok=True)
    wpath = args.weights_dir / f"{NAME}.weights.h5"
    base.save_weights(str(wpath))
    diff = verify_load(wpath, flex, eval_x[:16])
    if diff > 1e-5:
        raise SystemExit(f"reloaded backbone differs from the trained one (max diff {diff})")
    digest, nbytes = sha256_of(wpath), wpath.stat().st_size
    log(f"saved {wpath} ({nbytes:,} bytes, sha256 {digest}); reload max diff {diff:.2e}")

    record: dict[str, Any] = {
        "sha256": digest,
        "bytes": nbytes,
        "pretrain_accuracy": round(pretrain_acc, 4),
        "digits_linear_probe_accuracy": round(probe["bilinear"], 4),
        "steps": steps,
        "seconds": round(seconds, 1),
        "seed": args.seed,
        "classes": list(PRETRAIN_CLASSES),
    }
    (args.weights_dir / f"{NAME}.json").write_text(json.dumps(record, indent=2) + "\n")
    write_card(args.card, {
        **record,
        "digits_linear_probe_accuracy_nearest": probe["nearest"],
        "digits_linear_probe_random_init": random_probe,
        "params": base.count_params(),
        "n_glyphs": sum(name.startswith("glyph_") for name in PRETRAIN_CLASSES),
        "n_letters": len(LETTER_CLASSES),
        "pool_images": args.pool_images,
        "eval_images": args.eval_images,
        "batch_size": args.batch_size,
        "epochs": steps * args.batch_size / args.pool_images,
        "lr": args.lr,
        "warmup": args.warmup,
        "bn_momentum": args.bn_momentum,
        "stages": [(r, n) for (r, _), n in zip(args.stages, stage_steps)],
        "precise_bn_batches": args.precise_bn_batches,
        "render_seconds": render_seconds,
        "init_sha256": init_sha,
        "thumbnail_weight": args.thumbnail_weight,
        "thumbnail_size": args.thumbnail_size,
        "command": shlex.join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "tf_version": tf.__version__,
        "keras_version": keras.__version__,
    })
    log(f"wrote {args.weights_dir / (NAME + '.json')} and {args.card}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
