"""The one way zooft_coco reads an annotation file: a regular file, size-capped, errors with line numbers.

Annotation files come from other people's exports; a FIFO, a device or a 40 GB file passed by
mistake must fail in one line rather than hang or fill memory.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import zooft

#: Largest annotation file read (COCO's train2017 instances file is ~450 MB).
MAX_BYTES = 2 << 30


def read_annotation_file(path: str | os.PathLike[str], *, hint: str) -> bytes:
    """The bytes of ``path`` under the host's data-file rule (:func:`zooft.read_data_file`:
    regular files only, checked before opening, never more than :data:`MAX_BYTES`);
    :class:`zooft.DataError` with ``hint`` when it is missing, not a regular file, too large
    or unreadable."""
    try:
        return zooft.read_data_file(path, max_bytes=MAX_BYTES)
    except zooft.DataFileError as exc:
        raise zooft.DataError(str(exc), hint=hint) from None


def read_json(path: Path, *, hint: str) -> Any:
    """Parsed JSON; malformed JSON names the file, line and column."""
    data = read_annotation_file(path, hint=hint)
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise zooft.DataError(f"{path}: not UTF-8 text (byte {exc.start})", hint=hint) from None
    except json.JSONDecodeError as exc:
        raise zooft.DataError(f"{path}: line {exc.lineno}, column {exc.colno}: malformed JSON: {exc.msg}", hint=hint) from None


def read_xml(path: Path, *, hint: str) -> ET.Element:
    """The root element; malformed XML names the file and line. Entity expansion is refused
    (no DTDs in annotation files), so a 'billion laughs' file cannot blow up memory."""
    data = read_annotation_file(path, hint=hint)
    if b"<!ENTITY" in data:
        raise zooft.DataError(f"{path}: XML entity declarations are not accepted in annotation files", hint=hint)
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        message = str(exc).split(":")[0]
        raise zooft.DataError(f"{path}: line {line}, column {column + 1}: malformed XML: {message}", hint=hint) from None
