"""The data check (bad files, typos, empty classes, --skip-bad-files) and the seeded splits.

No TensorFlow here; tests/integration/test_image_pipeline.py confirms that the files this check
rejects are the ones TensorFlow 2.21 cannot decode, and that it decodes the ones accepted.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import zooft
import zooft_images.plugin
from zooft.data.check import check_images, inspect_image
from zooft.data.formats import load_data
from zooft.data.records import Example, LabeledData
from zooft.data.split import stratified_sample, stratified_split
from zooft.plugins import PluginHost


def encode(fmt: str, *, mode: str = "RGB", size: int = 16, seed: int = 0, **options: object) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buffer, fmt, **options)
    return buffer.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def make_classes(root: Path, counts: dict[str, int]) -> Path:
    for name, count in counts.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            write(root / name / f"{i}.png", encode("PNG", seed=i, size=8))
    return root


@pytest.fixture
def host() -> PluginHost:
    return PluginHost(autoload=False, plugins=[("images", zooft_images.plugin)])


# ---------------------------------------------------------------------------------------------
# One file: Pillow's view held to TensorFlow's rules
# ---------------------------------------------------------------------------------------------


def png_16bit_rgb() -> bytes:
    """A 16-bit RGB PNG (Pillow cannot write one)."""
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(b"\0" + np.full((4, 3), 40000, ">u2").tobytes() for _ in range(4))
    header = struct.pack(">IIBBBBB", 4, 4, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


GOOD = {
    "rgb.png": lambda: encode("PNG"),
    "grey.png": lambda: encode("PNG", mode="L"),
    "rgba.png": lambda: encode("PNG", mode="RGBA"),
    "palette.png": lambda: encode("PNG", mode="P"),
    "deep.png": png_16bit_rgb,
    "photo.jpg": lambda: encode("JPEG"),
    "progressive.jpg": lambda: encode("JPEG", progressive=True),
    "cmyk.jpg": lambda: encode("JPEG", mode="CMYK"),
    "rgb.bmp": lambda: encode("BMP"),
    "grey.bmp": lambda: encode("BMP", mode="L"),
    "palette.gif": lambda: encode("GIF", mode="P"),
    "trailing-bytes.jpg": lambda: encode("JPEG") + b"junk",
    "no-trailer.gif": lambda: encode("GIF", mode="P")[:-1],
}

BAD = {
    "half.jpg": (lambda: encode("JPEG")[: len(encode("JPEG")) // 2], "truncated"),
    "half.png": (lambda: encode("PNG")[: len(encode("PNG")) // 2], "truncated"),
    "no-iend.png": (lambda: encode("PNG")[:-12], "without an IEND chunk"),
    "cut-tail.png": (lambda: encode("PNG")[:-2], "IEND"),
    "cut.gif": (lambda: encode("GIF", mode="P")[:-2], "GIF frame 1 cut short"),
    "text.png": (lambda: b"hello, not a picture", "not an image"),
    "empty.jpg": (lambda: b"", "empty file"),
    "really-a-tiff.png": (lambda: encode("TIFF"), "unsupported image format TIFF"),
    "really-a-webp.jpg": (lambda: encode("WEBP"), "unsupported image format WEBP"),
    "one-bit.bmp": (lambda: encode("BMP", mode="1"), "1-bit"),
    "palette.bmp": (lambda: encode("BMP", mode="P"), "colour palette"),
    "trailing-bytes.bmp": (lambda: encode("BMP") + b"\0\0", "header implies"),
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_inspect_accepts_what_tensorflow_decodes(tmp_path: Path, name: str) -> None:
    assert inspect_image(str(write(tmp_path / name, GOOD[name]()))) is None


@pytest.mark.parametrize("name", sorted(BAD))
def test_inspect_rejects_what_tensorflow_cannot_decode(tmp_path: Path, name: str) -> None:
    make, reason = BAD[name]
    problem = inspect_image(str(write(tmp_path / name, make())))
    assert problem is not None and reason in problem


def test_inspect_missing_file_and_directory(tmp_path: Path) -> None:
    assert inspect_image(str(tmp_path / "gone.png")) == "file not found"
    assert "directory" in (inspect_image(str(tmp_path)) or "")


# ---------------------------------------------------------------------------------------------
# The data set
# ---------------------------------------------------------------------------------------------


def test_clean_data_passes_unchanged(tmp_path: Path, host: PluginHost) -> None:
    make_classes(tmp_path, {"a": 3, "b": 3})
    data = load_data(tmp_path, host=host, val_split=0)
    assert data.counts() == {"train": {"a": 3, "b": 3}} and data.skipped == []


def test_bad_files_raise_one_line_with_hint_and_full_list(tmp_path: Path, host: PluginHost) -> None:
    make_classes(tmp_path, {"cat": 3, "dog": 3})
    jpeg = encode("JPEG", size=32)
    write(tmp_path / "cat" / "truncated.jpg", jpeg[: len(jpeg) // 2])
    write(tmp_path / "dog" / "notes.txt", b"labels are folder names")
    write(tmp_path / "dog" / "fake.png", b"not a png")
    write(tmp_path / "dog" / "z.gif", encode("GIF", mode="P")[:-2])

    with pytest.raises(zooft.DataError) as info:
        load_data(tmp_path, host=host)
    error = info.value
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"4 problems in the data at {tmp_path}: ")
    assert "dog/notes.txt: not an image file" in message and message.endswith("and 1 more")
    assert "--skip-bad-files" in (error.hint or "")
    reasons = dict(error.problems)  # type: ignore[attr-defined]
    assert set(reasons) == {
        str(tmp_path / p) for p in ("cat/truncated.jpg", "dog/notes.txt", "dog/fake.png", "dog/z.gif")
    }
    assert "image file is truncated" in reasons[str(tmp_path / "cat" / "truncated.jpg")]
    assert "not an image" in reasons[str(tmp_path / "dog" / "fake.png")]


def test_skip_bad_files_drops_and_records_them(tmp_path: Path, host: PluginHost) -> None:
    make_classes(tmp_path, {"cat": 3, "dog": 3})
    write(tmp_path / "cat" / "bad.jpg", encode("JPEG")[:100])
    write(tmp_path / "dog" / "notes.txt", b"x")

    data = load_data(tmp_path, host=host, skip_bad_files=True, val_split=0)

    assert data.counts() == {"train": {"cat": 3, "dog": 3}}
    expected = [str(tmp_path / "cat" / "bad.jpg"), str(tmp_path / "dog" / "notes.txt")]
    assert sorted(p for p, _ in data.skipped) == expected
    assert all(ex.source not in dict(data.skipped) for ex in data.splits["train"])


def test_empty_class_fails_even_with_skip(tmp_path: Path, host: PluginHost) -> None:
    make_classes(tmp_path, {"cat": 2, "dog": 2})
    (tmp_path / "emu").mkdir()
    for skip in (False, True):
        with pytest.raises(zooft.DataError, match="emu: class has no training examples"):
            load_data(tmp_path, host=host, skip_bad_files=skip)


def test_class_emptied_by_skipping_fails(tmp_path: Path, host: PluginHost) -> None:
    make_classes(tmp_path, {"cat": 2})
    write(tmp_path / "dog" / "0.jpg", b"broken")
    with pytest.raises(zooft.DataError, match="dog: class has no training examples") as info:
        load_data(tmp_path, host=host, skip_bad_files=True)
    assert "--skip-bad-files left some files out" in (info.value.hint or "")


def test_csv_label_typos(tmp_path: Path, host: PluginHost) -> None:
    rows = ["path,label"]
    for i in range(12):
        label = ["dog", "cat"][i % 2]
        if i == 10:
            label = "dgo"
        write(tmp_path / f"{i}.png", encode("PNG", size=8, seed=i))
        rows.append(f"{i}.png,{label}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")

    with pytest.raises(zooft.DataError) as info:
        load_data(tmp_path / "labels.csv", host=host)
    assert info.value.problems == [  # type: ignore[attr-defined]
        (str(tmp_path / "10.png"), "label 'dgo' (line 12) looks like a typo of 'dog'")
    ]

    data = load_data(tmp_path / "labels.csv", host=host, skip_bad_files=True, val_split=0)
    assert data.classes == ["cat", "dog"]  # the typo class is gone and labels re-indexed
    assert data.counts() == {"train": {"cat": 6, "dog": 5}}
    assert [ex.label for ex in data.splits["train"]] == [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0]


def test_a_rare_but_distinct_label_is_not_a_typo(tmp_path: Path) -> None:
    paths = [str(write(tmp_path / f"{i}.png", encode("PNG", size=8, seed=i))) for i in range(11)]
    examples = [Example(source=p, label=i % 2) for i, p in enumerate(paths[:10])] + [Example(paths[10], 2)]
    data = LabeledData(classes=["cat", "dog", "zebra"], splits={"train": examples})
    assert check_images(data, skip_bad_files=False, workers=1).splits == data.splits
    # ... while a rare label close to a frequent one is a typo (also for folders: no line then)
    data.classes[2] = "Cat"
    with pytest.raises(zooft.DataError, match="label 'Cat' looks like a typo of 'cat'"):
        check_images(data, skip_bad_files=False, workers=1)


def test_check_uses_a_thread_pool_with_the_same_result(tmp_path: Path) -> None:
    paths = [str(write(tmp_path / f"{i}.png", encode("PNG", size=8, seed=i))) for i in range(40)]
    write(tmp_path / "7.png", b"oops")
    examples = [Example(source=p, label=0) for p in paths]
    data = LabeledData(classes=["a"], splits={"train": examples}, root=str(tmp_path))
    serial = check_images(data, skip_bad_files=True, workers=1)
    pooled = check_images(data, skip_bad_files=True, workers=4)
    assert serial.skipped == pooled.skipped == [(paths[7], "not an image (unrecognised content)")]
    assert serial.splits == pooled.splits


# ---------------------------------------------------------------------------------------------
# Seeded stratified splits and samples
# ---------------------------------------------------------------------------------------------


def _examples(counts: dict[int, int]) -> list[Example]:
    return [Example(source=f"{label}-{i}", label=label) for label, n in counts.items() for i in range(n)]


def test_stratified_split_is_deterministic_and_stratified() -> None:
    examples = _examples({0: 100, 1: 20, 2: 3, 3: 2, 4: 1})
    train, val = stratified_split(examples, 0.2, seed=7)
    assert stratified_split(examples, 0.2, seed=7) == (train, val)
    assert stratified_split(examples, 0.2, seed=8) != (train, val)
    per_class = {label: sum(ex.label == label for ex in val) for label in range(5)}
    assert per_class == {0: 20, 1: 4, 2: 1, 3: 1, 4: 0}  # >= 1 when a class has >= 2
    assert sorted(train + val, key=examples.index) == examples  # a partition, input order kept
    assert train == [ex for ex in examples if ex in train]


def test_stratified_split_ignores_other_classes_and_label_indices() -> None:
    a = _examples({0: 30, 1: 10})
    b = [Example(source=ex.source, label=ex.label + 5) for ex in a] + _examples({9: 4})
    classes_a = ["x", "y"]
    classes_b = ["?"] * 5 + ["x", "y", "?", "?", "z"]
    _, val_a = stratified_split(a, 0.3, seed=1, classes=classes_a)
    _, val_b = stratified_split(b, 0.3, seed=1, classes=classes_b)
    assert [ex.source for ex in val_a] == [ex.source for ex in val_b if not ex.source.startswith("9-")]


def test_stratified_sample() -> None:
    examples = _examples({0: 50, 1: 30, 2: 15, 3: 5})
    sample = stratified_sample(examples, 20, seed=2)
    assert len(sample) == 20 and sample == stratified_sample(examples, 20, seed=2)
    assert [sum(ex.label == c for ex in sample) for c in range(4)] == [10, 6, 3, 1]
    assert {ex.label for ex in stratified_sample(examples, 4, seed=0)} == {0, 1, 2, 3}
    assert stratified_sample(examples, 500, seed=0) == examples
    assert stratified_sample(examples, 0, seed=0) == []
