"""Export a really trained tiny classifier to every format and quantization, through the host.

One run is trained once per session (tests/integration/conftest.py, ~15 s) and its TFLite
variants exported once (shared with test_mobile_clients.py); tests that break or replace
exports work on a copy of it. Sizes, diffs and latencies measured here are printed with ``-s`` (see docs/export.md).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zooft
from zooft.exports import parity
from zooft.exports.artifacts import load_artifact, read_tflite_metadata
from zooft.exports.run import export_run
from zooft.plugins import PluginHost, reset_host

_spec = importlib.util.spec_from_file_location("export_fixtures", Path(__file__).with_name("export_fixtures.py"))
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)  # type: ignore[union-attr]

TFLITE_MODES: list[tuple[str, dict[str, Any]]] = [
    ("none", {}),
    ("float16", {"quantize": "float16"}),
    ("dynamic", {"quantize": "dynamic"}),
    ("int8", {"quantize": "int8"}),
    ("int8-full", {"quantize": "int8-full"}),  # uint8 input/output by default
    ("int8-full-int8", {"quantize": "int8-full", "io_type": "int8"}),
    ("int8-full-float32", {"quantize": "int8-full", "io_type": "float32"}),
]


@pytest.fixture(scope="module")
def export_host() -> PluginHost:
    """The three export plugins and the run's task, registered through the same path as entry points."""
    import zooft_classify.plugin
    import zooft_onnx.plugin
    import zooft_savedmodel.plugin
    import zooft_tflite.plugin

    plugin_host = PluginHost(
        autoload=False,
        plugins=[("classify", zooft_classify.plugin), ("savedmodel", zooft_savedmodel.plugin), ("tflite", zooft_tflite.plugin), ("onnx", zooft_onnx.plugin)],
    )
    assert not plugin_host.errors()
    return plugin_host


@pytest.fixture(autouse=True)
def use_export_host(zooft_env: Path, export_host: PluginHost) -> None:
    """conftest resets the host around every test; install ours after it did."""
    reset_host(export_host)


@pytest.fixture(scope="module")
def trained(trained_export_run: dict[str, Any]) -> dict[str, Any]:
    """The session's trained run (tests/integration/conftest.py) with its Keras model and outputs."""
    info = dict(trained_export_run)
    # the premise of every quantization test: a model that is accurate and not saturated
    assert info["accuracy"] >= 0.9 and info["confidence_p5"] < 0.9, info
    assert info["params"] >= 50_000
    import keras

    info["model"] = keras.saving.load_model(info["run"] / "model.keras")
    info["reference"] = info["model"].predict(info["x_test"], verbose=0)
    return info


@pytest.fixture(scope="module")
def tflite_exports(tflite_exports_of_trained_run: dict[str, Any]) -> dict[str, Any]:
    """Every TFLite mode exported once (session fixture), by mode name."""
    return {mode: tflite_exports_of_trained_run["tflite" if mode == "none" else f"tflite-{mode}"] for mode, _ in TFLITE_MODES}


@pytest.fixture
def fresh_run(trained: dict[str, Any], tmp_path: Path) -> Path:
    return fx.copy_run(trained["run"], tmp_path / "copy")


def _result(results: dict[str, Any], name: str) -> dict[str, Any]:
    value = results[name]
    if isinstance(value, Exception):
        raise value
    return value


