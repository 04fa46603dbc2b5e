"""Tests of the procedural generators (numpy + Pillow only: must not need TensorFlow)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zooft.demo import synthetic
from zooft.demo.synthetic import DEMO_CLASSIFY_CLASSES, render_demo_image, write_classify_demo


def test_module_does_not_import_tensorflow() -> None:
    # Generating data must stay cheap and work without TensorFlow (which takes seconds to import).
    code = ("import sys, zooft.demo.synthetic, zooft.demo.detection; "
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "[]"


def test_class_list() -> None:
    assert 4 <= len(DEMO_CLASSIFY_CLASSES) <= 6
    assert len(set(DEMO_CLASSIFY_CLASSES)) == len(DEMO_CLASSIFY_CLASSES)


def test_demo_images_every_class() -> None:
    rng = np.random.default_rng(0)
    for ci in range(len(DEMO_CLASSIFY_CLASSES)):
        img = render_demo_image(rng, ci, 64)
        assert img.shape == (64, 64, 3) and img.dtype == np.uint8


def test_render_is_deterministic_per_seed() -> None:
    a = render_demo_image(np.random.default_rng(123), 2)
    b = render_demo_image(np.random.default_rng(123), 2)
    c = render_demo_image(np.random.default_rng(124), 2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_bad_class_index() -> None:
    with pytest.raises(ValueError):
        render_demo_image(np.random.default_rng(0), -1)


def _files(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*.png"))


def test_write_flat_layout_and_summary(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    summary = write_classify_demo(out, images_per_class=3, size=32, seed=1)
    assert summary["classes"] == list(DEMO_CLASSIFY_CLASSES)
    assert summary["counts"] == {"all": {c: 3 for c in DEMO_CLASSIFY_CLASSES}}
    assert Path(summary["path"]) == out.absolute()
    for c in DEMO_CLASSIFY_CLASSES:
        names = sorted(p.name for p in (out / c).iterdir())
        assert names == [f"{c}_{i:04d}.png" for i in range(3)]
    with Image.open(out / DEMO_CLASSIFY_CLASSES[0] / f"{DEMO_CLASSIFY_CLASSES[0]}_0000.png") as im:
        assert im.size == (32, 32) and im.mode == "RGB"


def test_write_is_deterministic(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    write_classify_demo(a, images_per_class=2, size=32, seed=5)
    write_classify_demo(b, images_per_class=2, size=32, seed=5)
    write_classify_demo(c, images_per_class=2, size=32, seed=6)
    assert _files(a) == _files(b) == _files(c)
    same = [(a / f).read_bytes() == (b / f).read_bytes() for f in _files(a)]
    other = [(a / f).read_bytes() == (c / f).read_bytes() for f in _files(a)]
    assert all(same) and not any(other)


def test_splits_proportions(tmp_path: Path) -> None:
    out = tmp_path / "split"
    summary = write_classify_demo(out, images_per_class=20, size=24, seed=0, splits=True)
    expected = {"train": 14, "val": 3, "test": 3}
    assert set(summary["counts"]) == set(expected)
    for split, n in expected.items():
        for c in DEMO_CLASSIFY_CLASSES:
            assert summary["counts"][split][c] == n
            assert len(list((out / split / c).glob("*.png"))) == n
    # File names are unique across splits (no image appears twice).
    names = [p.name for p in out.rglob("*.png")]
    assert len(names) == len(set(names)) == 20 * len(DEMO_CLASSIFY_CLASSES)


def test_default_split_is_70_15_15(tmp_path: Path) -> None:
    # Only the arithmetic: 60 images per class → 42/9/9.
    assert synthetic._split_sizes(60) == {"train": 42, "val": 9, "test": 9}


def test_refuses_non_empty_dir(tmp_path: Path) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    with pytest.raises(FileExistsError, match="not empty"):
        write_classify_demo(out, images_per_class=1, size=16)
    assert (out / "keep.txt").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]


def test_refuses_existing_file(tmp_path: Path) -> None:
    out = tmp_path / "afile"
    out.write_text("x")
    with pytest.raises(FileExistsError):
        write_classify_demo(out, images_per_class=1, size=16)


def test_accepts_empty_dir(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    write_classify_demo(out, images_per_class=1, size=16)
    assert len(list(out.rglob("*.png"))) == len(DEMO_CLASSIFY_CLASSES)


def test_no_temporary_dir_left_behind(tmp_path: Path) -> None:
    write_classify_demo(tmp_path / "ok", images_per_class=1, size=16)
    assert [p.name for p in tmp_path.iterdir()] == ["ok"]


def test_crash_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = synthetic.render_demo_image

    def flaky(rng: np.random.Generator, ci: int, size: int = 96) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] > 3:
            raise RuntimeError("simulated crash")
        return real(rng, ci, size)

    monkeypatch.setattr(synthetic, "render_demo_image", flaky)
    with pytest.raises(RuntimeError, match="simulated crash"):
        write_classify_demo(tmp_path / "half", images_per_class=2, size=16)
    assert list(tmp_path.iterdir()) == []  # neither the target nor the temporary sibling
