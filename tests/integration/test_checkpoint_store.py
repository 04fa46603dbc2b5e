"""Per-epoch checkpoints and the best epoch's weights (zooft/train/checkpoint.py), on a real
Keras model and optimizer."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from zooft.train.checkpoint import CheckpointStore, load_weights, read_values, restore_optimizer  # noqa: E402


def _model() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.BatchNormalization(), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.optimizer.build(model.trainable_variables)
    return model


def _shift(model: keras.Model, amount: float) -> None:
    for weight in model.weights:
        weight.assign(weight.numpy() + amount)


def test_read_values_equals_each_variable_read_alone() -> None:
    model = _model()
    model.optimizer.iterations.assign(7)
    for variables in (model.weights, model.optimizer.variables):
        values = read_values(variables)
        assert len(values) == len(variables)
        for value, variable in zip(values, variables):
            assert value.dtype == variable.numpy().dtype
            np.testing.assert_array_equal(value, variable.numpy())
    assert read_values([]) == []


def test_best_weights_outlive_their_epoch_checkpoint_and_later_epochs_leave_them(tmp_path: Path) -> None:
    model = _model()
    store = CheckpointStore(tmp_path)
    state: dict = {}
    store.commit_epoch(model, state, "head", 1, best=True)
    at_best = [w.numpy().copy() for w in model.weights]
    for epoch in (2, 3, 4):  # later epochs, none better: the epoch-1 files are deleted meanwhile
        _shift(model, 1.0)
        store.commit_epoch(model, state, "head", epoch)
    assert not (tmp_path / "checkpoints" / "head-e001.weights.npz").exists()
    assert state["checkpoint"] == "head-e004"

    load_weights(model, store.best_path())
    for weight, expected in zip(model.weights, at_best):
        np.testing.assert_array_equal(weight.numpy(), expected)
    # the committed checkpoint still holds epoch 4, not the best epoch
    load_weights(model, store.weights_path("head-e004"))
    np.testing.assert_array_equal(model.weights[0].numpy(), at_best[0] + 3.0)


def test_a_new_best_replaces_the_best_file_without_touching_the_old_epoch_file(tmp_path: Path) -> None:
    model = _model()
    store = CheckpointStore(tmp_path)
    state: dict = {}
    store.commit_epoch(model, state, "fine-tune", 1, best=True)
    first = np.load(store.weights_path("fine-tune-e001"))["w00000"].copy()
    _shift(model, 0.5)
    store.commit_epoch(model, state, "fine-tune", 2, best=True)
    np.testing.assert_array_equal(np.load(store.weights_path("fine-tune-e001"))["w00000"], first)
    np.testing.assert_array_equal(np.load(store.best_path())["w00000"], first + 0.5)
    assert not [p for p in (tmp_path / "checkpoints").iterdir() if p.name.startswith(".tmp-")]
    assert oct(store.best_path().stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def test_a_legacy_h5_best_file_keeps_being_written_in_its_format(tmp_path: Path) -> None:
    model = _model()
    store = CheckpointStore(tmp_path)
    legacy = tmp_path / "checkpoints" / "best.weights.h5"
    legacy.parent.mkdir(parents=True)
    model.save_weights(legacy)
    _shift(model, 2.0)
    expected = [w.numpy().copy() for w in model.weights]
    store.commit_epoch(model, {}, "head", 1, best=True)
    assert store.best_path() == legacy and not (tmp_path / "checkpoints" / "best.weights.npz").exists()
    _shift(model, 1.0)
    load_weights(model, legacy)
    for weight, value in zip(model.weights, expected):
        np.testing.assert_array_equal(weight.numpy(), value)


def test_optimizer_state_round_trips(tmp_path: Path) -> None:
    model = _model()
    model.fit(np.ones((8, 4), "float32"), np.zeros((8, 2), "float32"), epochs=1, verbose=0)
    store = CheckpointStore(tmp_path)
    store.commit_epoch(model, {}, "head", 1)
    saved = read_values(model.optimizer.variables)
    fresh = _model()
    restore_optimizer(fresh.optimizer, fresh.trainable_variables, store.optimizer_path("head-e001"))
    for value, variable in zip(saved, fresh.optimizer.variables):
        np.testing.assert_array_equal(variable.numpy(), value)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
