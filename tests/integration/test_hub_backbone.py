"""The ``hub`` source end to end, offline and real: a hub model the suite builds itself (small CNN
with BatchNorm, TF2 reusable SavedModel) is served as a .tar.gz from ``http.server`` on
127.0.0.1, fetched into zooft's cache, resolved by tensorflow_hub, fine-tuned through
``zooft tune``, reloaded offline, and exported to TFLite and ONNX behind the parity gate."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zooft.cli import run as cli

sys.path.insert(0, str(Path(__file__).parent))
import hub_fixtures as hf  # noqa: E402

pytest.importorskip("tensorflow_hub")
pytestmark = pytest.mark.slow

TUNE = ["--task", "classify", "--image-size", str(hf.SIZE), "--batch-size", "16", "--augment", "none", "--lr", "0.01"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The tiny hub model (directory and .tar.gz), demo data, and a server for the archive."""
    from zooft.demo.synthetic import write_classify_demo
    from zooft_hub.savedmodel import pack

    root = tmp_path_factory.mktemp("hub")
    model_dir = hf.write_hub_model(root / "savedmodel")
    www = root / "www"
    www.mkdir()
    archive = pack(model_dir, www / "model.tar.gz")
    data = root / "data"
    write_classify_demo(data, images_per_class=12, size=hf.SIZE, seed=3, splits=True)
    with hf.serve(www) as base:
        yield {"dir": model_dir, "archive": archive, "url": f"{base}/model.tar.gz", "data": data, "root": root}


