"""Anchors, box encoding, matching, NMS and detection parity maths of zooft_detect (numpy only)."""

from __future__ import annotations

import numpy as np
import pytest

import zooft
from zooft_detect import anchors as A
from zooft_detect import boxes as B
from zooft_detect.options import parse_augment, resolve_options
from zooft_detect.pipeline import letterbox_params
from zooft_detect.postprocess import detections, to_original


def test_anchor_layout_order_and_count() -> None:
    config = A.AnchorConfig(image_size=(96, 96), strides=(8, 16, 32, 64, 128))
    anchors = A.make_anchors(config)
    assert config.per_cell == 4
    assert len(anchors) == A.anchor_count(config) == (144 + 36 + 9 + 4 + 1) * 4
    # level 0, cell (row 0, col 1): centre x = 1.5/12, y = 0.5/12; first anchor square of scale 0.1
    cell = anchors[4:8]
    centres = (cell[:, :2] + cell[:, 2:]) / 2
    np.testing.assert_allclose(centres, [[1.5 / 12, 0.5 / 12]] * 4, atol=1e-6)
    np.testing.assert_allclose(cell[0, 2:] - cell[0, :2], [0.1, 0.1], atol=1e-6)
    # the in-between square of SSD: sqrt(s0 * s1)
    np.testing.assert_allclose(cell[1, 2] - cell[1, 0], np.sqrt(0.1 * 0.3), atol=1e-6)
    # ratio 2 is wider than tall
    assert cell[2, 2] - cell[2, 0] > cell[2, 3] - cell[2, 1]


def test_usable_strides_stop_at_one_cell() -> None:
    assert A.usable_strides((96, 96), [8, 16, 32, 64, 128, 256]) == (8, 16, 32, 64, 128)
    assert A.usable_strides((64, 64), [8, 16, 32, 64, 128]) == (8, 16, 32, 64)
    config = resolve_options({"task_options": {"levels": 4}}).anchors((96, 128))
    assert config.strides == (8, 16, 32, 64) and config.grid(8) == (12, 16)


def test_anchor_config_round_trips() -> None:
    config = A.AnchorConfig(image_size=(64, 80), strides=(8, 16, 32), aspect_ratios=(1.0, 3.0))
    assert A.AnchorConfig.from_dict(config.to_dict()) == config


def test_iou_known_values() -> None:
    a = np.array([[0, 0, 2, 2]], float)
    b = np.array([[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6], [0, 0, 0, 0]], float)
    np.testing.assert_allclose(B.iou(a, b)[0], [1 / 7, 1.0, 0.0, 0.0])


def test_encode_decode_round_trip() -> None:
    rng = np.random.default_rng(0)
    anchors = A.make_anchors(A.AnchorConfig(image_size=(64, 64), strides=(8, 16, 32)))
    xy = rng.uniform(0, 0.7, (len(anchors), 2))
    boxes = np.concatenate([xy, xy + rng.uniform(0.05, 0.3, (len(anchors), 2))], axis=1)
    np.testing.assert_allclose(B.decode(B.encode(boxes, anchors), anchors), boxes, atol=1e-5)
    # an anchor encodes itself as zeros
    np.testing.assert_allclose(B.encode(anchors, anchors), 0, atol=1e-5)


def test_match_thresholds_forced_best_and_padding() -> None:
    anchors = np.array([[0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1], [0, 0, 0.45, 0.5], [0.6, 0, 1, 0.3]], float)
    gt = np.array([[0, 0, 0.5, 0.5], [0.55, 0.55, 0.6, 0.6], [0, 0, 1, 1]], float)
    labels = np.array([2, 0, -1])  # the last row is padding
    matched, out = B.match(gt, labels, anchors, B.MatchConfig(0.5, 0.4))
    assert out[0] == 3  # IoU 1 with class 2 -> label 3
    assert out[2] == 3  # IoU 0.9 with the same object
    assert out[1] == 1  # tiny object: IoU < 0.5, but anchor 1 is its best -> forced positive
    assert out[3] == 0  # background
    np.testing.assert_allclose(matched[1], gt[1])
    offsets, flags_labels = B.encode_targets(gt, labels, anchors)
    assert offsets.shape == (4, 5) and list(offsets[:, 4]) == [1, 1, 1, 0]
    np.testing.assert_allclose(offsets[3, :4], 0)


def test_match_ignores_between_thresholds() -> None:
    anchors = np.array([[0, 0, 1, 1], [0, 0, 0.45, 1]], float)
    gt = np.array([[0, 0, 1, 1]], float)
    _, labels = B.match(gt, np.array([0]), anchors, B.MatchConfig(0.5, 0.4))
    assert list(labels) == [1, -1]  # IoU 0.45: neither object nor background
    _, none = B.match(np.zeros((0, 4)), np.zeros(0), anchors)
    assert list(none) == [0, 0]


