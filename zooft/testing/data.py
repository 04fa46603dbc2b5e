"""Tiny data sets in each built-in shape, for plugin tests (seeded, a few dozen small files)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def make_image_folder(root: str | os.PathLike[str], *, per_class: int = 8, size: int = 32, seed: int = 0) -> Path:
    """An image-folder data set (``root/<class>/*.png``, the demo's shape classes); returns ``root``."""
    from ..demo.synthetic import write_classify_demo

    write_classify_demo(root, images_per_class=per_class, size=size, seed=seed)
    return Path(root)


def make_image_csv(root: str | os.PathLike[str], *, per_class: int = 8, size: int = 32, seed: int = 0) -> Path:
    """An image CSV (``root/images.csv`` with ``path,label`` rows, paths relative to it); returns the CSV."""
    folder = make_image_folder(Path(root) / "images", per_class=per_class, size=size, seed=seed)
    rows = ["path,label"] + [f"{p.relative_to(root).as_posix()},{p.parent.name}" for p in sorted(folder.rglob("*.png"))]
    csv = Path(root) / "images.csv"
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return csv


def make_coco(root: str | os.PathLike[str], *, images: int = 24, size: int = 64, seed: int = 0) -> Path:
    """A COCO detection data set (``root/{train,val,test}.json`` + ``root/images``); returns ``root``."""
    from ..demo.detection import write_detect_demo

    write_detect_demo(root, images=images, size=size, seed=seed)
    return Path(root)


def make_text_csv(root: str | os.PathLike[str], *, per_class: int = 8, seed: int = 0, multi_label: bool = False) -> Path:
    """A text CSV (``text,label``) for ``text-classify``; returns the CSV."""
    from ..demo.text import write_text_demo

    summary: dict[str, Any] = write_text_demo(root, per_class=per_class, seed=seed, multi_label=multi_label)
    return Path(summary["csv"])
