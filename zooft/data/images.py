"""The tf.data pipeline for image data: stream, decode, resize, cache, batch, augment, prefetch.

TensorFlow and Keras are imported inside the functions, so importing this module (and the
augmentation parser, used by the CLI) stays cheap. Memory stays flat as the data set grows:
only file paths are held; pixels are decoded per batch (unless a cache is asked for).

Decoded images are rounded to uint8 right after resizing. That makes the stream, shuffle
buffers and caches 4x smaller and a cache lossless (cached and uncached runs see identical
pixels); the rounding error (under half a grey level) is below what JPEG already adds.

Augmentation (augment.py) runs on whole batches, in parallel, after batching.
"""

from __future__ import annotations

import re

import difflib
import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..cache import fingerprint_files
from ..errors import ConfigError, DataError
from .augment import make_augmenter
from .files import read_data_file
from .records import Example
from .split import stratified_sample

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = [
    "AUGMENT_KEYS",
    "AUTO_AUGMENT",
    "DEFAULT_AUGMENT",
    "IMAGE_FILE_EXTENSIONS",
    "augment_is_auto",
    "auto_cache_in_memory",
    "decode_covering",
    "expand_image_paths",
    "load_images_for_predict",
    "make_image_dataset",
    "parse_augment",
    "shuffle_plan",
    "stratified_sample",
]

#: ``--augment default``: moderate augmentation for images. No flip: a mirrored digit, letter or
#: arrow is another class, and zooft cannot know whether a data set's meaning survives mirroring
#: (``--augment auto:flip,...``).
DEFAULT_AUGMENT: dict[str, Any] = {"zoom": 0.1, "rotation": 0.05, "contrast": 0.1}
#: What ``--augment auto`` (the default) applies while the backbone trains: nothing. With the
#: automatic schedule (a head on cached features, then at most ``--max-epochs`` of fine-tuning),
#: :data:`DEFAULT_AUGMENT` during fine-tuning cost 0.4-2.3 points of mean test accuracy and 2-8 %
#: of wall time on each of three held-out sets (3 seeds; it lost 6 of the 9 runs; BENCHMARKS.md,
#: "Augmentation in the default run"); ``--augment auto:default`` puts it back.
AUTO_AUGMENT: dict[str, Any] = {}

#: Each augmentation: (what its value means, the value a bare ``key`` in a CLI string gets, the
#: largest number allowed; flip takes a mode instead of a number).
AUGMENT_KEYS: dict[str, tuple[str, Any, float]] = {
    "flip": ("horizontal, vertical or horizontal_and_vertical", "horizontal", 0.0),
    "zoom": ("the largest zoom in or out, as a fraction of the size", 0.1, 0.9),
    "rotation": ("the largest rotation, as a fraction of a full turn", 0.05, 0.5),
    "translate": ("the largest shift, as a fraction of the size", 0.1, 0.5),
    "contrast": ("the largest contrast change, as a fraction", 0.1, 0.9),
    "brightness": ("the largest brightness change, as a fraction of 255", 0.1, 0.9),
}
_FLIP_MODES = {"horizontal": "horizontal", "vertical": "vertical", "horizontal_and_vertical": "horizontal_and_vertical"}
_OFF = {"", "none", "off", "false", "no", "0"}
#: Extensions ``zooft predict DIR`` takes as images (the formats TensorFlow's decode_image reads).
IMAGE_FILE_EXTENSIONS: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif"})
_SHUFFLE_BUFFER_BYTES = 64 * 2**20  # bounded shuffle after an on-disk cache: memory stays flat
#: ``--cache auto`` keeps decoded images in memory while a run's splits together take at most
#: this many bytes (and an eighth of the machine's memory); larger sets are decoded every epoch,
#: so memory stays flat as data grows.
AUTO_CACHE_BYTES = 2**30


# ---------------------------------------------------------------------------------------------
# Augmentation options (no TensorFlow)
# ---------------------------------------------------------------------------------------------


