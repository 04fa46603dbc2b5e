"""COCO JSON (``instances_*.json``): images, annotations with ``bbox [x, y, w, h]``, categories.

``--data`` is a COCO JSON file or a folder in one of the layouts exporters write (checked in
this order; see docs/detection.md):

- ``train.json`` / ``val.json`` / ``test.json`` side by side (zooft's own demo data);
- Roboflow's COCO export: split folders ``train/``, ``valid/`` (= val), ``test/``, each holding
  ``_annotations.coco.json`` with its images beside it (or one such folder);
- COCO's own layout: ``annotations/instances_<split>.json`` with the images in ``<split>/``
  (``val2017/``) or ``images/<split>/``; CVAT's "COCO 1.0" export:
  ``annotations/instances_default.json`` with ``images/``; or ``annotations.json`` /
  ``instances*.json`` in the folder itself. Several ``instances_*.json`` files become the
  splits their names say (``train2017``, ``val2017``, ``test``).

One file without a split name is ``train`` (the host carves the validation split). Images are
found under the first candidate folder that holds them (the JSON's folder, ``images/``,
``<split>/``, ``images/<split>/``, the dataset root), or under ``images=DIR``
(``--data-options``) for any other layout.

Every category is a class, ordered by id, also those without boxes (a COCO-trained label map
stays whole; Roboflow's placeholder category 0 is one): the host's class check warns about
them. Crowd annotations (``iscrowd: 1``) are kept with ``target["iscrowd"]``: ignore regions in
training and in evaluation, as pycocotools treats them. Wrong value types fail with the file and
the entry; problems of one image (a box outside it, an unknown category, a missing file) leave
that image out with ``--skip-bad-files``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zooft

from .check import check_box
from .files import read_json

FORMAT = "coco"
ROBOFLOW_FILE = "_annotations.coco.json"
HINT = "COCO JSON: a .json with images, annotations (bbox [x, y, w, h]) and categories; see docs/detection.md"
OPTIONS = {"images": "folder holding the images (file_name is relative to it) when the layout is not a standard one"}
_SPLITS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
_SAMPLE = 50  # file names tried per candidate image folder


@dataclass(frozen=True)
class Source:
    """One annotation file, the split it is, and the folders its ``file_name``s may be relative to."""

    split: str
    file: Path
    roots: tuple[Path, ...]


def _split_of(stem: str) -> str | None:
    """``instances_val2017`` -> ``val``; ``instances_default`` -> None."""
    name = stem.lower().removeprefix("instances_").removeprefix("instances")
    for prefix, split in sorted(_SPLITS.items(), key=lambda kv: -len(kv[0])):
        if name.startswith(prefix):
            return split
    return None


def _roots(file: Path) -> tuple[Path, ...]:
    base = file.parent
    top = base.parent if base.name.lower() == "annotations" else base
    name = file.stem.removeprefix("instances_")
    found = [base, base / "images", top / name, top / "images" / name, top / "images", top]
    return tuple(dict.fromkeys(found))


def _from_files(files: list[Path]) -> list[Source]:
    if len(files) == 1:
        return [Source("train", files[0], _roots(files[0]))]
    splits = [_split_of(f.stem) for f in files]
    if None in splits or len(set(splits)) != len(splits):
        names = ", ".join(f.name for f in files)
        raise zooft.DataError(
            f"{files[0].parent} holds several COCO files whose names do not say one split each: {names}",
            hint="pass one .json file as --data, or name them instances_train*.json / instances_val*.json / instances_test*.json",
        )
    return [Source(str(s), f, _roots(f)) for s, f in zip(splits, files)]


def sources(path: str) -> list[Source]:
    """The annotation files of ``path`` (see the module docstring); ``[]`` when there are none.
    Only looks at names: cheap enough for ``sniff``."""
    p = Path(path)
    if p.is_file():
        return [Source("train", p, _roots(p))] if p.suffix.lower() == ".json" else []
    if not p.is_dir():
        return []
    plain = [Source(s, p / f"{s}.json", (p, p / "images")) for s in ("train", "val", "test") if (p / f"{s}.json").is_file()]
    if plain:
        return plain
    roboflow = [Source(_SPLITS[d.name.lower()], d / ROBOFLOW_FILE, (d,)) for d in sorted(p.iterdir())
                if d.name.lower() in _SPLITS and (d / ROBOFLOW_FILE).is_file()]
    if roboflow:
        return roboflow
    if (p / ROBOFLOW_FILE).is_file():
        return [Source("train", p / ROBOFLOW_FILE, (p,))]
    for folder in (p, p / "annotations"):
        if not folder.is_dir():
            continue
        if (folder / "annotations.json").is_file():
            return _from_files([folder / "annotations.json"])
        files = sorted(f for f in folder.glob("instances*.json") if f.is_file())
        if files:
            return _from_files(files)
    return []


def sniff(path: str) -> bool:
    """A COCO JSON file, or a folder in one of the layouts above (reads 64 KiB of one file)."""
    try:
        found = sources(path)
    except zooft.DataError:
        return True  # clearly COCO files, ambiguous splits: load says what to do
    if not found:
        return False
    try:
        with open(found[0].file, encoding="utf-8", errors="replace") as handle:
            head = handle.read(1 << 16)
    except OSError:
        return False
    return '"images"' in head or '"annotations"' in head or '"categories"' in head


# -- value checks ---------------------------------------------------------------------------------


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> float | None:
    """A finite float, or None for anything else (strings, bools, NaN, infinities)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


