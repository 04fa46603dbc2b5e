"""``zooft tune / eval / predict / export`` end to end, through the real CLI, on the embedded
model at a small input size and a tiny generated data set."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zooft.cli import run as cli

pytestmark = pytest.mark.slow

SMALL = ["--backbone", "embedded", "--image-size", "32", "--batch-size", "16", "--augment", "flip,contrast=0.1"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from zooft.demo.synthetic import write_classify_demo

    out = tmp_path_factory.mktemp("demo") / "data"
    write_classify_demo(out, images_per_class=14, size=32, seed=1, splits=True)
    return out


TRAIN_STEP_TRACES: list[str] = []  # model names, one per trace of Keras's train step in run_dir


@pytest.fixture(scope="module")
def run_dir(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from keras.src.backend.tensorflow.trainer import TensorFlowTrainer

    out = tmp_path_factory.mktemp("runs") / "run"
    original = TensorFlowTrainer.train_step

    def counting(self: object, data: object) -> object:  # called only while tracing (graph mode)
        TRAIN_STEP_TRACES.append(self.name)  # type: ignore[attr-defined]
        return original(self, data)  # type: ignore[arg-type]

    TensorFlowTrainer.train_step = counting  # type: ignore[method-assign]
    try:
        code = cli(["tune", *SMALL, "--data", str(data_dir), "--epochs", "2", "--fine-tune-epochs", "1", "--output", str(out)])
    finally:
        TensorFlowTrainer.train_step = original  # type: ignore[method-assign]
    assert code == 0
    return out


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> object:
    capsys.readouterr()
    assert cli(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_tune_writes_a_complete_run_directory(run_dir: Path) -> None:
    for name in ("config.json", "model.keras", "labels.json", "data.json", "metrics.json", "history.json",
                 "state.json", "timing.json", "report.md", "report.html"):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "plots").glob("*.png"))
    assert list((run_dir / "logs").rglob("events.out.tfevents.*"))
    history = json.loads((run_dir / "history.json").read_text())
    assert [p["name"] for p in history["phases"]] == ["head", "fine-tune"]
    assert [e["epoch"] for e in history["phases"][0]["epochs"]] == [1, 2]
    assert [e["epoch"] for e in history["phases"][1]["epochs"]] == [1]
    # schedule auto: a constant rate for the head alone, cosine decay (to 0) once the backbone trains
    assert [e["lr"] for e in history["phases"][0]["epochs"]] == pytest.approx([1e-3, 1e-3])
    assert history["phases"][1]["epochs"][-1]["lr"] < 1e-5
    # one trace of the train step per phase: the optimizer is built before fit, so the first
    # trace creates no variables (which would make TensorFlow trace it a second time)
    assert TRAIN_STEP_TRACES == ["zooft_classifier", "zooft_classifier"]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["values"]["epochs"] == 2 and config["sources"]["epochs"] == "command line"
    assert config["sources"]["lr"] == "default"
    assert config["backbone_spec"]["name"] == "keras:mobilenet_v2_035_shapes96"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["split"] == "test" and 0.0 <= metrics["accuracy"] <= 1.0
    assert len(metrics["confusion_matrix"]) == len(json.loads((run_dir / "labels.json").read_text())["classes"])


def test_eval_and_predict_give_json(run_dir: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    metrics = _json(capsys, ["eval", str(run_dir), "--data", str(data_dir / "test"), "--json"])
    assert isinstance(metrics, dict)
    assert {"accuracy", "top_k", "per_class", "confusion_matrix"} <= set(metrics)
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["accuracy"] == pytest.approx(saved["accuracy"])  # same test split, same model
    classes = json.loads((run_dir / "labels.json").read_text())["classes"]
    files = sorted((data_dir / "test").rglob("*.png"))[:2]
    rows = _json(capsys, ["predict", str(run_dir), *map(str, files), "--top-k", "3", "--json"])
    assert isinstance(rows, list) and len(rows) == 2
    for row in rows:
        assert row["label"] in classes and 0.0 <= row["probability"] <= 1.0
        assert len(row["top_k"]) == 3 and row["top_k"][0]["label"] == row["label"]


def test_savedmodel_export_is_parity_checked(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = _json(capsys, ["export", str(run_dir), "--format", "savedmodel", "--json"])
    assert isinstance(result, dict)
    assert result["parity"]["passed"] and result["parity"]["verified"]
    assert (run_dir / "exports" / "savedmodel" / "parity.json").is_file()


def test_predict_on_an_exported_artifact_matches_the_run(
    run_dir: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _json(capsys, ["export", str(run_dir), "--format", "tflite", "--json"])
    files = [str(f) for f in sorted((data_dir / "test").rglob("*.png"))[:3]]
    from_run = _json(capsys, ["predict", str(run_dir), *files, "--json"])
    artifact = run_dir / "exports" / "tflite" / "model.tflite"
    from_artifact = _json(capsys, ["predict", str(artifact), *files, "--json"])
    assert isinstance(from_run, list) and isinstance(from_artifact, list)
    assert [r["label"] for r in from_artifact] == [r["label"] for r in from_run]
    for a, b in zip(from_artifact, from_run):
        assert a["probability"] == pytest.approx(b["probability"], abs=1e-4)


def test_a_drifting_export_fails_the_command_in_one_line(
    run_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import keras
    import zooft_onnx.exporter as onnx_exporter

    real_convert = onnx_exporter.convert

    def drifting_convert(model: object, *args: object, **kwargs: object) -> object:
        # a plausible artifact from slightly wrong weights: what a broken converter would give
        broken = keras.models.clone_model(model)
        broken.set_weights([w * 1.05 if w.ndim == 2 else w for w in model.get_weights()])
        return real_convert(broken, *args, **kwargs)

    monkeypatch.setattr(onnx_exporter, "convert", drifting_convert)
    capsys.readouterr()
    assert cli(["export", str(run_dir), "--format", "onnx"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) <= 2 and "onnx export failed parity: max_abs" in err[0]  # one line, plus the hint
    assert (run_dir / "exports" / "onnx.failed" / "FAILED.txt").is_file()
    assert not (run_dir / "exports" / "onnx").exists()


def test_from_scratch_run_re_estimates_batchnorm(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "scratch"
    argv = ["tune", *SMALL, "--weights", "none", "--data", str(data_dir), "--epochs", "0", "--fine-tune-epochs", "1",
            "--unfreeze", "all", "--cache", "memory", "--output", str(out)]
    capsys.readouterr()
    assert cli(argv) == 0
    captured = capsys.readouterr()
    assert "re-estimated BatchNorm statistics on" in captured.out + captured.err
    assert json.loads((out / "config.json").read_text())["values"]["cache"] == "memory"  # decoded images kept in RAM
    assert json.loads((out / "metrics.json").read_text())["split"] == "test"


def test_flags_beat_the_config_file(data_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "tune.yaml"
    config.write_text("epochs: 3\nfine-tune-epochs: 0\nlr: 0.002\n")
    out = tmp_path / "run"
    assert cli(["tune", *SMALL, "--config", str(config), "--data", str(data_dir), "--epochs", "1", "--output", str(out)]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["values"]["epochs"] == 1 and saved["sources"]["epochs"] == "command line"
    assert saved["values"]["lr"] == 0.002 and saved["sources"]["lr"] == str(config)
    # a second run into the same directory is refused in one line, nothing overwritten
    before = (out / "model.keras").stat().st_mtime_ns
    assert cli(["tune", *SMALL, "--data", str(data_dir), "--output", str(out)]) == 1
    assert (out / "model.keras").stat().st_mtime_ns == before


def test_a_killed_run_resumes_without_repeating_an_epoch(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "zooft", "tune", *SMALL, "--data", str(data_dir), "--epochs", "8", "--output", str(out)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = out / "state.json"
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            if state.is_file() and json.loads(state.read_text())["epochs_done"].get("head", 0) >= 2:
                break
            assert proc.poll() is None, "tune ended before it could be killed"
            time.sleep(0.05)
        else:
            pytest.fail("no epoch committed in time")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done_before = json.loads(state.read_text())["epochs_done"]["head"]
    assert done_before < 8 and not (out / "model.keras").exists()
    history_before = json.loads(state.read_text())["history"]["phases"][0]["epochs"]
    assert cli(["tune", "--resume", str(out)]) == 0
    epochs = json.loads((out / "history.json").read_text())["phases"][0]["epochs"]
    assert [e["epoch"] for e in epochs] == list(range(1, 9))  # each epoch exactly once
    assert epochs[:done_before] == history_before  # finished epochs were not re-run


def test_bad_files_fail_with_a_list_or_are_skipped(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    shutil.copytree(data_dir / "train", data)
    first_class = sorted(p for p in data.iterdir() if p.is_dir())[0]
    good = sorted(first_class.glob("*.png"))[0].read_bytes()
    (first_class / "broken.png").write_bytes(good[: len(good) // 2])
    (first_class / "notes.txt").write_text("not an image")
    capsys.readouterr()
    assert cli(["tune", *SMALL, "--data", str(data), "--epochs", "1", "--output", str(tmp_path / "r1")]) != 0
    err = capsys.readouterr().err
    assert "broken.png" in err and "--skip-bad-files" in err
    assert cli(["tune", *SMALL, "--data", str(data), "--epochs", "1", "--skip-bad-files", "--output", str(tmp_path / "r2")]) == 0
    skipped = {Path(p).name for p, _reason in json.loads((tmp_path / "r2" / "data.json").read_text())["skipped"]}
    assert {"broken.png", "notes.txt"} <= skipped