def _augment_value(key: str, value: Any) -> Any:
    """The validated value for ``key``, or ``None`` when ``value`` switches it off."""
    meaning, _, upper = AUGMENT_KEYS[key]
    if value is None or value is False or (isinstance(value, str) and value.strip().lower() in _OFF):
        return None
    if value is True:  # {"zoom": True} means "on, with the usual strength"
        return AUGMENT_KEYS[key][1]
    if key == "flip":
        mode = _FLIP_MODES.get(str(value).strip().lower())
        if mode is None:
            raise ConfigError(f"augmentation flip={value!r} is not valid", hint=f"flip takes {meaning}")
        return mode
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not 0.0 <= number <= upper:  # also rejects NaN
        raise ConfigError(
            f"augmentation {key}={value!r} is not valid",
            hint=f"{key} takes a number from 0 to {upper}: {meaning}",
        )
    return number or None


def _unknown(key: str) -> ConfigError:
    close = difflib.get_close_matches(key, list(AUGMENT_KEYS), n=2)
    known = ", ".join(AUGMENT_KEYS)
    hint = f"did you mean {' or '.join(close)}? known: {known}" if close else f"known: {known}, or none"
    return ConfigError(f"unknown augmentation {key!r}", hint=hint)


def augment_is_auto(value: Any) -> bool:
    """Whether ``--augment`` is ``auto`` or ``auto:SPEC``: augment only where images go through a
    training backbone, so a frozen-backbone head can train on cached, un-augmented features."""
    text = str(value).strip().lower() if isinstance(value, str) else ""
    return text == "auto" or text.startswith("auto:")


