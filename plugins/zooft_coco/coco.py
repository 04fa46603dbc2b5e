"""COCO JSON (``instances_*.json``): images, annotations with ``bbox [x, y, w, h]``, categories.

``--data`` is the JSON file, or a directory holding ``annotations.json`` / ``instances*.json``
(one file: everything is ``train``; ``train.json``/``val.json``/``test.json`` next to each
other: those splits). Image paths (``file_name``) are relative to the JSON file's directory,
or to an ``images/`` folder beside it. Crowd annotations (``iscrowd: 1``) are left out.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import zooft

from .check import check_box, image_problem

FORMAT = "coco"
_SPLIT_FILES = ("train", "val", "test")


def _json_files(path: str) -> dict[str, Path]:
    p = Path(path)
    if p.is_file():
        return {"train": p} if p.suffix.lower() == ".json" else {}
    if not p.is_dir():
        return {}
    splits = {s: p / f"{s}.json" for s in _SPLIT_FILES if (p / f"{s}.json").is_file()}
    if splits:
        return splits
    for name in ["annotations.json", *sorted(x.name for x in p.glob("instances*.json"))]:
        if (p / name).is_file():
            return {"train": p / name}
    if (p / "annotations").is_dir():
        return _json_files(str(p / "annotations"))
    return {}


def sniff(path: str) -> bool:
    """A JSON file (or a folder with one) whose top level has ``images`` and ``annotations``."""
    files = _json_files(path)
    if not files:
        return False
    try:
        with open(next(iter(files.values())), encoding="utf-8") as handle:
            head = handle.read(1 << 16)
    except OSError:
        return False
    return '"images"' in head or '"annotations"' in head or '"categories"' in head


def _read(file: Path) -> dict[str, Any]:
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise zooft.DataError(f"cannot read COCO file {file}: {exc}", hint="check it is valid COCO JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list) or not isinstance(doc.get("categories"), list):
        raise zooft.DataError(f"{file} is not COCO JSON (needs images, annotations, categories lists)")
    return doc


def _image_path(file: Path, name: str) -> str:
    base = file.parent
    for root in (base, base / "images", base.parent / "images", base.parent):
        candidate = root / name
        if candidate.is_file():
            return str(candidate.resolve())
    return str((base / name).resolve())


def load(path: str, **_: Any) -> zooft.LabeledData:
    """Index a COCO data set; classes are the category names ordered by category id."""
    files = _json_files(path)
    if not files:
        raise zooft.DataError(f"no COCO annotation file at {path}", hint="pass the .json file or its folder")
    docs = {split: _read(file) for split, file in files.items()}
    categories: dict[int, str] = {}
    for doc in docs.values():
        for cat in doc["categories"]:
            categories.setdefault(int(cat["id"]), str(cat["name"]))
    classes = [categories[i] for i in sorted(categories)]
    index = {cid: classes.index(name) for cid, name in categories.items()}
    splits: dict[str, list[zooft.Example]] = {}
    skipped: list[tuple[str, str]] = []
    for split, doc in docs.items():
        file = files[split]
        images = {int(img["id"]): img for img in doc["images"]}
        per_image: dict[int, list[tuple[list[float], int]]] = {i: [] for i in images}
        bad: dict[int, list[str]] = {}
        for ann in doc.get("annotations") or []:
            ann_id, image_id = ann.get("id"), ann.get("image_id")
            what = f"annotation {ann_id}"
            if image_id not in images:
                skipped.append((str(file), f"{what}: image_id {image_id} is not in the images list"))
                continue
            if ann.get("iscrowd"):
                continue
            if ann.get("category_id") not in index:
                bad.setdefault(image_id, []).append(f"{what}: unknown category_id {ann.get('category_id')}")
                continue
            img = images[image_id]
            bbox = ann.get("bbox") or []
            corners = [bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3]] if len(bbox) == 4 else bbox
            box, problem = check_box(corners, img.get("width"), img.get("height"), what)
            if problem:
                bad.setdefault(image_id, []).append(problem)
                continue
            per_image[image_id].append((box, index[ann["category_id"]]))
        examples = []
        for image_id, img in images.items():
            source = _image_path(file, str(img.get("file_name", "")))
            missing = image_problem(source, f"image {image_id}")
            problems = ([missing] if missing else []) + bad.get(image_id, [])
            if problems:
                skipped.extend((source, p) for p in problems)
                continue
            objects = per_image[image_id]
            labels = tuple(sorted({c for _, c in objects}))
            examples.append(zooft.Example(
                source, labels, {"boxes": [b for b, _ in objects], "labels": [c for _, c in objects],
                                 "image_id": image_id, "width": img.get("width"), "height": img.get("height")}))
        splits[split] = examples
    root = str(Path(path).resolve())
    return zooft.LabeledData(classes=classes, splits=splits, format=FORMAT, root=root, skipped=skipped)


def category_ids(path: str) -> dict[str, int]:
    """``{class name: COCO category id}`` of a data set (to turn predictions back into COCO results)."""
    files = _json_files(os.fspath(path))
    doc = _read(next(iter(files.values())))
    return {str(c["name"]): int(c["id"]) for c in doc["categories"]}
