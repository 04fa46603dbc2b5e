"""Pascal VOC: ``Annotations/*.xml`` (one per image) with ``object/name`` and ``bndbox``.

``--data`` is the VOC folder: ``Annotations/``, ``JPEGImages/`` (or ``images=DIR`` through
``--data-options``), optional ``ImageSets/Main/{train,val,trainval,test}.txt`` naming the split
of each image id (``trainval`` counts as train when there is no ``train.txt``). Classes are the
object names found, sorted.

The image is ``<filename>`` when that file exists, else the XML's own stem with the usual image
extensions (``Annotations/000001.xml`` -> ``JPEGImages/000001.jpg``): many exports write a
``<filename>`` that is not the file's name. ``<folder>``, ``truncated`` and ``occluded`` are
ignored. Objects that are not boxes (CVAT / LabelImg ``<polygon>``, ``<line>``, ``<point>``,
``<circle>``, or no ``<bndbox>``) are left out and counted in a data warning; the image's boxes
are kept. ``difficult`` objects are kept with ``target["difficult"]``: evaluation ignores them
(VOC's protocol), training treats them as the detect task's ``difficult`` option says.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import zooft

from .check import check_box
from .files import read_annotation_file, read_xml

FORMAT = "voc"
HINT = "a Pascal VOC folder: Annotations/*.xml, JPEGImages/, optional ImageSets/Main/{train,val,test}.txt; see docs/detection.md"
OPTIONS = {"images": "folder holding the images, instead of JPEGImages/"}
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".JPG", ".JPEG", ".PNG")
_SPLIT_FILES = (("train", "train"), ("val", "val"), ("test", "test"), ("trainval", "train"))
_SHAPES = ("polygon", "polyline", "line", "point", "points", "circle", "ellipse", "cubic_bezier", "keypoints")


def sniff(path: str) -> bool:
    """A folder with ``Annotations/*.xml``."""
    p = Path(path)
    return p.is_dir() and (p / "Annotations").is_dir() and any((p / "Annotations").glob("*.xml"))


def _text(node: ET.Element | None, tag: str) -> str | None:
    child = node.find(tag) if node is not None else None
    return child.text.strip() if child is not None and child.text and child.text.strip() else None


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and value == value and abs(value) != float("inf") else None


def _image_file(images: Path, xml: Path, filename: str | None) -> Path | None:
    if filename and (images / filename).is_file():
        return images / filename
    for ext in IMAGE_EXTENSIONS:
        if (images / f"{xml.stem}{ext}").is_file():
            return images / f"{xml.stem}{ext}"
    return None


def _shape_of(obj: ET.Element) -> str:
    for child in obj:
        if child.tag.lower() in _SHAPES:
            return child.tag.lower()
    return "no bndbox"


def _size(doc: ET.Element, name: str, problems: list[str]) -> tuple[float | None, float | None]:
    size = doc.find("size")
    out = []
    for key in ("width", "height"):
        text = _text(size, key)
        value = _number(text)
        if text is not None and (value is None or value < 0):
            problems.append(f"{name}: size/{key} must be a number ≥ 0, got {text!r}")
        out.append(value or None)  # 0 means unknown in many exports
    return out[0], out[1]


def _objects(doc: ET.Element, name: str, width: float | None, height: float | None, problems: list[str],
             shapes: Counter[str]) -> list[tuple[list[float], str, int]]:
    found = []
    for i, obj in enumerate(doc.findall("object")):
        label = _text(obj, "name")
        what = f"{name} object {i}" + (f" ({label})" if label else "")
        box_node = obj.find("bndbox")
        if box_node is None:
            shapes[_shape_of(obj)] += 1
            continue
        if not label:
            problems.append(f"{what}: no <name>")
            continue
        texts = [_text(box_node, k) for k in ("xmin", "ymin", "xmax", "ymax")]
        values = [_number(t) for t in texts]
        bad = [f"{k}={t!r}" for k, t, v in zip(("xmin", "ymin", "xmax", "ymax"), texts, values) if v is None]
        if bad:
            problems.append(f"{what}: bndbox needs numeric xmin, ymin, xmax, ymax, got {', '.join(bad)}")
            continue
        difficult_text = _text(obj, "difficult") or "0"
        difficult = _number(difficult_text)
        if difficult not in (0.0, 1.0):
            problems.append(f"{what}: difficult must be 0 or 1, got {difficult_text!r}")
            continue
        x0, y0, x1, y1 = (float(v) for v in values)  # type: ignore[arg-type]
        # VOC pixel indices are 1-based and inclusive: xmin=1 is the first column
        box, problem = check_box([x0 - 1, y0 - 1, x1, y1], width, height, what)
        if problem or box is None:
            problems.append(problem or f"{what}: bad box")
            continue
        found.append((box, label, int(difficult)))
    return found


def _split_of(root: Path) -> dict[str, str]:
    split_of: dict[str, str] = {}
    for stem, split in _SPLIT_FILES:
        listing = root / "ImageSets" / "Main" / f"{stem}.txt"
        if listing.is_file():
            for line in read_annotation_file(listing, hint=HINT).decode("utf-8", errors="replace").splitlines():
                parts = line.split()
                if parts:  # "000005" or the per-class "000005  1" form
                    split_of.setdefault(parts[0], split)
    return split_of


def load(path: str, *, images: str | None = None, **_: Any) -> zooft.LabeledData:
    """Index a VOC folder."""
    root = Path(path).resolve()
    image_dir = Path(images).expanduser().resolve() if images else root / "JPEGImages"
    if not image_dir.is_dir():
        raise zooft.DataError(f"image folder {image_dir} does not exist",
                              hint="VOC keeps images in JPEGImages/; name another folder with --data-options images=DIR")
    records = []
    skipped: list[tuple[str, str]] = []
    shapes: Counter[str] = Counter()
    for xml in sorted((root / "Annotations").glob("*.xml")):
        try:
            doc = read_xml(xml, hint=HINT)
        except zooft.DataError as exc:
            skipped.append((str(xml), str(exc).removeprefix(f"{xml}: ")))
            continue
        problems: list[str] = []
        filename = _text(doc, "filename")
        image = _image_file(image_dir, xml, filename)
        if image is None:
            tried = f"{filename!r} or " if filename else ""
            problems.append(f"{xml.name}: image file not found ({tried}{xml.stem} + .jpg/.png/... in {image_dir})")
        width, height = _size(doc, xml.name, problems)
        objects = _objects(doc, xml.name, width, height, problems, shapes)
        if problems:
            skipped.extend((str(image or xml), p) for p in problems)
            continue
        records.append((xml.stem, str(image), objects, width, height))
    classes = sorted({label for _, _, objects, _, _ in records for _, label, _ in objects})
    index = {c: i for i, c in enumerate(classes)}
    split_of = _split_of(root)
    splits: dict[str, list[zooft.Example]] = {}
    for stem, source, objects, width, height in records:
        split = split_of.get(stem, "train") if split_of else "train"
        labels = [index[label] for _, label, _ in objects]
        difficult = [d for _, _, d in objects]
        splits.setdefault(split, []).append(zooft.Example(
            source, tuple(sorted(set(labels))),
            {"boxes": [b for b, _, _ in objects], "labels": labels, "difficult": difficult,
             "image_id": stem, "width": width, "height": height}))
    warnings = []
    if shapes:
        kinds = ", ".join(f"{kind}: {n}" for kind, n in sorted(shapes.items()))
        warnings.append(f"{sum(shapes.values())} objects that are not boxes were ignored ({kinds}); their images' boxes are kept")
    return zooft.LabeledData(classes=classes, splits=splits, format=FORMAT, root=str(root), skipped=skipped,
                             empty_classes="warn", warnings=warnings)
