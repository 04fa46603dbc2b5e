"""The frozen-feature cache trains the same model as the slow path, and composes with resume,
early stopping, class weights and the on-disk store (real tiny model, real tune runs)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import zooft
from zooft.cli import run as cli

pytestmark = pytest.mark.slow

COMMON = dict(backbone="embedded", image_size="32", batch_size=8, augment="none", seed=3, lr=0.01)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from zooft.demo.synthetic import write_classify_demo

    out = tmp_path_factory.mktemp("fc") / "data"
    write_classify_demo(out, images_per_class=10, size=32, seed=4)
    return out


def _losses(run_dir: Path) -> list[tuple[float, float]]:
    history = json.loads((run_dir / "history.json").read_text())
    return [(e["loss"], e["val_loss"]) for e in history["phases"][0]["epochs"]]


@pytest.fixture(scope="module")
def pair(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same run (class weights, early stopping on) with the cache and without."""
    root = tmp_path_factory.mktemp("fc-runs")
    options = dict(COMMON, data=str(data_dir), epochs=3, class_weight="balanced", early_stopping=5)
    fast = zooft.tune(**options, output=str(root / "fast")).path
    slow = zooft.tune(**options, feature_cache=False, output=str(root / "slow")).path
    return fast, slow


def test_cached_head_phase_gives_the_same_losses_and_weights(pair: tuple[Path, Path]) -> None:
    fast, slow = pair
    assert len(_losses(fast)) == 3
    np.testing.assert_allclose(_losses(fast), _losses(slow), rtol=1e-4, atol=1e-5)
    timing_fast = json.loads((fast / "timing.json").read_text())
    timing_slow = json.loads((slow / "timing.json").read_text())
    assert timing_fast["feature_cache"].startswith("on (memory, TensorFlow)")
    assert timing_slow["feature_cache"] == "off: disabled (--no-feature-cache)"
    assert "feature_cache" in (fast / "report.md").read_text()
    import keras

    a = keras.saving.load_model(fast / "model.keras")
    b = keras.saving.load_model(slow / "model.keras")
    for wa, wb in zip(a.get_layer("probabilities").get_weights(), b.get_layer("probabilities").get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-3, atol=1e-5)


def test_resume_mixes_cached_and_uncached_epochs(data_dir: Path, tmp_path: Path) -> None:
    """Two epochs with the cache then one resumed without it, and the reverse, end the same:
    checkpoints hold the full model and its optimizer state either way."""
    options = dict(COMMON, data=str(data_dir), class_weight="balanced", early_stopping=5, epochs=2)
    a = zooft.tune(**options, output=str(tmp_path / "a")).path
    b = zooft.tune(**options, feature_cache="off", output=str(tmp_path / "b")).path
    assert cli(["tune", "--resume", str(a), "--epochs", "3", "--no-feature-cache"]) == 0
    assert cli(["tune", "--resume", str(b), "--epochs", "3", "--feature-cache"]) == 0
    assert len(_losses(a)) == 3
    np.testing.assert_allclose(_losses(a), _losses(b), rtol=1e-4, atol=1e-5)
    assert json.loads((a / "state.json").read_text())["epochs_done"] == {"head": 3}
    assert json.loads((b / "timing.json").read_text())["feature_cache"].startswith("on (memory, TensorFlow)")


def test_disk_store_is_keyed_and_reused(data_dir: Path, pair: tuple[Path, Path], tmp_path: Path, zooft_env: Path) -> None:
    options = dict(COMMON, data=str(data_dir), epochs=3, class_weight="balanced", early_stopping=5, feature_cache="disk")
    run = zooft.tune(**options, output=str(tmp_path / "disk")).path
    files = sorted((zooft_env / "features").glob("*.npy"))
    assert len(files) == 2  # train and val, one feature each
    assert json.loads((run / "timing.json").read_text())["feature_cache"].startswith("on (disk, TensorFlow)")
    # the disk path reads rows in the same shuffled order: same losses as in memory
    np.testing.assert_allclose(_losses(run), _losses(pair[0]), rtol=1e-4, atol=1e-5)
    stamps = [f.stat().st_mtime_ns for f in files]
    zooft.tune(**options, output=str(tmp_path / "disk2"))
    assert [f.stat().st_mtime_ns for f in sorted((zooft_env / "features").glob("*.npy"))] == stamps


def test_falls_back_with_a_note_when_augmenting(data_dir: Path, tmp_path: Path) -> None:
    options = dict(COMMON, data=str(data_dir), epochs=1, augment="flip")
    run = zooft.tune(**options, output=str(tmp_path / "aug")).path
    note = json.loads((run / "timing.json").read_text())["feature_cache"]
    assert note.startswith("off: augmentation is on")


def test_auto_spec_augments_fine_tuning_while_the_head_trains_on_cached_features(data_dir: Path, tmp_path: Path) -> None:
    """``--augment auto:SPEC``: the head phase is the un-augmented cached one (same losses as
    ``none``), fine-tuning sees augmented images (its training loss differs)."""
    runs = {}
    for augment in ("none", "auto:zoom=0.3,contrast=0.3"):
        options = dict(COMMON, data=str(data_dir), epochs=2, fine_tune_epochs=1, augment=augment)
        runs[augment] = zooft.tune(**options, output=str(tmp_path / augment.replace(":", "-"))).path
    notes = {a: json.loads((run / "timing.json").read_text())["feature_cache"] for a, run in runs.items()}
    assert notes["auto:zoom=0.3,contrast=0.3"].startswith("on (memory") and "augmentation applies where the backbone trains" in notes[
        "auto:zoom=0.3,contrast=0.3"]
    phases = {a: json.loads((run / "history.json").read_text())["phases"] for a, run in runs.items()}
    plain, augmented = phases["none"], phases["auto:zoom=0.3,contrast=0.3"]
    assert [e["loss"] for e in plain[0]["epochs"]] == pytest.approx([e["loss"] for e in augmented[0]["epochs"]], rel=1e-6)
    assert abs(plain[1]["epochs"][0]["loss"] - augmented[1]["epochs"][0]["loss"]) > 1e-4


