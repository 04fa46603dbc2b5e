"""COCO / VOC readers, their annotation checks, and the generated detection demo (no TensorFlow)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import zooft
from zooft.data.formats import load_data
from zooft.demo.detection import DEMO_DETECT_CLASSES, render_detection_image, write_detect_demo
from zooft_coco import coco, voc


def _image(path: Path, size: tuple[int, int] = (40, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (120, 30, 200)).save(path)


def _coco_doc(annotations: list[dict], images: int = 2) -> dict:
    return {
        "images": [{"id": i + 1, "file_name": f"images/{i}.png", "width": 40, "height": 30} for i in range(images)],
        "annotations": annotations,
        "categories": [{"id": 7, "name": "cat"}, {"id": 3, "name": "dog"}],
    }


def test_coco_reads_boxes_and_orders_classes_by_id(tmp_path: Path) -> None:
    for i in range(2):
        _image(tmp_path / "images" / f"{i}.png")
    anns = [{"id": 1, "image_id": 1, "category_id": 7, "bbox": [1, 2, 10, 5]},
            {"id": 2, "image_id": 1, "category_id": 3, "bbox": [0, 0, 40.5, 30]},  # within the 1 px tolerance
            {"id": 3, "image_id": 2, "category_id": 3, "bbox": [5, 5, 5, 5], "iscrowd": 1}]
    (tmp_path / "annotations.json").write_text(json.dumps(_coco_doc(anns)))
    assert coco.sniff(str(tmp_path)) and not voc.sniff(str(tmp_path))
    data = coco.load(str(tmp_path))
    assert data.classes == ["dog", "cat"]  # category id order: 3, 7
    first, second = data.splits["train"]
    assert first.target["boxes"] == [[1.0, 2.0, 11.0, 7.0], [0.0, 0.0, 40.0, 30.0]]
    assert first.target["labels"] == [1, 0] and first.label == (0, 1)
    # crowd annotations are kept as ignore regions, but name no class present
    assert second.target["boxes"] == [[5.0, 5.0, 10.0, 10.0]] and second.target["iscrowd"] == [1]
    assert second.label == () and not data.skipped


def test_coco_problems_are_reported_with_ids(tmp_path: Path) -> None:
    _image(tmp_path / "images" / "0.png")
    _image(tmp_path / "images" / "1.png")
    _image(tmp_path / "images" / "3.png")
    anns = [{"id": 15, "image_id": 4, "category_id": 7, "bbox": [1, 1, 5, 5]},
            {"id": 11, "image_id": 1, "category_id": 99, "bbox": [1, 1, 5, 5]},
            {"id": 12, "image_id": 2, "category_id": 7, "bbox": [30, 20, 20, 5]},
            {"id": 13, "image_id": 2, "category_id": 7, "bbox": [3, 3, 0, 4]},
            {"id": 14, "image_id": 5, "category_id": 7, "bbox": [1, 1, 2, 2]}]
    doc = _coco_doc(anns, images=4)
    (tmp_path / "train.json").write_text(json.dumps(doc))
    data = coco.load(str(tmp_path))
    reasons = " | ".join(r for _, r in data.skipped)
    assert "annotation id 11 (image 1): category_id 99 is not in the categories list" in reasons
    assert "annotation id 12 (image 2): box [30, 20, 50, 25] lies outside the 40x30 image" in reasons
    assert "annotation id 13 (image 2): bbox width and height must be > 0, got [3, 3, 0, 4]" in reasons
    assert "annotation id 14: image_id 5 is not in the images list" in reasons
    assert "image id 3: image file not found" in reasons
    assert [ex.target["image_id"] for ex in data.splits["train"]] == [4]
    with pytest.raises(zooft.DataError, match="problems in the data") as info:
        load_data(tmp_path, task="detect", val_split=0.0)
    assert len(info.value.problems) >= 5  # type: ignore[attr-defined]


def test_voc_reads_one_based_boxes_and_splits(tmp_path: Path) -> None:
    (tmp_path / "Annotations").mkdir()
    for stem, name, split in (("a", "bird", "train"), ("b", "boat", "val")):
        _image(tmp_path / "JPEGImages" / f"{stem}.jpg")
        (tmp_path / "Annotations" / f"{stem}.xml").write_text(
            f"<annotation><filename>{stem}.jpg</filename><size><width>40</width><height>30</height></size>"
            f"<object><name>{name}</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>10</xmax><ymax>12</ymax></bndbox>"
            "</object></annotation>")
    (tmp_path / "ImageSets" / "Main").mkdir(parents=True)
    (tmp_path / "ImageSets" / "Main" / "train.txt").write_text("a\n")
    (tmp_path / "ImageSets" / "Main" / "val.txt").write_text("b\n")
    assert voc.sniff(str(tmp_path))
    data = voc.load(str(tmp_path))
    assert data.classes == ["bird", "boat"]
    assert data.splits["train"][0].target["boxes"] == [[0.0, 1.0, 10.0, 12.0]]
    assert data.splits["val"][0].target["labels"] == [1]


def test_voc_bad_box_and_bad_xml(tmp_path: Path) -> None:
    (tmp_path / "Annotations").mkdir()
    _image(tmp_path / "JPEGImages" / "a.jpg")
    (tmp_path / "Annotations" / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename><size><width>40</width><height>30</height></size>"
        "<object><name>bird</name><bndbox><xmin>7</xmin><ymin>2</ymin><xmax>5</xmax><ymax>12</ymax></bndbox></object>"
        "</annotation>")
    (tmp_path / "Annotations" / "b.xml").write_text("<annotation>")
    data = voc.load(str(tmp_path))
    reasons = " | ".join(r for _, r in data.skipped)
    assert "a.xml object 0 (bird): zero-area box" in reasons and "line 1, column 13: malformed XML" in reasons


def test_render_detection_image_boxes_are_tight() -> None:
    rng = np.random.default_rng(3)
    image, objects = render_detection_image(rng, 64)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    for obj in objects:
        x0, y0, x1, y1 = obj["box"]
        assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64 and 0 <= obj["label"] < len(DEMO_DETECT_CLASSES)


def test_write_detect_demo_is_a_loadable_coco_set(tmp_path: Path) -> None:
    summary = write_detect_demo(tmp_path / "demo", images=20, size=48, seed=1)
    assert summary["counts"] == {"train": 14, "val": 3, "test": 3}
    data = load_data(tmp_path / "demo", task="detect")
    assert data.format == "coco" and data.classes == list(DEMO_DETECT_CLASSES)
    assert {s: len(v) for s, v in data.splits.items()} == {"train": 14, "val": 3, "test": 3}
    # the same seed writes the same annotations
    again = write_detect_demo(tmp_path / "again", images=20, size=48, seed=1)
    assert (Path(again["path"]) / "test.json").read_text() == (Path(summary["path"]) / "test.json").read_text()
    with pytest.raises(FileExistsError):
        write_detect_demo(tmp_path / "demo", images=20, size=48)


def test_eval_data_is_mapped_onto_the_run_classes(tmp_path: Path) -> None:
    for i in range(2):
        _image(tmp_path / "images" / f"{i}.png")
    anns = [{"id": 1, "image_id": 1, "category_id": 7, "bbox": [1, 2, 10, 5]},
            {"id": 2, "image_id": 2, "category_id": 3, "bbox": [0, 0, 10, 10]}]
    (tmp_path / "annotations.json").write_text(json.dumps(_coco_doc(anns)))
    data = load_data(tmp_path, task="detect", val_split=0.0, class_names=["bird", "cat", "dog"])
    first, second = data.splits["train"]
    assert first.target["labels"] == [1] and first.label == (1,)  # cat
    assert second.target["labels"] == [2] and second.label == (2,)  # dog
