"""The tf.data image pipeline on tiny real files, and the check's TensorFlow rules against TF itself."""

from __future__ import annotations

import io
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from PIL import Image

import zooft
from zooft.data.check import inspect_image
from zooft.data.images import _decode_and_resize, decode_covering, load_images_for_predict, make_image_dataset, parse_augment
from zooft.data.records import Example

SIZE = (8, 8)


@pytest.fixture(scope="module")
def tf() -> ModuleType:
    """TensorFlow, imported when the first test here runs rather than at collection, so that a
    session's unit tests can still assert they never import it."""
    import tensorflow

    return tensorflow


def save(path: Path, pixels: np.ndarray, fmt: str, mode: str = "RGB", **options: object) -> str:
    Image.fromarray(pixels).convert(mode).save(path, fmt, **options)
    return str(path)


def solid(value: tuple[int, int, int], size: tuple[int, int] = (8, 8)) -> np.ndarray:
    return np.broadcast_to(np.array(value, np.uint8), (*size, 3)).copy()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One small file per decoder path, with known content."""
    root = tmp_path_factory.mktemp("images")
    noisy = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    frames = [Image.fromarray(solid((200, 10, 10))), Image.fromarray(solid((10, 200, 10)))]
    gif = root / "anim.gif"
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:])
    return {
        "png": save(root / "noisy.png", noisy, "PNG"),
        "jpeg": save(root / "red.jpg", solid((220, 30, 30), (20, 30)), "JPEG", quality=95),
        "bmp": save(root / "blue.bmp", solid((0, 0, 255), (5, 7)), "BMP"),
        "gif": str(gif),
        "grey": save(root / "grey.png", solid((90, 90, 90), (16, 12)), "PNG", mode="L"),
        "rgba": save(root / "rgba.png", solid((0, 128, 0)), "PNG", mode="RGBA"),
    }


def collect(ds: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(x.numpy(), y.numpy()) for x, y in ds]


def many(tmp_path: Path, n: int = 20) -> tuple[list[str], np.ndarray]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    paths = [save(tmp_path / f"{i:02d}.png", solid((i * 10, 255 - i * 10, 7)), "PNG") for i in range(n)]
    return paths, np.arange(n)


def test_decodes_every_format_to_float_rgb(files: dict[str, str], tf: ModuleType) -> None:
    names = list(files)
    ds = make_image_dataset(
        [Example(files[n], label=i) for i, n in enumerate(names)],
        image_size=SIZE, batch_size=4, targets=list(range(len(names))), training=False, augment=None,
        shuffle_seed=None,
    )
    assert ds.element_spec[0].dtype == tf.float32
    batches = collect(ds)
    assert [x.shape for x, _ in batches] == [(4, 8, 8, 3), (2, 8, 8, 3)]
    images = np.concatenate([x for x, _ in batches])
    assert np.concatenate([y for _, y in batches]).tolist() == list(range(len(names)))  # order kept
    by_name = dict(zip(names, images, strict=True))
    assert np.array_equal(by_name["png"], np.asarray(Image.open(files["png"]), np.float32))  # same size: exact
    assert np.abs(by_name["jpeg"] - [220, 30, 30]).max() <= 4  # resized from 20x30, lossy
    assert np.array_equal(by_name["bmp"], np.broadcast_to(np.float32([0, 0, 255]), (8, 8, 3)))
    assert np.array_equal(by_name["gif"][0, 0], [200, 10, 10])  # the first frame
    assert np.array_equal(by_name["grey"], np.full((8, 8, 3), 90, np.float32))  # grey -> 3 channels
    assert np.array_equal(by_name["rgba"][0, 0], [0, 128, 0])


def test_large_jpegs_decode_at_the_smallest_dct_scale_that_covers_the_target(tmp_path: Path, tf: ModuleType) -> None:
    rng = np.random.default_rng(1)
    # a smooth photo-like image (gradients + a little noise), 300 x 400
    ys, xs = np.mgrid[0:300, 0:400]
    pixels = np.stack([xs * 0.6, ys * 0.8, (xs + ys) * 0.3], -1) + rng.normal(0, 4, (300, 400, 3))
    path = save(tmp_path / "photo.jpg", np.clip(pixels, 0, 255).astype(np.uint8), "JPEG", quality=92)
    data = tf.io.read_file(path)

    def decoded_shape(target: tuple[int, int]) -> tuple[int, ...]:
        image, original = decode_covering(data, lambda _hw: target)
        assert original.numpy().tolist() == [300, 400]  # always the file's own size
        return tuple(image.shape)

    # the decoded size is the largest 1/2^k scale with both sides still >= the target's
    assert decoded_shape((96, 96)) == (150, 200, 3)
    assert decoded_shape((64, 96)) == (75, 100, 3)
    assert decoded_shape((32, 32)) == (38, 50, 3)
    assert decoded_shape((224, 224)) == (300, 400, 3)
    assert decoded_shape((151, 10)) == (300, 400, 3)
    # the target may depend on the original size (letterboxing): it receives (height, width)
    image, _ = decode_covering(data, lambda hw: (hw[0] // 4, hw[1] // 4))
    assert tuple(image.shape) == (75, 100, 3)
    png, original = decode_covering(tf.io.encode_png(np.zeros((30, 40, 3), np.uint8)), lambda _hw: (8, 8))
    assert tuple(png.shape) == (30, 40, 3) and original.numpy().tolist() == [30, 40]  # not a JPEG: whole
    # and the result stays what a full decode + antialiased resize gives, to JPEG noise
    full = tf.image.resize(tf.io.decode_jpeg(data, channels=3), (96, 96), antialias=True).numpy()
    fast = _decode_and_resize(data, (96, 96)).numpy().astype(np.float32)
    assert np.abs(fast - full).mean() < 1.5 and np.abs(fast - full).max() < 16


def test_images_only_and_drop_remainder(files: dict[str, str]) -> None:
    ds = make_image_dataset(
        list(files.values()), image_size=(4, 6), batch_size=4, targets=None, training=False, augment=None,
        shuffle_seed=None, drop_remainder=True,
    )
    shapes = [x.shape for x in ds]
    assert shapes == [(4, 4, 6, 3)]


def test_no_augmentation_or_shuffle_when_not_training(tmp_path: Path) -> None:
    paths, labels = many(tmp_path, 10)
    ds = make_image_dataset(
        paths, image_size=SIZE, batch_size=4, targets=labels, training=False, augment=parse_augment("default"),
        shuffle_seed=None,
    )
    first, second = collect(ds), collect(ds)
    for (x1, y1), (x2, y2) in zip(first, second, strict=True):
        assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert np.concatenate([y for _, y in first]).tolist() == labels.tolist()


def test_seeded_shuffle_is_reproducible_and_reshuffles_each_epoch(tmp_path: Path) -> None:
    paths, labels = many(tmp_path)

    def orders(seed: int) -> tuple[list[int], list[int]]:
        ds = make_image_dataset(
            paths, image_size=SIZE, batch_size=8, targets=labels, training=True, augment=None, shuffle_seed=seed
        )
        epochs = [np.concatenate([y for _, y in collect(ds)]).tolist() for _ in range(2)]
        return epochs[0], epochs[1]

    first, second = orders(1)
    assert sorted(first) == list(range(20)) and first != list(range(20))
    assert second != first  # a new order each epoch
    assert orders(1) == (first, second)  # ... the same ones for the same seed
    assert orders(2)[0] != first


def test_augmentation_when_training_is_seeded_and_varies(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    paths = [save(tmp_path / f"{i}.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), "PNG") for i in range(8)]
    labels = np.arange(8)

    def run(augment: str, seed: int) -> list[np.ndarray]:
        ds = make_image_dataset(
            paths, image_size=SIZE, batch_size=4, targets=labels, training=True, augment=parse_augment(augment),
            shuffle_seed=seed,
        )
        return [np.concatenate([x for x, _ in collect(ds)]) for _ in range(2)]

    plain = run("none", 3)
    augmented = run("flip,rotation=0.2,zoom=0.2,contrast=0.3", 3)
    assert not np.allclose(plain[0], augmented[0])
    assert not np.allclose(augmented[0], augmented[1])  # new augmentations each epoch
    assert augmented[0].min() >= 0 and augmented[0].max() <= 255
    again = run("flip,rotation=0.2,zoom=0.2,contrast=0.3", 3)
    assert np.allclose(again[0], augmented[0]) and np.allclose(again[1], augmented[1])


def test_pipelines_and_evaluation_skip_autograph(tmp_path: Path, tf: ModuleType) -> None:
    """zooft's map functions and traced forwards branch with tf.cond/tf.where only, so they are
    marked for tracing without AutoGraph's source rewrite, a start-up cost of every run. Counted
    at AutoGraph's conversion entry point; one converted function fails the test."""
    from unittest import mock

    import keras
    from tensorflow.python.autograph.impl import api

    from zooft.classification import collect_predictions
    from zooft.train.feature_cache import _Extractor, _feature_dataset

    rng = np.random.default_rng(2)
    paths = [save(tmp_path / f"{i}.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), "PNG") for i in range(6)]
    model = keras.Sequential([keras.Input((*SIZE, 3)), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)])
    with mock.patch.object(api, "_convert_actual", wraps=api._convert_actual) as convert:
        for augment in ("none", "flip,rotation=0.1,contrast=0.2"):
            ds = make_image_dataset(paths, image_size=SIZE, batch_size=4, targets=np.arange(6) % 3, training=True,
                                    augment=parse_augment(augment), shuffle_seed=0, cache="")
            collect(ds)
        plain = make_image_dataset(paths, image_size=SIZE, batch_size=4, targets=np.arange(6) % 3, training=False,
                                   augment=None, shuffle_seed=None)
        targets, outputs = collect_predictions(model, plain)
        features = _Extractor(model, ("pooled",), SIZE, n_images=6, engine="tensorflow").to_memory(plain)
        rows = list(_feature_dataset(features, targets, batch_size=4, shuffle=(None, 6), seed=0, on_disk=False,
                                     single="pooled"))
    assert outputs.shape == (6, 3) and list(targets) == [0, 1, 2, 0, 1, 2]
    assert features["pooled"].shape == (6, 3) and sum(len(y) for _, y in rows) == 6
    converted = [getattr(call.args[0], "__qualname__", call.args[0]) for call in convert.call_args_list]
    assert converted == [], converted


def test_pipelines_run_without_the_tf_data_autotuning_thread(tmp_path: Path) -> None:
    """With it, freeing an iterator sometimes waited ~1.2 s for that thread (BENCHMARKS.md)."""
    from zooft.train.feature_cache import _feature_dataset

    rng = np.random.default_rng(3)
    paths = [save(tmp_path / f"{i}.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), "PNG") for i in range(4)]
    pipelines = [make_image_dataset(paths, image_size=SIZE, batch_size=2, targets=np.arange(4) % 2, training=training,
                                    augment=parse_augment(augment), shuffle_seed=0, cache=cache)
                 for training, augment, cache in ((True, "flip", None), (True, "none", ""), (False, "none", None))]
    pipelines.append(_feature_dataset({"pooled": rng.random((4, 3), dtype=np.float32)}, np.arange(4) % 2, batch_size=2,
                                      shuffle=(None, 4), seed=0, on_disk=False, single="pooled"))
    for ds in pipelines:
        assert ds.options().autotune.enabled is False and ds.options().deterministic is True
        assert sum(len(batch[1]) for batch in ds) == 4


def test_on_disk_cache_is_written_and_read(tmp_path: Path) -> None:
    paths, labels = many(tmp_path / "src")
    prefix = str(tmp_path / "cache" / "train")
    ds = make_image_dataset(
        paths, image_size=SIZE, batch_size=8, targets=labels, training=True, augment=None, shuffle_seed=0,
        cache=prefix,
    )
    first = collect(ds)
    written = sorted(os.listdir(tmp_path / "cache"))
    assert any(name.endswith(".index") for name in written)
    for path in paths:  # from now on only the cache can provide the pixels
        os.remove(path)
    second = collect(ds)
    assert sorted(np.concatenate([y for _, y in second]).tolist()) == list(range(20))
    pixels = {int(y): x for xs, ys in first + second for x, y in zip(xs, ys, strict=True)}
    assert np.array_equal(pixels[3][0, 0], [30, 225, 7])
    epochs = [np.concatenate([y for _, y in batches]).tolist() for batches in (first, second)]
    assert epochs[0] != epochs[1]  # still reshuffled after the cache

    # different files (or sizes) never reuse a stale cache: the name carries a fingerprint
    paths2, _ = many(tmp_path / "src2", 4)
    make_image_dataset(
        paths2, image_size=SIZE, batch_size=8, targets=None, training=False, augment=None, shuffle_seed=None,
        cache=prefix,
    ).reduce(0, lambda n, _: n + 1)
    assert len([n for n in os.listdir(tmp_path / "cache") if n.endswith(".index")]) == 2


def test_memory_cache_gives_the_uncached_batches(tmp_path: Path) -> None:
    """``--cache auto`` picks the memory cache by size: it must change speed, never the run."""
    paths, labels = many(tmp_path)

    def epochs(cache: str | None) -> list[list[tuple[np.ndarray, np.ndarray]]]:
        ds = make_image_dataset(
            paths, image_size=SIZE, batch_size=8, targets=labels, training=True, augment=parse_augment("flip,zoom=0.2"),
            shuffle_seed=5, cache=cache,
        )
        return [collect(ds) for _ in range(3)]

    plain, cached = epochs(None), epochs("")
    orders = [np.concatenate([y for _, y in batches]).tolist() for batches in plain]
    assert orders[0] != orders[1] != orders[2]  # reshuffled every epoch
    for plain_epoch, cached_epoch in zip(plain, cached, strict=True):
        for (x, y), (cx, cy) in zip(plain_epoch, cached_epoch, strict=True):
            assert np.array_equal(y, cy)
            np.testing.assert_allclose(x, cx, atol=1e-4)


def test_memory_cache(tmp_path: Path) -> None:
    paths, labels = many(tmp_path, 6)
    ds = make_image_dataset(
        paths, image_size=SIZE, batch_size=4, targets=labels, training=True, augment=None, shuffle_seed=0, cache=""
    )
    assert sorted(np.concatenate([y for _, y in collect(ds)]).tolist()) == list(range(6))
    assert sorted(np.concatenate([y for _, y in collect(ds)]).tolist()) == list(range(6))


def test_load_images_for_predict_matches_the_pipeline(files: dict[str, str], tmp_path: Path) -> None:
    paths = list(files.values())
    array = load_images_for_predict(paths, (6, 5))
    assert array.shape == (len(paths), 6, 5, 3) and array.dtype == np.float32
    ds = make_image_dataset(
        paths, image_size=(6, 5), batch_size=len(paths), targets=None, training=False, augment=None,
        shuffle_seed=None,
    )
    assert np.array_equal(next(iter(ds)).numpy(), array)
    assert load_images_for_predict([], (6, 5)).shape == (0, 6, 5, 3)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"nope")
    with pytest.raises(zooft.DataError, match="broken.png"):
        load_images_for_predict([broken], (6, 5))


# ---------------------------------------------------------------------------------------------
# The data check's TensorFlow rules, confirmed against TensorFlow
# ---------------------------------------------------------------------------------------------


def _encode(fmt: str, mode: str = "RGB", **options: object) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buffer, fmt, **options)
    return buffer.getvalue()


def _mpo() -> bytes:
    buffer = io.BytesIO()
    frames = [Image.fromarray(solid((40, 40, 40))), Image.fromarray(solid((200, 200, 200)))]
    frames[0].save(buffer, "MPO", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


ACCEPTED = {
    "cmyk.jpg": lambda: _encode("JPEG", "CMYK"),
    "camera.mpo.jpg": _mpo,
    "grey.bmp": lambda: _encode("BMP", "L"),
    "rgba.bmp": lambda: _encode("BMP", "RGBA"),
    "no-trailer.gif": lambda: _encode("GIF", "P")[:-1],
    "junk-after.png": lambda: _encode("PNG") + b"junk",
}
REJECTED_BY_TF = {
    "no-iend.png": lambda: _encode("PNG")[:-12],
    "cut.gif": lambda: _encode("GIF", "P")[:-2],
    "one-bit.bmp": lambda: _encode("BMP", "1"),
    "junk-after.bmp": lambda: _encode("BMP") + b"\0\0",
    "half.jpg": lambda: _encode("JPEG")[:300],
    "tiff.png": lambda: _encode("TIFF"),
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_files_the_check_accepts_decode_in_tensorflow(tmp_path: Path, name: str, tf: ModuleType) -> None:
    path = tmp_path / name
    path.write_bytes(ACCEPTED[name]())
    assert inspect_image(str(path)) is None
    image = _decode_and_resize(tf.io.read_file(str(path)), (8, 8))  # zooft's decoder, JPEG fast path included
    assert image.shape == (8, 8, 3)


@pytest.mark.parametrize("name", sorted(REJECTED_BY_TF))
def test_files_the_check_rejects_fail_in_tensorflow(tmp_path: Path, name: str, tf: ModuleType) -> None:
    path = tmp_path / name
    path.write_bytes(REJECTED_BY_TF[name]())
    assert inspect_image(str(path)) is not None
    with pytest.raises(tf.errors.InvalidArgumentError):
        _decode_and_resize(tf.io.read_file(str(path)), (8, 8))


def test_palette_bmp_is_rejected_because_tensorflow_misreads_it(tmp_path: Path, tf: ModuleType) -> None:
    path = tmp_path / "palette.bmp"
    path.write_bytes(_encode("BMP", "P"))
    assert "colour palette" in (inspect_image(str(path)) or "")
    decoded = tf.io.decode_image(tf.io.read_file(str(path)), channels=3).numpy()
    assert not np.array_equal(decoded, np.asarray(Image.open(path).convert("RGB")))  # silently wrong colours
