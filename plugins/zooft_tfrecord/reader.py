"""Reading ``tf.train.Example`` records into a :class:`zooft.LabeledData` (imports TensorFlow).

Records hold encoded images, not paths, while everything downstream of a data format (the data
check, the tf.data pipelines, ``data.json``, ``zooft eval``) works on image files. So the images
are extracted **once** into ``ZOOFT_HOME/tfrecord/<fingerprint>/`` (the fingerprint covers the
record files' paths, sizes and modification times) together with ``index.json``, the parsed
annotations; a later run on the same records reads that index and starts without TensorFlow's
record parsing. Extraction writes to a temporary folder renamed into place when complete, so an
interrupted run never leaves a half-filled cache behind.

Detection fields (TF Object Detection API / Model Garden): ``image/encoded``, ``image/format``,
``image/height``, ``image/width``, ``image/filename``, ``image/source_id``,
``image/object/bbox/{xmin,ymin,xmax,ymax}`` (normalised 0–1), ``image/object/class/label`` and/or
``image/object/class/text``, optional ``image/object/is_crowd`` and ``image/object/difficult``.
Classification: ``image/encoded`` with ``image/class/label`` and/or ``image/class/text``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import zooft

from .files import label_map_file, read_label_map, record_files, split_of

HINT = ("TFRecord files (.tfrecord/.record or -00000-of-00001 shards) of tf.train.Example with the TF Object"
        " Detection API fields (detection) or image/encoded + image/class/label (classification); see docs/detection.md")
VERSION = "zooft-tfrecord-index-v1"
TOLERANCE = 1.0  # pixels a box may overflow the image (rounding), as for COCO and VOC
_MAGIC = ((b"\xff\xd8", ".jpg"), (b"\x89PNG", ".png"), (b"GIF8", ".gif"), (b"BM", ".bmp"))
_KINDS = {"bytes_list": "bytes", "float_list": "float", "int64_list": "int64"}


class _RecordError(ValueError):
    """A problem with one record (reported with its file and index, the record left out)."""


def _values(example: Any, key: str, kind: str) -> list[Any] | None:
    """The values of feature ``key`` (None when absent); a feature of another type is an error."""
    if key not in example.features.feature:
        return None
    feature = example.features.feature[key]
    found = feature.WhichOneof("kind")
    if found is None:
        return []
    if _KINDS[found] != kind:
        raise _RecordError(f"{key} must be a {kind}_list, got {found}")
    return list(getattr(feature, found).value)


def _one(example: Any, key: str, kind: str) -> Any:
    values = _values(example, key, kind)
    if not values:
        return None
    if len(values) != 1:
        raise _RecordError(f"{key} must hold one value, got {len(values)}")
    return values[0]


def _text(value: bytes | None) -> str | None:
    return value.decode("utf-8", errors="replace") if value is not None else None


def _extension(data: bytes, fmt: str | None) -> str:
    for magic, ext in _MAGIC:
        if data.startswith(magic):
            return ext
    return f".{fmt.lower()}" if fmt and fmt.isalnum() else ".img"


def _image_size(path: Path) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.size
    except Exception:  # any unreadable image: the data check names the exact problem
        return None


def _parse(example: Any, task: str) -> dict[str, Any]:
    """The annotation part of one record (everything but the pixels), value types checked."""
    entry: dict[str, Any] = {
        "width": _one(example, "image/width", "int64"), "height": _one(example, "image/height", "int64"),
        "filename": _text(_one(example, "image/filename", "bytes")),
        "source_id": _text(_one(example, "image/source_id", "bytes")),
    }
    if task == "classify":
        label, text = _one(example, "image/class/label", "int64"), _text(_one(example, "image/class/text", "bytes"))
        if label is None and text is None:
            raise _RecordError("no image/class/label or image/class/text")
        return {**entry, "label": label, "text": text}
    coords = {k: _values(example, f"image/object/bbox/{k}", "float") for k in ("xmin", "ymin", "xmax", "ymax")}
    if all(v is None for v in coords.values()) and _values(example, "image/class/label", "int64") is not None:
        raise _RecordError("no image/object/bbox/* fields but an image/class/label: classification records (use --task classify)")
    n = len(coords["xmin"] or [])
    labels = _values(example, "image/object/class/label", "int64")
    texts = [_text(t) for t in (_values(example, "image/object/class/text", "bytes") or [])] or None
    crowd = _values(example, "image/object/is_crowd", "int64")
    difficult = _values(example, "image/object/difficult", "int64")
    for key, values in (*((f"image/object/bbox/{k}", v) for k, v in coords.items()), ("image/object/class/label", labels),
                        ("image/object/class/text", texts), ("image/object/is_crowd", crowd), ("image/object/difficult", difficult)):
        if values is not None and len(values) != n:
            raise _RecordError(f"{key} has {len(values)} values for {n} boxes (image/object/bbox/xmin)")
    if n and labels is None and texts is None:
        raise _RecordError("boxes without image/object/class/label or image/object/class/text")
    boxes = [[coords[k][i] for k in ("xmin", "ymin", "xmax", "ymax")] for i in range(n)]  # type: ignore[index]
    return {**entry, "boxes": boxes, "labels": labels, "texts": texts,
            "iscrowd": [int(bool(c)) for c in crowd] if crowd else [0] * n,
            "difficult": [int(bool(d)) for d in difficult] if difficult else [0] * n}


def _extract(files: list[Path], folder: Path, task: str) -> dict[str, Any]:
    """Parse every record, write its image under ``folder`` and return the index (see module doc)."""
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    entries: list[dict[str, Any]] = []
    problems: list[list[str]] = []
    try:
        for number, file in enumerate(files):
            compression = "GZIP" if file.suffix.lower() == ".gz" else ""
            i = -1
            try:
                for i, raw in enumerate(tf.data.TFRecordDataset(str(file), compression_type=compression).as_numpy_iterator()):
                    where = f"record {i}"
                    try:
                        example = tf.train.Example.FromString(raw)
                        data = _one(example, "image/encoded", "bytes")
                        if not data:
                            raise _RecordError("no image/encoded bytes")
                        entry = _parse(example, task)
                    except DecodeError as exc:
                        problems.append([str(file), f"{where}: not a tf.train.Example ({exc})"])
                        continue
                    except _RecordError as exc:
                        shown = f" ({entry_id})" if (entry_id := _safe_id(raw)) else ""
                        problems.append([str(file), f"{where}{shown}: {exc}"])
                        continue
                    name = f"{number:03d}-{i:07d}{_extension(data, _text(_one(example, 'image/format', 'bytes')))}"
                    (tmp / name).write_bytes(data)
                    entries.append({**entry, "image": name, "file": str(file), "record": i, "split": split_of(file)})
            except tf.errors.OpError as exc:
                problems.append([str(file), f"record {i + 1}: unreadable ({type(exc).__name__}: {exc.message.splitlines()[0]}); the rest of the file is lost"])
        index = {"version": VERSION, "task": task, "entries": entries, "problems": problems}
        (tmp / "index.json").write_text(json.dumps(index), encoding="utf-8")
        if folder.exists():  # another process finished first: keep its copy
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return index


def _safe_id(raw: bytes) -> str | None:
    import tensorflow as tf

    try:
        example = tf.train.Example.FromString(raw)
        value = example.features.feature["image/source_id"].bytes_list.value if "image/source_id" in example.features.feature else []
        return f"source_id {value[0].decode('utf-8', 'replace')!r}" if value else None
    except Exception:  # only a label for the message
        return None


def _index(files: list[Path], task: str) -> tuple[dict[str, Any], Path]:
    digest = zooft.fingerprint_files(sorted(str(f.resolve()) for f in files), hashlib.sha256(f"{VERSION} {task}".encode()))
    folder = zooft.cache_root() / "tfrecord" / digest.hexdigest()[:24]
    cached = folder / "index.json"
    if cached.is_file():
        try:
            index = json.loads(cached.read_text(encoding="utf-8"))
            if index.get("version") == VERSION:
                return index, folder
        except (OSError, ValueError):
            pass
        shutil.rmtree(folder, ignore_errors=True)  # a damaged cache is rebuilt, never trusted
    folder.parent.mkdir(parents=True, exist_ok=True)
    return _extract(files, folder, task), folder


def _class_names(ids: dict[int, str | None], texts: set[str], label_map: dict[int, str] | None) -> tuple[list[str], dict[int, int], dict[str, int]]:
    """Classes (ordered by id, else by name) and the id -> index, text -> index maps."""
    if label_map is not None:
        order = sorted(label_map)
        names = [label_map[i] for i in order]
    elif ids:
        order = sorted(ids)
        names = [ids[i] or f"class_{i}" for i in order]
    else:
        order, names = [], sorted(texts)
    by_id = {cid: k for k, cid in enumerate(order)}
    by_text = {name: k for k, name in enumerate(names)}
    if len(by_text) != len(names):
        raise zooft.DataError(f"two class ids share one name in {names}", hint="give each class id its own name (label map or class text)")
    return names, by_id, by_text


def _lookup(label: int | None, text: str | None, by_id: dict[int, int], by_text: dict[str, int], have_ids: bool) -> int:
    if have_ids and label is not None:
        if label not in by_id:
            raise _RecordError(f"class label {label} is not in the label map (ids {min(by_id)}..{max(by_id)})" if by_id else f"class label {label} has no name")
        return by_id[label]
    if text is not None and text in by_text:
        return by_text[text]
    raise _RecordError(f"class {text!r} is not in the label map" if text is not None else "an object without a class")


def _pixel_box(box: list[float], width: float, height: float) -> tuple[list[float] | None, str | None]:
    if not all(math.isfinite(v) for v in box):
        return None, f"box {box} has non-finite coordinates"
    x0, y0, x1, y1 = box[0] * width, box[1] * height, box[2] * width, box[3] * height
    if x0 < -TOLERANCE or y0 < -TOLERANCE or x1 > width + TOLERANCE or y1 > height + TOLERANCE:
        return None, f"box {[round(v, 4) for v in box]} lies outside the image (coordinates are normalised to 0–1)"
    x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(width, x1), min(height, y1)
    if x1 - x0 <= 0 or y1 - y0 <= 0:
        return None, f"zero-area box {[round(v, 4) for v in box]} (xmin must be below xmax, ymin below ymax)"
    return [x0, y0, x1, y1], None


def load(path: str, task: str) -> zooft.LabeledData:
    """Index the records at ``path`` for ``task`` (``detect`` or ``classify``)."""
    files = record_files(path)
    if not files:
        raise zooft.DataError(f"no TFRecord files at {path}", hint=HINT)
    map_file = label_map_file(files)
    label_map = read_label_map(map_file) if map_file else None
    index, folder = _index(files, task)
    entries = index["entries"]
    skipped = [(str(f), str(r)) for f, r in index["problems"]]
    key_label, key_text = ("label", "text") if task == "classify" else ("labels", "texts")

    ids: dict[int, str | None] = {}
    texts: set[str] = set()
    for entry in entries:
        labels = [entry[key_label]] if task == "classify" else (entry[key_label] or [])
        names = [entry[key_text]] if task == "classify" else (entry[key_text] or [None] * len(labels))
        for label, text in zip(labels, names):
            if label is not None:
                ids.setdefault(int(label), text)
        texts.update(t for t in ([entry[key_text]] if task == "classify" else (entry[key_text] or [])) if t is not None)
    classes, by_id, by_text = _class_names(ids, texts, label_map)
    have_ids = bool(by_id)

    splits: dict[str, list[zooft.Example]] = {}
    for entry in entries:
        where = f"record {entry['record']}" + (f" (source_id {entry['source_id']!r})" if entry.get("source_id") else "")
        image = folder / entry["image"]
        try:
            if task == "classify":
                label = _lookup(entry["label"], entry["text"], by_id, by_text, have_ids)
                splits.setdefault(entry["split"], []).append(zooft.Example(str(image), label))
                continue
            size = _image_size(image)
            if size is None:
                raise _RecordError("image/encoded is not a readable image")
            width, height = float(size[0]), float(size[1])
            labels_in = entry["labels"] or [None] * len(entry["boxes"])
            texts_in = entry["texts"] or [None] * len(entry["boxes"])
            boxes, labels = [], []
            for k, (box, label, text) in enumerate(zip(entry["boxes"], labels_in, texts_in)):
                pixels, problem = _pixel_box(box, width, height)
                if problem or pixels is None:
                    raise _RecordError(f"object {k}: {problem}")
                try:
                    labels.append(_lookup(label, text, by_id, by_text, have_ids))
                except _RecordError as exc:
                    raise _RecordError(f"object {k}: {exc}") from None
                boxes.append(pixels)
        except _RecordError as exc:
            skipped.append((entry["file"], f"{where}: {exc}"))
            continue
        trained = {c for c, crowd in zip(labels, entry["iscrowd"]) if not crowd}
        splits.setdefault(entry["split"], []).append(zooft.Example(str(image), tuple(sorted(trained)), {
            "boxes": boxes, "labels": labels, "iscrowd": entry["iscrowd"], "difficult": entry["difficult"],
            "image_id": entry.get("source_id") or f"{Path(entry['file']).name}:{entry['record']}",
            "width": width, "height": height}))
    return zooft.LabeledData(
        classes=classes, splits=splits, format=f"tfrecord-{task}", root=str(Path(path).resolve()), skipped=skipped,
        empty_classes="warn" if label_map is not None or task == "detect" else "error",
    )


def load_detect(path: str, **_: Any) -> zooft.LabeledData:
    """The ``tfrecord-detect`` format's loader."""
    return load(path, "detect")


def load_classify(path: str, **_: Any) -> zooft.LabeledData:
    """The ``tfrecord-classify`` format's loader."""
    return load(path, "classify")

