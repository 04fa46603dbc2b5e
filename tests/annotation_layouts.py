"""Small detection data sets in the layouts other tools write, generated for the tests.

Each writer produces the folder structure and annotation file shape of one ecosystem (COCO's
own release layout, CVAT's "COCO 1.0" export, Roboflow's COCO export, Pascal VOC as LabelImg /
CVAT write it, TF Object Detection API TFRecords) around images rendered by zooft's demo
generator. Written for zooft from the public format descriptions, not copied from any project.
No TensorFlow here except in :func:`write_tfrecords`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from zooft.demo.detection import DEMO_DETECT_CLASSES, render_detection_image

SIZE = 64


def scenes(n: int, seed: int = 0) -> list[tuple[np.ndarray, list[dict[str, Any]]]]:
    """``n`` rendered images with at least one object each, and their pixel boxes."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        image, objects = render_detection_image(rng, SIZE)
        if objects:
            out.append((image, objects))
    return out


def _save(image: np.ndarray, path: Path, fmt: str = "JPEG") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, fmt, quality=95) if fmt == "JPEG" else Image.fromarray(image).save(path, fmt)


def coco_doc(items: list[tuple[str, list[dict[str, Any]]]], *, first_id: int = 1, crowd_every: int = 0,
             categories: list[dict[str, Any]] | None = None, category_offset: int = 1) -> dict[str, Any]:
    """A COCO instances document for ``[(file_name, objects)]``; every ``crowd_every``-th image also
    gets a crowd region over its first object."""
    doc: dict[str, Any] = {
        "info": {"description": "zooft test set", "version": "1.0"}, "licenses": [],
        "images": [], "annotations": [],
        "categories": categories or [{"id": i + category_offset, "name": n, "supercategory": "shape"}
                                     for i, n in enumerate(DEMO_DETECT_CLASSES)],
    }
    for k, (name, objects) in enumerate(items):
        image_id = first_id + k
        doc["images"].append({"id": image_id, "file_name": name, "width": SIZE, "height": SIZE, "license": 0})
        for obj in objects:
            x0, y0, x1, y1 = obj["box"]
            doc["annotations"].append({
                "id": len(doc["annotations"]) + 1, "image_id": image_id, "category_id": obj["label"] + category_offset,
                "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0), "iscrowd": 0, "segmentation": [],
            })
        if crowd_every and k % crowd_every == 0:
            x0, y0, x1, y1 = objects[0]["box"]
            doc["annotations"].append({
                "id": len(doc["annotations"]) + 1, "image_id": image_id, "category_id": objects[0]["label"] + category_offset,
                "bbox": [max(0, x0 - 4), max(0, y0 - 4), min(SIZE, x1 + 4) - max(0, x0 - 4), min(SIZE, y1 + 4) - max(0, y0 - 4)],
                "area": 1.0, "iscrowd": 1, "segmentation": {"counts": [], "size": [SIZE, SIZE]},
            })
    return doc


def write_coco_official(root: Path, n: int = 12, *, images_subfolder: bool = False) -> Path:
    """COCO's release layout: ``annotations/instances_{train,val}2017.json`` and the images in
    ``train2017/`` / ``val2017/`` (or ``images/train2017/``), with crowd regions."""
    data = scenes(n, seed=1)
    cut = n * 2 // 3
    for split, part, first in (("train2017", data[:cut], 1), ("val2017", data[cut:], 1000)):
        items = []
        for k, (image, objects) in enumerate(part):
            name = f"{first + k:012d}.jpg"
            _save(image, root / ("images" if images_subfolder else "") / split / name)
            items.append((name, objects))
        (root / "annotations").mkdir(parents=True, exist_ok=True)
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(coco_doc(items, first_id=first, crowd_every=3)))
    return root


