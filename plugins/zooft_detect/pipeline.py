"""The detection tf.data pipeline: decode, resize (plain or letterbox), box-aware augmentation,
anchor matching, batching.

Each element is ``(image float32 0–255 (H, W, 3), targets)`` with targets
``{"offsets": (A, 5), "logits": (A,), "boxes": (M, 8)}``: the box and class loss targets, and the
image's own objects (``[x0, y0, x1, y1]`` normalised to the *original* image, class index or -1
for padding, original width and height, kind: object / crowd / difficult, see
:data:`.boxes.OBJECT`) which Keras ignores (no loss on ``boxes``) and the evaluation reads.
Crowd regions (and difficult objects with ``ignore_difficult``) are never positives: anchors
mostly inside them are ignored. Random augmentation draws from ``tf.data.Dataset.random`` with stateless ops,
so a seed reproduces every epoch exactly even with parallel map calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import zooft

from .anchors import AnchorConfig, make_anchors
from .boxes import CROWD, DIFFICULT, MatchConfig, encode_targets

FILL_VALUE = 124.0  # grey (ImageNet's mean) where zoom-out shows pixels outside the image
_CROP_P, _ZOOM_P = 0.4, 0.3  # probability of a random crop, of a zoom-out (else geometry unchanged)


def letterbox_params(width: float, height: float, image_size: Sequence[int], resize: str) -> tuple[float, float, float, float]:
    """``(sx, sy, ox, oy)``: model-input normalised coords = original normalised * s + o.

    Plain resize stretches (identity in normalised coordinates); letterbox keeps the aspect
    ratio and centres the image, padding the rest (sizes rounded as :func:`decode_resize` does).
    """
    if resize != "letterbox":
        return 1.0, 1.0, 0.0, 0.0
    out_h, out_w = int(image_size[0]), int(image_size[1])
    scale = min(out_h / height, out_w / width)
    new_h, new_w = np.floor(height * scale + 0.5), np.floor(width * scale + 0.5)
    top, left = (out_h - new_h) // 2, (out_w - new_w) // 2
    return float(new_w / out_w), float(new_h / out_h), float(left / out_w), float(top / out_h)


def decode_resize(data: Any, image_size: Sequence[int], resize: str) -> tuple[Any, Any]:
    """Encoded bytes -> ``(uint8 image (H, W, 3), original [width, height] float32)``.

    Large JPEGs are decoded at a reduced DCT scale that still covers the resized size
    (:func:`zooft.decode_covering`); sizes and boxes always refer to the original.
    """
    import tensorflow as tf

    from zooft import decode_covering

    out_h, out_w = int(image_size[0]), int(image_size[1])

    def resized_size(original_hw: Any) -> Any:
        """(new_h, new_w) int32: the whole input, or the letterboxed image inside it."""
        if resize != "letterbox":
            return tf.constant([out_h, out_w])
        hw = tf.cast(original_hw, tf.float32)
        scale = tf.minimum(out_h / hw[0], out_w / hw[1])
        return tf.cast(tf.floor(hw * scale + 0.5), tf.int32)

    image, original_hw = decode_covering(data, resized_size)
    new_hw = resized_size(original_hw)
    resized = tf.image.resize(image, new_hw, method="bilinear", antialias=True)
    if resize == "letterbox":
        resized = tf.image.pad_to_bounding_box(resized, (out_h - new_hw[0]) // 2, (out_w - new_hw[1]) // 2, out_h, out_w)
    resized.set_shape([out_h, out_w, 3])
    resized = tf.cast(tf.round(tf.clip_by_value(resized, 0.0, 255.0)), tf.uint8)
    shape = tf.cast(original_hw, tf.float32)
    return resized, tf.stack([shape[1], shape[0]])


def load_images(paths: Sequence[str], image_size: Sequence[int], resize: str) -> tuple[np.ndarray, np.ndarray]:
    """Images as the evaluation pipeline sees them, ``(n, H, W, 3)`` float32, and ``(n, 2)``
    original ``[width, height]``: what ``zooft predict`` feeds a run or an artifact."""
    import tensorflow as tf

    images, sizes = [], []
    for path in paths:
        try:
            image, size = decode_resize(tf.io.read_file(str(path)), image_size, resize)
        except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError) as exc:
            raise zooft.DataError(f"cannot read image {path}: {type(exc).__name__}", hint="pass JPEG, PNG, BMP or GIF files") from None
        images.append(image.numpy())
        sizes.append(size.numpy())
    if not images:
        return np.zeros((0, *image_size, 3), np.float32), np.zeros((0, 2), np.float32)
    return np.stack(images).astype(np.float32), np.stack(sizes).astype(np.float32)


def _window(seed: Any, augments: tuple[str, ...]) -> tuple[Any, Any]:
    """A random view ``[x0, y0, w, h]`` (normalised; may reach outside the image for zoom-out)
    and whether it is a crop (objects may be cut away)."""
    import tensorflow as tf

    u = tf.random.stateless_uniform([6], seed=seed)
    identity = tf.constant([0.0, 0.0, 1.0, 1.0])
    scale = 0.3 + 0.7 * u[1]
    ratio = tf.exp((u[2] * 2.0 - 1.0) * np.log(2.0))
    cw, ch = tf.minimum(tf.sqrt(scale * ratio), 1.0), tf.minimum(tf.sqrt(scale / ratio), 1.0)
    crop = tf.stack([u[3] * (1.0 - cw), u[4] * (1.0 - ch), cw, ch])
    f = 1.0 + 1.5 * u[5]
    zoom = tf.stack([u[3] * (1.0 - f), u[4] * (1.0 - f), f, f])
    use_crop = tf.logical_and(u[0] < _CROP_P, "crop" in augments)
    use_zoom = tf.logical_and(tf.logical_and(u[0] >= _CROP_P, u[0] < _CROP_P + _ZOOM_P), "zoom_out" in augments)
    window = tf.where(use_crop, crop, tf.where(use_zoom, zoom, identity))
    return window, use_crop


def _apply_window(image: Any, boxes: Any, labels: Any, window: Any, size: Sequence[int]) -> tuple[Any, Any, Any]:
    import tensorflow as tf

    x0, y0, w, h = window[0], window[1], window[2], window[3]
    crop_box = tf.stack([y0, x0, y0 + h, x0 + w])[None]
    out = tf.image.crop_and_resize(
        tf.cast(image, tf.float32)[None], crop_box, [0], size, method="bilinear", extrapolation_value=FILL_VALUE
    )[0]
    moved = (boxes - tf.stack([x0, y0, x0, y0])) / tf.stack([w, h, w, h])
    center = (moved[:, :2] + moved[:, 2:]) / 2.0
    inside = tf.reduce_all((center > 0.0) & (center < 1.0), axis=1)
    clipped = tf.clip_by_value(moved, 0.0, 1.0)
    big = ((clipped[:, 2] - clipped[:, 0]) * size[1] >= 2.0) & ((clipped[:, 3] - clipped[:, 1]) * size[0] >= 2.0)
    keep = inside & big & (labels >= 0)
    return out, clipped, tf.where(keep, labels, -tf.ones_like(labels))


def augment(image: Any, boxes: Any, labels: Any, seed: Any, augments: tuple[str, ...], size: Sequence[int]) -> tuple[Any, Any, Any]:
    """Box-aware augmentation of one image (float32 0–255) with boxes normalised to it.

    Random crop (30–100 % of the area, aspect 1/2–2; objects whose centre leaves the view are
    dropped, the rest clipped; a crop that would lose every object is not taken), zoom-out
    (the image shrunk to 40–100 % on a grey canvas), horizontal flip, then brightness, contrast,
    saturation and hue changes.
    """
    import tensorflow as tf

    seeds = tf.random.experimental.stateless_split(seed, 8)
    image = tf.cast(image, tf.float32)
    if "crop" in augments or "zoom_out" in augments:
        window, is_crop = _window(seeds[0], augments)
        new_image, new_boxes, new_labels = _apply_window(image, boxes, labels, window, size)
        had = tf.reduce_any(labels >= 0)
        lost = tf.logical_and(had, tf.logical_not(tf.reduce_any(new_labels >= 0)))
        revert = tf.logical_and(is_crop, lost)
        image = tf.where(revert, image, new_image)
        boxes = tf.where(revert, boxes, new_boxes)
        labels = tf.where(revert, labels, new_labels)
    if "flip" in augments:
        flip = tf.random.stateless_uniform([], seed=seeds[1]) < 0.5
        image = tf.where(flip, image[:, ::-1, :], image)
        boxes = tf.where(flip, tf.stack([1.0 - boxes[:, 2], boxes[:, 1], 1.0 - boxes[:, 0], boxes[:, 3]], axis=1), boxes)
    if "photometric" in augments:
        x = image / 255.0
        x = tf.image.stateless_random_brightness(x, 0.12, seed=seeds[2])
        x = tf.image.stateless_random_contrast(x, 0.7, 1.3, seed=seeds[3])
        x = tf.image.stateless_random_saturation(x, 0.7, 1.3, seed=seeds[4])
        x = tf.image.stateless_random_hue(x, 0.04, seed=seeds[5])
        image = tf.clip_by_value(x, 0.0, 1.0) * 255.0
    return image, boxes, labels


def _cache_name(cache: str, paths: Sequence[str], boxes: np.ndarray, size: tuple[int, int], resize: str) -> str:
    """``cache`` plus a fingerprint of files, boxes, size and resize mode: tf.data reuses a cache
    file blindly, so changed data must get a new name rather than stale pixels."""
    import hashlib
    import os

    digest = zooft.fingerprint_files(paths, hashlib.sha256(f"zooft-detect-cache-v1 {size} {resize}".encode()))
    digest.update(np.ascontiguousarray(boxes, dtype=np.float32).tobytes())
    os.makedirs(os.path.dirname(os.path.abspath(cache)), exist_ok=True)
    return f"{cache}-{digest.hexdigest()[:16]}"


def make_detection_dataset(
    paths: Sequence[str],
    boxes_px: np.ndarray,
    labels: np.ndarray,
    *,
    anchors: AnchorConfig,
    matching: MatchConfig,
    resize: str,
    batch_size: int,
    training: bool,
    augments: tuple[str, ...],
    shuffle_seed: int | None,
    cache: str | None,
    kinds: np.ndarray | None = None,
    ignore_difficult: bool = False,
) -> Any:
    """A batched dataset of ``(images, targets)``; see the module docstring. ``kinds`` (same
    shape as ``labels``, default all objects) marks crowd regions and difficult objects."""
    import tensorflow as tf

    if not len(paths):
        raise zooft.DataError("no images to build a data set from", hint="check the data split is not empty")
    kinds = np.zeros(np.shape(labels), np.int32) if kinds is None else np.asarray(kinds, np.int32)
    size = (int(anchors.image_size[0]), int(anchors.image_size[1]))
    anchor_array = make_anchors(anchors)
    n_anchors = len(anchor_array)

    def load(path: Any, boxes: Any, classes: Any, kind: Any) -> Any:
        image, original = decode_resize(tf.io.read_file(path), size, resize)
        normalised = boxes / tf.concat([original, original], 0)
        if resize == "letterbox":
            scale = tf.minimum(size[0] / original[1], size[1] / original[0])
            new_wh = tf.floor(original * scale + 0.5)
            offset = tf.floor((tf.constant([size[1], size[0]], tf.float32) - new_wh) / 2.0)
            s = new_wh / tf.constant([size[1], size[0]], tf.float32)
            o = offset / tf.constant([size[1], size[0]], tf.float32)
            in_model = normalised * tf.concat([s, s], 0) + tf.concat([o, o], 0)
        else:
            in_model = normalised
        return image, in_model, classes, kind, normalised, original

    def match(boxes: np.ndarray, classes: np.ndarray, kind: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ignore = (kind == CROWD) | ((kind == DIFFICULT) & ignore_difficult)
        offsets, anchor_labels = encode_targets(boxes, classes, anchor_array, matching, ignore)
        return offsets, anchor_labels.astype(np.int32)

    def finish(image: Any, in_model: Any, classes: Any, kind: Any, normalised: Any, original: Any, seed: Any = None) -> Any:
        if seed is not None:
            image, in_model, classes = augment(image, in_model, classes, seed, augments, size)
        offsets, anchor_labels = tf.numpy_function(match, [in_model, classes, kind], [tf.float32, tf.int32], stateful=False)
        offsets.set_shape([n_anchors, 5])
        anchor_labels.set_shape([n_anchors])
        m = tf.shape(classes)[0]
        truth = tf.concat(
            [normalised, tf.cast(classes, tf.float32)[:, None], tf.broadcast_to(original[None], [m, 2]),
             tf.cast(kind, tf.float32)[:, None]], axis=1
        )
        return tf.cast(image, tf.float32), {"offsets": offsets, "logits": anchor_labels, "boxes": truth}

    ds = tf.data.Dataset.from_tensor_slices((list(paths), boxes_px.astype(np.float32), labels.astype(np.int32), kinds))
    if training and cache is None:
        ds = ds.shuffle(len(paths), seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache is not None:
        annotations = np.concatenate([boxes_px, labels[..., None], kinds[..., None]], axis=-1)  # stale labels too
        ds = ds.cache(_cache_name(cache, paths, annotations, size, resize) if cache else "")
        if training:
            ds = ds.shuffle(len(paths), seed=shuffle_seed, reshuffle_each_iteration=True)
    if training and augments:
        randoms = tf.data.Dataset.random(seed=shuffle_seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip(ds, randoms).map(
            lambda elem, seed: finish(*elem, seed=seed), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )
    else:
        ds = ds.map(finish, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(batch_size)
    options = tf.data.Options()
    options.deterministic = True
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)
