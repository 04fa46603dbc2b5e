"""The TFLite detection op's settings, without TensorFlow: attributes, the box-coder mapping, the
anchors it takes, the metadata spec and how its outputs become detections.

The integration tests (tests/integration/test_detect_ondevice.py) run the converted op in LiteRT
and MediaPipe; these pin the arithmetic that makes the op decode exactly as zooft does.
"""

from __future__ import annotations

import numpy as np
import pytest

from zooft_detect.anchors import AnchorConfig, make_anchors
from zooft_detect.boxes import VARIANCES, NMSConfig, decode, encode, postprocess
from zooft_detect.postprocess import detections
from zooft_detect.tflite_op import (
    ENCODING_ORDER,
    OP_NAME,
    OUTPUTS,
    center_size_anchors,
    client_metadata,
    implements_signature,
    op_attributes,
)


def kernel_decode(encodings: np.ndarray, anchors: np.ndarray, attrs: dict) -> np.ndarray:
    """detection_postprocess.cc's DecodeCenterSizeBoxes, in numpy: ``[ymin, xmin, ymax, xmax]``."""
    ty, tx, th, tw = np.moveaxis(encodings.astype(np.float64), -1, 0)
    ya, xa, ha, wa = np.moveaxis(anchors.astype(np.float64), -1, 0)
    yc, xc = ty / attrs["y_scale"] * ha + ya, tx / attrs["x_scale"] * wa + xa
    half_h, half_w = 0.5 * np.exp(th / attrs["h_scale"]) * ha, 0.5 * np.exp(tw / attrs["w_scale"]) * wa
    return np.stack([yc - half_h, xc - half_w, yc + half_h, xc + half_w], axis=-1)


def _boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random ``[x0, y0, x1, y1]`` boxes inside the unit square."""
    corner = rng.uniform(0, 0.7, (n, 2))
    return np.concatenate([corner, corner + rng.uniform(0.05, 0.3, (n, 2))], axis=1).astype(np.float32)


def test_the_op_decodes_zooft_offsets_like_zooft() -> None:
    """zooft's offsets, reordered for the op and decoded with its scales against the centre-size
    anchors, give zooft's own boxes (float noise only): the scale mapping and both orders are right."""
    config = AnchorConfig(image_size=(64, 96), strides=(8, 16, 32, 64))
    corners = make_anchors(config)
    rng = np.random.default_rng(0)
    offsets = rng.normal(0, 1.5, (len(corners), 4)).astype(np.float32)
    attrs = op_attributes(NMSConfig(), 3, config.variances)
    yxyx = kernel_decode(offsets[:, list(ENCODING_ORDER)], center_size_anchors(config), attrs)
    np.testing.assert_allclose(yxyx[:, [1, 0, 3, 2]], decode(offsets, corners), atol=2e-6)
    # and the round trip from real boxes: encode (training) -> op decode
    boxes = _boxes(rng, len(corners))
    back = kernel_decode(encode(boxes, corners)[:, list(ENCODING_ORDER)], center_size_anchors(config), attrs)
    np.testing.assert_allclose(back[:, [1, 0, 3, 2]], boxes, atol=1e-5)


def test_attributes_follow_the_nms_settings() -> None:
    per_class = op_attributes(NMSConfig(score_threshold=0.2, iou_threshold=0.45, max_detections=25, max_per_class=7), 5, VARIANCES)
    assert per_class == {
        "max_detections": 25, "max_classes_per_detection": 1, "detections_per_class": 7, "use_regular_nms": True,
        "nms_score_threshold": 0.2, "nms_iou_threshold": 0.45, "num_classes": 5,
        "y_scale": 10.0, "x_scale": 10.0, "h_scale": 5.0, "w_scale": 5.0,
    }
    assert op_attributes(NMSConfig(mode="agnostic"), 5, VARIANCES)["use_regular_nms"] is False  # the op's fast NMS


def test_implements_signature_is_the_converters_text_format() -> None:
    text = implements_signature({"max_detections": 10, "use_regular_nms": True, "nms_iou_threshold": 0.5, "y_scale": 10.0})
    assert text == (f'name: "{OP_NAME}" attr {{ key: "max_detections" value {{ i: 10 }} }} '
                    'attr { key: "use_regular_nms" value { b: true } } '
                    'attr { key: "nms_iou_threshold" value { f: 0.5 } } attr { key: "y_scale" value { f: 10.0 } }')


