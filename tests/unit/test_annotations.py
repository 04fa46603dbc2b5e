"""Annotation files as other tools write them: layouts, typed errors, declared classes, crowd and
difficult objects, data options and hints (no TensorFlow)."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import zooft
from zooft.data.formats import load_data

sys.path.insert(0, str(Path(__file__).parents[1]))
import annotation_layouts as layouts  # noqa: E402

from zooft_coco import coco, files, voc  # noqa: E402
from zooft_detect import boxes as detect_boxes  # noqa: E402
from zooft_detect.cocoeval import ImageRecord, coco_metrics  # noqa: E402
from zooft_tfrecord import files as tfr_files  # noqa: E402


def _image(path: Path, size: tuple[int, int] = (40, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (120, 30, 200)).save(path)


def _doc(annotations: list[Any], images: list[Any] | None = None, categories: list[Any] | None = None) -> dict[str, Any]:
    return {
        "images": images if images is not None else [{"id": i + 1, "file_name": f"{i}.png", "width": 40, "height": 30} for i in range(2)],
        "annotations": annotations,
        "categories": categories if categories is not None else [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    }


def _write(tmp_path: Path, doc: Any, name: str = "instances_val.json") -> Path:
    for i in range(3):
        _image(tmp_path / "images" / f"{i}.png")
    (tmp_path / "annotations").mkdir(exist_ok=True)
    path = tmp_path / "annotations" / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def _reasons(data: zooft.LabeledData) -> str:
    return " | ".join(f"{Path(p).name}: {r}" for p, r in data.skipped)


# -- layouts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("subfolder", [False, True])
def test_coco_official_layout_finds_split_folders(tmp_path: Path, subfolder: bool) -> None:
    layouts.write_coco_official(tmp_path, n=6, images_subfolder=subfolder)
    assert coco.sniff(str(tmp_path)) and not voc.sniff(str(tmp_path))
    data = load_data(tmp_path, task="detect")
    assert {s: len(v) for s, v in data.splits.items()} == {"train": 4, "val": 2}
    assert all(f"{os.sep}val2017{os.sep}" in ex.source for ex in data.splits["val"])
    crowd = [ex for ex in data.splits["train"] if any(ex.target["iscrowd"])]
    assert crowd and all(len(ex.target["iscrowd"]) == len(ex.target["boxes"]) for ex in crowd)


def test_cvat_coco_export(tmp_path: Path) -> None:
    layouts.write_cvat(tmp_path, n=4)
    assert coco.sniff(str(tmp_path))
    data = coco.load(str(tmp_path))
    assert len(data.splits["train"]) == 4 and all("/images/frame_" in ex.source for ex in data.splits["train"])


def test_roboflow_export_keeps_the_placeholder_class_with_a_warning(tmp_path: Path) -> None:
    layouts.write_roboflow(tmp_path, n=8)
    assert coco.sniff(str(tmp_path)) and coco.sniff(str(tmp_path / "train"))
    data = load_data(tmp_path, task="detect")
    assert list(data.splits) == ["train", "val", "test"]  # valid/ is the val split
    assert data.classes[0] == "shapes-dataset"  # category 0, no boxes: the label map stays whole
    assert "shapes-dataset: class has no training examples (kept as a class)" in data.warnings
    # the annotation file alone also trains (no 'has no training examples' refusal)
    single = load_data(tmp_path / "train" / "_annotations.coco.json", task="detect")
    assert single.classes == data.classes and set(single.splits) == {"train", "val"}


def test_coco_subset_with_most_categories_empty_is_kept(tmp_path: Path) -> None:
    categories = [{"id": i, "name": f"c{i}"} for i in range(1, 81)]
    anns = [{"id": 1, "image_id": 1, "category_id": 17, "bbox": [1, 1, 5, 5]},
            {"id": 2, "image_id": 2, "category_id": 17, "bbox": [2, 2, 5, 5]}]
    _write(tmp_path, _doc(anns, categories=categories))
    data = load_data(tmp_path, task="detect", val_split=0)
    assert len(data.classes) == 80 and sum("kept as a class" in w for w in data.warnings) == 79


def test_images_option_and_unknown_option(tmp_path: Path) -> None:
    anns = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}]
    (tmp_path / "labels.json").write_text(json.dumps(_doc(anns)))
    for i in range(2):
        _image(tmp_path / "elsewhere" / "pics" / f"{i}.png")
    with pytest.raises(zooft.DataError, match="none of its images found") as info:
        load_data(tmp_path / "labels.json", task="detect", val_split=0)
    assert "--data-options images=DIR" in (info.value.hint or "")
    data = load_data(tmp_path / "labels.json", task="detect", val_split=0,
                     options={"images": str(tmp_path / "elsewhere" / "pics")})
    assert len(data.splits["train"]) == 2
    with pytest.raises(zooft.ConfigError, match="data format 'coco' has no option 'image'") as bad:
        load_data(tmp_path / "labels.json", task="detect", options={"image": "x"})
    assert "did you mean 'images'?" in (bad.value.hint or "")


def test_detection_hints_describe_detection_data(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("x")
    with pytest.raises(zooft.DataError, match="no detect data format recognises") as info:
        load_data(tmp_path / "notes", task="detect")
    hint = info.value.hint or ""
    assert "COCO" in hint and "VOC" in hint and "TFRecord" in hint and "class folders" not in hint
    with pytest.raises(zooft.DataError) as missing:
        load_data(tmp_path / "nope", task="detect")
    assert "Annotations" in (missing.value.hint or "") and "path,label" not in (missing.value.hint or "")


# -- typed errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("ann", "expected"), [
    ({"bbox": "10,20,30,40"}, 'annotation id 17 (image 1): bbox must be 4 numbers [x, y, width, height], got "10,20,30,40"'),
    ({"bbox": [1, 2, 3]}, "annotation id 17 (image 1): bbox must be 4 numbers [x, y, width, height], got [1, 2, 3]"),
    ({"bbox": [1, 2, math.nan, 3]}, "annotation id 17 (image 1): bbox must be 4 finite numbers, got [1, 2, nan, 3]"),
    ({"bbox": [1, 2, -3, 3]}, "annotation id 17 (image 1): bbox width and height must be > 0, got [1, 2, -3, 3]"),
    ({"bbox": [1, 2, "3", 3]}, "annotation id 17 (image 1): bbox must be 4 finite numbers, got [1, 2, '3', 3]"),
    ({"image_id": 9}, "annotation id 17: image_id 9 is not in the images list"),
    ({"image_id": "1"}, 'annotation id 17: image_id "1" is not in the images list'),
    ({"category_id": 5}, "annotation id 17 (image 1): category_id 5 is not in the categories list"),
    ({"id": "17"}, 'annotation "17" (annotations[0]): id must be a whole number, got "17"'),
    ({"iscrowd": "yes"}, 'annotation id 17 (image 1): iscrowd must be 0 or 1, got "yes"'),
])
def test_coco_annotation_errors_name_file_and_entry(tmp_path: Path, ann: dict[str, Any], expected: str) -> None:
    entry = {"id": 17, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 3], **ann}
    _write(tmp_path, _doc([entry]))
    with pytest.raises(zooft.DataError) as info:
        load_data(tmp_path, task="detect", val_split=0)
    message = str(info.value)
    assert f"annotations/instances_val.json: {expected}" in message, message
    assert "\n" not in message


@pytest.mark.parametrize(("images", "categories", "expected"), [
    ([{"id": "1", "file_name": "0.png"}], None, 'image "1" (images[0]): id must be a whole number, got "1"'),
    ([{"id": 1, "file_name": "0.png"}, {"id": 1, "file_name": "1.png"}], None, "image id 1 appears twice ('0.png' and '1.png')"),
    (None, [{"id": 1, "name": "cat"}, {"id": 1, "name": "dog"}], "category id 1 appears twice, as 'cat' and 'dog'"),
    (None, [{"id": "1", "name": "cat"}], 'category "1": id must be a whole number, got "1"'),
    (None, [{"id": 1, "name": "cat"}, {"id": 2, "name": "cat"}], "categories 1 and 2 are both named 'cat'"),
])
def test_coco_file_errors_are_one_line(tmp_path: Path, images: Any, categories: Any, expected: str) -> None:
    path = _write(tmp_path, _doc([], images=images, categories=categories))
    with pytest.raises(zooft.DataError) as info:
        coco.load(str(tmp_path))
    assert str(info.value) == f"{path}: {expected}"


def test_coco_image_value_errors_and_duplicate_annotation_ids(tmp_path: Path) -> None:
    images = [{"id": 1, "file_name": "0.png", "width": "forty", "height": 30}, {"id": 2, "file_name": "1.png", "width": 40, "height": 30}]
    anns = [{"id": 3, "image_id": 2, "category_id": 1, "bbox": [1, 1, 4, 4]}, {"id": 3, "image_id": 2, "category_id": 2, "bbox": [5, 5, 4, 4]}]
    _write(tmp_path, _doc(anns, images=images, categories=[{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}, {"id": 2, "name": "dog"}]))
    data = coco.load(str(tmp_path))
    assert "instances_val.json: image id 1: width must be a positive number, got \"forty\"" in _reasons(data)
    assert any("1 duplicate annotation id(s): 3" in w for w in data.warnings)
    assert any("category id 2 (dog) is listed twice" in w for w in data.warnings)


def test_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"images": [],\n "annotations": [,]}')
    with pytest.raises(zooft.DataError, match=r"instances_val.json: line 2, column 18: malformed JSON"):
        coco.load(str(path))


def test_annotation_files_must_be_regular_and_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, _doc([]))
    monkeypatch.setattr(files, "MAX_BYTES", 10)
    with pytest.raises(zooft.DataError, match="above the .* limit"):
        files.read_annotation_file(path, hint="h")
    monkeypatch.undo()
    with pytest.raises(zooft.DataError, match="not a regular file"):
        files.read_annotation_file(tmp_path, hint="h")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.json")
        with pytest.raises(zooft.DataError, match="pipe.json: a named pipe"):
            files.read_annotation_file(tmp_path / "pipe.json", hint="h")


def test_several_unnamed_coco_files_are_ambiguous(tmp_path: Path) -> None:
    _write(tmp_path, _doc([]), "instances_a.json")
    _write(tmp_path, _doc([]), "instances_b.json")
    assert coco.sniff(str(tmp_path))
    with pytest.raises(zooft.DataError, match="do not say one split each: instances_a.json, instances_b.json"):
        coco.load(str(tmp_path))


# -- VOC ---------------------------------------------------------------------------------------------


def test_voc_mismatched_filename_shapes_and_difficult(tmp_path: Path) -> None:
    layouts.write_voc(tmp_path, n=6, shapes=True)
    data = load_data(tmp_path, task="detect", val_split=0)
    assert {s: len(v) for s, v in data.splits.items()} == {"train": 3, "test": 3}  # trainval counts as train
    first = (data.splits["train"] + data.splits["test"])[0]
    assert first.source.endswith("JPEGImages/000000.jpg")  # <filename> says IMG_0000.JPG
    assert any(w.startswith("9 objects that are not boxes were ignored (line: 3, point: 3, polygon: 3)") for w in data.warnings)
    assert all(len(ex.target["boxes"]) == len(ex.target["difficult"]) for ex in data.splits["train"])
    assert any(1 in ex.target["difficult"] for s in data.splits.values() for ex in s)


def _voc_object(box: str, extra: str = "") -> str:
    return f"<object><name>bird</name>{extra}<bndbox>{box}</bndbox></object>"


@pytest.mark.parametrize(("body", "expected"), [
    (_voc_object("<xmin>a</xmin><ymin>2</ymin><xmax>5</xmax><ymax>9</ymax>"),
     "a.xml object 0 (bird): bndbox needs numeric xmin, ymin, xmax, ymax, got xmin='a'"),
    (_voc_object("<xmin>1</xmin><ymin>2</ymin><xmax>5</xmax>"),
     "a.xml object 0 (bird): bndbox needs numeric xmin, ymin, xmax, ymax, got ymax=None"),
    (_voc_object("<xmin>1</xmin><ymin>2</ymin><xmax>5</xmax><ymax>9</ymax>", "<difficult>maybe</difficult>"),
     "a.xml object 0 (bird): difficult must be 0 or 1, got 'maybe'"),
    ("<size><width>wide</width><height>30</height></size>", "a.xml: size/width must be a number ≥ 0, got 'wide'"),
])
def test_voc_value_errors(tmp_path: Path, body: str, expected: str) -> None:
    _image(tmp_path / "JPEGImages" / "a.jpg")
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "Annotations" / "a.xml").write_text(f"<annotation><filename>a.jpg</filename>{body}</annotation>")
    data = voc.load(str(tmp_path))
    assert expected in _reasons(data)


def test_voc_malformed_xml_names_line_and_refuses_entities(tmp_path: Path) -> None:
    _image(tmp_path / "JPEGImages" / "a.jpg")
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "Annotations" / "a.xml").write_text("<annotation>\n<object>\n</annotation>")
    (tmp_path / "Annotations" / "b.xml").write_text('<!DOCTYPE a [<!ENTITY x "y">]><annotation>&x;</annotation>')
    reasons = _reasons(voc.load(str(tmp_path)))
    assert "a.xml: line 3, column 3: malformed XML: mismatched tag" in reasons
    assert "b.xml: XML entity declarations are not accepted" in reasons


# -- the class check runs on the splits used for training --------------------------------------------


def test_class_emptied_by_the_carved_split_is_a_warning_for_detection(tmp_path: Path) -> None:
    # 'dog' is in one image only; a seed that carves that image into val leaves dog without training boxes
    anns = [{"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": [1, 1, 5, 5]} for i in range(4)]
    anns.append({"id": 9, "image_id": 2, "category_id": 2, "bbox": [9, 9, 5, 5]})
    images = [{"id": i + 1, "file_name": f"{i}.png", "width": 40, "height": 30} for i in range(4)]
    for i in range(4):
        _image(tmp_path / f"{i}.png")
    (tmp_path / "annotations.json").write_text(json.dumps(_doc(anns, images=images)))
    for seed in range(30):
        data = load_data(tmp_path, task="detect", val_split=0.5, seed=seed)
        if any(ex.target["image_id"] == 2 for ex in data.splits["val"]):
            assert "dog: class has no training examples (only in val: 1) (kept as a class)" in data.warnings
            return
    pytest.fail("no seed carved the dog image into val")


# -- crowd and difficult objects in evaluation -----------------------------------------------------------


def _crowd_fixture(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """A COCO file with crowd regions, and detections on objects, inside crowds and elsewhere."""
    rng = np.random.default_rng(0)
    images, anns, results = [], [], []
    for image_id in range(1, 7):
        images.append({"id": image_id, "file_name": f"{image_id}.png", "width": 100, "height": 80})
        _image(tmp_path / "images" / f"{image_id}.png", (100, 80))
        for k in range(2):
            x, y = 10 + 40 * k, 10 + 5 * image_id
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": 1 + k, "bbox": [x, y, 20, 15],
                         "area": 300, "iscrowd": 0})
            results.append({"image_id": image_id, "category_id": 1 + k, "score": float(rng.uniform(0.3, 1)),
                            "bbox": [x + rng.uniform(-3, 3), y + rng.uniform(-3, 3), 20, 15]})
        anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": 1, "bbox": [5, 45, 60, 30],
                     "area": 1800, "iscrowd": 1})
        for j in range(3):  # detections inside the crowd region: ignored, not false positives
            results.append({"image_id": image_id, "category_id": 1, "score": float(rng.uniform(0.2, 0.95)),
                            "bbox": [8 + 15 * j, 50, 12, 10]})
        results.append({"image_id": image_id, "category_id": 2, "score": float(rng.uniform(0.2, 0.9)), "bbox": [70, 60, 10, 10]})
    doc = {"images": images, "annotations": anns,
           "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "car"}, {"id": 3, "name": "unused"}]}
    path = tmp_path / "annotations" / "instances_val.json"
    path.parent.mkdir()
    path.write_text(json.dumps(doc))
    return path, results


def _records(data: zooft.LabeledData, results: list[dict[str, Any]], kinds: bool = True) -> list[ImageRecord]:
    records = []
    for ex in data.splits["train"]:
        mine = [r for r in results if r["image_id"] == ex.target["image_id"]]
        flags = np.asarray(ex.target["iscrowd"]) * detect_boxes.CROWD
        records.append(ImageRecord(
            width=ex.target["width"], height=ex.target["height"], gt_boxes=np.asarray(ex.target["boxes"]).reshape(-1, 4),
            gt_labels=np.asarray(ex.target["labels"]), gt_kinds=flags if kinds else None,
            boxes=np.asarray([[x, y, x + w, y + h] for x, y, w, h in (r["bbox"] for r in mine)]).reshape(-1, 4),
            scores=np.asarray([r["score"] for r in mine]), classes=np.asarray([r["category_id"] - 1 for r in mine])))
    return records


def test_crowd_map_equals_pycocotools_on_the_original_file(tmp_path: Path) -> None:
    import contextlib
    import io

    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    path, results = _crowd_fixture(tmp_path)
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(str(path))
        evaluator = COCOeval(truth, truth.loadRes(results), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    data = coco.load(str(path))
    ours = coco_metrics(_records(data, results), data.classes)
    assert ours["map"] == pytest.approx(evaluator.stats[0], abs=1e-12)
    assert ours["map_50"] == pytest.approx(evaluator.stats[1], abs=1e-12)
    assert ours["map_75"] == pytest.approx(evaluator.stats[2], abs=1e-12)
    assert ours["ignored_objects"] == 6 and ours["per_class"]["unused"]["ap"] is None
    # without the crowd regions, the detections inside them would count as false positives
    plain = coco_metrics(_records(data, results, kinds=False), data.classes)
    assert plain["map"] != pytest.approx(ours["map"], abs=1e-3)


def test_difficult_objects_are_neither_found_nor_missed() -> None:
    pytest.importorskip("pycocotools")
    gt = np.array([[10, 10, 30, 30], [50, 50, 70, 70]], float)
    found = np.array([[10, 10, 30, 30]], float)
    record = ImageRecord(100, 100, gt, np.array([0, 0]), boxes=found, scores=np.array([0.9]), classes=np.array([0]),
                         gt_kinds=np.array([detect_boxes.OBJECT, detect_boxes.DIFFICULT]))
    assert coco_metrics([record], ["a"], curves=False)["map_50"] == pytest.approx(1.0)
    record.gt_kinds = None  # as an ordinary object, the missed difficult one halves the recall
    assert coco_metrics([record], ["a"], curves=False)["map_50"] < 0.6
    # a detection on a difficult object is not a false positive either
    record.gt_kinds = np.array([detect_boxes.OBJECT, detect_boxes.DIFFICULT])
    record.boxes, record.scores, record.classes = gt, np.array([0.5, 0.9]), np.array([0, 0])
    assert coco_metrics([record], ["a"], curves=False)["map_50"] == pytest.approx(1.0)


def test_crowd_regions_are_never_positive_and_ignore_their_anchors() -> None:
    anchors = np.array([[0.0, 0.0, 0.2, 0.2], [0.05, 0.05, 0.15, 0.15], [0.6, 0.6, 0.9, 0.9], [0.5, 0.0, 0.7, 0.2]])
    gt = np.array([[0.0, 0.0, 0.2, 0.2], [0.6, 0.6, 0.9, 0.9]])
    _, labels = detect_boxes.match(gt, np.array([0, 1]), anchors, ignore=np.array([True, False]))
    assert labels.tolist() == [-1, -1, 2, 0]  # anchors in the crowd ignored, the object matched, the rest background
    _, plain = detect_boxes.match(gt, np.array([0, 1]), anchors)
    assert plain[0] == 1


# -- TFRecord names and label maps (no TensorFlow) -------------------------------------------------------


def test_tfrecord_sniff_splits_and_label_map(tmp_path: Path) -> None:
    for name in ("train.record", "coco_val.record-00000-of-00002", "test-00000-of-00001", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [f.name for f in tfr_files.record_files(str(tmp_path))] == [
        "coco_val.record-00000-of-00002", "test-00000-of-00001", "train.record"]
    assert [tfr_files.split_of(f) for f in tfr_files.record_files(str(tmp_path))] == ["val", "test", "train"]
    assert tfr_files.sniff(str(tmp_path / "train.record")) and not tfr_files.sniff(str(tmp_path / "notes.txt"))
    (tmp_path / "zipped").mkdir()
    (tmp_path / "zipped" / "val.tfrecord.gz").write_bytes(b"")
    assert tfr_files.sniff(str(tmp_path / "zipped")) and tfr_files.split_of(tmp_path / "zipped" / "val.tfrecord.gz") == "val"
    (tmp_path / "label_map.pbtxt").write_text("item {\n id: 2\n name: 'dog'\n}\nitem { name: \"cat\" id: 1 display_name: 'Cat' }\n")
    assert tfr_files.read_label_map(tmp_path / "label_map.pbtxt") == {2: "dog", 1: "cat"}
    (tmp_path / "label_map.pbtxt").write_text("item { id: one name: 'x' }")
    with pytest.raises(zooft.DataError, match=r"label_map.pbtxt: item 1 needs a whole-number id and a name"):
        tfr_files.read_label_map(tmp_path / "label_map.pbtxt")


def test_tune_passes_data_options_to_the_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from zooft.cli import run as cli

    anns = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}]
    (tmp_path / "labels.json").write_text(json.dumps(_doc(anns)))
    base = ["tune", "--backbone", "embedded", "--task", "detect", "--data", str(tmp_path / "labels.json"),
            "--output", str(tmp_path / "run")]
    assert cli([*base, "--data-options", f"imgs={tmp_path}"]) != 0
    assert "data format 'coco' has no option 'imgs'" in capsys.readouterr().err
    assert cli([*base, "--data-options", f"images={tmp_path / 'missing'}"]) != 0
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # the data is checked before the run directory is made