@pytest.fixture(scope="module")
def tuned(served: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One ``zooft tune --backbone hub:http://127.0.0.1:PORT/model.tar.gz`` with fine-tuning."""
    home = served["root"] / "home"
    with pytest.MonkeyPatch.context() as mp:  # module scope: the autouse per-test home is not active yet
        mp.setenv("ZOOFT_HOME", str(home))
        mp.delenv("ZOOFT_OFFLINE", raising=False)
        import zooft.plugins

        zooft.plugins.reset_host()
        out = served["root"] / "run"
        code = cli(["tune", "--backbone", f"hub:{served['url']}", *TUNE, "--data", str(served["data"]),
                    "--epochs", "2", "--fine-tune-epochs", "3", "--fine-tune-lr", "0.003", "--output", str(out)])
        assert code == 0
        yield {"run": out, "home": home}


def _hub_weights(model: Any) -> dict[str, np.ndarray]:
    layer = next(layer for layer in _layers(model) if type(layer).__name__ == "HubLayer")
    return {name: v.numpy().copy() for name, v in zip(layer.hub_names, layer.hub_variables)}


def _layers(model: Any) -> Iterator[Any]:
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _layers(layer)


def _original(served: dict[str, Any]) -> dict[str, np.ndarray]:
    import tensorflow as tf

    module = tf.saved_model.load(str(served["dir"]))
    return {v.name.split(":")[0]: v.numpy() for v in module.variables}


def test_tune_over_http_fine_tunes_the_hub_weights(tuned: dict[str, Any], served: dict[str, Any]) -> None:
    import zooft

    run = zooft.load_run(tuned["run"])
    config = json.loads((tuned["run"] / "config.json").read_text())
    assert config["backbone_spec"]["source"] == "hub"
    # the archive went through zooft's cache, in tensorflow_hub's layout (sha1 of the handle)
    from zooft_hub.fetch import module_dir

    cached = module_dir(served["url"], tuned["home"])
    assert (cached / "saved_model.pb").is_file()
    trained = _hub_weights(run.load_model())
    original = _original(served)
    assert set(trained) == set(original)
    for name, value in trained.items():
        moved = float(np.abs(value - original[name]).max())
        if "_bn/" in name:
            assert moved == 0.0, f"{name}: pretrained BatchNorm must stay frozen, in inference mode"
        else:
            assert moved > 1e-5, f"{name} did not train"
    # (accuracy against the same network as a Keras model: scripts/bench/hub_vs_keras.py, on a
    # pretrained network; this random-init CNN only proves that every weight trains)
    history = json.loads((tuned["run"] / "history.json").read_text())
    assert [p["name"] for p in history["phases"]] == ["head", "fine-tune"]


def test_cache_is_reused_offline_after_the_server_is_gone(tuned: dict[str, Any], served: dict[str, Any],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import zooft
    from zooft_hub.backbone import build_backbone
    from zooft_hub.plugin import resolve

    monkeypatch.setenv("ZOOFT_HOME", str(tuned["home"]))
    monkeypatch.setenv("ZOOFT_OFFLINE", "1")
    dead = served["url"].rsplit(":", 1)[0] + ":9/never.tar.gz"  # nothing listens on port 9
    assert resolve(dead) is not None
    # the served handle, offline: built from the cache, the signature gives the input size
    spec = resolve(served["url"])
    assert spec is not None and spec.input_size == (hf.SIZE, hf.SIZE)
    backbone = build_backbone(spec, offline=True)
    assert backbone.info["fine_tunable"] and backbone.info["variable_groups"] == 3
    # the saved run reloads offline too (the layer resolves its handle from the cache)
    model = zooft.load_run(tuned["run"]).load_model()
    x = np.random.default_rng(0).uniform(0, 255, (2, hf.SIZE, hf.SIZE, 3)).astype("float32")
    assert np.isfinite(np.asarray(model.predict(x, verbose=0)["probabilities"]
                                  if isinstance(model.output, dict) else model.predict(x, verbose=0))).all()


def test_frozen_weights_stay_put_and_batchnorm_follows_keras(served: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import keras

    import zooft
    from zooft_hub.backbone import build_backbone

    spec = zooft.ModelSpec(name="hub:local", source="hub", locator=str(served["dir"]),
                           weights=zooft.WeightsSpec("builtin", "hub"), input_size=(hf.SIZE, hf.SIZE),
                           preprocessing={"mode": "unit"})
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 255, (32, hf.SIZE, hf.SIZE, 3)).astype("float32")
    y = rng.integers(0, 2, 32)

    def train(groups: int | str, train_batchnorm: bool) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], int]:
        backbone = build_backbone(spec)
        logits = keras.layers.Dense(2)(backbone.model.output["pooled"])
        model = keras.Model(backbone.model.input, logits)
        n = backbone.set_trainable(groups, train_batchnorm=train_batchnorm)
        before = _hub_weights(model)
        model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, epochs=1, batch_size=16, verbose=0)
        return before, _hub_weights(model), n

    def changed(before: dict[str, np.ndarray], after: dict[str, np.ndarray]) -> set[str]:
        return {k for k in before if float(np.abs(before[k] - after[k]).max()) > 0}

    before, after, n = train(0, False)
    assert n == 0 and changed(before, after) == set()  # frozen: nothing moves, BN in inference mode
    before, after, n = train(1, False)  # only the last group (block2) opens; BN frozen, inference mode
    assert n == 1 and changed(before, after) == {"block2_conv/kernel"}
    before, after, n = train("all", True)  # BN trains: moving statistics update in training mode
    moved = changed(before, after)
    assert {"block0_bn/moving_mean", "block2_bn/moving_variance", "block0_conv/kernel"} <= moved


def test_signature_only_model_runs_frozen_and_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import tensorflow as tf

    import zooft
    from zooft_hub.backbone import build_backbone

    root = tf.train.Checkpoint()
    root.w = tf.Variable(tf.ones([3, 4]))
    serve = tf.function(lambda images: {"features": tf.reduce_mean(images, axis=[1, 2]) @ root.w})
    tf.saved_model.save(root, str(tmp_path / "sig"), signatures={
        "serving_default": serve.get_concrete_function(tf.TensorSpec([None, 16, 16, 3], tf.float32, name="images"))})
    from zooft_hub.plugin import resolve

    spec = resolve(str(tmp_path / "sig"))
    assert spec is not None and spec.input_size == (16, 16)  # read from the serving signature
    backbone = build_backbone(spec)
    assert backbone.info["fine_tunable"] is False
    assert backbone.set_trainable("all") == 0
    assert "stays frozen" in capsys.readouterr().err
    out = backbone.model.predict(np.full((1, 16, 16, 3), 255.0, "float32"), verbose=0)["pooled"]
    np.testing.assert_allclose(out, np.full((1, 4), 3.0), rtol=1e-6)
    assert zooft  # the public API is what the plugin builds on