@pytest.mark.slow
def test_savedmodel_has_float_and_uint8_signatures_any_batch(trained: dict[str, Any]) -> None:
    result = export_run(trained["run"], "savedmodel", {})
    report = result["parity"]
    assert report["passed"] and report["verified"], report
    assert report["metrics"]["max_abs"] <= 1e-5 and report["metrics"]["uint8_max_abs"] <= 1e-5
    assert report["metrics"]["samples_split"] == "test" and report["samples"] == 200
    assert Path(result["artifact"]) == trained["run"] / "exports" / "savedmodel" / "saved_model"
    export_dir = Path(result["path"])
    assert {"parity.json", "metadata.json", "saved_model"} <= {p.name for p in export_dir.iterdir()}
    metadata = json.loads((Path(result["artifact"]) / "assets.extra" / "metadata.json").read_text())
    assert metadata["labels"] == fx.CLASSES and metadata["signatures"] == ["serving_default", "serving_uint8"]
    x = trained["x_test"][:7]  # a batch size nobody traced for
    for signature in ("serving_default", "serving_uint8"):
        out = load_artifact(export_dir, signature=signature).predict(x)
        np.testing.assert_allclose(out, trained["reference"][:7], atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("mode", [name for name, _ in TFLITE_MODES])
def test_tflite_mode_passes_its_gate(tflite_exports: dict[str, Any], trained: dict[str, Any], mode: str) -> None:
    result = _result(tflite_exports, mode)
    report = result["parity"]
    assert report["passed"] and report["verified"], report
    metrics = report["metrics"]
    print(f"\ntflite {mode}: {result['size_bytes']} B, max_abs {metrics['max_abs']:.2e},"
          f" top1 {metrics['top1_agreement']:.3f}, acc {metrics['accuracy_reference']:.3f}->{metrics['accuracy_export']:.3f}")
    assert metrics["runtime"].startswith("ai_edge_litert")
    assert set(metrics["per_class_accuracy"]) == set(fx.CLASSES)
    if mode == "none":
        assert metrics["max_abs"] <= 1e-4
    artifact = Path(result["artifact"])
    expected_dir = "tflite" if mode == "none" else f"tflite-{mode}"
    assert artifact.parent.name == expected_dir and artifact.name == "model.tflite"
    assert (artifact.parent / "labels.txt").read_text().split() == fx.CLASSES
    embedded = read_tflite_metadata(artifact.read_bytes())
    assert embedded["labels"] == fx.CLASSES and embedded["task"] == "classify"
    assert embedded["preprocessing"] == {"mode": "unit"} and embedded["source_model"] == "test:tiny"
    # the standard metadata on-device clients read (they are run in test_mobile_clients.py)
    from zooft_tflite import metadata as tflite_metadata

    standard = tflite_metadata.read(artifact.read_bytes())
    assert standard["inputs"][0]["content"] == {"kind": "image", "color_space": "RGB", "width": fx.SIZE, "height": fx.SIZE}
    assert standard["outputs"][0]["associated_files"][0] == {"name": "labels.txt", "description": "class labels",
                                                            "type": "TENSOR_AXIS_LABELS"}
    assert tflite_metadata.packed_files(artifact.read_bytes()) == {"labels.txt": "".join(f"{c}\n" for c in fx.CLASSES).encode()}
    assert embedded["standard_metadata"] == {"name": "TFLITE_METADATA", "min_parser_version": "1.0.0",
                                             "associated_files": ["labels.txt"]}
    # the artifact runs like the Keras model through the same API zooft predict uses
    loaded = load_artifact(artifact)
    assert loaded.classes == fx.CLASSES and loaded.input_size == (fx.SIZE, fx.SIZE)
    out = loaded.predict(trained["x_test"])
    assert parity.top1_agreement(trained["reference"], out) >= 0.95
    if mode.startswith("int8-full"):
        io = {"int8-full": "uint8", "int8-full-int8": "int8", "int8-full-float32": "float32"}[mode]
        assert embedded["tensors"]["inputs"]["image"]["dtype"] == io
        assert embedded["tensors"]["outputs"]["probabilities"]["dtype"] == io


@pytest.mark.slow
def test_tflite_sizes_shrink_with_quantization(tflite_exports: dict[str, Any]) -> None:
    sizes = {name: _result(tflite_exports, name)["size_bytes"] for name, _ in TFLITE_MODES}
    print(f"\ntflite sizes: {sizes}")
    assert sizes["float16"] <= 0.55 * sizes["none"]
    assert sizes["int8-full"] <= 0.3 * sizes["none"]
    assert sizes["int8"] <= 0.35 * sizes["none"] and sizes["dynamic"] <= 0.35 * sizes["none"]


@pytest.mark.slow
def test_onnx_named_io_dynamic_batch_and_metadata(trained: dict[str, Any]) -> None:
    import onnx

    result = export_run(trained["run"], "onnx", {"opset": "17"})
    report = result["parity"]
    assert report["passed"] and report["metrics"]["max_abs"] <= 1e-4, report
    proto = onnx.load(result["artifact"])
    assert [i.name for i in proto.graph.input] == ["image"]
    assert [o.name for o in proto.graph.output] == ["probabilities"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert any(op.version == 17 for op in proto.opset_import if op.domain in ("", "ai.onnx"))
    props = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(props["labels"]) == fx.CLASSES
    assert props["task"] == "classify" and props["source_model"] == "test:tiny"
    assert json.loads(props["input_size"]) == [fx.SIZE, fx.SIZE]
    loaded = load_artifact(Path(result["path"]))  # the exports/onnx dir works too
    assert loaded.classes == fx.CLASSES
    np.testing.assert_allclose(loaded.predict(trained["x_test"][:5]), trained["reference"][:5], atol=1e-4)
    bench = loaded.benchmark(batch=1, runs=5, warmup=1)
    assert bench["latency_ms"]["p50"] > 0 and bench["size_bytes"] == result["size_bytes"]


@pytest.mark.slow
def test_onnx_uint8_input_takes_decoded_pixels(trained: dict[str, Any]) -> None:
    """input_type=uint8: the cast is inside the graph; a client feeds its decoder's uint8 array."""
    import onnxruntime as ort
    from PIL import Image

    result = export_run(trained["run"], "onnx", {"input_type": "uint8"})
    report = result["parity"]
    assert result["name"] == "onnx-uint8" and report["passed"] and report["metrics"]["max_abs"] <= 1e-4, report
    assert report["metrics"]["input_type"] == "uint8"
    session = ort.InferenceSession(result["artifact"], providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert (inp.name, inp.type, inp.shape[1:]) == ("image", "tensor(uint8)", [fx.SIZE, fx.SIZE, 3])
    files = sorted((trained["run"].parent / f"{trained['run'].name}-data" / "test").glob("*.png"))[:16]
    pixels = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])  # uint8, as decoded
    (probs,) = session.run(["probabilities"], {"image": pixels})
    np.testing.assert_allclose(probs, trained["reference"][:16], atol=1e-4)
    assert json.loads(session.get_modelmeta().custom_metadata_map["zooft_metadata"])["input_dtype"] == "uint8"


@pytest.mark.slow
def test_benchmark_every_format(trained: dict[str, Any], tflite_exports: dict[str, Any]) -> None:
    exports = trained["run"] / "exports"
    if not (exports / "savedmodel").exists():
        export_run(trained["run"], "savedmodel", {})
    lines = []
    for name in ("savedmodel", "tflite", "tflite-float16", "tflite-dynamic", "tflite-int8", "tflite-int8-full"):
        if not (exports / name).exists():
            continue
        bench = load_artifact(exports / name, threads=2).benchmark(batch=1, runs=20, warmup=3)
        assert set(bench["latency_ms"]) == {"p50", "p90", "mean", "min"} and bench["throughput_per_s"] > 0
        lines.append(f"{name}: p50 {bench['latency_ms']['p50']:.3f} ms, {bench['size_bytes']} B")
    print("\n" + "\n".join(lines))


@pytest.mark.slow
def test_corrupted_artifact_fails_parity_and_keeps_good_export(fresh_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import keras
    import zooft_tflite.exporter as tflite_exporter

    real_convert = tflite_exporter.convert

    def corrupt_convert(model: Any, *args: Any) -> bytes:
        # flip the classifier's weights before conversion: a plausible-looking, wrong artifact
        broken = keras.models.clone_model(model)
        broken.set_weights([-w if w.ndim == 2 else w for w in model.get_weights()])
        return real_convert(broken, *args)

    exports = fresh_run / "exports"
    monkeypatch.setattr(tflite_exporter, "convert", corrupt_convert)
    with pytest.raises(zooft.ParityError) as info:
        export_run(fresh_run, "tflite", {})
    assert "max_abs" in str(info.value) and "> 0.0001" in str(info.value) and "\n" not in str(info.value)
    assert "--tolerance" in info.value.hint and "tflite.failed" in info.value.hint
    failed = exports / "tflite.failed"
    assert (failed / "model.tflite").is_file() and "FAILED" in (failed / "FAILED.txt").read_text()
    assert json.loads((failed / "parity.json").read_text())["passed"] is False
    assert not (exports / "tflite").exists()
    assert not list(exports.glob(".tmp-*"))

    monkeypatch.setattr(tflite_exporter, "convert", real_convert)
    good = export_run(fresh_run, "tflite", {})
    assert not failed.exists()  # a passing export clears the stale failure
    good_bytes = Path(good["artifact"]).read_bytes()

    monkeypatch.setattr(tflite_exporter, "convert", corrupt_convert)
    with pytest.raises(zooft.ParityError):
        export_run(fresh_run, "tflite", {})
    assert Path(good["artifact"]).read_bytes() == good_bytes and failed.is_dir()


@pytest.mark.slow
def test_int8_gate_catches_bad_calibration(fresh_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zooft_tflite.exporter as tflite_exporter

    real_convert = tflite_exporter.convert

    def dark_calibration(model: Any, mode: str, io_type: Any, calibration: Any, workdir: Path, *rest: Any) -> bytes:
        # calibrating on near-black images clips every real activation range: top-1 collapses
        return real_convert(model, mode, io_type, np.zeros_like(calibration[:20]), workdir, *rest)

    monkeypatch.setattr(tflite_exporter, "convert", dark_calibration)
    with pytest.raises(zooft.ParityError, match=r"confident_top1_agreement 0\.\d+ < 0\.95 \(minimum\)") as info:
        export_run(fresh_run, "tflite", {"quantize": "int8"})
    assert "another quantization (none, float16, dynamic, int8-full)" in info.value.hint
    report = json.loads((fresh_run / "exports" / "tflite-int8.failed" / "parity.json").read_text())
    assert report["metrics"]["accuracy_drop"] > 0.03 and report["thresholds"]["confident_top1_agreement"] == 0.95
    # --tolerance loosens the agreement gates of quantized modes (1 - tolerance, tolerance)
    result = export_run(fresh_run, "tflite", {"quantize": "int8", "tolerance": 0.9})
    assert result["parity"]["thresholds"]["confident_top1_agreement"] == pytest.approx(0.1)


@pytest.mark.slow
def test_verify_false_is_recorded(fresh_run: Path) -> None:
    result = export_run(fresh_run, "savedmodel", {"verify": "false"})  # as a CLI/config string
    report = result["parity"]
    assert report["verified"] is False and report["passed"] is False and "verify=False" in report["reason"]
    saved = json.loads((Path(result["path"]) / "parity.json").read_text())
    assert saved["verified"] is False


@pytest.mark.slow
def test_exception_mid_export_leaves_nothing_behind(fresh_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zooft_savedmodel.exporter as sm

    first = export_run(fresh_run, "savedmodel", {})
    before = (Path(first["path"]) / "parity.json").read_text()

    def boom(self: Any, context: Any, artifact: Path) -> Any:
        assert artifact.exists()  # the artifact was written: the failure really is mid-export
        raise RuntimeError("runtime exploded")

    monkeypatch.setattr(sm.SavedModelExporter, "verify", boom)
    with pytest.raises(zooft.ExportError, match="RuntimeError: runtime exploded") as info:
        export_run(fresh_run, "savedmodel", {})
    assert not isinstance(info.value, zooft.ParityError)
    exports = fresh_run / "exports"
    assert sorted(p.name for p in exports.iterdir()) == ["savedmodel"]
    assert (Path(first["path"]) / "parity.json").read_text() == before


@pytest.mark.slow
def test_reexport_replaces_atomically(fresh_run: Path) -> None:
    first = export_run(fresh_run, "onnx", {})
    marker = Path(first["path"]) / "stale.txt"
    marker.write_text("from the first export")
    second = export_run(fresh_run, "onnx", {})
    assert second["path"] == first["path"] and not marker.exists()
    assert Path(second["artifact"]).is_file()
    assert sorted(p.name for p in (fresh_run / "exports").iterdir()) == ["onnx"]  # no .old-/.tmp- left


@pytest.mark.slow
def test_dict_output_model_keeps_output_names_in_every_format(fresh_run: Path, trained: dict[str, Any]) -> None:
    import keras

    base = trained["model"]
    # "scores" sorts after "embedding": ONNX returns them in that (sorted) order, not the model's
    model = keras.Model(base.input, {"scores": base.output, "embedding": base.layers[-2].output})
    model.save(fresh_run / "model.keras")
    want = model.predict(trained["x_test"][:9], verbose=0)
    for fmt, options in (("savedmodel", {}), ("tflite", {}), ("onnx", {}), ("tflite", {"quantize": "int8"})):
        result = export_run(fresh_run, fmt, {**options, "samples": 60})
        report = result["parity"]
        assert report["passed"], (fmt, report)
        assert set(report["metrics"]["outputs"]) == {"scores", "embedding"}
        assert "top1_agreement" in report["metrics"]  # found the class output by its shape
        got = load_artifact(result["path"]).outputs(trained["x_test"][:9])
        assert set(got) == {"scores", "embedding"}
        if not options:
            for name in got:
                np.testing.assert_allclose(got[name], want[name], atol=1e-4, err_msg=f"{fmt}:{name}")


def test_pillow_loader_matches_the_training_loader(trained: dict[str, Any], tmp_path: Path) -> None:
    from PIL import Image

    from zooft.exports.artifacts import load_images
    from zooft.data.images import load_images_for_predict

    big = np.asarray(Image.fromarray(trained["x_test"][0].astype(np.uint8)).resize((48, 40), Image.Resampling.NEAREST))
    path = tmp_path / "big.png"
    Image.fromarray(big).save(path)
    ours = load_images([path], (fx.SIZE, fx.SIZE))
    assert ours.shape == (1, fx.SIZE, fx.SIZE, 3) and ours.dtype == np.float32
    theirs = load_images_for_predict([str(path)], (fx.SIZE, fx.SIZE))
    assert np.abs(ours - theirs).mean() < 2.0  # both bilinear + antialias; rounding may differ


@pytest.mark.parametrize(
    ("fmt", "options", "match"),
    [
        ("savedmodel", {"verify": "maybe"}, r"verify='maybe' is not valid; allowed: true, false"),
        ("tflite", {"quantize": "int4"}, r"quantize='int4' is not valid; allowed: none, float16, dynamic, int8, int8-full"),
        ("tflite", {"quantise": "int8"}, r"unknown tflite export option 'quantise'"),
        ("tflite", {"io_type": "int16", "quantize": "int8-full"}, r"io_type='int16' is not valid; allowed: uint8, int8, float32"),
        ("onnx", {"input_type": "int8"}, r"input_type='int8' is not valid; allowed: float32, uint8"),
        ("savedmodel", {"quantize": "int8"}, r"unknown savedmodel export option 'quantize'"),
        ("tflite", {"samples": 0}, r"samples=0"),
        ("tflite", {"tolerance": "loose"}, r"bad export option value"),
    ],
)
def test_bad_options_are_config_errors(trained: dict[str, Any], fmt: str, options: dict[str, Any], match: str) -> None:
    with pytest.raises(zooft.ConfigError, match=match) as info:
        export_run(trained["run"], fmt, options)
    assert "\n" not in str(info.value)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fmt", "options", "match"),
    [("tflite", {"quantize": "int8", "io_type": "uint8"}, "applies only to quantize=int8-full"),
     ("tflite", {"text_inputs": "bert"}, "text_inputs=bert applies to text models on a BERT backbone"),
     ("onnx", {"opset": "99"}, r"opset='99' is not valid; allowed: 13-18")],
)
def test_exporter_level_option_errors_leave_no_temp_dir(fresh_run: Path, fmt: str, options: dict[str, Any], match: str) -> None:
    with pytest.raises(zooft.ConfigError, match=match):
        export_run(fresh_run, fmt, options)
    assert not list((fresh_run / "exports").iterdir())


def test_unknown_format_names_the_known_ones(trained: dict[str, Any]) -> None:
    with pytest.raises(zooft.PluginError, match="no exporter named 'tflight'") as info:
        export_run(trained["run"], "tflight", {})
    assert "tflite" in (info.value.hint or "")


def test_cli_reaches_io_type(trained: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    """``--io-type`` goes to the tflite exporter's option check (before anything is loaded)."""
    from zooft.cli import run as cli

    assert cli(["export", str(trained["run"]), "-f", "tflite", "--quantize", "int8-full", "--io-type", "int16"]) != 0
    assert "io_type='int16' is not valid; allowed: uint8, int8, float32" in capsys.readouterr().err
