"""Finding TFRecord files and their label map, and naming their splits (no TensorFlow).

A record file is named ``*.tfrecord``, ``*.tfrecords``, ``*.record`` or is a shard
``…-00000-of-00010`` (possibly after one of those suffixes), optionally GZIP-compressed with
a ``.gz`` suffix. ``--data`` is one such file or a
folder holding them; each file's split comes from its name (``train``, ``val``/``valid``/
``eval``/``validation``, ``test``), unnamed files are ``train``. A label map is a ``.pbtxt``
beside the records: ``item { id: 1 name: 'cat' }`` (``display_name`` is used when there is no
``name``).
"""

from __future__ import annotations

import re
from pathlib import Path

import zooft

SUFFIXES = (".tfrecord", ".tfrecords", ".record", ".records")
_SHARD = re.compile(r"-\d{5}-of-\d{5}$")
_SPLIT_WORDS = (("train", "train"), ("validation", "val"), ("valid", "val"), ("val", "val"), ("eval", "val"), ("test", "test"))
_ITEM = re.compile(r"item\s*\{(.*?)\}", re.S)
_FIELD = re.compile(r"(\w+)\s*:\s*(?:\"((?:[^\"\\]|\\.)*)\"|'((?:[^'\\]|\\.)*)'|(-?\d+))")
MAX_LABEL_MAP_BYTES = 16 << 20


def is_record_file(path: Path) -> bool:
    """By name only: a TFRecord suffix or a shard pattern."""
    name = path.name.lower().removesuffix(".gz")  # GZIP-compressed records (read as such)
    stem = _SHARD.sub("", name)
    return path.is_file() and (stem != name or stem.endswith(SUFFIXES))


def record_files(path: str) -> list[Path]:
    """The record files ``path`` names: itself, or the ones directly inside the folder (sorted)."""
    p = Path(path)
    if p.is_file():
        return [p] if is_record_file(p) else []
    if p.is_dir():
        return sorted(f for f in p.iterdir() if is_record_file(f))
    return []


def split_of(file: Path) -> str:
    """``coco_val.record-00000-of-00010`` -> ``val``; no split word -> ``train``."""
    words = re.split(r"[^a-z]+", file.name.lower())
    for word, split in _SPLIT_WORDS:
        if word in words:
            return split
    return "train"


def label_map_file(files: list[Path]) -> Path | None:
    """The one ``.pbtxt`` beside the records, if any (several: the one named like a label map)."""
    folder = files[0].parent
    found = sorted(f for f in folder.glob("*.pbtxt") if f.is_file())
    if len(found) > 1:
        named = [f for f in found if "label" in f.name.lower()]
        found = named if len(named) == 1 else found
    if len(found) > 1:
        raise zooft.DataError(f"{folder} holds several .pbtxt files: {', '.join(f.name for f in found)}",
                              hint="keep one label map (item { id: 1 name: 'cat' }) beside the records")
    return found[0] if found else None


def read_label_map(file: Path) -> dict[int, str]:
    """``{id: name}`` from a label map ``.pbtxt``; one-line errors name the file and the item."""
    try:
        text = zooft.read_data_file(file, max_bytes=MAX_LABEL_MAP_BYTES).decode("utf-8")
    except (zooft.DataFileError, UnicodeDecodeError) as exc:
        raise zooft.DataError(f"cannot read label map {file}: {exc}", hint="a UTF-8 text file of item { id: 1 name: 'cat' }") from None
    classes: dict[int, str] = {}
    for n, item in enumerate(_ITEM.findall(text), start=1):
        fields = {m[0]: m[1] or m[2] or m[3] for m in _FIELD.findall(item)}
        name = fields.get("name") or fields.get("display_name")
        if "id" not in fields or not fields["id"].lstrip("-").isdigit() or not name:
            raise zooft.DataError(f"{file}: item {n} needs a whole-number id and a name, got {{{item.strip()}}}",
                                  hint="write items as item { id: 1 name: 'cat' }")
        cid = int(fields["id"])
        if cid in classes and classes[cid] != name:
            raise zooft.DataError(f"{file}: id {cid} is both {classes[cid]!r} and {name!r}", hint="give each id one name")
        classes[cid] = name
    if not classes:
        raise zooft.DataError(f"{file}: no items found", hint="write items as item { id: 1 name: 'cat' }")
    return classes


def sniff(path: str) -> bool:
    """A record file, or a folder with record files (names only: no TensorFlow, no reading)."""
    return bool(record_files(path))