def test_litert_extraction_trains_the_same_head(pair: tuple[Path, Path], data_dir: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from zooft.train import feature_cache

    monkeypatch.setattr(feature_cache, "LITERT_MIN_PIXELS", 0)  # the fixture data set is tiny
    options = dict(COMMON, data=str(data_dir), epochs=3, class_weight="balanced", early_stopping=5)
    run = zooft.tune(**options, output=str(tmp_path / "litert")).path
    note = json.loads((run / "timing.json").read_text())["feature_cache"]
    assert note.startswith("on (memory, LiteRT)"), note
    np.testing.assert_allclose(_losses(run), _losses(pair[1]), rtol=1e-4, atol=1e-5)


def _tiny_backbone() -> object:
    import keras

    images = keras.Input((16, 16, 3))
    features = keras.layers.GlobalAveragePooling2D(name="pool")(keras.layers.Conv2D(4, 3, activation="relu")(images))
    return keras.Model(images, {"pooled": features, "map": keras.layers.Conv2D(2, 1)(images)})


def test_extractor_engines_agree_and_map_each_named_output() -> None:
    from zooft.train.feature_cache import _Extractor

    model = _tiny_backbone()
    images = np.random.default_rng(0).uniform(0, 255, (5, 16, 16, 3)).astype(np.float32)
    lite = _Extractor(model, ("pooled", "map"), (16, 16), n_images=5, engine="litert")
    plain = _Extractor(model, ("pooled", "map"), (16, 16), n_images=5, engine="tensorflow")
    got, want = lite(images), plain(images)
    assert lite.engine == "LiteRT" and plain.engine == "TensorFlow" and not lite.reason
    assert got["pooled"].shape == (5, 4) and got["map"].shape == (5, 16, 16, 2)
    for name in ("pooled", "map"):
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-4)
    assert lite(images[:2])["pooled"].shape == (2, 4)  # a partial last batch
    auto = _Extractor(model, ("pooled",), (16, 16), n_images=5)
    auto(images)
    assert auto.engine == "TensorFlow" and not auto.reason  # too few pixels to repay a conversion


def test_extractor_falls_back_to_tensorflow_when_litert_drifts_or_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from zooft.train import feature_cache

    model = _tiny_backbone()
    images = np.random.default_rng(1).uniform(0, 255, (4, 16, 16, 3)).astype(np.float32)
    want = feature_cache._Extractor(model, ("pooled",), (16, 16), n_images=4, engine="tensorflow")(images)["pooled"]

    def drifting(fn: object) -> object:
        return lambda images: {"output_0": fn(images)[0].numpy() + 0.5}

    monkeypatch.setattr(feature_cache, "_litert_runner", drifting)
    extractor = feature_cache._Extractor(model, ("pooled",), (16, 16), n_images=4, engine="litert")
    np.testing.assert_allclose(extractor(images)["pooled"], want, rtol=1e-6)  # TensorFlow's, not the drifted ones
    assert extractor.engine == "TensorFlow" and "differed from TensorFlow's by" in extractor.reason

    def missing(fn: object) -> object:
        raise ImportError("No module named 'ai_edge_litert'")

    monkeypatch.setattr(feature_cache, "_litert_runner", missing)
    extractor = feature_cache._Extractor(model, ("pooled",), (16, 16), n_images=4, engine="litert")
    np.testing.assert_allclose(extractor(images)["pooled"], want, rtol=1e-6)
    assert extractor.reason == "LiteRT unavailable (No module named 'ai_edge_litert')"


def _op_types(extractor: object) -> set[str]:
    graph = extractor.fn.get_concrete_function().graph
    return {op.type for op in graph.get_operations()}


def test_extractor_traces_the_backbone_with_its_weights_as_constants(monkeypatch: pytest.MonkeyPatch) -> None:
    """Weights become graph constants (no variable reads; TensorFlow can fold BatchNorm's scale
    and offset), with the features of the model itself; above FROZEN_MAX_BYTES it reads variables."""
    import keras

    from zooft.train import feature_cache

    images_in = keras.Input((16, 16, 3))
    norm = keras.layers.BatchNormalization()
    x = norm(keras.layers.Conv2D(4, 3, use_bias=False)(images_in))
    model = keras.Model(images_in, keras.layers.GlobalAveragePooling2D()(keras.layers.ReLU()(x)))
    rng = np.random.default_rng(2)
    norm.set_weights([rng.uniform(0.5, 2, 4), rng.normal(0, 1, 4), rng.normal(0, 5, 4), rng.uniform(1, 30, 4)])
    images = rng.uniform(0, 255, (6, 16, 16, 3)).astype(np.float32)
    want = np.asarray(model(images, training=False))

    frozen = feature_cache._Extractor(model, ("pooled",), (16, 16), n_images=6, engine="tensorflow")
    assert "ReadVariableOp" not in _op_types(frozen)
    np.testing.assert_allclose(frozen(images)["pooled"], want, rtol=1e-5, atol=1e-5)

    monkeypatch.setattr(feature_cache, "FROZEN_MAX_BYTES", 0)
    reading = feature_cache._Extractor(model, ("pooled",), (16, 16), n_images=6, engine="tensorflow")
    assert "ReadVariableOp" in _op_types(reading)
    np.testing.assert_allclose(reading(images)["pooled"], want, rtol=1e-5, atol=1e-5)
