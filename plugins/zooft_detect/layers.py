"""Keras layers of the detection model: box decoding (in the trained model) and NMS (exports).

TensorFlow is imported inside the functions: :func:`custom_objects` is what the plugin hands to
``keras.saving.load_model``, and the classes are created on first use.
"""

from __future__ import annotations

import functools
from typing import Any

from .anchors import AnchorConfig, make_anchors


def decode_tf(offsets: Any, anchors: Any, variances: tuple[float, float]) -> Any:
    """TensorFlow twin of :func:`zooft_detect.boxes.decode` (corners from SSD offsets)."""
    import tensorflow as tf

    a_wh = anchors[..., 2:] - anchors[..., :2]
    a_c = anchors[..., :2] + a_wh / 2
    center = a_c + offsets[..., :2] * variances[0] * a_wh
    size = a_wh * tf.exp(tf.clip_by_value(offsets[..., 2:] * variances[1], -10.0, 10.0))
    return tf.concat([center - size / 2, center + size / 2], axis=-1)


@functools.cache
def _classes() -> dict[str, Any]:
    import keras
    import tensorflow as tf

    @keras.saving.register_keras_serializable(package="zooft_detect")
    class DecodeBoxes(keras.layers.Layer):
        """SSD offsets ``(n, A, 4)`` -> boxes ``[x0, y0, x1, y1]`` normalised to the input.

        Carries the anchor layout in its config, so a saved model knows its own anchors: exports,
        predict and evaluation decode with exactly the anchors training encoded with.
        """

        def __init__(self, anchor_config: dict[str, Any], postprocess: dict[str, Any] | None = None, **kwargs: Any) -> None:
            kwargs.setdefault("dtype", "float32")
            super().__init__(**kwargs)
            self.anchor_config = dict(anchor_config)
            self.postprocess = dict(postprocess or {})  # NMS settings + resize mode, for exports
            self._anchors_config = AnchorConfig.from_dict(self.anchor_config)
            self._anchors = make_anchors(self._anchors_config)

        def call(self, offsets: Any) -> Any:
            anchors = tf.constant(self._anchors, dtype=tf.float32)
            return decode_tf(tf.cast(offsets, tf.float32), anchors, self._anchors_config.variances)

        def compute_output_shape(self, input_shape: Any) -> Any:
            return input_shape

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "anchor_config": self.anchor_config, "postprocess": self.postprocess}

    class CombinedNMS(keras.layers.Layer):
        """Per-class NMS inside the graph (SavedModel, ONNX): ``tf.image.combined_non_max_suppression``.

        Outputs ``boxes (n, K, 4)``, ``scores (n, K)``, ``classes (n, K)`` float class indices and
        ``count (n,)`` int32 valid detections; rows past ``count`` are zero. Only used in export
        models, never saved in ``.keras`` files.
        """

        def __init__(self, settings: dict[str, Any], **kwargs: Any) -> None:
            super().__init__(dtype="float32", **kwargs)
            self.settings = dict(settings)

        def call(self, boxes: Any, scores: Any) -> Any:
            s = self.settings
            nmsed = tf.image.combined_non_max_suppression(
                tf.expand_dims(boxes, 2),
                scores,
                max_output_size_per_class=int(s["max_per_class"]),
                max_total_size=int(s["max_detections"]),
                iou_threshold=float(s["iou_threshold"]),
                score_threshold=float(s["score_threshold"]),
                clip_boxes=True,
            )
            return {
                "boxes": nmsed.nmsed_boxes,
                "scores": nmsed.nmsed_scores,
                "classes": nmsed.nmsed_classes,
                "count": nmsed.valid_detections,
            }

    return {"DecodeBoxes": DecodeBoxes, "CombinedNMS": CombinedNMS}


def decode_layer(anchor_config: AnchorConfig, postprocess: dict[str, Any], name: str = "boxes") -> Any:
    """A new :class:`DecodeBoxes` layer for ``anchor_config`` carrying the ``postprocess`` settings."""
    return _classes()["DecodeBoxes"](anchor_config.to_dict(), postprocess, name=name)


def nms_layer(settings: dict[str, Any], name: str = "nms") -> Any:
    """A new in-graph NMS layer (see :class:`CombinedNMS`)."""
    return _classes()["CombinedNMS"](settings, name=name)


def custom_objects() -> dict[str, Any]:
    """Classes ``keras.saving.load_model`` needs for a detection model."""
    return {"zooft_detect>DecodeBoxes": _classes()["DecodeBoxes"], "DecodeBoxes": _classes()["DecodeBoxes"]}
