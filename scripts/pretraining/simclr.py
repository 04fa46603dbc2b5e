"""SimCLR-style contrastive pretraining (instance discrimination between augmented views).

Each training image is seen as two random views (random resized crop, mirroring, colour jitter,
greyscale); the network learns to tell which views come from the same image among all views of
the batch (NT-Xent loss, Chen et al. 2020). With heavy augmentation this learns useful early and
middle filters even from a handful of photographs (Asano et al. 2020). Augmentation runs inside
the TensorFlow step (batched ``crop_and_resize``) so Python does no per-image work.

Import TensorFlow only through the functions below (the module itself is cheap to import).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def build(alpha: float, proj_dim: int = 128, hidden: int = 512) -> tuple[Any, Any, Any]:
    """(base, encoder, projector): base = MobileNetV2 for any input size, encoder = base + GAP."""
    import keras

    base = keras.applications.MobileNetV2(input_shape=(None, None, 3), alpha=alpha,
                                          include_top=False, weights=None)
    inputs = keras.Input((None, None, 3))
    encoder = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(base(inputs)))
    feat = keras.Input((base.output_shape[-1],))
    h = keras.layers.Dense(hidden, activation="relu")(feat)
    projector = keras.Model(feat, keras.layers.Dense(proj_dim)(h))
    return base, encoder, projector


def set_bn_momentum(base: Any, momentum: float) -> None:
    import keras

    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum


def augment(x: Any, res: int, seed: Any, grey_p: float = 0.3) -> Any:
    """Random views of a uint8 batch x (B×S×S×3) as floats in [-1, 1] of res×res.

    ``seed`` is a stateless-RNG seed tensor of shape (2,), so a step's views are a function of
    the step number (reproducible).
    """
    import tensorflow as tf

    b = tf.shape(x)[0]
    seeds = tf.random.experimental.stateless_split(seed, 8)
    u = lambda i, shape, lo=0.0, hi=1.0: tf.random.stateless_uniform(shape, seeds[i], lo, hi)  # noqa: E731
    # Random resized crop: area 20-100 %, aspect ratio 3/4..4/3 (log-uniform).
    area = u(0, [b], 0.2, 1.0)
    logr = u(1, [b], math.log(3 / 4), math.log(4 / 3))
    hh = tf.minimum(tf.sqrt(area / tf.exp(logr)), 1.0)
    ww = tf.minimum(tf.sqrt(area * tf.exp(logr)), 1.0)
    y0 = u(2, [b]) * (1.0 - hh)
    x0 = u(3, [b]) * (1.0 - ww)
    flip = u(4, [b]) < 0.5
    boxes = tf.stack([y0, tf.where(flip, x0 + ww, x0), y0 + hh, tf.where(flip, x0, x0 + ww)], 1)
    v = tf.image.crop_and_resize(tf.cast(x, tf.float32) / 255.0, boxes, tf.range(b), [res, res])
    # Colour jitter (80 % of views): brightness, contrast, saturation, in random strength.
    jit = tf.cast(u(5, [b, 1, 1, 1]) < 0.8, tf.float32)
    r = u(6, [b, 1, 1, 4], -1.0, 1.0) * jit
    grey = tf.reduce_mean(v, axis=-1, keepdims=True)
    v = grey + (v - grey) * (1.0 + 0.6 * r[..., 2:3])  # saturation
    mean = tf.reduce_mean(v, axis=[1, 2, 3], keepdims=True)
    v = (v - mean) * (1.0 + 0.5 * r[..., 1:2]) + mean  # contrast
    v = v + 0.3 * r[..., 0:1]  # brightness
    v = v + 0.05 * r[..., 3:4] * tf.constant([1.0, 0.0, -1.0])  # a small colour-balance shift
    to_grey = tf.cast(u(7, [b, 1, 1, 1]) < grey_p, tf.float32)
    v = to_grey * tf.reduce_mean(v, axis=-1, keepdims=True) + (1 - to_grey) * v
    return tf.clip_by_value(v, 0.0, 1.0) * 2.0 - 1.0


def nt_xent(z1: Any, z2: Any, temperature: float) -> Any:
    """NT-Xent loss of two batches of projections (row i of z1 and z2 are positives)."""
    import tensorflow as tf

    z = tf.math.l2_normalize(tf.concat([z1, z2], 0), axis=1)
    n = tf.shape(z1)[0]
    sim = tf.matmul(z, z, transpose_b=True) / temperature
    sim = sim - 1e9 * tf.eye(2 * n)
    labels = tf.concat([tf.range(n, 2 * n), tf.range(0, n)], 0)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, sim))


def make_step(encoder: Any, projector: Any, optimizer: Any, temperature: float) -> Any:
    """A compiled training step: (uint8 batch, res, seed) → (loss, positive-pair accuracy)."""
    import tensorflow as tf

    variables = encoder.trainable_variables + projector.trainable_variables

    def step(x: Any, res: int, seed: Any) -> tuple[Any, Any]:
        s = tf.random.experimental.stateless_split(seed, 2)
        v1, v2 = augment(x, res, s[0]), augment(x, res, s[1])
        with tf.GradientTape() as tape:
            h = encoder(tf.concat([v1, v2], 0), training=True)
            z = projector(h, training=True)
            n = tf.shape(x)[0]
            loss = nt_xent(z[:n], z[n:], temperature)
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        # How often a view's nearest other view is its partner (a progress signal).
        zn = tf.math.l2_normalize(z, 1)
        sim = tf.matmul(zn, zn, transpose_b=True) - 2.0 * tf.eye(2 * n)
        hit = tf.argmax(sim, 1, output_type=tf.int32) == tf.concat([tf.range(n, 2 * n), tf.range(0, n)], 0)
        return loss, tf.reduce_mean(tf.cast(hit, tf.float32))

    # One trace per resolution (res is a Python int): progressive resizing re-traces once.
    return {res: tf.function(lambda x, seed, r=res: step(x, r, seed)) for res in (32, 48, 64, 80, 96)}


def lr_at(step: int, total: int, peak: float, warmup: int) -> float:
    """Linear warm-up then cosine decay to 2 % of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))


def precise_bn(base: Any, pool: np.ndarray, res: int, batches: int, batch_size: int,
               seed: int, momentum_after: float) -> None:
    """Replace BN moving statistics by their exact mean over ``batches`` augmented batches at res."""
    import keras
    import tensorflow as tf

    bns = [la for la in base.layers if isinstance(la, keras.layers.BatchNormalization)]
    rng = np.random.default_rng([seed, 7])
    for k in range(1, batches + 1):
        for la in bns:
            la.momentum = (k - 1) / k  # read at call time in eager mode
        idx = rng.choice(len(pool), batch_size, replace=False)
        v = augment(tf.constant(pool[idx]), res, tf.constant([seed, 1000 + k], tf.int64))
        base(v, training=True)
    set_bn_momentum(base, momentum_after)
