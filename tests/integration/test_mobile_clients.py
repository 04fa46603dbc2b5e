"""zooft's TFLite exports in the libraries mobile apps use: MediaPipe Tasks and the TFLite Task Library.

A small CNN is really trained (tests/integration/export_fixtures.py, ~96 % test accuracy), then
exported in every quantization mode through ``zooft.exports.export_run``. Each client runs in
its own venv (mobile_clients/venvs.py; created once, skipped with the reason when it cannot be
installed), decodes the held-out PNG files itself and reads normalization and labels from the
model's standard metadata only. Agreement with ``zooft predict`` (the same artifact through
``zooft.artifacts``) must be >= 95 %; the figures are printed with ``-s`` (docs/export.md).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zooft.artifacts import load_artifact, load_images
from zooft.exports import export_run
from zooft.plugins import PluginHost, reset_host

HERE = Path(__file__).parent


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


fx = _load(HERE / "export_fixtures.py")
venvs = _load(HERE / "mobile_clients" / "venvs.py")
SCRIPT = HERE / "mobile_clients" / "classify_images.py"

MODES: dict[str, dict[str, Any]] = {
    "tflite": {},
    "tflite-float16": {"quantize": "float16"},
    "tflite-dynamic": {"quantize": "dynamic"},
    "tflite-int8": {"quantize": "int8"},
    "tflite-int8-full": {"quantize": "int8-full"},  # uint8 input and output by default
}
MIN_AGREEMENT = 0.95


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The trained run, every TFLite export of it, the held-out images and zooft predict's top-1."""
    import zooft_classify.plugin
    import zooft_tflite.plugin

    host = PluginHost(autoload=False, plugins=[("classify", zooft_classify.plugin), ("tflite", zooft_tflite.plugin)])
    reset_host(host)
    root = tmp_path_factory.mktemp("runs") / "tiny"
    info = fx.write_run(root)
    assert info["accuracy"] >= 0.9, info  # a confident, trained model, or agreement means nothing
    images = sorted(str(p) for p in (root.parent / f"{root.name}-data" / "test").glob("*.png"))
    models, sizes, expected = {}, {}, {}
    for name, options in MODES.items():
        result = export_run(root, "tflite", options)
        assert result["name"] == name and result["parity"]["passed"]
        models[name], sizes[name] = result["artifact"], result["size_bytes"]
        artifact = load_artifact(result["artifact"])  # what `zooft predict` runs
        probs = artifact.predict(load_images(images, artifact.input_size))
        expected[name] = [fx.CLASSES[i] for i in np.asarray(probs).argmax(1)]
    # io_type=int8: what the clients refuse (why uint8 is the default)
    int8_io = export_run(root, "tflite", {"quantize": "int8-full", "io_type": "int8"})
    return {"models": models, "sizes": sizes, "expected": expected, "images": images,
            "int8_io": int8_io["artifact"], "tmp": tmp_path_factory.mktemp("clients")}


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
    results = run_client(client, python, exports["models"], exports["images"], exports["tmp"])
    lines = []
    for name in MODES:
        got = results[name]
        assert "error" not in got, f"{client} refused {name}: {got.get('error')}"
        assert set(got["names"]) == set(fx.CLASSES)  # the labels packed in the model, by name
        agreement = float(np.mean([a == b for a, b in zip(got["top1"], exports["expected"][name])]))
        lines.append(f"{got['version']} {name}: {exports['sizes'][name]} B, agreement with zooft predict {agreement:.3f}"
                     f" on {len(exports['images'])} images")
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
    results = run_client(client, python, {"int8_io": exports["int8_io"]}, exports["images"][:1], exports["tmp"])
    assert message in results["int8_io"].get("error", ""), results
