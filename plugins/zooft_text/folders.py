"""The ``text-folder`` data format: one folder per label, one UTF-8 ``.txt`` file per example.

Layouts (like the image folders)::

    DIR/<label>/*.txt                   everything is train; the host carves val
    DIR/train/<label>/*.txt             plus any of DIR/val (validation, valid), DIR/test

A file's whole content (stripped) is the text. Other files in a label folder are reported by
the check; hidden files are ignored.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import zooft

from .check import Row, build_data

FORMAT = "text-folder"
SPLIT_FOLDERS: dict[str, str] = {"train": "train", "val": "val", "validation": "val", "valid": "val", "test": "test"}


def _subdirs(path: Path) -> list[str]:
    with os.scandir(path) as entries:
        return sorted(e.name for e in entries if not e.name.startswith(".") and e.is_dir())


def sniff(path: str) -> bool:
    """A directory with at least one visible subdirectory."""
    p = Path(path)
    try:
        return p.is_dir() and bool(_subdirs(p))
    except OSError:
        return False


def _read(file: Path, origin: str) -> Row:
    try:
        data = zooft.read_data_file(file)  # regular files only, size-capped (zooft/data/files.py)
    except zooft.DataFileError as exc:
        return Row(origin, None, [], problem=exc.reason)
    try:
        return Row(origin, data.decode("utf-8-sig").strip(), [])
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return Row(origin, None, [], problem=f"not valid UTF-8 at line {line} (byte 0x{data[exc.start]:02x}); save it as UTF-8")


def load(path: str, *, skip_bad_files: bool = False, multi_label: bool = False, **_: Any) -> zooft.LabeledData:
    """Index a text-folder data set (single-label: a file sits in one label folder)."""
    root = Path(os.path.abspath(path))
    if not root.is_dir():
        raise zooft.DataError(f"{root} is not a directory", hint="expected DIR/<label>/*.txt")
    if multi_label:
        raise zooft.ConfigError("text folders hold one label per file; --multi-label needs a CSV or JSONL file",
                                hint="write a CSV with text,labels columns ('a|b' for several labels)")
    subdirs = _subdirs(root)
    splits = {SPLIT_FOLDERS[d.lower()]: root / d for d in subdirs if d.lower() in SPLIT_FOLDERS}
    if splits and len(splits) != len(subdirs):
        raise zooft.DataError(f"{root} mixes split folders with label folders", hint="use DIR/<label>/ or DIR/train/<label>/, not both")
    if splits and "train" not in splits:
        raise zooft.DataError(f"{root} has split folders but no train folder", hint="add DIR/train/<label>/*.txt")
    rows: list[Row] = []
    for split, folder in (splits or {"train": root}).items():
        for label in _subdirs(folder):
            for dirpath, dirnames, filenames in os.walk(folder / label):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if name.startswith("."):
                        continue
                    file = Path(dirpath) / name
                    origin = str(file.relative_to(root))
                    if file.suffix.lower() != ".txt":
                        rows.append(Row(origin, None, [], problem="not a .txt file"))
                        continue
                    row = _read(file, origin)
                    row.labels, row.split = [label], split
                    rows.append(row)
    if not rows:
        raise zooft.DataError(f"no .txt files under {root}", hint="expected DIR/<label>/*.txt")
    return build_data(rows, root=str(root), format=FORMAT, multi_label=False, skip_bad_files=skip_bad_files)