def parse_augment(value: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate augmentation settings from the CLI or a config file.

    Accepts ``None``/``"none"`` (off), ``"default"`` (:data:`DEFAULT_AUGMENT`), ``"auto"``
    (:data:`AUTO_AUGMENT`; ``"auto:SPEC"`` is SPEC, see :func:`augment_is_auto` for what auto
    changes), a string like
    ``"flip,zoom=0.1,rotation=0.05,contrast=0.1"`` (a bare key takes a moderate default) or a
    dict. Returns a new dict with only the enabled augmentations. Raises
    :class:`zooft.ConfigError` for an unknown key (with close matches) or a bad value.
    """
    if value is None:
        return {}
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in _OFF:
            return {}
        if augment_is_auto(text):  # auto[:SPEC]: where it applies is the training core's choice
            text = text.partition(":")[2].strip()
            if not text:
                return dict(AUTO_AUGMENT)
            if text.lower() in _OFF:
                return {}
        if text.lower() == "default":
            return dict(DEFAULT_AUGMENT)
        items: dict[str, Any] = {}
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            key, sep, raw = part.partition("=")
            key = key.strip().lower()
            if key not in AUGMENT_KEYS:
                raise _unknown(key)
            items[key] = raw.strip() if sep else AUGMENT_KEYS[key][1]
        value = items
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"augmentation settings must be a string or a mapping, got {type(value).__name__}",
            hint='e.g. "flip,zoom=0.1" or {"flip": "horizontal", "zoom": 0.1}',
        )
    result: dict[str, Any] = {}
    for key, raw in value.items():
        name = str(key).strip().lower()
        if name not in AUGMENT_KEYS:
            raise _unknown(str(key))
        checked = _augment_value(name, raw)
        if checked is not None:
            result[name] = checked
    return result


# ---------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------


JPEG_MAGIC = b"\xff\xd8\xff"
#: libjpeg's DCT scaling factors: a JPEG can be decoded directly at 1/2, 1/4 or 1/8 of its size.
JPEG_SCALES = (1, 2, 4, 8)


def decode_covering(data: tf.Tensor, cover: Callable[[tf.Tensor], Any]) -> tuple[tf.Tensor, tf.Tensor]:
    """Encoded bytes -> ``(uint8 image (h, w, 3), the image's original (height, width))``.

    ``cover(original_hw)`` gives the size the caller will resize to. A JPEG is decoded at
    the smallest DCT scale (1, 1/2, 1/4, 1/8) whose output still covers that size: a photo a
    few hundred pixels a side bound for a 96-224 px model spends most of its decode time in
    the inverse DCT and most of its resize time on pixels the resize averages away; libjpeg's
    scaled decode skips both (PIL's ``draft`` does the same). The output is never smaller than
    the target, so the caller's resize still only shrinks (with antialiasing). Other formats
    are decoded whole; ``channels=3`` turns grey and RGBA into RGB and
    ``expand_animations=False`` keeps a GIF's first frame.
    """
    import tensorflow as tf

    def jpeg() -> tuple[tf.Tensor, tf.Tensor]:
        shape = tf.image.extract_jpeg_shape(data)[:2]  # reads the header only
        target = cover(shape)
        index = tf.constant(0)
        for i, scale in enumerate(JPEG_SCALES[1:], start=1):
            fits = tf.logical_and(shape[0] // scale >= target[0], shape[1] // scale >= target[1])
            index = tf.where(fits, i, index)
        branches = [lambda scale=scale: tf.io.decode_jpeg(data, channels=3, ratio=scale) for scale in JPEG_SCALES]
        return tf.switch_case(index, branches), shape

    def other() -> tuple[tf.Tensor, tf.Tensor]:
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
        return image, tf.shape(image)[:2]

    image, shape = tf.cond(tf.strings.substr(data, 0, 3) == JPEG_MAGIC, jpeg, other)
    image.set_shape([None, None, 3])
    return image, shape


def _decode_and_resize(data: tf.Tensor, image_size: tuple[int, int]) -> tf.Tensor:
    """Encoded bytes -> a ``(h, w, 3)`` uint8 image of ``image_size``."""
    import tensorflow as tf

    image, _ = decode_covering(data, lambda _original: image_size)
    # Antialiasing only matters when shrinking; when enlarging it gives the same uint8 pixels
    # (checked on the digits, 32 -> 96 px) through a kernel measured 2.5-6x slower than
    # plain bilinear, so small images skip it.
    shape = tf.shape(image)
    shrink = tf.logical_or(shape[0] > image_size[0], shape[1] > image_size[1])
    image = tf.cond(
        shrink,
        lambda: tf.image.resize(image, image_size, method="bilinear", antialias=True),
        lambda: tf.image.resize(image, image_size, method="bilinear"),
    )
    return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), tf.uint8)


def _paths(examples: Sequence[Example | str | os.PathLike[str]]) -> list[str]:
    return [ex.source if isinstance(ex, Example) else os.fspath(ex) for ex in examples]


def _cache_prefix(cache: str, paths: Sequence[str], image_size: tuple[int, int]) -> str:
    """``cache`` plus a fingerprint of the files, their order and the size.

    tf.data reuses an existing cache file blindly, even after the data changed; a fingerprint
    in the name makes a changed data set write a new cache instead of training on stale pixels.
    """
    digest = fingerprint_files(paths, hashlib.sha256(f"zooft-cache-v1 {image_size[0]}x{image_size[1]}".encode()))
    os.makedirs(os.path.dirname(os.path.abspath(cache)), exist_ok=True)
    return f"{cache}-{digest.hexdigest()[:16]}"


def _physical_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):  # no sysconf (Windows) or no such name
        return None


def auto_cache_in_memory(n_images: int, image_size: tuple[int, int]) -> tuple[bool, int, int]:
    """What ``--cache auto`` decides for ``n_images`` decoded to ``image_size``:
    ``(in memory?, their bytes as uint8, the budget)``.

    Decoding every image again each epoch competes with training for the same cores; a small
    data set is decoded once and kept (measured in BENCHMARKS.md, "Decoded images cached")."""
    needed = int(n_images) * int(image_size[0]) * int(image_size[1]) * 3
    memory = _physical_memory()
    budget = AUTO_CACHE_BYTES if memory is None else min(AUTO_CACHE_BYTES, memory // 8)
    return needed <= budget, needed, budget


def shuffle_plan(
    n: int, *, batch_size: int, image_size: tuple[int, int], shuffle_seed: int | None, cache: str | None
) -> tuple[np.ndarray | None, int]:
    """How a training pipeline over ``n`` examples orders them: a fixed permutation applied
    before any cache (or ``None``) and the size of the per-epoch shuffle buffer.

    Shared with the frozen-feature cache (``zooft.train.feature_cache``), which shuffles
    feature rows exactly as this pipeline shuffles images, so both paths see the same batches.
    Without a cache and with one in memory (``""``) the files keep their order and a whole-set
    buffer shuffles them with the same seed: the same batches, so caching in memory changes
    the speed of a run, not its result.
    """
    if not cache:
        return None, n
    # A file cache stores one order forever: make it a random one (class-sorted files would
    # otherwise give one-class batches in the bounded buffer below), seeded so the same data
    # reuses the same cache file.
    order = np.random.default_rng(0 if shuffle_seed is None else shuffle_seed).permutation(n)
    buffer = max(8 * batch_size, _SHUFFLE_BUFFER_BYTES // (image_size[0] * image_size[1] * 3))
    return order, min(n, buffer)


def pipeline_options() -> tf.data.Options:
    """The ``tf.data.Options`` of every zooft pipeline: deterministic order, no autotuning.

    No autotuning thread: freeing an iterator that had run for a second or more sometimes
    waited about 1.2 s for that thread (1 pass in 3 to 6; TensorFlow 2.21; BENCHMARKS.md,
    "tf.data autotuning"), and Keras frees one per pass over the data (every epoch, every
    validation).
    Without it, ``AUTOTUNE`` parallelism stays at TensorFlow's starting value, and a pass over
    the data measured as fast as with it.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.deterministic = True
    options.autotune.enabled = False
    return options


def make_image_dataset(
    examples: Sequence[Example | str | os.PathLike[str]],
    *,
    image_size: tuple[int, int],
    batch_size: int,
    targets: Sequence[Any] | np.ndarray | None,
    training: bool,
    augment: Mapping[str, Any] | None,
    shuffle_seed: int | None,
    cache: str | None = None,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """A batched, prefetched ``tf.data.Dataset`` of ``(images, targets)`` (or images alone).

    Images are float32 in 0–255, shaped ``(batch, height, width, 3)``; ``image_size`` is
    ``(height, width)``. When ``training``, examples are shuffled (a new order each epoch;
    ``shuffle_seed`` makes the orders reproducible) and ``augment`` (see
    :func:`parse_augment`; ``None``/``{}`` = off) is applied per batch; otherwise order is
    kept and nothing is random. ``cache`` keeps decoded, resized images: ``""`` in memory,
    a path prefix on disk (a fingerprint of the files is appended to it).

    Only the paths are held in memory; images are read and decoded in parallel as batches are
    needed. With an on-disk cache, the cache holds one seeded random order and each epoch is
    shuffled again through a bounded buffer.
    """
    import tensorflow as tf

    paths = _paths(examples)
    if not paths:
        raise DataError("no images to build a data set from", hint="check the data split is not empty")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be positive, got {batch_size}", hint="e.g. --batch-size 32")
    size = (int(image_size[0]), int(image_size[1]))
    labels = None if targets is None else np.asarray(targets)
    if labels is not None and len(labels) != len(paths):
        raise ValueError(f"{len(paths)} examples but {len(labels)} targets")

    order, buffer = shuffle_plan(len(paths), batch_size=batch_size, image_size=size, shuffle_seed=shuffle_seed, cache=cache) \
        if training else (None, 0)
    if order is not None:
        paths = [paths[i] for i in order]
        labels = None if labels is None else labels[order]
    ds = tf.data.Dataset.from_tensor_slices(paths if labels is None else (paths, labels))

    # The map functions below branch with tf.cond/tf.where only: AutoGraph's source rewrite of
    # them (and of everything they call), done once per pipeline, would be pure start-up cost.
    @tf.autograph.experimental.do_not_convert
    def decode(path: tf.Tensor, *rest: tf.Tensor) -> Any:
        image = _decode_and_resize(tf.io.read_file(path), size)
        return (image, *rest) if rest else image

    if training and cache is None:
        # shuffling paths (not pixels) makes a whole-data-set buffer cost only the path strings
        ds = ds.shuffle(buffer, seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache is not None:
        ds = ds.cache(_cache_prefix(cache, paths, size) if cache else "")
        if training:
            ds = ds.shuffle(buffer, seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)

    augmenter = make_augmenter(parse_augment(augment or {})) if training else None
    if augmenter is not None:
        # one seed per batch, new each epoch, reproducible for a seeded run (stateless draws:
        # batches are augmented in parallel without changing what each one gets)
        seeds = tf.data.Dataset.random(seed=shuffle_seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, seeds))

        @tf.autograph.experimental.do_not_convert
        def augment_batch(batch: Any, seed: tf.Tensor) -> Any:
            images, rest = (batch[0], tuple(batch[1:])) if isinstance(batch, tuple) else (batch, ())
            images = augmenter(tf.cast(images, tf.float32), tf.stack([seed, tf.constant(0, tf.int64)]))
            return (images, *rest) if rest else images

        ds = ds.map(augment_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    else:
        @tf.autograph.experimental.do_not_convert
        def to_float(images: tf.Tensor, *rest: tf.Tensor) -> Any:
            images = tf.cast(images, tf.float32)
            return (images, *rest) if rest else images

        ds = ds.map(to_float, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    options = pipeline_options()
    # a list of paths cannot be sharded by file across workers; shard the elements instead
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def load_images_for_predict(paths: Sequence[str | os.PathLike[str]], image_size: tuple[int, int]) -> np.ndarray:
    """Decode and resize ``paths`` exactly as training does; a float32 ``(n, h, w, 3)`` array.

    For ``zooft predict`` and export samples (the whole result is in memory). Raises
    :class:`zooft.DataError` naming the first file that cannot be read or decoded.
    """
    import tensorflow as tf

    size = (int(image_size[0]), int(image_size[1]))
    images = []
    for path in _paths(paths):
        # the one file rule (zooft/data/files.py): regular files only, size-capped
        raw = read_data_file(path)
        try:
            data = tf.constant(raw)
            images.append(_decode_and_resize(data, size).numpy())
        except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError, tf.errors.UnknownError) as exc:
            message = (exc.message or str(exc)).strip().splitlines()[0]
            # TF prefixes the op's internal name ({{function_node …}}) and appends "[Op:…]"
            message = re.sub(r"\{\{.*?\}\}\s*|\s*\[Op:.*$", "", message).strip()
            raise DataError(
                f"cannot read image {path}: {message}",
                hint="check the file exists and is a JPEG, PNG, BMP or GIF TensorFlow can decode",
            ) from exc
    if not images:
        return np.zeros((0, *size, 3), dtype=np.float32)
    return np.stack(images).astype(np.float32)


def expand_image_paths(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Files for ``zooft predict``: each folder becomes its image files (recursively, sorted,
    hidden names skipped, symlinked folders not followed); files are kept as given.

    Raises :class:`zooft.DataError` for a path that does not exist and for a folder without
    images; other files are checked by the read itself (regular files only)."""
    result: list[str] = []
    for raw in paths:
        path = os.fspath(raw)
        if os.path.isdir(path):
            found = []
            for dirpath, dirnames, filenames in os.walk(path):  # followlinks=False: no loops
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                found.extend(
                    os.path.join(dirpath, name) for name in sorted(filenames)
                    if not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_FILE_EXTENSIONS
                )
            if not found:
                shown = ", ".join(sorted(IMAGE_FILE_EXTENSIONS))
                raise DataError(f"no image files in the folder {path}", hint=f"images are files ending in {shown}")
            result.extend(found)
        elif os.path.lexists(path):
            result.append(path)
        else:
            raise DataError(f"no such file or folder: {path}", hint="pass image files or folders of images")
    return result
