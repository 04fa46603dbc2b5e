"""SSD post-processing as TFLite's ``TFLite_Detection_PostProcess`` custom op (on-device exports).

What the TF Object Detection API's SSD TFLite exports carry and what MediaPipe Tasks'
``ObjectDetector`` and the TFLite Task Library run: box decoding against the anchors, score
thresholding and NMS inside the model, four outputs

- ``detection_boxes (1, K, 4)``: ``[ymin, xmin, ymax, xmax]`` normalised to the model input,
  clipped to [0, 1] after the op (which does not clip) as zooft's own NMS clips;
- ``detection_classes (1, K)``: class index as float (0 = the first label, background excluded);
- ``detection_scores (1, K)``; ``num_detections (1,)``: valid rows, as float.

The converter builds the op from a ``tf.function`` carrying ``experimental_implements`` with the
op's attributes (it needs ``allow_custom_ops``). The function's body computes the same thing in
TensorFlow (decode as the kernel does, then ``combined_non_max_suppression`` or class-agnostic
NMS), so the Keras export model and its SavedModel give the op's detections: the parity reference.

Mapping zooft's SSD encoding onto the op's (``boxes.decode``: centre ``a_c + t_c * v0 * a_wh``,
size ``a_wh * exp(t_wh * v1)``; the kernel: ``y / y_scale * a_h + a_y``, ``exp(h / h_scale) * a_h``):
``y_scale = x_scale = 1 / v0``, ``h_scale = w_scale = 1 / v1`` (10 and 5 for SSD's variances
0.1, 0.2); zooft's offsets ``[tx, ty, tw, th]`` are reordered to the op's ``[ty, tx, th, tw]``;
anchors go in as ``[y_centre, x_centre, h, w]``. The op applies no softmax/sigmoid: it gets the
softmax probabilities of all ``C + 1`` columns, background first (``num_classes = C`` makes the
kernel skip column 0). ``nms=per_class`` maps to ``use_regular_nms`` (per-class NMS, then the best
``max_detections``: zooft's host-side NMS); ``nms=agnostic`` to the op's fast NMS with one class
per detection (NMS on each anchor's best class score).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .anchors import AnchorConfig, make_anchors
from .boxes import NMSConfig, to_center

OP_NAME = "TFLite_Detection_PostProcess"
#: Output names, in the order the op produces them (and MediaPipe's default order).
OUTPUTS = ("detection_boxes", "detection_classes", "detection_scores", "num_detections")
#: zooft offsets [tx, ty, tw, th] -> the op's [ty, tx, th, tw].
ENCODING_ORDER = (1, 0, 3, 2)


def op_attributes(settings: NMSConfig, num_classes: int, variances: tuple[float, float]) -> dict[str, Any]:
    """The op's attributes for zooft's NMS settings and box coder (JSON-ready; recorded in the
    export's metadata so a reader can see exactly what the model runs)."""
    return {
        "max_detections": int(settings.max_detections),
        "max_classes_per_detection": 1,
        "detections_per_class": int(settings.max_per_class),
        "use_regular_nms": settings.mode == "per_class",
        "nms_score_threshold": float(settings.score_threshold),
        "nms_iou_threshold": float(settings.iou_threshold),
        "num_classes": int(num_classes),
        "y_scale": 1.0 / float(variances[0]),
        "x_scale": 1.0 / float(variances[0]),
        "h_scale": 1.0 / float(variances[1]),
        "w_scale": 1.0 / float(variances[1]),
    }


def implements_signature(attrs: dict[str, Any]) -> str:
    """The ``experimental_implements`` text: a ``NameAttrList`` in protobuf text format."""
    parts = [f'name: "{OP_NAME}"']
    for key, value in attrs.items():
        if isinstance(value, bool):
            text = f"b: {str(value).lower()}"
        elif isinstance(value, int):
            text = f"i: {value}"
        else:
            text = f"f: {float(value)!r}"
        parts.append(f'attr {{ key: "{key}" value {{ {text} }} }}')
    return " ".join(parts)


def center_size_anchors(config: AnchorConfig) -> np.ndarray:
    """The anchors as the op takes them: ``(A, 4)`` float32 ``[y_centre, x_centre, h, w]``."""
    cx, cy, w, h = np.moveaxis(to_center(make_anchors(config)), -1, 0)
    return np.stack([cy, cx, h, w], axis=-1).astype(np.float32)


def _reference(box_encodings: Any, class_predictions: Any, anchors: Any, attrs: dict[str, Any]) -> tuple[Any, ...]:
    """The op's maths in TensorFlow, for batch 1 (the op's only batch size)."""
    import tensorflow as tf

    t = box_encodings[0]
    ycenter = t[:, 0] / attrs["y_scale"] * anchors[:, 2] + anchors[:, 0]
    xcenter = t[:, 1] / attrs["x_scale"] * anchors[:, 3] + anchors[:, 1]
    half_h = 0.5 * tf.exp(t[:, 2] / attrs["h_scale"]) * anchors[:, 2]
    half_w = 0.5 * tf.exp(t[:, 3] / attrs["w_scale"]) * anchors[:, 3]
    boxes = tf.stack([ycenter - half_h, xcenter - half_w, ycenter + half_h, xcenter + half_w], axis=-1)
    offset = int(class_predictions.shape[-1]) - attrs["num_classes"]  # 1: background column
    scores = class_predictions[0, :, offset:]
    k = attrs["max_detections"]
    if attrs["use_regular_nms"]:
        nmsed = tf.image.combined_non_max_suppression(
            boxes[None, :, None, :], scores[None], max_output_size_per_class=attrs["detections_per_class"],
            max_total_size=k, iou_threshold=attrs["nms_iou_threshold"],
            score_threshold=attrs["nms_score_threshold"], clip_boxes=False,
        )
        count = tf.cast(nmsed.valid_detections, tf.float32)
        return nmsed.nmsed_boxes, nmsed.nmsed_classes, nmsed.nmsed_scores, count
    best = tf.reduce_max(scores, axis=-1)
    kept, n = tf.image.non_max_suppression_padded(
        boxes, best, k, iou_threshold=attrs["nms_iou_threshold"], score_threshold=attrs["nms_score_threshold"],
        pad_to_max_output_size=True,
    )
    valid = tf.range(k) < n
    mask = tf.cast(valid, tf.float32)
    out_boxes = tf.gather(boxes, kept) * mask[:, None]
    out_scores = tf.gather(best, kept) * mask
    out_classes = tf.cast(tf.gather(tf.argmax(scores, axis=-1), kept), tf.float32) * mask
    return out_boxes[None], out_classes[None], out_scores[None], tf.cast(n, tf.float32)[None]


@functools.cache
def _layer_class() -> Any:
    import keras
    import tensorflow as tf

    class DetectionPostProcess(keras.layers.Layer):
        """SSD offsets ``(1, A, 4)`` + class probabilities ``(1, A, C + 1)`` -> the op's four outputs.

        Only used in TFLite export models (never saved in ``.keras`` files): the converter turns the
        ``experimental_implements`` function into ``TFLite_Detection_PostProcess``.
        """

        def __init__(self, attrs: dict[str, Any], anchors: np.ndarray, **kwargs: Any) -> None:
            super().__init__(dtype="float32", **kwargs)
            self.attrs = dict(attrs)
            self.anchors = np.asarray(anchors, dtype=np.float32)
            attrs_copy = dict(attrs)

            @tf.function(experimental_implements=implements_signature(attrs_copy))
            def post_process(box_encodings: Any, class_predictions: Any, anchors: Any) -> tuple[Any, ...]:
                return _reference(box_encodings, class_predictions, anchors, attrs_copy)

            self._post_process = post_process

        def call(self, offsets: Any, probabilities: Any) -> dict[str, Any]:
            encodings = tf.gather(tf.cast(offsets, tf.float32), list(ENCODING_ORDER), axis=-1)
            boxes, classes, scores, count = self._post_process(encodings, tf.cast(probabilities, tf.float32), tf.constant(self.anchors))
            # the op does not clip; zooft's NMS does, and clients mis-draw boxes past the edge
            # (MediaPipe clamps a negative origin but keeps the size): two builtins after the op
            boxes = tf.clip_by_value(boxes, 0.0, 1.0)
            return dict(zip(OUTPUTS, (boxes, classes, scores, count)))

        def compute_output_spec(self, offsets: Any, probabilities: Any) -> dict[str, Any]:
            k = self.attrs["max_detections"]
            shapes = ((1, k, 4), (1, k), (1, k), (1,))
            return {name: keras.KerasTensor(shape, dtype="float32") for name, shape in zip(OUTPUTS, shapes)}

    return DetectionPostProcess


def op_export_model(model: Any, anchors: AnchorConfig, settings: NMSConfig, num_classes: int) -> tuple[Any, dict[str, Any]]:
    """``(export model, op attributes)``: the trained detector at batch 1 (the op's batch size),
    softmax over all ``C + 1`` columns, then the post-processing op."""
    import keras

    attrs = op_attributes(settings, num_classes, anchors.variances)
    height, width = anchors.image_size
    image = keras.Input(batch_shape=(1, height, width, 3), name="image")
    out = model(image)
    probabilities = keras.layers.Softmax(axis=-1, name="softmax", dtype="float32")(out["logits"])
    outputs = _layer_class()(attrs, center_size_anchors(anchors), name="detection_postprocess")(out["offsets"], probabilities)
    return keras.Model(image, outputs, name="zooft_detector_tflite_op"), attrs


def client_metadata(image_size: tuple[int, int], num_classes: int, attrs: dict[str, Any]) -> dict[str, Any]:
    """The standard TFLite metadata of the op export (``metadata["tflite_metadata"]``, written by
    the tflite exporter): what MediaPipe Tasks' and the Task Library's ``ObjectDetector`` read.

    The input is the RGB image at the model size, 0–255, normalization mean 0 / std 1 (the model
    scales inside its graph; float-input clients refuse a model without NormalizationOptions). The
    four outputs carry the names those clients look them up by (``location``, ``category``,
    ``score``, ``number of detections``: the converter orders the op's outputs its own way), the
    box layout (``BoundingBoxProperties``: boundaries, ratio coordinates, ``index [1, 0, 3, 2]`` =
    where left, top, right, bottom sit in ``[ymin, xmin, ymax, xmax]``), and the labels as the
    category output's ``TENSOR_VALUE_LABELS`` (line ``i`` of ``labels.txt`` names class value ``i``).
    """
    height, width = int(image_size[0]), int(image_size[1])
    k = attrs["max_detections"]
    labels = [{"name": "labels.txt", "description": "class names: line i is class value i of 'category'",
               "type": "TENSOR_VALUE_LABELS"}]
    nms = "per-class NMS" if attrs["use_regular_nms"] else "class-agnostic NMS"
    spec = {
        "description": (f"SSD object detector, {num_classes} classes; post-processing ({nms}, score >= "
                        f"{attrs['nms_score_threshold']:g}, IoU {attrs['nms_iou_threshold']:g}, at most {k} detections) "
                        f"by the {OP_NAME} op"),
        "inputs": [{
            "name": "image", "signature_key": "image",
            "description": f"RGB image {width}x{height}, pixel values 0-255 (scaling happens inside the model)",
            "content": {"kind": "image", "color_space": "RGB", "width": width, "height": height},
            "process_units": [{"normalization": {"mean": [0.0], "std": [1.0]}}],
            "stats": {"min": [0.0], "max": [255.0]},
        }],
        "outputs": [
            {"name": "location", "signature_key": "detection_boxes",
             "description": f"(1, {k}, 4) boxes [ymin, xmin, ymax, xmax], fractions of the input size (clipped to 0-1)",
             "content": {"kind": "bounding_box", "type": "BOUNDARIES", "coordinate_type": "RATIO",
                         "index": [1, 0, 3, 2], "range": [2, 2]}},
            {"name": "category", "signature_key": "detection_classes",
             "description": f"(1, {k}) class index of each detection (float), in the order of labels.txt",
             "content": {"kind": "feature", "range": [2, 2]}, "associated_files": labels},
            {"name": "score", "signature_key": "detection_scores", "description": f"(1, {k}) score of each detection",
             "content": {"kind": "feature", "range": [2, 2]}},
            {"name": "number of detections", "signature_key": "num_detections",
             "description": "(1,) how many rows of the other outputs are detections (float)",
             "content": {"kind": "feature"}},
        ],
    }
    return {"spec": spec, "files": {}}
