"""The ``detect`` task end to end through the real CLI: tune the embedded backbone at 64 px on a small
generated COCO set until it really detects (a stated mAP on the held-out test split), evaluate (COCO
mAP equals pycocotools on ``predict --json``), export SavedModel / ONNX (NMS in the graph) and TFLite
float / int8 (NMS by the TFLite_Detection_PostProcess op; the raw variant with host-side NMS is
tested in test_detect_ondevice.py), parity-gated, and predict on every artifact with the run's
detections.

The data set is written here (COCO JSON: one filled square per image, of random size, place and
colour, on a noisy background) so that a short run learns it: the trained model's detections are
confident, which is what the parity gates need to check anything. Nothing in the trained model is
edited. (A two-class variant, squares and discs, reached mAP@.5 0.26 / 0.43 in the same budget:
too close to a flaky threshold for CI.)
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from zooft.cli import run as cli

pytestmark = pytest.mark.slow
pytest.importorskip("pycocotools")

SIZE = 64
#: Measured on this fixture's run: mAP@.5 0.977, mAP 0.574 (seed 0, a near-identical set); thresholds well below.
MIN_MAP_50 = 0.6
MIN_MAP = 0.25


def write_shapes_coco(out: Path, *, seed: int, counts: tuple[int, int, int] = (60, 15, 15), discs: bool = False) -> None:
    """``out/{train,val,test}.json`` + ``out/images/*.png``: one filled square (or, with
    ``discs``, a square or a disc) per image."""
    from PIL import Image, ImageDraw

    (out / "images").mkdir(parents=True)
    rng = np.random.default_rng(seed)
    index = 0
    for split, n in zip(("train", "val", "test"), counts):
        images, annotations = [], []
        for _ in range(n):
            image = Image.fromarray(np.clip(rng.normal(40, 15, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8))
            side = int(rng.integers(SIZE // 4, SIZE // 2))
            x0, y0 = (int(v) for v in rng.integers(0, SIZE - side, 2))
            label = int(rng.integers(0, 2)) if discs else 0
            draw = ImageDraw.Draw(image)
            shape = draw.rectangle if label == 0 else draw.ellipse
            shape([x0, y0, x0 + side - 1, y0 + side - 1], fill=tuple(int(c) for c in rng.uniform(150, 255, 3)))
            name = f"images/{split}_{index:04d}.png"
            image.save(out / name)
            images.append({"id": index + 1, "file_name": name, "width": SIZE, "height": SIZE})
            annotations.append({"id": len(annotations) + 1, "image_id": index + 1, "category_id": label + 1,
                                "bbox": [x0, y0, side, side], "area": side * side, "iscrowd": 0})
            index += 1
        categories = [{"id": 1, "name": "square"}] + ([{"id": 2, "name": "disc"}] if discs else [])
        doc = {"images": images, "annotations": annotations, "categories": categories}
        (out / f"{split}.json").write_text(json.dumps(doc))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("detect") / "data"
    write_shapes_coco(out, seed=0)
    return out


@pytest.fixture(scope="module")
def run_dir(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "run"
    code = cli(["tune", "--backbone", "embedded", "--task", "detect", "--image-size", str(SIZE), "--batch-size", "8",
                "--data", str(data_dir), "--epochs", "5", "--fine-tune-epochs", "20", "--lr", "0.01", "--seed", "0",
                "--task-options", "score_threshold=0.2,max_detections=20", "--output", str(out)])
    assert code == 0
    return out


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> object:
    capsys.readouterr()
    assert cli(argv) == 0
    return json.loads(capsys.readouterr().out)


def _test_files(data_dir: Path) -> list[str]:
    doc = json.loads((data_dir / "test.json").read_text())
    return [str(data_dir / img["file_name"]) for img in doc["images"]]


def test_tune_writes_coco_metrics_and_report(run_dir: Path) -> None:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["split"] == "test" and {"map", "map_50", "per_class", "pr_curves"} <= set(metrics)
    assert set(metrics["per_class"]) == {"square"}
    # it learned: COCO mAP on the held-out test split of the trained (unedited) model
    assert metrics["map_50"] >= MIN_MAP_50 and metrics["map"] >= MIN_MAP
    assert "Per class" in (run_dir / "report.md").read_text()
    config = json.loads((run_dir / "config.json").read_text())["values"]
    assert config["task_options"] == {"score_threshold": 0.2, "max_detections": 20}


def test_eval_map_equals_pycocotools_on_predict_json(
    run_dir: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """On the test split, and on a COCO file made of the run's own confident detections (so mAP is
    far from 0 and a wrong pixel mapping or class mapping would show): zooft's number equals
    pycocotools' on ``predict --json`` output."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    files = _test_files(data_dir)
    rows = _json(capsys, ["predict", str(run_dir), *files, "--json"])
    assert sum(len(r["detections"]) for r in rows) > 0
    real = json.loads((data_dir / "test.json").read_text())
    pseudo = {"images": [{"id": i + 1, "file_name": r["file"], "width": r["width"], "height": r["height"]}
                         for i, r in enumerate(rows)],
              "categories": list(reversed(real["categories"])),  # another order: eval maps names onto the run's
              "annotations": []}
    for i, r in enumerate(rows):
        for d in r["detections"]:
            if d["score"] >= 0.5:
                x0, y0, x1, y1 = d["box"]
                cat = next(c["id"] for c in real["categories"] if c["name"] == d["label"])
                pseudo["annotations"].append({"id": len(pseudo["annotations"]) + 1, "image_id": i + 1, "category_id": cat,
                                              "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0), "iscrowd": 0})
    assert pseudo["annotations"]
    (tmp_path / "pseudo").mkdir()
    (tmp_path / "pseudo" / "annotations.json").write_text(json.dumps(pseudo))
    for truth_file, argv in ((data_dir / "test.json", []), (tmp_path / "pseudo" / "annotations.json", ["--data", str(tmp_path / "pseudo")])):
        metrics = _json(capsys, ["eval", str(run_dir), *argv, "--json"])
        doc = json.loads(truth_file.read_text())
        ids = {str(Path(truth_file.parent, img["file_name"])): img["id"] for img in doc["images"]}
        cats = {c["name"]: c["id"] for c in doc["categories"]}
        results = [{"image_id": ids[r["file"]], "category_id": cats[d["label"]], "score": d["score"],
                    "bbox": [d["box"][0], d["box"][1], d["box"][2] - d["box"][0], d["box"][3] - d["box"][1]]}
                   for r in rows for d in r["detections"]]
        with contextlib.redirect_stdout(io.StringIO()):
            truth = COCO(str(truth_file))
            evaluator = COCOeval(truth, truth.loadRes(results), "bbox")
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
        assert metrics["map"] == pytest.approx(max(evaluator.stats[0], 0.0), abs=1e-6)
        assert metrics["map_50"] == pytest.approx(max(evaluator.stats[1], 0.0), abs=1e-6)
    assert metrics["map_50"] > 0.5  # the pseudo ground truth is what the model finds


@pytest.mark.parametrize("fmt", ["savedmodel", "onnx", "tflite", "tflite:int8"])
def test_export_passes_parity_and_predicts_like_the_run(
    fmt: str, run_dir: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    result = _json(capsys, ["export", str(run_dir), "-f", fmt, "--json"])
    parity = result["parity"]
    assert parity["passed"], parity["reason"]
    assert parity["metrics"]["reference_detections"] > 0
    metadata = json.loads((Path(result["path"]) / "metadata.json").read_text())
    assert metadata["postprocess"]["outputs"] == ("op" if fmt.startswith("tflite") else "nms")  # op: TFLite_Detection_PostProcess
    assert metadata["postprocess"]["score_threshold"] == 0.2
    files = _test_files(data_dir)
    on_run = _json(capsys, ["predict", str(run_dir), *files, "--json"])
    on_artifact = _json(capsys, ["predict", result["artifact"], *files, "--json", "--draw", str(tmp_path / "drawn")])
    assert len(list((tmp_path / "drawn").glob("*.png"))) == len(files)
    for a, b in zip(on_run, on_artifact):
        if fmt == "tflite:int8":  # quantized: the confident detections agree, not every low score
            strong = [d["label"] for d in a["detections"] if d["score"] > 0.6]
            found = [d["label"] for d in b["detections"]]
            assert all(label in found for label in strong)
            continue
        assert [d["label"] for d in a["detections"]] == [d["label"] for d in b["detections"]]
        np.testing.assert_allclose([d["box"] for d in a["detections"]], [d["box"] for d in b["detections"]], atol=0.05)
        np.testing.assert_allclose([d["score"] for d in a["detections"]], [d["score"] for d in b["detections"]], atol=1e-4)


def test_bad_task_option_fails_before_training(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli(["tune", "--backbone", "embedded", "--task", "detect", "--data", str(data_dir),
                "--task-options", "score_treshold=0.2", "--output", str(tmp_path / "bad")])
    assert code != 0
    assert "score_treshold" in capsys.readouterr().err
