"""The SSD / SSDLite head on a backbone's ``stride8``/``stride16``/``stride32`` feature maps.

Levels past stride 32 are extra stride-2 blocks on the last map. Every level gets a box
predictor (``per_cell * 4`` offsets) and a class predictor (``per_cell * (C + 1)`` logits, index
0 = background), reshaped to ``(n, cells * per_cell, .)`` in (row, column, anchor) order and
concatenated level by level: the order of :func:`zooft_detect.anchors.make_anchors`.

The model's outputs: ``offsets`` (SSD offsets, for the box loss), ``boxes`` (decoded by the
anchor-carrying :class:`DecodeBoxes` layer) and ``logits``; all float32.
"""

from __future__ import annotations

from typing import Any

import zooft

from .anchors import AnchorConfig, anchor_count
from .layers import decode_layer
from .options import DetectOptions


def _conv(x: Any, filters: int, kind: str, name: str, *, stride: int = 1, kernel: int = 3, dtype: Any = None) -> Any:
    import keras

    common = {"padding": "same", "name": name, **({"dtype": dtype} if dtype else {})}
    if kind == "ssdlite" and kernel > 1:
        return keras.layers.SeparableConv2D(filters, kernel, strides=stride, **common)(x)
    return keras.layers.Conv2D(filters, kernel, strides=stride, **common)(x)


def _extra_level(x: Any, channels: int, kind: str, index: int) -> Any:
    """A stride-2 block: 1x1 squeeze, 3x3 stride-2 conv, BatchNorm, ReLU6 (SSD's extra layers)."""
    import keras

    x = keras.layers.Conv2D(channels // 2, 1, padding="same", use_bias=False, name=f"extra{index}_squeeze")(x)
    x = keras.layers.BatchNormalization(name=f"extra{index}_squeeze_bn")(x)
    x = keras.layers.ReLU(6.0, name=f"extra{index}_squeeze_relu")(x)
    x = _conv(x, channels, kind, f"extra{index}_conv", stride=2)
    x = keras.layers.BatchNormalization(name=f"extra{index}_bn")(x)
    return keras.layers.ReLU(6.0, name=f"extra{index}_relu")(x)


def feature_levels(backbone: zooft.Backbone, features: dict[str, Any], anchors: AnchorConfig, channels: int, kind: str) -> list[Any]:
    """The maps the head predicts on, checked against the anchor grids."""
    missing = [level for level in zooft.FEATURE_LEVELS if level not in features]
    if missing:
        raise zooft.ConfigError(
            f"backbone {backbone.spec.name!r} exposes no {', '.join(missing)} feature map(s) (it has {', '.join(features)})",
            hint="detection needs a backbone with stride8/stride16/stride32 maps ('zooft list-models --task detect')",
        )
    maps = [features[level] for level in zooft.FEATURE_LEVELS]
    x = maps[-1]
    for index in range(len(anchors.strides) - len(maps)):
        x = _extra_level(x, channels, kind, index)
        maps.append(x)
    for stride, fmap in zip(anchors.strides, maps):
        want, got = anchors.grid(stride), tuple(fmap.shape[1:3])
        if got != want:
            raise zooft.ConfigError(
                f"backbone {backbone.spec.name!r} gives a {got[0]}x{got[1]} stride-{stride} map at "
                f"{anchors.image_size[0]}x{anchors.image_size[1]}; the anchors expect {want[0]}x{want[1]}",
                hint="use an --image-size that is a multiple of 32 (or of the largest stride)",
            )
    return maps


def build_detector(backbone: zooft.Backbone, classes: list[str], options: DetectOptions) -> Any:
    """Raw image ``image`` -> backbone -> SSD head -> ``{offsets, boxes, logits}``."""
    import keras
    import numpy as np

    if backbone.input_size is None:
        raise zooft.ConfigError(f"backbone {backbone.spec.name!r} is not an image model", hint="choose an image backbone")
    anchors = options.anchors(backbone.input_size)
    height, width = backbone.input_size
    inputs = keras.Input(shape=(height, width, 3), name="image")
    features = backbone.model(inputs)
    if not isinstance(features, dict):
        features = {"pooled": features}
    maps = feature_levels(backbone, features, anchors, options["head_channels"], options["head"])
    k, n_out = anchors.per_cell, len(classes) + 1
    # background starts likely (prior 0.99), as in RetinaNet: early losses stay sane
    prior = np.zeros(k * n_out, dtype="float32")
    prior[::n_out] = np.log(0.99 * len(classes) / 0.01)
    offsets, logits = [], []
    for level, fmap in enumerate(maps):
        box = _conv(fmap, k * 4, options["head"], f"box_head{level}", dtype="float32")
        cls = keras.layers.SeparableConv2D(
            k * n_out, 3, padding="same", name=f"class_head{level}", dtype="float32",
            bias_initializer=keras.initializers.Constant(prior),
        )(fmap) if options["head"] == "ssdlite" else keras.layers.Conv2D(
            k * n_out, 3, padding="same", name=f"class_head{level}", dtype="float32",
            bias_initializer=keras.initializers.Constant(prior),
        )(fmap)
        offsets.append(keras.layers.Reshape((-1, 4), name=f"box_reshape{level}", dtype="float32")(box))
        logits.append(keras.layers.Reshape((-1, n_out), name=f"class_reshape{level}", dtype="float32")(cls))
    offsets_all = keras.layers.Concatenate(axis=1, name="offsets", dtype="float32")(offsets)
    logits_all = keras.layers.Concatenate(axis=1, name="logits", dtype="float32")(logits)
    postprocess = {**options.nms().to_dict(), "resize": options["resize"], "draw_threshold": options["draw_threshold"]}
    boxes = decode_layer(anchors, postprocess)(offsets_all)
    model = keras.Model(inputs, {"offsets": offsets_all, "boxes": boxes, "logits": logits_all}, name="zooft_detector")
    if model.output["offsets"].shape[1] != anchor_count(anchors):  # a head/anchor ordering bug, not user error
        raise AssertionError(f"head predicts {model.output['offsets'].shape[1]} anchors, layout has {anchor_count(anchors)}")
    return model


def anchor_config_of(model: Any) -> AnchorConfig:
    """The anchor layout a detection model was built with (from its ``boxes`` layer)."""
    try:
        layer = model.get_layer("boxes")
    except ValueError:
        raise zooft.RunError(f"model {model.name!r} has no 'boxes' decode layer; is it a detection model?") from None
    return AnchorConfig.from_dict(layer.anchor_config)


def postprocess_of(model: Any) -> dict[str, Any]:
    """The post-processing settings (NMS, resize mode) a detection model was trained with."""
    try:
        return dict(model.get_layer("boxes").postprocess)
    except ValueError:
        raise zooft.RunError(f"model {model.name!r} has no 'boxes' decode layer; is it a detection model?") from None
