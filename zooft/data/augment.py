"""Image augmentation for training batches: one fused warp, stateless random draws.

Flip, rotation, zoom and translation are composed into a single affine map per image and
applied by one bilinear warp (``ImageProjectiveTransformV3``, reflect fill), then contrast
and brightness. Keras's random preprocessing layers do the same job one layer at a time, one
full warp per geometric layer, and draw from a stateful seed generator that forces a seeded
pipeline to run them sequentially. Here every draw is a stateless function of a per-batch
seed, so batches are augmented in parallel and a seeded run still sees the same images every
time. BENCHMARKS.md ("Augmentation") measures the two side by side.

The meaning of each setting matches the Keras layers zooft used before: ``rotation`` is a
fraction of a full turn, ``zoom`` and ``translate`` fractions of the image size, ``contrast``
the largest change of the contrast factor, ``brightness`` a fraction of 255.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["Augmenter", "make_augmenter"]

#: ``fn(images, seed)``: float batch ``(n, h, w, 3)`` in 0-255 and a ``(2,)`` int64 seed tensor.
Augmenter = Callable[["tf.Tensor", "tf.Tensor"], "tf.Tensor"]

# columns of the per-image uniform draws in [0, 1)
_FLIP_X, _FLIP_Y, _ANGLE, _ZOOM, _SHIFT_X, _SHIFT_Y, _CONTRAST, _BRIGHTNESS = range(8)
_DRAWS = 8


def make_augmenter(settings: Mapping[str, Any]) -> Augmenter | None:
    """The augmentation function for parsed ``settings`` (see ``parse_augment``), or ``None``.

    The returned function is pure: the same batch and seed give the same output, so callers
    make it vary by passing a new seed per batch (and per epoch)."""
    if not settings:
        return None
    flip = str(settings.get("flip") or "")
    rotation = float(settings.get("rotation") or 0.0)
    zoom = float(settings.get("zoom") or 0.0)
    translate = float(settings.get("translate") or 0.0)
    contrast = float(settings.get("contrast") or 0.0)
    brightness = float(settings.get("brightness") or 0.0)
    warps = bool(flip or rotation or zoom or translate)

    def augment(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        import tensorflow as tf

        batch = tf.shape(images)[0]
        draws = tf.random.stateless_uniform((batch, _DRAWS), seed=seed, dtype=tf.float32)

        def spread(column: int, factor: float) -> tf.Tensor:  # uniform in [-factor, factor)
            return (2.0 * draws[:, column] - 1.0) * factor

        def sign(column: int, on: bool) -> tf.Tensor:
            return tf.where(draws[:, column] < 0.5, -1.0, 1.0) if on else tf.ones((batch,))

        if warps:
            images = _warp(
                images,
                flip_x=sign(_FLIP_X, "horizontal" in flip),
                flip_y=sign(_FLIP_Y, "vertical" in flip),
                angle=spread(_ANGLE, rotation * 2.0 * math.pi),
                scale=1.0 + spread(_ZOOM, zoom),
                shift_x=spread(_SHIFT_X, translate),
                shift_y=spread(_SHIFT_Y, translate),
            )
        if contrast:
            mean = tf.reduce_mean(images, axis=(1, 2), keepdims=True)
            factor = tf.reshape(1.0 + spread(_CONTRAST, contrast), (-1, 1, 1, 1))
            images = (images - mean) * factor + mean
        if brightness:
            images = images + tf.reshape(spread(_BRIGHTNESS, brightness * 255.0), (-1, 1, 1, 1))
        return tf.clip_by_value(images, 0.0, 255.0)

    return augment


def _warp(images: tf.Tensor, *, flip_x: tf.Tensor, flip_y: tf.Tensor, angle: tf.Tensor, scale: tf.Tensor,
          shift_x: tf.Tensor, shift_y: tf.Tensor) -> tf.Tensor:
    """One bilinear warp per image. Each output pixel ``p`` samples the input at
    ``M (p - c) + c + t``: ``c`` the image centre, ``M = scale · R(angle) · diag(flip_x, flip_y)``,
    ``t`` the shift in pixels. ``scale`` above 1 shows more of the image (zoom out)."""
    import tensorflow as tf

    shape = tf.shape(images)
    height, width = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
    cx, cy = (width - 1.0) / 2.0, (height - 1.0) / 2.0
    cos, sin = tf.cos(angle) * scale, tf.sin(angle) * scale
    m00, m01 = cos * flip_x, -sin * flip_y
    m10, m11 = sin * flip_x, cos * flip_y
    a2 = cx + shift_x * width - m00 * cx - m01 * cy
    b2 = cy + shift_y * height - m10 * cx - m11 * cy
    zeros = tf.zeros_like(angle)
    transforms = tf.stack([m00, m01, a2, m10, m11, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=shape[1:3], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="REFLECT",
    )
