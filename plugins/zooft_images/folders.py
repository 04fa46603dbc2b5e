"""The ``image-folder`` format: one folder per class, optionally under split folders.

Layouts::

    DIR/<class>/**/*.jpg                    everything is train; the host carves val
    DIR/train/<class>/**/*.jpg              plus any of DIR/val (or validation, valid), DIR/test

Classes are the sorted union of class folder names over all splits. Files inside a class
folder (nested folders included) with an image extension become examples; other files are
returned in ``LabeledData.skipped`` so that the data check lists them (hidden files and
OS litter such as ``Thumbs.db`` are ignored silently).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import zooft

from . import IGNORED_NAMES, IMAGE_EXTENSIONS

FORMAT = "image-folder"

#: Split folder names (compared in lower case) and the split each stands for.
SPLIT_FOLDERS: dict[str, str] = {
    "train": "train",
    "val": "val",
    "validation": "val",
    "valid": "val",
    "test": "test",
}

_LAYOUT_HINT = "expected DIR/<class>/<image> or DIR/train/<class>/<image> (with optional DIR/val, DIR/test)"


def _visible(name: str) -> bool:
    return not name.startswith(".") and name not in IGNORED_NAMES


def _subdirs(path: Path) -> list[str]:
    with os.scandir(path) as entries:
        return sorted(e.name for e in entries if _visible(e.name) and e.is_dir())


def sniff(path: str) -> bool:
    """True for a directory with at least one visible subdirectory (cheap: stops at the first)."""
    p = Path(path)
    if not p.is_dir():
        return False
    try:
        with os.scandir(p) as entries:
            return any(_visible(e.name) and e.is_dir() for e in entries)
    except OSError:
        return False


def _split_layout(root: Path, subdirs: list[str]) -> dict[str, Path]:
    """Map split name -> folder when ``root`` uses split folders, else ``{}``."""
    found: dict[str, list[str]] = {}
    for name in subdirs:
        split = SPLIT_FOLDERS.get(name.lower())
        if split:
            found.setdefault(split, []).append(name)
    if not found:
        return {}
    others = [name for name in subdirs if name.lower() not in SPLIT_FOLDERS]
    if others:
        raise zooft.DataError(
            f"{root} mixes split folders ({', '.join(n for names in found.values() for n in names)})"
            f" with other folders ({', '.join(others)})",
            hint=f"move the class folders into {root / 'train'}, or the split folders out; {_LAYOUT_HINT}",
        )
    for split, names in found.items():
        if len(names) > 1:
            raise zooft.DataError(
                f"{root} has several {split} folders: {', '.join(names)}",
                hint="keep one of them (val, validation and valid mean the same split)",
            )
    if "train" not in found:
        raise zooft.DataError(
            f"{root} has {', '.join(n for names in found.values() for n in names)} but no train folder",
            hint=f"add {root / 'train'}/<class>/...; {_LAYOUT_HINT}",
        )
    return {split: root / names[0] for split, names in found.items()}


def _scan_class(folder: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """Image files under ``folder`` (recursively, sorted) and the non-image files found there."""
    images: list[str] = []
    others: list[tuple[str, str]] = []
    seen: set[str] = set()
    # followlinks: data sets are often assembled with symlinked folders; `seen` stops loops.
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if _visible(d))
        for name in sorted(filenames):
            if not _visible(name):
                continue
            path = os.path.join(dirpath, name)
            ext = os.path.splitext(name)[1].lower()
            if ext in IMAGE_EXTENSIONS:
                images.append(path)
            else:
                shown = ext or "none"
                allowed = ", ".join(sorted(IMAGE_EXTENSIONS))
                others.append((path, f"not an image file (extension {shown}; images are {allowed})"))
    return images, others


def load(path: str, **options: Any) -> zooft.LabeledData:
    """Index an image-folder data set at ``path``; ``options`` are accepted and ignored.

    Raises :class:`zooft.DataError` for a layout it cannot read (no class folders, split
    folders mixed with class folders, val/test without train).
    """
    root = Path(os.path.abspath(path))
    if not root.is_dir():
        raise zooft.DataError(f"{root} is not a directory", hint=_LAYOUT_HINT)
    subdirs = _subdirs(root)
    split_dirs = _split_layout(root, subdirs) or {"train": root}
    per_split: dict[str, dict[str, Path]] = {}
    for split, folder in split_dirs.items():
        class_dirs = _subdirs(folder)
        if split == "train" and not class_dirs:
            raise zooft.DataError(f"no class folders in {folder}", hint=_LAYOUT_HINT)
        per_split[split] = {name: folder / name for name in class_dirs}
    # The union, so that a class missing from val is fine; a class found only in val/test gets
    # an index too and the data check reports it as a class without training examples.
    classes = sorted({name for dirs in per_split.values() for name in dirs})
    index = {name: i for i, name in enumerate(classes)}
    splits: dict[str, list[zooft.Example]] = {}
    skipped: list[tuple[str, str]] = []
    for split in ("train", "val", "test"):
        if split not in per_split:
            continue
        examples: list[zooft.Example] = []
        for name, folder in per_split[split].items():
            images, others = _scan_class(folder)
            examples.extend(zooft.Example(source=p, label=index[name]) for p in images)
            skipped.extend(others)
        splits[split] = examples
    return zooft.LabeledData(
        classes=classes,
        splits=splits,
        format=FORMAT,
        root=str(root),
        modality="image",
        skipped=skipped,
    )
