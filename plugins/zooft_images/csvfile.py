"""The ``csv`` format: a .csv/.tsv file listing image paths and labels.

The header names a path column (``path``, ``filename``, ``file`` or ``image``), a label column
(``label``, ``class`` or ``category``) and optionally a ``split`` column (``train``, ``val`` /
``validation`` / ``valid``, ``test``). Paths are relative to the CSV file's folder; absolute
and ``../`` paths are kept (a CSV may name files outside its folder, see docs/security.md),
and every file is still read under the host's rule, :func:`zooft.read_data_file`. Classes are
the sorted unique labels. Rows that cannot be used (an empty path, label or split, a path
listed again with another label or split) are returned in
``LabeledData.skipped`` with their line number, so that the data check reports them.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zooft

FORMAT = "csv"

PATH_COLUMNS: tuple[str, ...] = ("path", "filename", "file", "image")
LABEL_COLUMNS: tuple[str, ...] = ("label", "class", "category")
SPLIT_COLUMN = "split"
SPLIT_VALUES: dict[str, str] = {"train": "train", "val": "val", "validation": "val", "valid": "val", "test": "test"}

_HEADER_HINT = (
    "start the file with a header such as 'path,label' or 'path,label,split'"
    f" (path may be named {', '.join(PATH_COLUMNS[1:])}; label may be {', '.join(LABEL_COLUMNS[1:])})"
)


@dataclass(frozen=True)
class CsvExample(zooft.Example):
    """An example that remembers where it was listed, e.g. ``"line 12"``, for error messages.

    The data check reads ``origin`` when an example has one (``getattr``), so it stays a plain
    :class:`zooft.Example` to everything else.
    """

    origin: str = ""


def sniff(path: str) -> bool:
    """True for an existing file whose name ends in .csv or .tsv."""
    p = Path(path)
    return p.suffix.lower() in (".csv", ".tsv") and p.is_file()


def _delimiter(path: Path, first_line: str) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    # A CSV exported with a European locale uses ';': pick the separator the header uses most.
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _numbered_rows(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line number where the row starts, row)`` from a ``csv.reader``."""
    end = 0
    for row in reader:
        start, end = end + 1, reader.line_num  # a quoted cell may span lines
        yield start, row


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in header:
            return header.index(name)
    return None


def load(path: str, **options: Any) -> zooft.LabeledData:
    """Index the images listed in the CSV file ``path``; ``options`` are accepted and ignored.

    Raises :class:`zooft.DataError` when the file cannot be read or its header lacks a path
    or label column (the message shows the header it found).
    """
    csv_path = Path(os.path.abspath(path))
    base = csv_path.parent
    raw = zooft.read_data_file(csv_path)  # regular file, size-capped: never a FIFO or /dev/zero
    try:
        text = raw.decode("utf-8-sig")  # -sig: Excel's BOM
        if "\0" in text:  # the csv module would stop at a NUL with a message naming no line
            line = text[: text.index("\0")].count("\n") + 1
            raise zooft.DataError(f"{csv_path} line {line}: a NUL byte; this is not a text CSV file",
                                  hint="save it as UTF-8 text with one row per image")
        handle = io.StringIO(text, newline="")
        first_line = handle.readline()
        handle.seek(0)
        rows = list(_numbered_rows(csv.reader(handle, delimiter=_delimiter(csv_path, first_line))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise zooft.DataError(
            f"cannot read {csv_path}: {exc}", hint="save it as UTF-8 text with one row per image"
        ) from exc
    if not rows:
        raise zooft.DataError(f"{csv_path} is empty", hint=_HEADER_HINT)
    _, raw_header = rows[0]
    header = [h.strip().lower() for h in raw_header]
    path_col = _column(header, PATH_COLUMNS)
    label_col = _column(header, LABEL_COLUMNS)
    split_col = _column(header, (SPLIT_COLUMN,))
    if path_col is None or label_col is None:
        missing = "path" if path_col is None else "label"
        raise zooft.DataError(f"{csv_path} has no {missing} column in its header {raw_header}", hint=_HEADER_HINT)

    skipped: list[tuple[str, str]] = []
    entries: list[tuple[int, str, str, str]] = []  # (line, absolute path, label, split)
    first_seen: dict[str, tuple[int, str, str]] = {}
    needed = max(c for c in (path_col, label_col, split_col) if c is not None) + 1
    for line, row in rows[1:]:
        if not any(cell.strip() for cell in row):
            continue  # blank line
        if len(row) < needed:
            skipped.append((str(csv_path), f"line {line}: {len(row)} columns, the header has {len(header)}"))
            continue
        rel = row[path_col].strip()
        label = row[label_col].strip()
        if not rel:
            skipped.append((str(csv_path), f"line {line}: empty path"))
            continue
        file = os.path.normpath(os.path.join(base, rel))  # join keeps an absolute `rel` as is
        if not label:
            skipped.append((file, f"empty label (line {line})"))
            continue
        split = "train"
        if split_col is not None:
            value = row[split_col].strip()
            split = SPLIT_VALUES.get(value.lower(), "")
            if not split:
                shown = repr(value) if value else "empty split"
                skipped.append((file, f"{shown} is not a split (line {line}); use train, val or test"))
                continue
        if file in first_seen:
            first_line_no, first_label, first_split = first_seen[file]
            if (first_label, first_split) != (label, split):
                skipped.append(
                    (file, f"listed again at line {line} as {label}/{split}; line {first_line_no} says"
                     f" {first_label}/{first_split}")
                )
                continue
        else:
            first_seen[file] = (line, label, split)
        entries.append((line, file, label, split))

    classes = sorted({label for _, _, label, _ in entries})
    index = {name: i for i, name in enumerate(classes)}
    splits: dict[str, list[zooft.Example]] = {}
    for line, file, label, split in entries:
        splits.setdefault(split, []).append(CsvExample(source=file, label=index[label], origin=f"line {line}"))
    splits.setdefault("train", [])
    return zooft.LabeledData(
        classes=classes,
        splits=splits,
        format=FORMAT,
        root=str(csv_path),
        modality="image",
        skipped=skipped,
    )