def test_anchors_are_centre_size_in_y_x_order() -> None:
    config = AnchorConfig(image_size=(32, 64), strides=(8, 16, 32))
    corners, centred = make_anchors(config), center_size_anchors(config)
    assert centred.shape == corners.shape and centred.dtype == np.float32
    np.testing.assert_allclose(centred[:, 0], (corners[:, 1] + corners[:, 3]) / 2, atol=1e-7)  # y centre
    np.testing.assert_allclose(centred[:, 1], (corners[:, 0] + corners[:, 2]) / 2, atol=1e-7)  # x centre
    np.testing.assert_allclose(centred[:, 2], corners[:, 3] - corners[:, 1], atol=1e-7)  # height
    np.testing.assert_allclose(centred[:, 3], corners[:, 2] - corners[:, 0], atol=1e-7)  # width


def test_op_outputs_become_the_same_detections_as_host_side_nms() -> None:
    """The op's output form (yxyx, float classes, count, padding rows) -> zooft detections, equal to
    the host-side NMS result the op stands for (clipped to [0, 1] as zooft clips)."""
    rng = np.random.default_rng(1)
    boxes = _boxes(rng, 40)
    boxes[0] = [-0.1, 0.2, 0.5, 1.2]  # partly outside the image: the op returns it as it is
    scores = rng.uniform(0, 1, (40, 3)).astype(np.float32)
    scores[0, 1] = 0.99
    settings = NMSConfig(score_threshold=0.3, max_detections=10)
    found = postprocess(boxes, scores, settings)
    k, n = 10, len(found["scores"])
    op = {name: np.zeros(shape, np.float32) for name, shape in zip(OUTPUTS, ((1, k, 4), (1, k), (1, k), (1,)))}
    unclipped = np.where(np.isclose(found["boxes"], np.clip(boxes[0], 0, 1)).all(axis=1, keepdims=True), boxes[0], found["boxes"])
    assert (unclipped != found["boxes"]).any()
    op["detection_boxes"][0, :n] = unclipped[:, [1, 0, 3, 2]]
    op["detection_classes"][0, :n] = found["classes"]
    op["detection_scores"][0, :n] = found["scores"]
    op["num_detections"][0] = n
    (got,) = detections(op, NMSConfig())
    np.testing.assert_allclose(got["boxes"], found["boxes"], atol=1e-7)
    np.testing.assert_array_equal(got["classes"], found["classes"])
    np.testing.assert_allclose(got["scores"], found["scores"])


def test_client_metadata_names_the_outputs_mediapipe_looks_up() -> None:
    attrs = op_attributes(NMSConfig(max_detections=20), 4, VARIANCES)
    spec = client_metadata((96, 128), 4, attrs)["spec"]
    image = spec["inputs"][0]
    assert image["content"] == {"kind": "image", "color_space": "RGB", "width": 128, "height": 96}
    assert image["process_units"] == [{"normalization": {"mean": [0.0], "std": [1.0]}}]
    outputs = {o["name"]: o for o in spec["outputs"]}
    assert list(outputs) == ["location", "category", "score", "number of detections"]
    assert [o["signature_key"] for o in spec["outputs"]] == list(OUTPUTS)
    assert outputs["location"]["content"]["index"] == [1, 0, 3, 2]  # left, top, right, bottom in yxyx
    assert outputs["category"]["associated_files"][0]["type"] == "TENSOR_VALUE_LABELS"


@pytest.mark.parametrize("count", [0, 3])
def test_count_bounds_the_rows_read(count: int) -> None:
    k = 5
    op = {"detection_boxes": np.full((1, k, 4), 0.5, np.float32), "detection_classes": np.ones((1, k), np.float32),
          "detection_scores": np.full((1, k), 0.9, np.float32), "num_detections": np.asarray([float(count)], np.float32)}
    (got,) = detections(op, NMSConfig())
    assert len(got["scores"]) == count and got["classes"].dtype == np.int64


def test_postprocess_option_is_for_detection_runs_only(tmp_path) -> None:  # noqa: ANN001
    """A classification run asked for ``postprocess=raw`` fails in one line before converting."""
    import zooft
    from zooft_tflite.exporter import TFLiteExporter

    context = zooft.ExportContext(model=None, task="classify", classes=["a", "b"], metadata={"labels": ["a", "b"]},
                                  samples=None, options={"postprocess": "raw"})
    with pytest.raises(zooft.ConfigError, match=r"postprocess='raw' applies to detection exports only"):
        TFLiteExporter().export(context, tmp_path)
