"""Tiny data sets in each built-in shape, for plugin tests (seeded, a few dozen small files).

Images: :func:`make_image_folder`, :func:`make_image_csv`, :func:`make_coco`; texts (the same
seeded texts in each shape of the ``text`` plugin's formats): :func:`make_text_csv`,
:func:`make_text_jsonl`, :func:`make_text_folder`.
"""

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


def _text_rows(per_class: int, seed: int, multi_label: bool) -> list[tuple[str, list[str], str]]:
    """The rows :func:`make_text_csv` writes, as ``(text, labels, split)``."""
    import csv
    import tempfile

    with tempfile.TemporaryDirectory(prefix="zooft-text-") as tmp:
        with open(make_text_csv(Path(tmp) / "demo", per_class=per_class, seed=seed, multi_label=multi_label),
                  newline="", encoding="utf-8") as handle:
            return [(row["text"], row["label"].split("|"), row["split"]) for row in csv.DictReader(handle)]


def make_text_jsonl(root: str | os.PathLike[str], *, per_class: int = 8, seed: int = 0, multi_label: bool = False) -> Path:
    """A JSON-lines file (``root/texts.jsonl``: ``{"text", "label", "split"}`` objects, the label a
    list with ``multi_label``) holding :func:`make_text_csv`'s texts; returns the file."""
    import json

    out = Path(root)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "texts.jsonl"
    lines = [json.dumps({"text": text, "label": labels if multi_label else labels[0], "split": split})
             for text, labels, split in _text_rows(per_class, seed, multi_label)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_text_folder(root: str | os.PathLike[str], *, per_class: int = 8, seed: int = 0) -> Path:
    """A text-folder data set (``root/{train,test}/<label>/NNNN.txt``, one text per file) holding
    :func:`make_text_csv`'s texts; returns ``root``."""
    out = Path(root)
    for index, (text, labels, split) in enumerate(_text_rows(per_class, seed, False)):
        folder = out / split / labels[0]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{index:04d}.txt").write_text(text + "\n", encoding="utf-8")
    return out
