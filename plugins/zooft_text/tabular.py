"""The ``text-csv`` (.csv/.tsv) and ``text-jsonl`` (.jsonl/.ndjson) data formats.

CSV/TSV: a header row naming a text column and a label column (``--text-column`` /
``--label-column``, else the first of :data:`TEXT_COLUMNS` / :data:`LABEL_COLUMNS` found) and an
optional ``split`` column (train, val/validation/valid, test). Several labels in one cell
(``--multi-label``) are separated by ``|``. JSONL: one JSON object per line with the same keys;
a label may also be a JSON list.

Files are decoded line by line, so a byte that is not UTF-8 is reported with its line number
instead of failing the whole file; rows are then checked by :func:`.check.build_data`.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import zooft

from .check import Row, build_data, split_labels

CSV_FORMAT = "text-csv"
JSONL_FORMAT = "text-jsonl"
TEXT_COLUMNS: tuple[str, ...] = ("text", "sentence", "content", "review", "body", "document")
LABEL_COLUMNS: tuple[str, ...] = ("label", "labels", "class", "category", "target")
SPLIT_VALUES: dict[str, str] = {"train": "train", "val": "val", "validation": "val", "valid": "val", "test": "test"}


def sniff_csv(path: str) -> bool:
    """An existing .csv/.tsv file."""
    p = Path(path)
    return p.suffix.lower() in (".csv", ".tsv") and p.is_file()


def sniff_jsonl(path: str) -> bool:
    """An existing .jsonl/.ndjson file."""
    p = Path(path)
    return p.suffix.lower() in (".jsonl", ".ndjson") and p.is_file()


def decode_lines(path: Path) -> tuple[list[str], dict[int, str]]:
    """The file's lines (ends kept) and ``{line number: why it is not UTF-8}``.

    Bad lines are decoded with U+FFFD replacements so that the CSV structure survives and the
    row can be reported (and skipped) on its own.
    """
    data = zooft.read_data_file(path)  # regular files only, size-capped (zooft/data/files.py)
    if data.startswith(b"\xef\xbb\xbf"):  # Excel's UTF-8 byte order mark
        data = data[3:]
    lines: list[str] = []
    bad: dict[int, str] = {}
    for number, raw in enumerate(data.splitlines(keepends=True), start=1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            bad[number] = f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); save the file as UTF-8"
            lines.append(raw.decode("utf-8", errors="replace"))
    return lines, bad


def _pick(header: list[str], wanted: str | None, defaults: tuple[str, ...], what: str, path: Path, flag: str) -> int:
    lowered = [h.strip().lower() for h in header]
    if wanted:
        if wanted.strip().lower() in lowered:
            return lowered.index(wanted.strip().lower())
        raise zooft.DataError(f"{path} has no {what} column {wanted!r} (its columns: {', '.join(header)})", hint=f"pass {flag} with one of them")
    for name in defaults:
        if name in lowered:
            return lowered.index(name)
    raise zooft.DataError(
        f"{path} has no {what} column (its columns: {', '.join(header)}; looked for {', '.join(defaults)})",
        hint=f"name it with {flag} COLUMN",
    )


def _split_of(value: str) -> str | None:
    return SPLIT_VALUES.get(value.strip().lower())


def load_csv(path: str, *, text_column: str | None = None, label_column: str | None = None,
             multi_label: bool = False, skip_bad_files: bool = False, **_: Any) -> zooft.LabeledData:
    """Index a CSV/TSV file of texts and labels (see the module docstring)."""
    file = Path(os.path.abspath(path))
    lines, bad = decode_lines(file)
    if not lines:
        raise zooft.DataError(f"{file} is empty", hint="start it with a header such as 'text,label'")
    if file.suffix.lower() == ".tsv":
        delimiter = "\t"
    else:
        counts = {d: lines[0].count(d) for d in (",", ";", "\t")}
        delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    reader = csv.reader(io.StringIO("".join(lines), newline=""), delimiter=delimiter)
    try:
        header = next(reader)
        text_col = _pick(header, text_column, TEXT_COLUMNS, "text", file, "--text-column")
        label_col = _pick(header, label_column, LABEL_COLUMNS, "label", file, "--label-column")
        split_col = [h.strip().lower() for h in header].index("split") if "split" in [h.strip().lower() for h in header] else None
        rows: list[Row] = []
        end = reader.line_num
        for cells in reader:
            start, end = end + 1, reader.line_num  # a quoted cell may span lines
            if not any(cell.strip() for cell in cells):
                continue
            origin = f"{file.name} line {start}"
            broken = next((f"line {n}: {bad[n]}" if n != start else bad[n] for n in range(start, end + 1) if n in bad), None)
            needed = max(c for c in (text_col, label_col, split_col) if c is not None) + 1
            if broken or len(cells) < needed:
                rows.append(Row(origin, None, [], problem=broken or f"{len(cells)} columns, the header has {len(header)}"))
                continue
            split = "train"
            if split_col is not None:
                split = _split_of(cells[split_col]) or ""
                if not split:
                    rows.append(Row(origin, None, [], problem=f"{cells[split_col]!r} is not a split; use train, val or test"))
                    continue
            rows.append(Row(origin, cells[text_col].strip(), split_labels(cells[label_col]), split))
    except csv.Error as exc:
        raise zooft.DataError(f"{file} line {reader.line_num}: malformed CSV: {exc}", hint="check the quotes on that line") from None
    return build_data(rows, root=str(file), format=CSV_FORMAT, multi_label=multi_label, skip_bad_files=skip_bad_files)


def load_jsonl(path: str, *, text_column: str | None = None, label_column: str | None = None,
               multi_label: bool = False, skip_bad_files: bool = False, **_: Any) -> zooft.LabeledData:
    """Index a JSON-lines file of ``{"text": ..., "label": ...[, "split": ...]}`` objects."""
    file = Path(os.path.abspath(path))
    lines, bad = decode_lines(file)
    rows: list[Row] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        origin = f"{file.name} line {number}"
        if number in bad:
            rows.append(Row(origin, None, [], problem=bad[number]))
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            rows.append(Row(origin, None, [], problem=f"not valid JSON ({exc.msg})"))
            continue
        if not isinstance(record, dict):
            rows.append(Row(origin, None, [], problem=f"expected a JSON object, got {type(record).__name__}"))
            continue
        keys = list(record)
        try:
            text_key = keys[_pick(keys, text_column, TEXT_COLUMNS, "text", file, "--text-column")]
            label_key = keys[_pick(keys, label_column, LABEL_COLUMNS, "label", file, "--label-column")]
        except zooft.DataError as exc:  # one record without the field is a bad row, not a bad file
            rows.append(Row(origin, None, [], problem=str(exc).split(" has ", 1)[-1]))
            continue
        text = record.get(text_key)
        split = _split_of(str(record.get("split", "train")))
        if split is None:
            rows.append(Row(origin, None, [], problem=f"{record.get('split')!r} is not a split; use train, val or test"))
            continue
        rows.append(Row(origin, str(text).strip() if text is not None else None, split_labels(record.get(label_key)), split))
    if not rows:
        raise zooft.DataError(f"{file} holds no records", hint='write one JSON object per line: {"text": "...", "label": "..."}')
    return build_data(rows, root=str(file), format=JSONL_FORMAT, multi_label=multi_label, skip_bad_files=skip_bad_files)
