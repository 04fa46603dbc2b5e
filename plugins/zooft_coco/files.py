"""The one way zooft_coco reads an annotation file: a regular file, size-capped, errors with line numbers.

Annotation files come from other people's exports; a FIFO, a device or a 40 GB file passed by
mistake must fail in one line rather than hang or fill memory.
"""

from __future__ import annotations

import json
import os
import stat
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import zooft

#: Largest annotation file read (COCO's train2017 instances file is ~450 MB).
MAX_BYTES = 2 << 30


def read_annotation_file(path: str | os.PathLike[str], *, hint: str) -> bytes:
    """The bytes of ``path``; :class:`zooft.DataError` (with ``hint``) when it is missing, not a
    regular file, larger than :data:`MAX_BYTES` or unreadable."""
    name = os.fspath(path)
    try:
        info = os.stat(name)
        if not stat.S_ISREG(info.st_mode):
            raise zooft.DataError(f"{name} is not a regular file", hint=hint)
        if info.st_size > MAX_BYTES:
            raise zooft.DataError(f"{name} is {info.st_size / 2**30:.1f} GiB, above the {MAX_BYTES >> 30} GiB limit for annotation files", hint=hint)
        with open(name, "rb") as handle:
            return handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise zooft.DataError(f"cannot read {name}: {exc.strerror or exc}", hint=hint) from None


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