def test_nms_per_class_and_agnostic() -> None:
    boxes = np.array([[0, 0, 0.5, 0.5], [0.02, 0, 0.52, 0.5], [0.6, 0.6, 1.1, 1.0]], np.float32)
    scores = np.array([[0.9, 0.0], [0.8, 0.85], [0.04, 0.7]], np.float32)
    found = B.postprocess(boxes, scores, B.NMSConfig(score_threshold=0.05, iou_threshold=0.5))
    # class 0: box 1 suppressed by box 0; class 1: boxes 1 and 2 kept; box 2 is clipped to 1
    assert found["classes"].tolist() == [0, 1, 1]
    np.testing.assert_allclose(found["scores"], [0.9, 0.85, 0.7])
    assert found["boxes"].max() <= 1.0
    agnostic = B.postprocess(boxes, scores, B.NMSConfig(mode="agnostic"))
    assert agnostic["classes"].tolist() == [0, 1]  # one box per place
    capped = B.postprocess(boxes, scores, B.NMSConfig(max_detections=1))
    assert capped["scores"].tolist() == pytest.approx([0.9])
    assert B.postprocess(boxes, scores * 0, B.NMSConfig())["boxes"].shape == (0, 4)


def test_detections_from_each_output_form() -> None:
    boxes = np.array([[[0.1, 0.1, 0.4, 0.4], [0.5, 0.5, 0.9, 0.9]]], np.float32)
    probs = np.array([[[0.9, 0.01], [0.01, 0.8]]], np.float32)
    raw = detections({"boxes": boxes, "scores": probs}, B.NMSConfig())
    logits = np.log(np.concatenate([np.full((1, 2, 1), 0.09), probs[..., :1] + 0, probs[..., 1:]], axis=-1))
    from_logits = detections({"boxes": boxes, "logits": logits, "offsets": boxes}, B.NMSConfig())
    assert raw[0]["classes"].tolist() == from_logits[0]["classes"].tolist() == [0, 1]
    nmsed = detections({"boxes": np.pad(boxes, ((0, 0), (0, 2), (0, 0))), "scores": np.array([[0.9, 0.8, 0, 0]]),
                        "classes": np.array([[0.0, 1.0, 0, 0]]), "count": np.array([2])}, B.NMSConfig())
    assert nmsed[0]["classes"].tolist() == [0, 1] and len(nmsed[0]["boxes"]) == 2
    with pytest.raises(zooft.ExportError):
        detections({"probabilities": probs}, B.NMSConfig())


def test_letterbox_round_trip() -> None:
    params = letterbox_params(200, 100, (96, 96), "letterbox")
    assert params == pytest.approx((1.0, 0.5, 0.0, 0.25))
    box = np.array([[0.25, 0.5, 0.75, 0.75]])  # normalised to the 200x100 original
    in_model = box * [params[0], params[1], params[0], params[1]] + [params[2], params[3], params[2], params[3]]
    np.testing.assert_allclose(to_original(in_model, 200, 100, params), [[50, 50, 150, 75]])
    assert letterbox_params(200, 100, (96, 96), "plain") == (1.0, 1.0, 0.0, 0.0)


def test_options_validate_with_suggestions() -> None:
    opts = resolve_options({"task_options": "score_threshold=0.3,aspect_ratios=1:2,box_loss=giou"})
    assert opts["score_threshold"] == 0.3 and opts["aspect_ratios"] == (1.0, 2.0) and opts["box_loss"] == "giou"
    with pytest.raises(zooft.ConfigError, match="score_treshold") as info:
        resolve_options({"task_options": {"score_treshold": 0.3}})
    assert "did you mean 'score_threshold'" in info.value.hint
    with pytest.raises(zooft.ConfigError, match="box_loss"):
        resolve_options({"task_options": {"box_loss": "l2"}})
    with pytest.raises(zooft.ConfigError, match="negative_iou"):
        resolve_options({"task_options": {"negative_iou": 0.6}})
    assert parse_augment("default") == ("flip", "crop", "zoom_out", "photometric")
    assert parse_augment("none") == ()
    with pytest.raises(zooft.ConfigError, match="flipp") as info:
        parse_augment("flipp")
    assert "did you mean 'flip'" in info.value.hint


def test_parity_metrics_and_gates() -> None:
    pytest.importorskip("pycocotools")
    from zooft_detect.parity import detection_parity

    boxes = np.array([[[0.1, 0.1, 0.4, 0.4], [0.5, 0.5, 0.9, 0.9], [0.0, 0.6, 0.2, 0.9]]], np.float32)
    probs = np.array([[[0.9, 0.05], [0.1, 0.8], [0.02, 0.01]]], np.float32)
    same, gates = detection_parity({"boxes": boxes, "scores": probs}, {"boxes": boxes, "scores": probs},
                                   classes=["a", "b"], quantize=None)
    assert same["miss_rate"] == 0 and same["extra_rate"] == 0 and same["map_drop"] == pytest.approx(0, abs=1e-9)
    assert same["score_max_diff"] == 0 and gates["miss_rate"] == 0.01
    moved = boxes.copy()
    moved[0, 1] += 0.3  # the second object is found in the wrong place
    diff, _ = detection_parity({"boxes": boxes, "scores": probs}, {"boxes": moved, "scores": probs},
                               classes=["a", "b"], quantize="int8")
    assert diff["miss_rate"] == 0.5 and diff["extra_rate"] == 0.5 and diff["map_drop"] > 0.4