def write_cvat(root: Path, n: int = 10) -> Path:
    """CVAT's "COCO 1.0" export: ``annotations/instances_default.json`` and ``images/``."""
    items = []
    for k, (image, objects) in enumerate(scenes(n, seed=2)):
        name = f"frame_{k:06d}.png"
        _save(image, root / "images" / name, "PNG")
        items.append((name, objects))
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / "instances_default.json").write_text(json.dumps(coco_doc(items, first_id=1)))
    return root


def write_roboflow(root: Path, n: int = 12) -> Path:
    """Roboflow's COCO export: ``train/ valid/ test/`` each with ``_annotations.coco.json`` and
    the images beside it; ids from 0; a placeholder category 0 named like the data set (no boxes)."""
    placeholder = [{"id": 0, "name": "shapes-dataset", "supercategory": "none"}]
    categories = placeholder + [{"id": i + 1, "name": c, "supercategory": "shapes-dataset"} for i, c in enumerate(DEMO_DETECT_CLASSES)]
    data = scenes(n, seed=3)
    parts = {"train": data[: n - 4], "valid": data[n - 4 : n - 2], "test": data[n - 2 :]}
    for split, part in parts.items():
        items = []
        for k, (image, objects) in enumerate(part):
            name = f"img{k}_jpg.rf.{k:08x}.jpg"
            _save(image, root / split / name)
            items.append((name, objects))
        doc = coco_doc(items, first_id=0, categories=categories, category_offset=1)
        (root / split / "_annotations.coco.json").write_text(json.dumps(doc))
    return root


def _voc_xml(filename: str, objects: list[dict[str, Any]], extra: str = "") -> str:
    parts = [f"<annotation><folder>somewhere_else</folder><filename>{filename}</filename>",
             f"<path>C:\\labels\\{filename}</path><source><database>Unknown</database></source>",
             f"<size><width>{SIZE}</width><height>{SIZE}</height><depth>3</depth></size><segmented>0</segmented>"]
    for k, obj in enumerate(objects):
        x0, y0, x1, y1 = obj["box"]
        parts.append(
            f"<object><name>{DEMO_DETECT_CLASSES[obj['label']]}</name><pose>Unspecified</pose>"
            f"<truncated>0</truncated><occluded>0</occluded><difficult>{int(k == 1)}</difficult>"
            f"<bndbox><xmin>{int(x0) + 1}</xmin><ymin>{int(y0) + 1}</ymin><xmax>{int(np.ceil(x1))}</xmax>"
            f"<ymax>{int(np.ceil(y1))}</ymax></bndbox></object>")
    return "".join(parts) + extra + "</annotation>"


def write_voc(root: Path, n: int = 12, *, mismatched_filename: bool = True, shapes: bool = False) -> Path:
    """A VOC folder whose ``<filename>`` does not name the file (the XML's stem does), with
    ImageSets/Main/{trainval,test}.txt, difficult objects, and optionally CVAT/LabelImg-style
    polygon / point / line objects beside the boxes."""
    stems = []
    for k, (image, objects) in enumerate(scenes(n, seed=4)):
        stem = f"{k:06d}"
        stems.append(stem)
        _save(image, root / "JPEGImages" / f"{stem}.jpg")
        extra = ""
        if shapes and k % 2 == 0:
            extra = ("<object><name>heart</name><polygon><x1>1</x1><y1>1</y1><x2>9</x2><y2>1</y2><x3>5</x3><y3>8</y3></polygon></object>"
                     "<object><name>moon</name><point><x>3</x><y>4</y></point></object>"
                     "<object><name>house</name><line><x1>1</x1><y1>1</y1><x2>9</x2><y2>9</y2></line></object>")
        filename = f"IMG_{k:04d}.JPG" if mismatched_filename else f"{stem}.jpg"
        (root / "Annotations").mkdir(parents=True, exist_ok=True)
        (root / "Annotations" / f"{stem}.xml").write_text(_voc_xml(filename, objects, extra))
    (root / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / "Main" / "trainval.txt").write_text("\n".join(stems[: n - 3]) + "\n")
    (root / "ImageSets" / "Main" / "test.txt").write_text("\n".join(stems[n - 3 :]) + "\n")
    return root


