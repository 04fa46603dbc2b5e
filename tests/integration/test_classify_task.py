"""The classify task on a tiny fake backbone: build, mixed precision, fit, evaluate, save/load."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zooft
from zooft_classify.task import ClassifyTask

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

CLASSES = ["ant", "bee", "cow", "dog"]
SIZE = (16, 16)


def tiny_backbone() -> zooft.Backbone:
    """A 16x16 image -> conv -> global pool feature extractor with only built-in layers."""
    inputs = keras.Input(shape=(*SIZE, 3), name="image")
    x = keras.layers.Rescaling(1 / 255.0, name="rescale")(inputs)
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu", name="conv")(x)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    model = keras.Model(inputs, {"pooled": pooled}, name="tiny_backbone")
    spec = zooft.ModelSpec(
        name="test:tiny", source="test", locator="tiny", weights=zooft.WeightsSpec("none"), input_size=SIZE
    )
    return zooft.Backbone(model=model, spec=spec, input_size=SIZE, layer_groups=[["rescale", "conv"], ["pool"]])


def random_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(CLASSES)
    images = rng.uniform(0, 255, size=(n, *SIZE, 3)).astype("float32")
    images[..., 0] += labels[:, None, None] * 40  # a learnable hint, not that accuracy matters here
    examples = [zooft.Example(str(i), int(y)) for i, y in enumerate(labels)]
    return np.clip(images, 0, 255), ClassifyTask().targets(examples, len(CLASSES))


@pytest.fixture
def mixed_precision() -> Iterator[None]:
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.fixture(scope="module")
def trained() -> dict[str, Any]:
    keras.utils.set_random_seed(0)
    task = ClassifyTask()
    config = {"dropout": 0.1, "label_smoothing": 0.1, "top_k": 2}
    model = task.build_model(tiny_backbone(), CLASSES, config)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), **task.compile_args(CLASSES, config))
    images, targets = random_data(24, seed=1)
    examples = [zooft.Example(str(i), int(y)) for i, y in enumerate(targets.argmax(axis=1))]
    weights = task.class_weights(zooft.LabeledData(CLASSES, {"train": examples}), "balanced")
    train = tf.data.Dataset.from_tensor_slices((images, targets)).batch(8)
    # shuffle=False: a tf.data input is shuffled by the pipeline; Keras warns if asked again
    history = model.fit(train, epochs=2, class_weight=weights, shuffle=False, verbose=0)
    return {"task": task, "model": model, "config": config, "history": history.history}


def test_model_structure(trained: dict[str, Any]) -> None:
    model = trained["model"]
    assert model.name == "zooft_classifier"
    assert model.input_shape == (None, *SIZE, 3) and model.inputs[0].name == "image"
    assert model.output_shape == (None, len(CLASSES))
    assert model.get_layer("probabilities").dtype_policy.compute_dtype == "float32"
    assert set(trained["history"]) == {"loss", "accuracy", "top_k"}
    assert len(trained["history"]["loss"]) == 2 and all(np.isfinite(trained["history"]["loss"]))


def test_float32_output_under_mixed_precision(mixed_precision: None) -> None:
    model = ClassifyTask().build_model(tiny_backbone(), CLASSES, {})
    assert model.get_layer("tiny_backbone").get_layer("conv").compute_dtype == "float16"
    assert model.output.dtype == "float32"
    out = model.predict_on_batch(np.zeros((2, *SIZE, 3), "float32"))
    assert out.dtype == np.float32 and np.allclose(out.sum(axis=1), 1.0, atol=1e-5)


def test_compile_args_metrics() -> None:
    task = ClassifyTask()
    two = task.compile_args(["a", "b"], {})
    assert [m.name for m in two["metrics"]] == ["accuracy"]
    many = task.compile_args([f"c{i}" for i in range(10)], {"label_smoothing": 0.2})
    assert [m.name for m in many["metrics"]] == ["accuracy", "top_k"]
    assert many["metrics"][1].get_config()["k"] == 5
    assert task.compile_args(CLASSES, {})["metrics"][1].get_config()["k"] == 3  # capped to C - 1
    assert many["loss"].get_config()["label_smoothing"] == pytest.approx(0.2)
    with pytest.raises(zooft.ConfigError, match="label_smoothing"):
        task.compile_args(CLASSES, {"label_smoothing": 1.5})
    with pytest.raises(zooft.DataError, match="at least 2 classes"):
        task.compile_args(["only"], {})


def test_evaluate_matches_keras(trained: dict[str, Any]) -> None:
    task, model, config = trained["task"], trained["model"], trained["config"]
    images, targets = random_data(10, seed=2)
    dataset = tf.data.Dataset.from_tensor_slices((images, targets)).batch(4)  # a ragged last batch
    report = task.evaluate(model, dataset, CLASSES, config)
    assert report["samples"] == 10 and report["classes"] == CLASSES
    assert sum(map(sum, report["confusion_matrix"])) == 10
    assert set(report["per_class"]) == set(CLASSES) and report["top_k"]["k"] == 2
    keras_scores = model.evaluate(dataset, verbose=0, return_dict=True)
    assert report["accuracy"] == pytest.approx(keras_scores["accuracy"], abs=1e-6)
    assert report["top_k"]["accuracy"] == pytest.approx(keras_scores["top_k"], abs=1e-6)
    assert report["loss"] == pytest.approx(keras_scores["loss"], rel=1e-4)


def test_postprocess_real_outputs(trained: dict[str, Any]) -> None:
    images, _ = random_data(3, seed=3)
    outputs = trained["model"].predict_on_batch(images)
    preds = trained["task"].postprocess(outputs, CLASSES, top_k=3)
    assert len(preds) == 3
    for pred, row in zip(preds, outputs):
        assert pred["label"] == CLASSES[int(row.argmax())]
        probs = [p["probability"] for p in pred["top_k"]]
        assert len(probs) == 3 and probs == sorted(probs, reverse=True)


def test_keras_round_trip_without_custom_objects(trained: dict[str, Any], tmp_path: Path) -> None:
    model = trained["model"]
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    images, _ = random_data(4, seed=4)
    np.testing.assert_allclose(loaded.predict_on_batch(images), model.predict_on_batch(images), atol=1e-6)


def test_rejects_backbone_without_pooled_output() -> None:
    backbone = tiny_backbone()
    inputs = keras.Input(shape=(*SIZE, 3), name="image")
    backbone.model = keras.Model(inputs, {"stride8": keras.layers.Conv2D(2, 1)(inputs)})
    with pytest.raises(zooft.ConfigError, match="pooled"):
        ClassifyTask().build_model(backbone, CLASSES, {})