class _Fatal:
    """Collects file-level errors and raises the first as one line."""

    def __init__(self, file: Path) -> None:
        self.file = file

    def __call__(self, message: str) -> zooft.DataError:
        return zooft.DataError(f"{self.file}: {message}", hint=HINT)


def _categories(doc: dict[str, Any], fatal: _Fatal, warnings: list[str]) -> dict[int, str]:
    found: dict[int, str] = {}
    for i, cat in enumerate(doc["categories"]):
        if not isinstance(cat, dict):
            raise fatal(f"categories[{i}] must be an object, got {_show(cat)}")
        cid, name = cat.get("id"), cat.get("name")
        if not _is_int(cid):
            raise fatal(f"category {_show(cid)}: id must be a whole number, got {_show(cid)}")
        if not isinstance(name, str) or not name.strip():
            raise fatal(f"category id {cid}: name must be a non-empty string, got {_show(name)}")
        if cid in found:
            if found[cid] != name:
                raise fatal(f"category id {cid} appears twice, as {found[cid]!r} and {name!r}")
            warnings.append(f"{fatal.file}: category id {cid} ({name}) is listed twice")
            continue
        found[cid] = name
    return found


def _images(doc: dict[str, Any], fatal: _Fatal) -> tuple[dict[int, dict[str, Any]], dict[int, list[str]]]:
    images: dict[int, dict[str, Any]] = {}
    problems: dict[int, list[str]] = {}
    for i, img in enumerate(doc["images"]):
        if not isinstance(img, dict):
            raise fatal(f"images[{i}] must be an object, got {_show(img)}")
        iid = img.get("id")
        if not _is_int(iid):
            raise fatal(f"image {_show(iid)} (images[{i}]): id must be a whole number, got {_show(iid)}")
        if iid in images:
            raise fatal(f"image id {iid} appears twice ({images[iid].get('file_name')!r} and {img.get('file_name')!r})")
        images[iid] = img
        what = f"image id {iid}"
        if not isinstance(img.get("file_name"), str) or not img["file_name"].strip():
            problems.setdefault(iid, []).append(f"{what}: file_name must be a non-empty string, got {_show(img.get('file_name'))}")
        for key in ("width", "height"):
            if key in img and img[key] is not None and not ((_number(img[key]) or 0) > 0):
                problems.setdefault(iid, []).append(f"{what}: {key} must be a positive number, got {_show(img[key])}")
    return images, problems


