"""swap_into_place (zooft/swap.py): the one replace of downloads, extraction and exports."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from zooft.swap import swap_into_place


def _folder(path: Path, text: str) -> Path:
    path.mkdir()
    (path / "f.txt").write_text(text)
    return path


def test_a_new_folder_replaces_an_old_one_and_the_old_one_is_gone(tmp_path: Path) -> None:
    dst = _folder(tmp_path / "model", "old")
    src = _folder(tmp_path / ".tmp-model", "new")
    swap_into_place(src, dst, tmp_path / ".old-model")
    assert (dst / "f.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.parametrize("kind", ["missing", "file", "symlink"])
def test_whatever_was_at_the_destination_is_replaced(tmp_path: Path, kind: str) -> None:
    dst = tmp_path / "model"
    target = _folder(tmp_path / "elsewhere", "keep me")
    if kind == "file":
        dst.write_text("old")
    elif kind == "symlink":
        dst.symlink_to(target)
    swap_into_place(_folder(tmp_path / ".tmp-model", "new"), dst, tmp_path / ".old-model")
    assert not dst.is_symlink() and (dst / "f.txt").read_text() == "new"
    assert (target / "f.txt").read_text() == "keep me"  # a symlink's target is not followed
    assert not (tmp_path / ".old-model").exists()


def test_a_failed_move_puts_the_old_folder_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dst = _folder(tmp_path / "model", "old")
    src = _folder(tmp_path / ".tmp-model", "new")
    real_replace = os.replace

    def failing(a: os.PathLike[str], b: os.PathLike[str]) -> None:
        if Path(a) == src:
            raise OSError(28, "No space left on device")
        real_replace(a, b)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError):
        swap_into_place(src, dst, tmp_path / ".old-model")
    assert (dst / "f.txt").read_text() == "old"
    assert not (tmp_path / ".old-model").exists()