def detection_example(image: np.ndarray, objects: list[dict[str, Any]], source_id: str, **override: Any) -> Any:
    """A ``tf.train.Example`` with the TF Object Detection API field names (boxes normalised)."""
    import io

    import tensorflow as tf

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=95)
    h, w = image.shape[:2]
    boxes = np.asarray([o["box"] for o in objects], np.float32).reshape(-1, 4)

    def floats(v: Any) -> Any:
        return tf.train.Feature(float_list=tf.train.FloatList(value=list(v)))

    def ints(v: Any) -> Any:
        return tf.train.Feature(int64_list=tf.train.Int64List(value=list(v)))

    def texts(v: Any) -> Any:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[s if isinstance(s, bytes) else s.encode() for s in v]))

    features = {
        "image/encoded": texts([buffer.getvalue()]), "image/format": texts(["jpeg"]),
        "image/height": ints([h]), "image/width": ints([w]),
        "image/filename": texts([f"{source_id}.jpg"]), "image/source_id": texts([source_id]),
        "image/object/bbox/xmin": floats(boxes[:, 0] / w), "image/object/bbox/ymin": floats(boxes[:, 1] / h),
        "image/object/bbox/xmax": floats(boxes[:, 2] / w), "image/object/bbox/ymax": floats(boxes[:, 3] / h),
        "image/object/class/text": texts([DEMO_DETECT_CLASSES[o["label"]] for o in objects]),
        "image/object/class/label": ints([o["label"] + 1 for o in objects]),
        "image/object/is_crowd": ints([0] * len(objects)), "image/object/difficult": ints([0] * len(objects)),
    }
    for key, value in override.items():
        if value is None:
            features.pop(key, None)
        else:
            features[key] = value
    return tf.train.Example(features=tf.train.Features(feature=features))


def label_map_text() -> str:
    """An Object Detection API label map of the demo classes (ids from 1)."""
    return "".join(f"item {{\n  id: {i + 1}\n  name: '{name}'\n}}\n" for i, name in enumerate(DEMO_DETECT_CLASSES))


def write_tfrecords(root: Path, n: int = 12) -> Path:
    """Sharded detection records (``train-0000x-of-00002.tfrecord``, ``val-00000-of-00001.tfrecord``)
    with a ``label_map.pbtxt`` beside them."""
    import tensorflow as tf

    root.mkdir(parents=True, exist_ok=True)
    data = scenes(n, seed=5)
    shards = {"train-00000-of-00002.tfrecord": data[: n // 3], "train-00001-of-00002.tfrecord": data[n // 3 : n - 3],
              "val-00000-of-00001.tfrecord": data[n - 3 :]}
    for name, part in shards.items():
        with tf.io.TFRecordWriter(str(root / name)) as writer:
            for k, (image, objects) in enumerate(part):
                writer.write(detection_example(image, objects, f"{name[:5]}{k}").SerializeToString())
    (root / "label_map.pbtxt").write_text(label_map_text())
    return root


def write_classification_tfrecord(path: Path, n: int = 16, seed: int = 6) -> Path:
    """One ``.record`` file of classification Examples: ``image/encoded`` + ``image/class/label`` + text."""
    import io

    import tensorflow as tf

    from zooft.demo.synthetic import DEMO_CLASSIFY_CLASSES, render_demo_image

    rng = np.random.default_rng(seed)
    classes = list(DEMO_CLASSIFY_CLASSES[:2])
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for k in range(n):
            label = k % 2
            image = render_demo_image(rng, label, 48)
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, "PNG")
            feature = {
                "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[buffer.getvalue()])),
                "image/format": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"png"])),
                "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
                "image/class/text": tf.train.Feature(bytes_list=tf.train.BytesList(value=[classes[label].encode()])),
            }
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return path
