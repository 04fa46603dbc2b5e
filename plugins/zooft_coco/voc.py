"""Pascal VOC: ``Annotations/*.xml`` (one per image) with ``object/name`` and ``bndbox``.

``--data`` is the VOC folder (``Annotations/``, ``JPEGImages/``, optional
``ImageSets/Main/{train,val,test}.txt`` naming the split of each image id). Classes are the
object names found, sorted. ``difficult`` objects are kept (VOC's own metric ignores them).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import zooft

from .check import check_box, image_problem

FORMAT = "voc"


def sniff(path: str) -> bool:
    """A folder with ``Annotations/*.xml``."""
    p = Path(path)
    return p.is_dir() and (p / "Annotations").is_dir() and any((p / "Annotations").glob("*.xml"))


def _text(node: ET.Element | None, tag: str) -> str | None:
    child = node.find(tag) if node is not None else None
    return child.text.strip() if child is not None and child.text else None


def load(path: str, **_: Any) -> zooft.LabeledData:
    """Index a VOC folder."""
    root = Path(path).resolve()
    records = []
    skipped: list[tuple[str, str]] = []
    for xml in sorted((root / "Annotations").glob("*.xml")):
        try:
            doc = ET.parse(xml).getroot()
        except ET.ParseError as exc:
            skipped.append((str(xml), f"malformed XML: {exc}"))
            continue
        name = _text(doc, "filename") or f"{xml.stem}.jpg"
        source = str(root / "JPEGImages" / name)
        size = doc.find("size")
        width, height = (float(_text(size, k) or 0) or None for k in ("width", "height"))
        objects, problems = [], []
        missing = image_problem(source, f"{xml.name}")
        if missing:
            problems.append(missing)
        for i, obj in enumerate(doc.findall("object")):
            label = _text(obj, "name")
            box_node = obj.find("bndbox")
            what = f"{xml.name} object {i}"
            if not label or box_node is None:
                problems.append(f"{what}: no name or bndbox")
                continue
            coords = [_text(box_node, k) for k in ("xmin", "ymin", "xmax", "ymax")]
            # VOC pixel indices are 1-based and inclusive: xmin=1 is the first column
            box, problem = check_box([float(coords[0] or "nan") - 1, float(coords[1] or "nan") - 1,
                                      float(coords[2] or "nan"), float(coords[3] or "nan")], width, height, what)
            if problem:
                problems.append(problem)
                continue
            objects.append((box, label))
        if problems:
            skipped.extend((source, p) for p in problems)
            continue
        records.append((xml.stem, source, objects, width, height))
    classes = sorted({label for _, _, objects, _, _ in records for _, label in objects})
    index = {c: i for i, c in enumerate(classes)}
    split_of: dict[str, str] = {}
    for split in ("train", "val", "test"):
        listing = root / "ImageSets" / "Main" / f"{split}.txt"
        if listing.is_file():
            for line in listing.read_text(encoding="utf-8").split():
                split_of.setdefault(line.strip(), split)
    splits: dict[str, list[zooft.Example]] = {}
    for stem, source, objects, width, height in records:
        split = split_of.get(stem, "train") if split_of else "train"
        labels = [index[label] for _, label in objects]
        splits.setdefault(split, []).append(zooft.Example(
            source, tuple(sorted(set(labels))),
            {"boxes": [b for b, _ in objects], "labels": labels, "image_id": stem, "width": width, "height": height}))
    return zooft.LabeledData(classes=classes, splits=splits, format=FORMAT, root=str(root), skipped=skipped)
