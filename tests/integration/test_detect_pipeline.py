"""Detection losses, TF box decoding and the tf.data pipeline on tiny inputs (TensorFlow, no training)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zooft_detect import boxes as B
from zooft_detect.anchors import AnchorConfig, make_anchors
from zooft_detect.options import resolve_options

tf = pytest.importorskip("tensorflow")

ANCHORS = AnchorConfig(image_size=(64, 64), strides=(8, 16, 32, 64))


def test_tf_decode_matches_numpy() -> None:
    from zooft_detect.layers import decode_tf

    anchors = make_anchors(ANCHORS)
    offsets = np.random.default_rng(0).normal(0, 1, anchors.shape).astype(np.float32)
    np.testing.assert_allclose(decode_tf(tf.constant(offsets), tf.constant(anchors), (0.1, 0.2)).numpy(),
                               B.decode(offsets, anchors), atol=1e-5)


def _targets() -> tuple[np.ndarray, np.ndarray]:
    anchors = make_anchors(ANCHORS)
    offsets, labels = B.encode_targets(np.array([[0.1, 0.1, 0.5, 0.6]]), np.array([2]), anchors)
    return offsets[None], labels[None]


def test_box_losses_vanish_on_a_perfect_prediction() -> None:
    from zooft_detect.losses import giou_loss_fn, smooth_l1_loss

    offsets, _ = _targets()
    for loss in (smooth_l1_loss, giou_loss_fn(ANCHORS)):
        assert float(loss(offsets, offsets[..., :4])[0]) == pytest.approx(0.0, abs=1e-5)
        assert float(loss(offsets, offsets[..., :4] + 0.5)[0]) > 0.01


def test_hard_negative_mining_counts_three_negatives_per_positive() -> None:
    from zooft_detect.losses import hard_negative_loss_fn

    _, labels = _targets()
    n_pos = int((labels > 0).sum())
    logits = np.zeros((*labels.shape, 4), np.float32)
    logits[..., 1] = 5.0  # every anchor says class 0 confidently: negatives are all equally hard
    ce_neg = float(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[0], logits=logits[0, :1])[0])
    ce_pos = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=np.maximum(labels[0], 0), logits=logits[0]).numpy()
    expected = (ce_pos[labels[0] > 0].sum() + 3 * n_pos * ce_neg) / n_pos
    loss = hard_negative_loss_fn(3.0)(labels, logits)
    assert float(loss[0]) == pytest.approx(expected, rel=1e-5)


def test_focal_loss_is_finite_and_down_weights_easy_anchors() -> None:
    from zooft_detect.losses import focal_loss_fn, hard_negative_loss_fn

    _, labels = _targets()
    logits = np.zeros((*labels.shape, 4), np.float32)
    logits[..., 0] = 6.0  # confident background everywhere: easy negatives, hard positives
    focal = float(focal_loss_fn()(labels, logits)[0])
    assert np.isfinite(focal) and focal < float(hard_negative_loss_fn(3.0)(labels, logits)[0])


def test_pipeline_flip_moves_boxes_with_pixels(tmp_path: Path) -> None:
    from zooft_detect.pipeline import make_detection_dataset

    pixels = np.zeros((48, 80, 3), np.uint8)
    pixels[6:30, 8:40] = 255  # a white object on the left; the image is not square (plain resize)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    box = np.array([[[8, 6, 40, 30]]], np.float32)
    options = resolve_options({})
    anchors = make_anchors(ANCHORS)
    seen = {}
    for augments in ((), ("flip",)):
        ds = make_detection_dataset([str(tmp_path / "a.png")] * 8, np.repeat(box, 8, 0), np.zeros((8, 1), np.int32),
                                    anchors=ANCHORS, matching=options.matching(), resize="plain", batch_size=8,
                                    training=bool(augments), augments=augments, shuffle_seed=3, cache=None)
        images, targets = next(iter(ds))
        assert images.shape == (8, 64, 64, 3) and targets["offsets"].shape == (8, len(anchors), 5)
        np.testing.assert_allclose(targets["boxes"][0, 0].numpy(), [0.1, 0.125, 0.5, 0.625, 0, 80, 48, 0], atol=1e-6)
        seen[augments] = (images.numpy(), targets["offsets"].numpy(), targets["logits"].numpy())
    images, offsets, labels = seen[("flip",)]
    for i in range(8):  # each image: the brightest columns and the matched boxes are on the same side
        positive = offsets[i, :, 4] > 0
        decoded = B.decode(offsets[i, positive, :4], anchors[positive])
        centre_x = float(decoded[:, [0, 2]].mean())
        bright_x = float(np.argwhere(images[i].mean(axis=(0, 2)) > 64).mean()) / 64
        assert abs(centre_x - bright_x) < 0.08 and (labels[i] == 1).any()
    assert len({round(float(B.decode(o[o[:, 4] > 0, :4], anchors[o[:, 4] > 0])[:, 0].mean()), 2) for o in offsets}) == 2


def test_letterbox_pads_and_maps_boxes_like_the_numpy_rule(tmp_path: Path) -> None:
    from zooft_detect.pipeline import letterbox_params, load_images, make_detection_dataset

    pixels = np.zeros((40, 80, 3), np.uint8)
    pixels[10:30, 20:60] = 255
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    images, sizes = load_images([str(tmp_path / "wide.png")], (64, 64), "letterbox")
    assert sizes.tolist() == [[80, 40]]
    rows = np.flatnonzero(images[0].mean(axis=(1, 2)) > 64)
    # 80x40 -> 64x32 centred (16 rows of padding above): object rows 10..30 land on 16 + 8..24
    assert 23 <= rows.min() <= 24 and 39 <= rows.max() <= 40
    assert images[0, :15].max() == 0 and images[0, 49:].max() == 0  # the padding
    sx, sy, ox, oy = letterbox_params(80, 40, (64, 64), "letterbox")
    ds = make_detection_dataset([str(tmp_path / "wide.png")], np.array([[[20, 10, 60, 30]]], np.float32), np.zeros((1, 1), np.int32),
                                anchors=ANCHORS, matching=resolve_options({}).matching(), resize="letterbox", batch_size=1,
                                training=False, augments=(), shuffle_seed=None, cache=None)
    _, targets = next(iter(ds))
    offsets = targets["offsets"].numpy()[0]
    positive = offsets[:, 4] > 0
    decoded = B.decode(offsets[positive, :4], make_anchors(ANCHORS)[positive])
    expected = np.array([0.25 * sx + ox, 0.25 * sy + oy, 0.75 * sx + ox, 0.75 * sy + oy])
    np.testing.assert_allclose(decoded, np.broadcast_to(expected, decoded.shape), atol=1e-5)


@pytest.mark.parametrize("resize", ["plain", "letterbox"])
def test_large_jpegs_decode_scaled_but_keep_their_original_size(tmp_path: Path, resize: str) -> None:
    from zooft_detect.pipeline import decode_resize, letterbox_params

    ys, xs = np.mgrid[0:300, 0:520]
    pixels = np.stack([xs * 0.45, ys * 0.8, (xs + ys) * 0.3], -1)
    pixels[100:200, 200:320] = 255  # an object
    source = np.clip(pixels, 0, 255).astype(np.uint8)
    Image.fromarray(source).save(tmp_path / "photo.jpg", quality=92)
    data = tf.io.read_file(str(tmp_path / "photo.jpg"))
    image, size = decode_resize(data, (64, 64), resize)
    assert size.numpy().tolist() == [520, 300]  # the file's size, whatever scale it was decoded at
    # placed by the letterbox rule, and as close to the uncompressed source as JPEG's own error
    # allows (a full decode + resize is 0.85 grey levels off here, the scaled decode 0.4-1.3)
    sx, sy, ox, oy = letterbox_params(520, 300, (64, 64), resize)
    new_h, new_w = round(sy * 64), round(sx * 64)
    truth = tf.image.resize(source, (new_h, new_w), antialias=True).numpy()
    top, left = round(oy * 64), round(ox * 64)
    got = image.numpy().astype(np.float32)[top:top + new_h, left:left + new_w]
    assert np.abs(got - truth).mean() < 2.0


def test_file_cache_name_follows_the_data(tmp_path: Path) -> None:
    from zooft_detect.pipeline import _cache_name

    boxes = np.zeros((1, 1, 4), np.float32)
    first = _cache_name(str(tmp_path / "c" / "train"), ["a.png"], boxes, (64, 64), "plain")
    assert first == _cache_name(str(tmp_path / "c" / "train"), ["a.png"], boxes, (64, 64), "plain")
    assert first != _cache_name(str(tmp_path / "c" / "train"), ["a.png"], boxes + 1, (64, 64), "plain")
    assert first != _cache_name(str(tmp_path / "c" / "train"), ["a.png"], boxes, (64, 64), "letterbox")
    assert (tmp_path / "c").is_dir()
