"""zooft's TFLite exports in the libraries mobile apps use: MediaPipe Tasks and the TFLite Task Library.

A small CNN is really trained (tests/integration/export_fixtures.py, ~96 % test accuracy), then
exported in every quantization mode through ``zooft.exports.export_run`` (session fixtures in
conftest.py, shared with test_exporters.py). Each client runs in
its own venv (mobile_clients/venvs.py; created once, skipped with the reason when it cannot be
installed), decodes the held-out PNG files itself and reads normalization and labels from the
model's standard metadata only. Agreement with ``zooft predict`` (the same artifact through
``zooft.exports.artifacts``) must be >= 95 %; the figures are printed with ``-s`` (docs/export.md).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zooft.exports.artifacts import load_artifact, load_images

HERE = Path(__file__).parent


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


fx = _load(HERE / "export_fixtures.py")
venvs = _load(HERE / "mobile_clients" / "venvs.py")
SCRIPT = HERE / "mobile_clients" / "classify_images.py"

# every quantization mode (conftest.TFLITE_VARIANTS); int8-full has uint8 input and output by default
MODES = ["tflite", "tflite-float16", "tflite-dynamic", "tflite-int8", "tflite-int8-full"]
MIN_AGREEMENT = 0.95


@pytest.fixture(scope="module")
def exports(trained_export_run: dict[str, Any], tflite_exports_of_trained_run: dict[str, Any],
            tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The session's trained run and TFLite exports (conftest.py), the held-out images and
    zooft predict's answers on them."""
    assert trained_export_run["accuracy"] >= 0.9, trained_export_run  # a trained model, or agreement means nothing
    root = trained_export_run["run"]
    images = sorted(str(p) for p in (root.parent / f"{root.name}-data" / "test").glob("*.png"))
    models, sizes, expected, scores = {}, {}, {}, {}
    for name in [*MODES, "tflite-int8-full-int8"]:
        result = tflite_exports_of_trained_run[name]
        if isinstance(result, Exception):
            raise result
        assert result["parity"]["passed"], result["parity"]
        models[name], sizes[name] = result["artifact"], result["size_bytes"]
        artifact = load_artifact(result["artifact"])  # what `zooft predict` runs
        probs = np.asarray(artifact.predict(load_images(images, artifact.input_size)))
        expected[name] = [fx.CLASSES[i] for i in probs.argmax(1)]
        scores[name] = np.sort(probs, axis=1)[:, ::-1][:, :2]  # top-2, to explain a disagreement
    return {"models": models, "sizes": sizes, "expected": expected, "scores": scores, "images": images,
            "tmp": tmp_path_factory.mktemp("clients")}


def run_client(client: str, python: Path, models: dict[str, str], images: list[str], tmp: Path) -> dict[str, Any]:
    job = tmp / f"{client}.json"
    job.write_text(json.dumps({"models": models, "images": images, "max_results": len(fx.CLASSES)}), encoding="utf-8")
    done = subprocess.run([str(python), str(SCRIPT), client, str(job)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.mark.slow
@pytest.mark.parametrize(("client", "venv"), [("mediapipe", "mediapipe"), ("tflite_support", "tflite-support")])
def test_client_loads_every_export_names_labels_and_agrees(exports: dict[str, Any], client: str, venv: str) -> None:
    python = venvs.client_python(venv)
    models = {name: exports["models"][name] for name in MODES}
    results = run_client(client, python, models, exports["images"], exports["tmp"])
    lines = []
    for name in MODES:
        got = results[name]
        assert "error" not in got, f"{client} refused {name}: {got.get('error')}"
        assert set(got["names"]) == set(fx.CLASSES)  # the labels packed in the model, by name
        same = [a == b for a, b in zip(got["top1"], exports["expected"][name])]
        agreement = float(np.mean(same))
        ties = [exports["scores"][name][i].round(4).tolist() for i, ok in enumerate(same) if not ok]
        lines.append(f"{got['version']} {name}: {exports['sizes'][name]} B, agreement with zooft predict {agreement:.3f}"
                     f" on {len(exports['images'])} images" + (f"; zooft's top-2 scores where they differ: {ties}" if ties else ""))
        assert agreement >= MIN_AGREEMENT, lines[-1]
    print("\n" + "\n".join(lines))


@pytest.mark.slow
@pytest.mark.parametrize(("client", "venv", "message"), [
    ("mediapipe", "mediapipe", "got INT8"),
    ("tflite_support", "tflite-support", "got INT8"),
])
def test_int8_io_is_refused_by_clients(exports: dict[str, Any], client: str, venv: str, message: str) -> None:
    """Why int8-full defaults to uint8 input and output: both clients refuse int8 images."""
    python = venvs.client_python(venv)
    int8_io = {"int8_io": exports["models"]["tflite-int8-full-int8"]}
    results = run_client(client, python, int8_io, exports["images"][:1], exports["tmp"])
    assert message in results["int8_io"].get("error", ""), results
