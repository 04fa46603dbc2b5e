"""Text end to end, offline: a tiny BERT preset built from the demo vocabulary is fine-tuned
through ``zooft tune --backbone bert:PATH --task text-classify --data FILE.csv``, exported to
SavedModel (strings in), TFLite and ONNX (token ids in, tokenized on the host) with parity
checked, and used by ``zooft predict`` / ``eval``. Also multi-label and the sequence-length check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from zooft.cli import run as cli

pytestmark = pytest.mark.slow
pytest.importorskip("keras_hub")

TEXTS = ["The guitar concert and the new album", "rain storm and cold wind today", "a spicy pizza recipe for dinner"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from zooft.demo.text import write_text_demo

    return write_text_demo(tmp_path_factory.mktemp("text") / "data", per_class=60, seed=1)


@pytest.fixture(scope="module")
def preset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from zooft.demo.text import demo_vocabulary
    from zooft_bert.presets import write_tiny_preset

    return write_tiny_preset(tmp_path_factory.mktemp("preset") / "tiny_bert", demo_vocabulary(), num_layers=2,
                             hidden_dim=32, intermediate_dim=64, max_sequence_length=32)


def tune_args(preset: Path, data: str, out: Path, *extra: str) -> list[str]:
    # a tiny random BERT learns a toy task with lr ~3e-3 over ~10 epochs, all layers open (measured)
    return ["tune", "--backbone", f"bert:{preset}", "--task", "text-classify", "--data", data, "--sequence-length", "24",
            "--epochs", "0", "--fine-tune-epochs", "10", "--fine-tune-lr", "3e-3", "--batch-size", "16",
            "--output", str(out), *extra]


@pytest.fixture(scope="module")
def run_dir(demo: dict[str, Any], preset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "text"
    assert cli(tune_args(preset, demo["csv"], out)) == 0
    return out


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Any:
    capsys.readouterr()
    assert cli(argv) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_tiny_bert_fine_tunes_clearly_better_than_chance(run_dir: Path) -> None:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["split"] == "test" and metrics["samples"] == 60
    assert metrics["accuracy"] >= 0.75, metrics["accuracy"]  # 4 balanced classes: chance is 0.25
    assert metrics["macro_f1"] >= 0.7 and set(metrics["per_class"]) == {"food", "music", "sports", "weather"}
    config = json.loads((run_dir / "config.json").read_text())
    # --sequence-length is a shorthand for the text-classify task option
    assert config["values"]["task_options"]["sequence_length"] == 24 and config["sources"]["task_options"] == "command line"
    assert config["backbone_spec"]["name"] == "bert:tiny_bert" and config["backbone_spec"]["modality"] == "text"
    history = json.loads((run_dir / "history.json").read_text())
    assert [p["name"] for p in history["phases"]] == ["fine-tune"]


def test_exports_pass_parity_and_predict_the_same_on_every_artifact(run_dir: Path, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    results = _json(capsys, ["export", str(run_dir), "-f", "savedmodel", "-f", "tflite", "-f", "onnx", "--json"])
    by_format = {r["format"]: r for r in results}
    for fmt in ("savedmodel", "tflite", "onnx"):
        parity = by_format[fmt]["parity"]
        assert parity["passed"] and parity["verified"], (fmt, parity["reason"])
        assert parity["metrics"]["top1_agreement"] == 1.0 and parity["samples"] == 60
        assert parity["metrics"]["max_abs"] <= parity["thresholds"]["max_abs"]
        metadata = json.loads((Path(by_format[fmt]["path"]) / "metadata.json").read_text())
        assert metadata["task"] == "text-classify" and metadata["sequence_length"] == 24
    sm_meta = json.loads((Path(by_format["savedmodel"]["path"]) / "metadata.json").read_text())
    assert sm_meta["input"]["name"] == "text" and "tokenizer" not in sm_meta
    tfl_meta = json.loads((Path(by_format["tflite"]["path"]) / "metadata.json").read_text())
    assert tfl_meta["input"] == {"name": "token_ids", "dtype": "int32", "shape": [None, 24], "tokenizer": "on the host"}
    assert tfl_meta["tokenizer"]["config"]["vocabulary"][:4] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]

    reference = _json(capsys, ["predict", str(run_dir), *TEXTS, "--top-k", "2", "--json"])
    assert [row["text"] for row in reference] == TEXTS and all(len(row["top_k"]) == 2 for row in reference)
    text_file = tmp_path / "texts.txt"
    text_file.write_text("\n".join(TEXTS[:2]) + "\n\n", encoding="utf-8")
    for fmt in ("savedmodel", "tflite", "onnx"):
        rows = _json(capsys, ["predict", by_format[fmt]["path"], TEXTS[2], "--file", str(text_file), "--top-k", "2", "--json"])
        assert [row["text"] for row in rows] == [TEXTS[2], *TEXTS[:2]]
        for row, ref in zip(rows, [reference[2], *reference[:2]]):
            assert row["label"] == ref["label"] and row["probability"] == pytest.approx(ref["probability"], abs=1e-4), fmt
    bench = _json(capsys, ["bench", str(run_dir), "--runs", "5", "--json"])
    assert sorted(row["name"] for row in bench["rows"]) == ["keras", "onnx", "savedmodel", "tflite"]


def test_eval_reproduces_the_saved_metrics(run_dir: Path, demo: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert _json(capsys, ["eval", str(run_dir), "--json"])["accuracy"] == pytest.approx(saved["accuracy"])
    every = _json(capsys, ["eval", str(run_dir), "--data", demo["csv"], "--json"])
    assert every["samples"] == 240 and {"accuracy", "macro_f1", "per_class", "confusion_matrix"} <= set(every)


def test_sequence_length_longer_than_the_model_fails_in_one_line(preset: Path, demo: dict[str, Any], tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "too-long"
    argv = tune_args(preset, demo["csv"], out)
    argv[argv.index("--sequence-length") + 1] = "64"
    capsys.readouterr()
    assert cli(argv) != 0
    err = capsys.readouterr().err.strip()
    assert "--sequence-length 64 exceeds bert:tiny_bert's 32 position embeddings" in err
    assert "--sequence-length 32 or less" in err
    assert not out.exists() or not any(out.iterdir())  # nothing half-written


def test_multi_label_with_thresholds_trains_exports_and_predicts(preset: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from zooft.demo.text import write_text_demo

    data = write_text_demo(tmp_path / "multi", per_class=30, seed=2, multi_label=True)
    out = tmp_path / "run"
    argv = tune_args(preset, data["csv"], out, "--multi-label", "--thresholds", "0.4,sports=0.5")
    argv[argv.index("--fine-tune-epochs") + 1] = "15"
    assert cli(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["multi_label"] and metrics["thresholds"] == {"food": 0.4, "music": 0.4, "sports": 0.5, "weather": 0.4}
    # the all-negative answer scores about 0.55 here (1.8 of 4 labels per text on average)
    assert metrics["label_accuracy"] > 0.6 and 0.0 <= metrics["micro_f1"] <= 1.0
    result = _json(capsys, ["export", str(out), "-f", "onnx", "--json"])
    assert result["parity"]["passed"] and result["parity"]["metrics"]["decision_agreement"] == 1.0
    metadata = json.loads((Path(result["path"]) / "metadata.json").read_text())
    assert metadata["multi_label"] and metadata["thresholds"]["sports"] == 0.5
    from_run = _json(capsys, ["predict", str(out), *TEXTS, "--json"])
    from_onnx = _json(capsys, ["predict", result["path"], *TEXTS, "--json"])
    assert [r["labels"] for r in from_onnx] == [r["labels"] for r in from_run]
    for row in from_run:
        assert row["label"] == "|".join(row["labels"])


def test_balanced_multi_label_loss_weights_rare_labels_up() -> None:
    import numpy as np

    from zooft_text.task import balanced_bce

    y = np.asarray([[1, 0], [0, 0], [0, 0], [0, 1]], dtype="float32")  # label 0: 1 of 4 positive
    p = np.asarray([[0.7, 0.2], [0.1, 0.4], [0.3, 0.1], [0.2, 0.6]], dtype="float32")
    pos, neg = 4 / (2 * y.sum(0)), 4 / (2 * (4 - y.sum(0)))
    expected = -(pos * y * np.log(p) + neg * (1 - y) * np.log(1 - p)).mean(axis=1)
    got = np.asarray(balanced_bce(y.sum(0), 4)(y, p))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_tflite_bert_inputs_load_in_mediapipe_text_classifier(run_dir: Path, demo: dict[str, Any], tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """text_inputs=bert: ids / mask / segment_ids, BERT tokenizer metadata with the vocabulary packed;
    MediaPipe's TextClassifier tokenizes itself and agrees with zooft predict. The default
    token-id export is refused by MediaPipe: with one int32 input it is not a BERT model to it."""
    import csv
    import importlib.util
    import subprocess

    from zooft.exports.run import export_run
    from zooft_tflite import metadata as tflite_metadata

    here = Path(__file__).parent
    spec = importlib.util.spec_from_file_location("venvs", here / "mobile_clients" / "venvs.py")
    venvs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(venvs)  # type: ignore[union-attr]

    bert = export_run(run_dir, "tflite", {"text_inputs": "bert"})
    assert bert["name"] == "tflite-bert" and bert["parity"]["passed"], bert["parity"]
    assert bert["parity"]["metrics"]["top1_agreement"] == 1.0 and bert["parity"]["metrics"]["max_abs"] <= 1e-4
    data = Path(bert["artifact"]).read_bytes()
    standard = tflite_metadata.read(data)
    # in the model's tensor order (the converter chose it), each found by name by the clients
    assert sorted(t["name"] for t in standard["inputs"]) == ["ids", "mask", "segment_ids"]
    assert standard["input_process_units"][0]["bert_tokenizer"]["vocab_file"][0]["name"] == "vocab.txt"
    assert standard["min_parser_version"] == "1.1.0"
    default = export_run(run_dir, "tflite", {})
    vocabulary = json.loads((Path(default["path"]) / "metadata.json").read_text())["tokenizer"]["config"]["vocabulary"]
    assert tflite_metadata.packed_files(data)["vocab.txt"].decode().splitlines() == vocabulary
    assert [t["name"] for t in tflite_metadata.read(Path(default["artifact"]).read_bytes())["inputs"]] == ["ids"]

    with open(demo["csv"], encoding="utf-8") as f:
        texts = [row["text"] for row in csv.DictReader(f) if row["split"] == "test"]
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    reference = [row["label"] for row in _json(capsys, ["predict", str(run_dir), "--file", str(tmp_path / "texts.txt"), "--json"])]

    job = tmp_path / "job.json"
    job.write_text(json.dumps({"models": {"bert": bert["artifact"], "ids": default["artifact"]}, "texts": texts}), encoding="utf-8")
    # each client's refusal of the one-input export, in its own words: MediaPipe takes a model
    # with one int32 input for a regex / SentencePiece model, the Task Library counts inputs
    refusals = {"mediapipe": "SentencePiece", "tflite_support": "Expected at least 3 input tensors (ids, mask, segment ids)"}
    for client, venv in (("mediapipe", "mediapipe"), ("tflite_support", "tflite-support")):
        python = venvs.client_python(venv)
        done = subprocess.run([str(python), str(here / "mobile_clients" / "classify_texts.py"), client, str(job)],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        results = json.loads(done.stdout)
        got = results["bert"]
        assert "error" not in got, got["error"]
        assert set(got["names"]) == {"food", "music", "sports", "weather"}
        agreement = sum(a == b for a, b in zip(got["top1"], reference)) / len(texts)
        print(f"\n{got['version']}, tflite-bert: agreement with zooft predict {agreement:.3f} on {len(texts)} texts;"
              f" parity max_abs {bert['parity']['metrics']['max_abs']:.1e}")
        assert agreement >= 0.95
        assert refusals[client] in results["ids"].get("error", ""), results["ids"]
