"""The fused augmentation warp: its geometry is exact, its draws are seeded and stay in range."""

from __future__ import annotations

import math

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from zooft.data.augment import _warp, make_augmenter  # noqa: E402
from zooft.data.images import parse_augment  # noqa: E402


def batch(n: int = 4, size: int = 9) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 255, (n, size, size, 3)).astype(np.float32)


def warp(images: np.ndarray, **kw: float) -> np.ndarray:
    n = len(images)
    args = {"flip_x": 1.0, "flip_y": 1.0, "angle": 0.0, "scale": 1.0, "shift_x": 0.0, "shift_y": 0.0, **kw}
    return _warp(tf.constant(images), **{k: tf.fill((n,), float(v)) for k, v in args.items()}).numpy()


def test_identity_flips_and_quarter_turn_are_exact() -> None:
    x = batch()
    np.testing.assert_allclose(warp(x), x, atol=1e-3)
    np.testing.assert_allclose(warp(x, flip_x=-1), x[:, :, ::-1], atol=1e-3)
    np.testing.assert_allclose(warp(x, flip_y=-1), x[:, ::-1, :], atol=1e-3)
    turned = warp(x, angle=math.pi / 2)
    assert any(np.allclose(turned, np.rot90(x, k, axes=(1, 2)), atol=1e-2) for k in (1, 3))


def test_zoom_in_samples_around_the_centre_and_shift_moves_by_pixels() -> None:
    x = batch(size=9)
    zoomed = warp(x, scale=0.5)  # pixel p samples 4 + 0.5 (p - 4): the centre stays put
    np.testing.assert_allclose(zoomed[:, 4, 4], x[:, 4, 4], atol=1e-3)
    np.testing.assert_allclose(zoomed[:, 2, 2], x[:, 3, 3], atol=1e-3)
    np.testing.assert_allclose(zoomed[:, 3, 3], (x[:, 3, 3] + x[:, 4, 3] + x[:, 3, 4] + x[:, 4, 4]) / 4, atol=1e-2)
    shifted = warp(x, shift_x=2 / 9)  # two pixels to the right in the input
    np.testing.assert_allclose(shifted[:, :, :7], x[:, :, 2:], atol=1e-3)


def test_same_seed_same_output_new_seed_new_output_in_range() -> None:
    augment = make_augmenter(parse_augment("flip,rotation=0.2,zoom=0.2,translate=0.1,contrast=0.5,brightness=0.3"))
    x = tf.constant(batch(8, 16))
    a, b = (augment(x, tf.constant([s, 0], tf.int64)).numpy() for s in (1, 1))
    c = augment(x, tf.constant([2, 0], tf.int64)).numpy()
    assert np.array_equal(a, b) and not np.allclose(a, c)
    assert a.min() >= 0 and a.max() <= 255
    # every image gets its own draw
    assert not any(np.allclose(a[i] - x[i], a[0] - x[0]) for i in range(1, 8))


def test_no_settings_no_augmenter() -> None:
    assert make_augmenter({}) is None