def _bbox(ann: dict[str, Any], what: str) -> tuple[list[float] | None, str | None]:
    bbox = ann.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4:
        return None, f"{what}: bbox must be 4 numbers [x, y, width, height], got {_show(bbox)}"
    values = [_number(v) for v in bbox]
    if any(v is None for v in values):
        return None, f"{what}: bbox must be 4 finite numbers, got {_show(bbox)}"
    x, y, w, h = (float(v) for v in values)  # type: ignore[arg-type]
    if w <= 0 or h <= 0:
        return None, f"{what}: bbox width and height must be > 0, got {_show(bbox)}"
    return [x, y, x + w, y + h], None


def _pick_root(source: Source, names: list[str], images_dir: str | None) -> Path:
    """The candidate folder holding most of a sample of the images (the first on ties)."""
    if images_dir:
        return Path(images_dir).expanduser().resolve()
    sample = [n for n in names if n][:_SAMPLE]
    best, hits = source.roots[0], 0
    for root in source.roots:
        found = sum((root / n).is_file() for n in sample)
        if found > hits:
            best, hits = root, found
    if sample and not hits:
        tried = ", ".join(str(r) for r in source.roots)
        raise zooft.DataError(
            f"{source.file}: none of its images found (e.g. {sample[0]!r}; looked in {tried})",
            hint="name the image folder with --data-options images=DIR (or images: DIR under data_options in a config file)",
        )
    return best


def _read(source: Source, classes: dict[int, str], warnings: list[str], images_dir: str | None) -> tuple[list[zooft.Example], list[tuple[str, str]]]:
    """The examples of one annotation file and its problems ``(file, reason)``."""
    file, fatal = source.file, _Fatal(source.file)
    doc = read_json(file, hint=HINT)
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list) or not isinstance(doc.get("categories"), list):
        raise fatal("not COCO JSON: needs top-level 'images' and 'categories' lists (and 'annotations')")
    annotations = doc.get("annotations") or []
    if not isinstance(annotations, list):
        raise fatal(f"'annotations' must be a list, got {type(annotations).__name__}")
    for cid, name in _categories(doc, fatal, warnings).items():
        if classes.setdefault(cid, name) != name:
            raise fatal(f"category id {cid} is {name!r} here but {classes[cid]!r} in another split's file")
    images, bad = _images(doc, fatal)
    objects: dict[int, list[tuple[list[float], int, int]]] = {i: [] for i in images}
    skipped: list[tuple[str, str]] = []
    seen: set[Any] = set()
    duplicates = []
    for i, ann in enumerate(annotations):
        if not isinstance(ann, dict):
            skipped.append((str(file), f"annotations[{i}] must be an object, got {_show(ann)}"))
            continue
        aid, image_id = ann.get("id"), ann.get("image_id")
        what = f"annotation id {aid}" if _is_int(aid) else f"annotation {_show(aid)} (annotations[{i}])"
        if not _is_int(aid):
            skipped.append((str(file), f"{what}: id must be a whole number, got {_show(aid)}"))
            continue
        if aid in seen:
            duplicates.append(aid)
        seen.add(aid)
        if not _is_int(image_id) or image_id not in images:
            skipped.append((str(file), f"{what}: image_id {_show(image_id)} is not in the images list"))
            continue
        img = images[image_id]
        where = f"{what} (image {image_id})"
        crowd = ann.get("iscrowd", 0)
        if crowd not in (0, 1):
            bad.setdefault(image_id, []).append(f"{where}: iscrowd must be 0 or 1, got {_show(crowd)}")
            continue
        if ann.get("category_id") not in classes or not _is_int(ann.get("category_id")):
            bad.setdefault(image_id, []).append(f"{where}: category_id {_show(ann.get('category_id'))} is not in the categories list")
            continue
        corners, problem = _bbox(ann, where)
        if corners is not None:
            corners, problem = check_box(corners, _number(img.get("width")), _number(img.get("height")), where)
        if problem or corners is None:
            bad.setdefault(image_id, []).append(problem or f"{where}: bad box")
            continue
        objects[image_id].append((corners, int(ann["category_id"]), int(crowd)))
    if duplicates:
        shown = ", ".join(str(a) for a in duplicates[:5]) + (" …" if len(duplicates) > 5 else "")
        warnings.append(f"{file}: {len(duplicates)} duplicate annotation id(s): {shown}")
    root = _pick_root(source, [str(img.get("file_name") or "") for img in images.values()], images_dir)
    examples = []  # labels are category ids here: load() sets class indices once every file is read
    for image_id, img in images.items():
        problems = list(bad.get(image_id, []))
        source_path = str((root / str(img.get("file_name") or "")).resolve()) if not problems else ""
        if not problems and not os.path.isfile(source_path):
            problems.append(f"image id {image_id}: image file not found: {source_path}")
        if problems:
            skipped.extend((str(file), p) for p in problems)
            continue
        found = objects[image_id]
        examples.append(zooft.Example(source_path, None, {
            "boxes": [b for b, _, _ in found], "category_ids": [c for _, c, _ in found],
            "iscrowd": [k for _, _, k in found], "image_id": image_id,
            "width": _number(img.get("width")), "height": _number(img.get("height")),
        }))
    return examples, skipped


