"""``regress-csv``: ``path,value`` rows, paths relative to the CSV. No TensorFlow."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import zooft


def sniff(path: str) -> bool:
    """A ``.csv`` whose header is ``path,value``."""
    file = Path(path)
    if file.suffix.lower() != ".csv" or not file.is_file():
        return False
    with file.open(encoding="utf-8", newline="") as handle:
        return handle.readline().strip().lower() == "path,value"


def load(path: str, **_: Any) -> zooft.LabeledData:
    """The index: every row as ``Example(path, target=float)``; no classes."""
    file = Path(path)
    examples = []
    with file.open(encoding="utf-8", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            try:
                value = float(row["value"])
            except (KeyError, TypeError, ValueError):
                raise zooft.DataError(f"{file}:{line}: value {row.get('value')!r} is not a number", hint="write path,value rows") from None
            examples.append(zooft.Example(str((file.parent / row["path"]).resolve()), target=value))
    return zooft.LabeledData(classes=[], splits={"train": examples}, format="regress-csv", root=str(file.parent))
