"""BatchNorm statistics re-estimated after training from scratch (zooft/train/batchnorm.py)."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from zooft.train.batchnorm import recalibrate_batchnorm, trainable_batchnorm_layers  # noqa: E402


def _model() -> keras.Model:
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    x = keras.layers.BatchNormalization(momentum=0.999, name="bn_inner")(x)
    inner = keras.Model(inputs, x, name="backbone")
    outer_in = keras.Input((8, 8, 3))
    y = inner(outer_in)
    y = keras.layers.BatchNormalization(momentum=0.999, name="bn_frozen")(y)
    y = keras.layers.GlobalAveragePooling2D()(y)
    model = keras.Model(outer_in, keras.layers.Dense(2)(y))
    model.get_layer("bn_frozen").trainable = False
    return model


def test_statistics_settle_on_the_data_and_frozen_layers_keep_theirs() -> None:
    model = _model()
    assert [layer.name for layer in trainable_batchnorm_layers(model)] == ["bn_inner"]
    rng = np.random.default_rng(0)
    images = (rng.normal(3.0, 2.0, size=(256, 8, 8, 3))).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices((images, np.zeros(256))).shuffle(256, seed=0).batch(32)
    conv = model.get_layer("backbone").get_layer("conv")
    features = keras.ops.convert_to_numpy(conv(images)).reshape(-1, 4)
    frozen_before = [keras.ops.convert_to_numpy(w) for w in model.get_layer("bn_frozen").weights]

    used = recalibrate_batchnorm(model, dataset, batches=40)  # 8 batches per pass: 5 passes

    assert used == 40
    bn = model.get_layer("backbone").get_layer("bn_inner")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bn.moving_mean), features.mean(0), atol=0.05 * features.std())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bn.moving_variance), features.var(0), rtol=0.15)
    assert bn.momentum == 0.999  # restored
    for before, after in zip(frozen_before, model.get_layer("bn_frozen").weights):
        np.testing.assert_array_equal(before, keras.ops.convert_to_numpy(after))


def test_nothing_to_do_without_trainable_batchnorm() -> None:
    model = _model()
    model.get_layer("backbone").get_layer("bn_inner").trainable = False
    dataset = tf.data.Dataset.from_tensor_slices((np.zeros((4, 8, 8, 3), "float32"), np.zeros(4))).batch(2)
    assert recalibrate_batchnorm(model, dataset) == 0
