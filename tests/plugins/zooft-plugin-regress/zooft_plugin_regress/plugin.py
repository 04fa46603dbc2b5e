"""Hooks of the ``regress`` plugin: the ``smallconv`` backbone source, the ``regress`` task,
the ``regress-csv`` data format and the ``npz`` exporter. TensorFlow is imported only inside
the factories and methods, never here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import zooft

from . import data, npz


def build_smallconv(spec: zooft.ModelSpec, *, input_size: tuple[int, int] | None = None, **_: Any) -> zooft.Backbone:
    """Raw 0-255 images -> Rescaling -> three conv/BN/ReLU stages (stride 2) -> pooled vector."""
    import keras

    h, w = input_size or spec.input_size or (32, 32)
    inputs = keras.Input((h, w, 3), name="image")
    x = keras.layers.Rescaling(1 / 255.0, name="rescale")(inputs)
    groups = [["image", "rescale"]]
    for i, width in enumerate((8, 16, 16)):
        names = [f"s{i}_conv", f"s{i}_bn", f"s{i}_relu"]
        x = keras.layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False, name=names[0])(x)
        x = keras.layers.BatchNormalization(name=names[1])(x)
        x = keras.layers.ReLU(name=names[2])(x)
        groups.append(names)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    groups[-1].append("pool")
    model = keras.Model(inputs, {"pooled": pooled}, name=f"smallconv_{spec.locator}")
    return zooft.Backbone(model=model, spec=spec, input_size=(h, w), layer_groups=groups)


class RegressTask:
    """Image -> one float: a dense output on the pooled features, MSE (or MAE), MAE/RMSE."""

    name = "regress"

    def build_model(self, backbone: zooft.Backbone, classes: list[str], config: dict[str, Any]) -> Any:
        import keras

        inputs = keras.Input((*backbone.input_size, 3), name="image")
        pooled = backbone.model(inputs)["pooled"]
        value = keras.layers.Dense(1, dtype="float32", name="value")(pooled)
        return keras.Model(inputs, value, name="regressor")

    def compile_args(self, classes: list[str], config: dict[str, Any]) -> dict[str, Any]:
        import keras

        loss = config["task_options"]["loss"]
        return {"loss": keras.losses.MeanSquaredError() if loss == "mse" else keras.losses.MeanAbsoluteError(),
                "metrics": [keras.metrics.MeanAbsoluteError(name="mae")]}

    def target(self, example: zooft.Example, num_classes: int) -> Any:
        return self.targets([example], num_classes)[0]

    def targets(self, examples: list[zooft.Example], num_classes: int) -> Any:
        import numpy as np

        bad = [ex.source for ex in examples if not isinstance(ex.target, (int, float))]
        if bad:
            raise zooft.DataError(f"{bad[0]}: 'regress' needs a number as the target", hint="use the regress-csv format (path,value)")
        return np.asarray([[float(ex.target)] for ex in examples], dtype="float32").reshape(-1, 1)

    def class_weights(self, data: zooft.LabeledData, mode: str | None) -> dict[int, float] | None:
        if mode not in (None, "none"):
            raise zooft.ConfigError("regress has no classes to weight", hint="drop --class-weight")
        return None

    def evaluate(self, model: Any, dataset: Any, classes: list[str], config: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        targets, outputs = zooft.collect_predictions(model, dataset)
        error = outputs.reshape(-1) - targets.reshape(-1)
        return {"mae": float(np.abs(error).mean()), "rmse": float(np.sqrt((error**2).mean())), "samples": int(error.size)}

    def postprocess(self, outputs: Any, classes: list[str], top_k: int = 1) -> list[dict[str, Any]]:
        import numpy as np

        if isinstance(outputs, dict):
            outputs = outputs["value"]
        return [{"value": float(v)} for v in np.asarray(outputs, dtype="float64").reshape(-1)]


@zooft.hookimpl
def zooft_register_backbones(register: Callable[[zooft.BackboneSource], None]) -> None:
    """The ``smallconv`` source."""
    register(zooft.BackboneSource(name="smallconv", factory=build_smallconv, description="tiny plain conv nets (tests)"))


@zooft.hookimpl
def zooft_register_tasks(register: Callable[[zooft.TaskInfo], None]) -> None:
    """The ``regress`` task: one float per image; flips and crops would not change the target,
    but rotations of a gauge would, so geometric augmentation is off."""
    register(zooft.TaskInfo(
        name="regress", factory=RegressTask, requires="pooled", target_kind="value", geometric_augmentation=False,
        options={"loss": zooft.Option(str, "mse", choices=("mse", "mae"), help="training loss")},
        description="image -> one float (MSE), MAE/RMSE",
    ))


@zooft.hookimpl
def zooft_register_datasets(register: Callable[[zooft.DatasetFormat], None]) -> None:
    """The ``regress-csv`` format."""
    register(zooft.DatasetFormat(name="regress-csv", sniff=data.sniff, load=data.load, tasks=("regress",),
                                 description="a CSV with path,value columns"))


@zooft.hookimpl
def zooft_register_exporters(register: Callable[[zooft.ExporterInfo], None]) -> None:
    """The ``npz`` format: Keras config + weights in one .npz, run by Keras."""
    register(zooft.ExporterInfo(name="npz", factory=npz.NpzExporter, load=npz.load, extension=".npz",
                                options={"dtype": zooft.Option(str, "float32", choices=("float32", "float16"), help="weight storage")},
                                description="model config and weights in a NumPy .npz"))


@zooft.hookimpl
def zooft_registry_files() -> list[Path]:
    """``models.yaml``: ``smallconv:tiny``."""
    return [Path(__file__).with_name("models.yaml")]
