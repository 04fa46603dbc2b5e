"""A complete third-party zooft plugin: one backbone source (``tinycnn``) and one registry file.

Only zooft's public API is used, and TensorFlow/Keras are imported inside the factory, so
``zooft --help`` and ``zooft list-models`` stay instant with this plugin installed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import zooft

WIDTHS = {"tiny": 8, "small": 16}  # locator -> channels of the first block (doubling after)


def build_tinycnn(spec: zooft.ModelSpec, *, input_size: tuple[int, int] | None = None,
                  weights: str = "pretrained", **_options: Any) -> zooft.Backbone:
    """Build the backbone for ``spec``: raw 0–255 images in, pooled vector + stride8/16/32 out."""
    import keras  # heavy: only when a model is really built

    if spec.locator not in WIDTHS:
        raise zooft.RegistryError(f"{spec.name}: unknown tinycnn locator {spec.locator!r}",
                                  hint=f"use one of: {', '.join(WIDTHS)}")
    if weights == "pretrained" and spec.weights.kind != "none":
        raise zooft.WeightsError(f"{spec.name}: tinycnn cannot load {spec.weights.label} weights",
                                 hint="set 'weights: none' in the registry entry")
    h, w = input_size or spec.input_size or (32, 32)
    inputs = keras.Input((h, w, 3), name="image")  # float 0-255, what every zooft backbone takes
    x = keras.layers.Rescaling(1 / 255.0, name="rescale")(inputs)
    groups, maps = [["image", "rescale"]], {}
    for i in range(5):  # every block halves the resolution: strides 2, 4, 8, 16, 32
        names = [f"block{i}_conv", f"block{i}_bn", f"block{i}_relu"]
        x = keras.layers.Conv2D(WIDTHS[spec.locator] * 2 ** min(i, 3), 3, strides=2, padding="same",
                                use_bias=False, name=names[0])(x)
        x = keras.layers.BatchNormalization(name=names[1])(x)
        x = keras.layers.ReLU(name=names[2])(x)
        groups.append(names)
        if i >= 2:
            maps[f"stride{2 ** (i + 1)}"] = x
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    groups[-1].append("pool")
    model = keras.Model(inputs, {"pooled": pooled, **maps}, name=f"tinycnn_{spec.locator}")
    return zooft.Backbone(model=model, spec=spec, input_size=(h, w), layer_groups=groups)


def resolve_tinycnn(locator: str) -> zooft.ModelSpec | None:
    """Ad-hoc names outside the registry: ``--backbone tinycnn:small`` (random init, 32×32)."""
    if locator not in WIDTHS:
        return None
    return zooft.ModelSpec(name=f"tinycnn:{locator}", source="tinycnn", locator=locator,
                           weights=zooft.WeightsSpec("none"), input_size=(32, 32),
                           preprocessing={"mode": "unit"}, tasks=("classify", "detect"))


@zooft.hookimpl
def zooft_register_backbones(register: Callable[[zooft.BackboneSource], None]) -> None:
    """Register the ``tinycnn`` backbone source."""
    register(zooft.BackboneSource(name="tinycnn", factory=build_tinycnn, resolve=resolve_tinycnn,
                                  description="Toy CNNs from zooft-plugin-example (random init)"))


@zooft.hookimpl
def zooft_registry_files() -> list[Path]:
    """Ship ``models.yaml`` (package data next to this module)."""
    return [Path(__file__).with_name("models.yaml")]
