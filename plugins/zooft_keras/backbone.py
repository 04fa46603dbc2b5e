"""The ``keras`` backbone factory: a ``keras.applications`` class as one flat functional graph.

Keras is imported inside the functions only, so importing this module (which the plugin does
to register the factory) stays cheap.

The graph is ``image`` (float32 0–255, ``(None, h, w, 3)``) → preprocessing made of standard
Keras layers → the application built with ``input_tensor=`` (so every one of its layers is a
top-level layer of the backbone, which gradual unfreezing needs) → a dict of outputs:
``pooled`` plus the ``stride8``/``stride16``/``stride32`` feature maps the network has.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import zooft

from .groups import feature_maps, layer_groups
from .weights import KNOWN_APPLICATIONS, fetch_weights, unknown_locator

_LEVELS = {"stride8": 8, "stride16": 16, "stride32": 32}
_TORCH_MEAN, _TORCH_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
# EfficientNet (V1) adds a Rescaling(1/sqrt(std)) to its graph only when it is built with
# weights="imagenet" itself (keras/src/applications/efficientnet.py, TF issue #49930); zooft
# loads the same file from its own cache, so it folds that factor into the loaded variance.
_EFFICIENTNET_STDDEV_RGB = (0.229, 0.224, 0.225)


def _size(value: Any) -> tuple[int, int]:
    if value is None:
        return (224, 224)
    if isinstance(value, int):
        return (value, value)
    h, w = value
    return (int(h), int(w))


def _application(locator: str) -> Any:
    import keras

    cls = getattr(keras.applications, locator, None) if locator[:1].isupper() else None
    if cls is None or not callable(cls):
        raise unknown_locator(locator)
    return cls


def _preprocess(raw: Any, config: Mapping[str, Any], spec_name: str) -> Any:
    """Append the preprocessing the weights expect, as layers that save, load and export."""
    import keras
    import numpy as np

    mode = config.get("mode", "none")
    if mode == "none":
        return raw
    if mode == "tf":
        return keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="image_scale")(raw)
    if mode == "unit":
        return keras.layers.Rescaling(1 / 255.0, name="image_scale")(raw)
    if mode == "scale":
        return keras.layers.Rescaling(float(config["scale"]), offset=float(config["offset"]), name="image_scale")(raw)
    if mode == "torch":
        mean = list(config.get("mean", _TORCH_MEAN))
        std = np.asarray(config.get("std", _TORCH_STD), dtype="float64")
        x = keras.layers.Rescaling(1 / 255.0, name="image_scale")(raw)
        return keras.layers.Normalization(mean=mean, variance=(std**2).tolist(), name="image_normalize")(x)
    if mode == "caffe":
        # RGB->BGR is a keras.ops call, not a layer: it has no weights (so weight files keep
        # loading by position), serializes without custom objects and lowers to a plain
        # reverse in SavedModel/TFLite/ONNX. The mean subtraction is a per-channel offset.
        x = keras.ops.flip(raw, axis=-1)
        offset = [-float(m) for m in config.get("mean", _CAFFE_MEAN_BGR)]
        return keras.layers.Rescaling(1.0, offset=offset, name="image_mean")(x)
    raise zooft.RegistryError(
        f"{spec_name}: unknown preprocessing mode {mode!r}",
        hint="use one of tf, torch, caffe, unit, scale, none (see docs/registry.md)",
    )


def _load_weights(app: Any, path: Path, spec: zooft.ModelSpec) -> None:
    try:
        app.load_weights(str(path))
    except Exception as exc:  # Keras raises ValueError/KeyError/OSError for wrong or broken files
        detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise zooft.WeightsError(
            f"cannot load {path} into keras.applications.{spec.locator}{dict(spec.options) or ''}: {detail}",
            hint="the file must hold weights of the same application and options built with include_top=False"
            " (saved by save_weights, or a Keras *_notop.h5 file); delete it from the cache if it is corrupt",
        ) from None
    if spec.weights.kind == "builtin" and spec.locator.startswith("EfficientNetB"):
        for layer in app.layers:
            if type(layer).__name__ == "Normalization" and layer.weights:
                values = [w.numpy() for w in layer.weights]
                names = [w.name for w in layer.weights]
                values[names.index("variance")] = values[names.index("variance")] * _EFFICIENTNET_STDDEV_RGB
                layer.set_weights(values)
                layer.finalize_state()  # Normalization caches mean/variance tensors
                break


def _named_feature_maps(app: Any, names: Mapping[str, str], spec_name: str) -> dict[str, Any]:
    by_name = {op.name: op for op in app.operations}
    found = {}
    for level, name in names.items():
        if name not in by_name:
            close = difflib.get_close_matches(name, list(by_name), n=3)
            raise zooft.RegistryError(
                f"{spec_name}: feature_layers.{level} names no layer {name!r}",
                hint=f"did you mean {', '.join(close)}?" if close else "list the layers with model.summary()",
            )
        found[level] = by_name[name]
    return found


def build_backbone(
    spec: zooft.ModelSpec,
    *,
    input_size: int | tuple[int, int] | None = None,
    weights: str = "pretrained",
    offline: bool | None = None,
    cache_dir: str | Path | None = None,
    **_: Any,
) -> zooft.Backbone:
    """Build ``spec`` (a ``keras:`` entry) as a :class:`zooft.Backbone` taking raw 0–255 images.

    ``input_size`` overrides the entry's ``(h, w)``; ``weights="none"`` forces random init;
    ``offline`` (default: ``ZOOFT_OFFLINE``) forbids downloads, raising
    :class:`zooft.OfflineError` with the ``zooft pull`` command that fixes it; ``cache_dir``
    replaces zooft's cache root. Unknown keyword arguments are ignored (hooks only gain them).
    """
    if weights not in ("pretrained", "none"):
        raise zooft.ConfigError(f"weights must be 'pretrained' or 'none', got {weights!r}", hint="use --weights none for random init")
    if spec.locator not in KNOWN_APPLICATIONS:
        _application(spec.locator)  # a newer Keras may know it; otherwise this raises with suggestions
    path = None if weights == "none" else fetch_weights(spec, cache_dir=cache_dir, offline=offline)

    import keras

    h, w = _size(input_size or spec.input_size)
    raw = keras.Input((h, w, 3), name="image")  # float32; uint8 arrays are cast on the way in
    x = _preprocess(raw, spec.preprocessing, spec.name)
    app_cls = _application(spec.locator)
    kwargs = dict(spec.options)
    if "include_preprocessing" in inspect.signature(app_cls).parameters:
        kwargs.setdefault("include_preprocessing", True)
    try:
        app = app_cls(include_top=False, weights=None, input_tensor=x, **kwargs)
    except (TypeError, ValueError) as exc:
        raise zooft.ConfigError(
            f"cannot build keras.applications.{spec.locator}({kwargs}) at {h}x{w}: {str(exc).splitlines()[0]}",
            hint="check the entry's options and the input size (most applications need at least 32x32,"
            " Inception/Xception 75x75)",
        ) from None
    if path is not None:
        _load_weights(app, path, spec)

    if spec.feature_layers:
        maps = _named_feature_maps(app, spec.feature_layers, spec.name)
    else:
        maps = feature_maps(app, _LEVELS)
    outputs = {"pooled": keras.layers.GlobalAveragePooling2D(name="pooled")(app.output)}
    for level in _LEVELS:
        if level in maps:
            outputs[level] = maps[level].output
    model = keras.Model(raw, outputs, name=spec.short_name.replace("-", "_").replace(".", "_"))
    info = {
        "params": int(model.count_params()),
        "application": spec.locator,
        "weights": str(path) if path is not None else "none",
        "feature_strides": {level: _LEVELS[level] for level in _LEVELS if level in maps},
        "feature_layers": {level: maps[level].name for level in _LEVELS if level in maps},
        "feature_shapes": {level: tuple(maps[level].output.shape[1:]) for level in _LEVELS if level in maps},
    }
    return zooft.Backbone(model=model, spec=spec, input_size=(h, w), layer_groups=layer_groups(model), info=info)
