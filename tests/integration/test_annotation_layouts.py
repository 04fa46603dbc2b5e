"""Detection data in other tools' layouts trains through the real CLI without hand edits, and
TFRecord input: records written here with ``tf.train.Example`` in the TF Object Detection API's
field names (detection) and ``image/class/label`` (classification), their data check, and one
training epoch of each task.

All runs share one tiny configuration (embedded backbone, 64 px, 1 head epoch, no fine-tuning).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import zooft
from zooft.cli import run as cli
from zooft.data.formats import load_data

sys.path.insert(0, str(Path(__file__).parents[1]))
import annotation_layouts as layouts  # noqa: E402

pytest.importorskip("pycocotools")

TUNE = ["tune", "--backbone", "embedded", "--image-size", "64", "--batch-size", "16", "--epochs", "1",
        "--fine-tune-epochs", "0", "--augment", "none"]

LAYOUTS: dict[str, Callable[[Path], object]] = {
    "coco-official-with-crowd": layouts.write_coco_official,
    "cvat-coco-1.0": layouts.write_cvat,
    "roboflow-coco": layouts.write_roboflow,
    # <filename> names IMG_0000.JPG, the image is JPEGImages/000000.jpg; polygon/point/line objects too
    "voc-mismatched-filename-and-shapes": lambda p: layouts.write_voc(p, shapes=True),
    "tfrecord-od-api": layouts.write_tfrecords,
}


@pytest.mark.slow
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_layout_trains_a_detection_epoch(layout: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    LAYOUTS[layout](data)
    out = tmp_path / "run"
    assert cli([*TUNE, "--task", "detect", "--data", str(data), "--output", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"map", "map_50", "per_class"} <= set(metrics) and metrics["objects"] > 0
    index = json.loads((out / "data.json").read_text())
    assert index["splits"]["train"] and not index["skipped"]
    if layout == "roboflow-coco":
        assert index["classes"][0] == "shapes-dataset"  # the placeholder category stays in the label map
    if layout == "coco-official-with-crowd":
        assert any(1 in row[2]["iscrowd"] for split in index["splits"].values() for row in split)
    if layout.startswith("voc"):
        assert any("objects that are not boxes were ignored" in w for w in index["warnings"])
        assert all(row[0].endswith(f"{row[2]['image_id']}.jpg") for split in index["splits"].values() for row in split)


@pytest.mark.slow
def test_tfrecord_classification_trains_an_epoch(tmp_path: Path) -> None:
    record = layouts.write_classification_tfrecord(tmp_path / "records" / "shapes.record")
    out = tmp_path / "run"
    assert cli([*TUNE, "--task", "classify", "--data", str(record), "--output", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert "accuracy" in metrics
    assert json.loads((out / "labels.json").read_text())["classes"] == ["arrow_up", "arrow_down"]


def _features(**kw: object) -> object:
    import tensorflow as tf

    out = {}
    for key, value in kw.items():
        name = key.replace("__", "/")
        if isinstance(value, list) and value and isinstance(value[0], float):
            out[name] = tf.train.Feature(float_list=tf.train.FloatList(value=value))
        elif isinstance(value, list) and value and isinstance(value[0], int):
            out[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=value))
        else:
            out[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[v if isinstance(v, bytes) else str(v).encode() for v in value]))  # type: ignore[union-attr]
    return out


def test_tfrecord_data_check_names_record_and_problem(tmp_path: Path) -> None:
    import tensorflow as tf

    image, objects = layouts.scenes(1)[0]
    good = layouts.detection_example(image, objects, "good")
    bad_box = layouts.detection_example(image, objects, "wide", **_features(image__object__bbox__xmax=[1.5] * len(objects)))
    wrong_type = layouts.detection_example(image, objects, "ints", **_features(image__object__bbox__xmin=[1] * len(objects)))
    short = layouts.detection_example(image, objects, "short", **_features(image__object__class__label=[1] * (len(objects) + 1)))
    no_image = layouts.detection_example(image, objects, "blank", **{"image/encoded": None})
    not_jpeg = layouts.detection_example(image, objects, "junk", **_features(image__encoded=[b"\xff\xd8 not really a jpeg"]))
    unknown = layouts.detection_example(image, objects, "label9", **_features(image__object__class__label=[9] * len(objects)))
    path = tmp_path / "train.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for example in (good, bad_box, wrong_type, short, no_image, not_jpeg, unknown):
            writer.write(example.SerializeToString())
        writer.write(b"not an example at all")
    (tmp_path / "label_map.pbtxt").write_text(layouts.label_map_text())
    with pytest.raises(zooft.DataError) as info:
        load_data(tmp_path, task="detect", val_split=0)
    reasons = dict(enumerate(r for _, r in info.value.problems))  # type: ignore[attr-defined]
    text = " | ".join(reasons.values())
    assert "record 1 (source_id 'wide'): object 0: box" in text and "lies outside the image" in text
    assert "record 2 (source_id 'ints'): image/object/bbox/xmin must be a float_list, got int64_list" in text
    assert f"record 3 (source_id 'short'): image/object/class/label has {len(objects) + 1} values for {len(objects)} boxes" in text
    assert "record 4 (source_id 'blank'): no image/encoded bytes" in text
    assert "record 5 (source_id 'junk'): image/encoded is not a readable image" in text
    assert "record 6 (source_id 'label9'): object 0: class label 9 is not in the label map (ids 1..4)" in text
    assert "record 7: not a tf.train.Example" in text
    data = load_data(tmp_path, task="detect", val_split=0, skip_bad_files=True)
    assert [ex.target["image_id"] for ex in data.splits["train"]] == ["good"]
    np.testing.assert_allclose(data.splits["train"][0].target["boxes"], [o["box"] for o in objects], atol=1e-3)
    # classification records given to detection say so
    record = layouts.write_classification_tfrecord(tmp_path / "cls" / "c.record", n=2)
    with pytest.raises(zooft.DataError, match="classification records \\(use --task classify\\)"):
        load_data(record, task="detect", val_split=0)


def test_pipeline_keeps_crowd_regions_out_of_the_positives(tmp_path: Path) -> None:
    from PIL import Image

    from zooft_detect.anchors import AnchorConfig, make_anchors
    from zooft_detect.boxes import CROWD, DIFFICULT, IGNORE_IOA, MatchConfig, ioa
    from zooft_detect.pipeline import make_detection_dataset

    Image.new("RGB", (64, 64), (90, 90, 90)).save(tmp_path / "a.png")
    anchors = AnchorConfig(image_size=(64, 64), strides=(8, 16, 32))
    boxes = np.array([[[4, 4, 28, 28], [36, 36, 60, 60], [36, 4, 60, 28]]], np.float32)
    common = dict(anchors=anchors, matching=MatchConfig(), resize="plain", batch_size=1, training=False,
                  augments=(), shuffle_seed=0, cache=None)
    kinds = np.array([[0, CROWD, DIFFICULT]], np.int32)
    labels = np.array([[0, 1, 2]], np.int32)
    _, kept = next(iter(make_detection_dataset([str(tmp_path / "a.png")], boxes, labels, kinds=kinds, **common)))
    _, ignored = next(iter(make_detection_dataset([str(tmp_path / "a.png")], boxes, labels, kinds=kinds,
                                                  ignore_difficult=True, **common)))
    inside_crowd = ioa(boxes[0, 1:2] / 64.0, make_anchors(anchors))[0] >= IGNORE_IOA
    assert inside_crowd.any()
    for targets, difficult_positive in ((kept, True), (ignored, False)):
        anchor_labels = targets["logits"].numpy()[0]
        assert (anchor_labels == 1).any()  # the object is matched
        assert not (anchor_labels == 2).any() and (anchor_labels[inside_crowd] == -1).all()  # crowd: ignored
        assert (anchor_labels == 3).any() == difficult_positive
        np.testing.assert_array_equal(targets["boxes"].numpy()[0, :, 7], [0, CROWD, DIFFICULT])


def test_gzip_records_are_read(tmp_path: Path) -> None:
    import tensorflow as tf

    scenes = layouts.scenes(2)
    with tf.io.TFRecordWriter(str(tmp_path / "train.tfrecord.gz"), options="GZIP") as writer:
        for k, (image, objects) in enumerate(scenes):
            writer.write(layouts.detection_example(image, objects, f"z{k}").SerializeToString())
    data = load_data(tmp_path, task="detect", val_split=0)
    assert [ex.target["image_id"] for ex in data.splits["train"]] == ["z0", "z1"]
    assert data.classes == sorted({layouts.DEMO_DETECT_CLASSES[o["label"]] for _, objs in scenes for o in objs},
                                  key=layouts.DEMO_DETECT_CLASSES.index)  # no label map: class texts by id
