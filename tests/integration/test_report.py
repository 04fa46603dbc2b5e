"""The run report: both files, the plots they reference, and a refresh that changes nothing else."""

from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zooft.report import write_report
from zooft.classification import classification_metrics

pytest.importorskip("matplotlib")

CLASSES = [f"class_{i}" for i in range(5)] + ["a rather long class name | with a pipe"]


def fake_history() -> dict[str, Any]:
    def epochs(n: int, start: float) -> list[dict[str, Any]]:
        return [
            {"epoch": i + 1, "loss": start / (i + 1), "accuracy": 0.5 + 0.05 * i, "val_loss": start / (i + 1) + 0.1,
             "val_accuracy": 0.45 + 0.05 * i, "lr": 1e-3, "seconds": 2.5, "images_per_second": 120.0}
            for i in range(n)
        ]

    return {"phases": [{"name": "head", "epochs": epochs(3, 1.5)}, {"name": "fine-tune", "epochs": epochs(2, 0.6)}]}


def fake_inputs() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, len(CLASSES), size=60)
    probs = rng.dirichlet(np.ones(len(CLASSES)), size=60)
    counts = {"train": {c: 10 for c in CLASSES}, "val": {c: 2 for c in CLASSES}}
    return {
        "config": {"backbone": "keras:mobilenet_v2", "task": "classify", "epochs": [3, 2], "optimizer": {"lr": 1e-3}},
        "history": fake_history(),
        "metrics": classification_metrics(y, probs, CLASSES, top_k=3),
        "data_summary": {"format": "image-folder", "root": "/data/pets", "counts": counts,
                         "skipped": [("/data/pets/x/bad.jpg", "cannot decode")]},
        "timing": {"total_seconds": 95.2, "phases": {"head": 7.5, "fine-tune": 5.0}, "images_per_second": 118.3},
    }


def referenced(run_dir: Path) -> tuple[list[str], list[str]]:
    html_refs = re.findall(r'<img src="([^"]+)"', (run_dir / "report.html").read_text(encoding="utf-8"))
    md_refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (run_dir / "report.md").read_text(encoding="utf-8"))
    return html_refs, md_refs


def test_report_files_and_plots(tmp_path: Path) -> None:
    exports = [
        {"format": "tflite", "options": {"quantize": "int8"}, "size_bytes": 2_500_000, "passed": True,
         "path": "exports/tflite/model.tflite", "metrics": {"max_abs": 0.004, "top1_agreement": 0.99}},
        {"format": "onnx", "size_bytes": 9_000_000, "parity": {"passed": False, "metrics": {"max_abs": 0.2}}},
    ]
    result = write_report(tmp_path, exports=exports, **fake_inputs())
    assert result == tmp_path / "report.html"
    html_refs, md_refs = referenced(tmp_path)
    assert html_refs == md_refs
    assert set(html_refs) == {"plots/curve_loss.png", "plots/curve_accuracy.png", "plots/confusion_matrix.png"}
    for ref in html_refs:
        assert not Path(ref).is_absolute()
        assert (tmp_path / ref).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    for text in ("top-3 accuracy", "macro_f1", "image-folder", "cannot decode", "1m 35.2s", "118.3 images/s",
                 "keras:mobilenet_v2", "optimizer.lr", "2.4 MB", "FAIL", "0.99", "Per class", "fine-tune"):
        assert text in md and text in html, text
    assert "with a pipe" in md and "\\|" in md  # a pipe in a cell must not split the Markdown table
    assert "<script" not in html and "http" not in html  # self-contained
    assert not list(tmp_path.rglob("*.tmp"))
    umask = os.umask(0)
    os.umask(umask)
    for path in (result, tmp_path / "report.md", tmp_path / "plots" / "curve_loss.png"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # shareable, unlike mkstemp's 0600


def test_refresh_is_idempotent_and_drops_stale_plots(tmp_path: Path) -> None:
    inputs = fake_inputs()
    write_report(tmp_path, **inputs)
    first = (tmp_path / "report.md").read_text(encoding="utf-8")
    write_report(tmp_path, **inputs)
    assert (tmp_path / "report.md").read_text(encoding="utf-8") == first
    # a task without a confusion matrix (e.g. detection) and a run with no epochs
    inputs["metrics"] = {"map": 0.41, "per_class": {"cat": {"ap": 0.5}, "dog": {"ap": 0.32}}}
    write_report(tmp_path, **{**inputs, "history": {"phases": []}})
    html_refs, _ = referenced(tmp_path)
    assert html_refs == []
    assert not (tmp_path / "plots" / "confusion_matrix.png").exists()
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "No epochs recorded." in md and "| cat | 0.5 |" in md


def test_many_classes_confusion_matrix(tmp_path: Path) -> None:
    classes = [f"c{i:02d}" for i in range(30)]
    rng = np.random.default_rng(1)
    metrics = classification_metrics(rng.integers(0, 30, 300), rng.dirichlet(np.ones(30), 300), classes, top_k=5)
    inputs = {**fake_inputs(), "metrics": metrics}
    write_report(tmp_path, **inputs)
    assert (tmp_path / "plots" / "confusion_matrix.png").stat().st_size > 10_000


def test_without_matplotlib_the_report_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    write_report(tmp_path, **fake_inputs())
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "pip install 'zooft[report]'" in md
    assert "| class_0 | 2 | 3 |" in md  # the confusion matrix falls back to a table of counts
    assert referenced(tmp_path) == ([], []) and not list((tmp_path / "plots").iterdir())