def load(path: str, *, images: str | None = None, **_: Any) -> zooft.LabeledData:
    """Index a COCO data set; classes are the category names ordered by category id."""
    found = sources(path)
    if not found:
        raise zooft.DataError(f"no COCO annotation file at {path}", hint=HINT)
    if images is not None and not Path(images).expanduser().is_dir():
        raise zooft.DataError(f"image folder {images!r} (data option images) does not exist", hint="pass images=DIR, a folder of the images")
    categories: dict[int, str] = {}
    warnings: list[str] = []
    per_split: dict[str, list[zooft.Example]] = {}
    skipped: list[tuple[str, str]] = []
    for source in found:
        examples, problems = _read(source, categories, warnings, images)
        per_split.setdefault(source.split, []).extend(examples)
        skipped.extend(problems)
    order = sorted(categories)
    classes = [categories[cid] for cid in order]
    names: dict[str, int] = {}
    for cid in order:
        if categories[cid] in names:
            raise zooft.DataError(
                f"{found[0].file}: categories {names[categories[cid]]} and {cid} are both named {categories[cid]!r}",
                hint="give each category its own name (class names must be unique)",
            )
        names[categories[cid]] = cid
    index = {cid: k for k, cid in enumerate(order)}
    splits: dict[str, list[zooft.Example]] = {}
    for split, examples in sorted(per_split.items(), key=lambda kv: ("train", "val", "test").index(kv[0])):
        out = []
        for ex in examples:
            target = dict(ex.target or {})
            labels = [index[c] for c in target.pop("category_ids")]
            trained = {c for c, crowd in zip(labels, target["iscrowd"]) if not crowd}
            out.append(zooft.Example(ex.source, tuple(sorted(trained)), {**target, "labels": labels}))
        splits[split] = out
    root = str(Path(path).resolve())
    return zooft.LabeledData(classes=classes, splits=splits, format=FORMAT, root=root, skipped=skipped,
                             empty_classes="warn", warnings=warnings)


def category_ids(path: str) -> dict[str, int]:
    """``{class name: COCO category id}`` of a data set (to turn predictions back into COCO results)."""
    found = sources(os.fspath(path))
    if not found:
        raise zooft.DataError(f"no COCO annotation file at {path}", hint=HINT)
    categories: dict[int, str] = {}
    for source in found:
        doc = read_json(source.file, hint=HINT)
        if isinstance(doc, dict) and isinstance(doc.get("categories"), list):
            categories.update(_categories(doc, _Fatal(source.file), []))
    return {name: cid for cid, name in categories.items()}