def test_pull_from_archive_then_offline_tune_of_a_registry_name(served: dict[str, Any], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """The done-when: hub:efficientnet unreachable fails in one line; after 'pull --from' it runs offline.
    (The tiny model stands in for EfficientNet's archive; the registry entry is the real one.)"""
    base = ["tune", "--backbone", "hub:efficientnet", *TUNE, "--data", str(served["data"]), "--epochs", "1"]
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")  # the network is unreachable
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    capsys.readouterr()
    assert cli([*base, "--output", str(tmp_path / "no")]) != 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[0].startswith("error: cannot download hub:efficientnet"), err
    assert "tfhub.dev/tensorflow/efficientnet/b0/feature-vector/1" in lines[0] and "/hub/" in lines[0]
    assert "zooft pull hub:efficientnet --from FILE.tar.gz" in err
    assert not (tmp_path / "no").exists()
    assert cli(["pull", "hub:efficientnet", "--from", str(served["archive"])]) == 0
    monkeypatch.setenv("ZOOFT_OFFLINE", "1")
    assert cli([*base, "--output", str(tmp_path / "ok")]) == 0
    assert (tmp_path / "ok" / "model.keras").is_file()


def test_export_tflite_and_onnx_pass_the_parity_gate(tuned: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("ai_edge_litert")
    monkeypatch.setenv("ZOOFT_HOME", str(tuned["home"]))
    monkeypatch.setenv("ZOOFT_OFFLINE", "1")  # the export reloads model.keras from the cache only
    capsys.readouterr()
    assert cli(["export", str(tuned["run"]), "--format", "tflite", "--format", "onnx", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["format"] for r in results] == ["tflite", "onnx"]
    for result in results:
        assert result["parity"]["passed"], result["parity"]
        assert Path(result["artifact"]).is_file()


def test_hub_model_trains_exactly_like_its_keras_twin(served: dict[str, Any]) -> None:
    """The same network as a Keras model and as a hub model: same features, and fine-tuning with
    the same head, data and optimizer gives the same losses and the same accuracy."""
    import keras

    import zooft
    from zooft_hub.backbone import build_backbone

    rng = np.random.default_rng(2)
    x = rng.uniform(0, 1, (48, hf.SIZE, hf.SIZE, 3)).astype("float32")
    y = (x[:, :, :, 0].mean(axis=(1, 2)) > x[:, :, :, 2].mean(axis=(1, 2))).astype("int32")

    def head(features: Any) -> Any:
        return keras.layers.Dense(2, kernel_initializer=keras.initializers.GlorotUniform(seed=7), name="head")(features)

    twin = hf.tiny_cnn(seed=0)  # the weights the served hub model was written with
    for layer in twin.layers:  # as zooft freezes Keras backbones: BatchNorm frozen, inference mode
        layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)
    keras_model = keras.Model(twin.input, head(twin.output))
    spec = zooft.ModelSpec(name="hub:twin", source="hub", locator=str(served["dir"]),
                           weights=zooft.WeightsSpec("builtin", "hub"), input_size=(hf.SIZE, hf.SIZE),
                           preprocessing={"mode": "none"})
    backbone = build_backbone(spec)
    hub_model = keras.Model(backbone.model.input, head(backbone.model.output["pooled"]))
    backbone.set_trainable("all")
    np.testing.assert_allclose(backbone.model.predict(x, verbose=0)["pooled"], twin.predict(x, verbose=0), atol=1e-5)
    assert len(hub_model.trainable_weights) == len(keras_model.trainable_weights)  # 3 kernels + head

    histories = []
    for model in (keras_model, hub_model):
        model.compile(optimizer=keras.optimizers.Adam(0.01), metrics=["accuracy"],
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        histories.append(model.fit(x, y, epochs=4, batch_size=16, shuffle=False, verbose=0).history)
    np.testing.assert_allclose(histories[1]["loss"], histories[0]["loss"], rtol=1e-3)
    assert histories[1]["accuracy"] == pytest.approx(histories[0]["accuracy"], abs=1e-6)
    assert histories[0]["loss"][-1] < histories[0]["loss"][0]  # it did learn something
