"""The ``keras`` backbone source on real (tiny) ``keras.applications`` models, weights none or
weights files made here: no network, inputs of 32–96 px so each test takes seconds."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import zooft  # noqa: E402
from zooft.cache import sha256_file  # noqa: E402
from zooft.registry import PACKAGED_REGISTRY, read_registry_file  # noqa: E402
from zooft_keras import weights as weights_mod  # noqa: E402
from zooft_keras.backbone import _preprocess, build_backbone  # noqa: E402
from zooft_keras.groups import feature_maps  # noqa: E402
from zooft_keras.plugin import KNOWN_APPLICATIONS, default_preprocessing  # noqa: E402
from zooft_keras.weights import fetch_weights, imagenet_file  # noqa: E402


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private cache root, online by default; Keras state is cleared after each test."""
    root = tmp_path / "zooft-home"
    monkeypatch.setenv("ZOOFT_HOME", str(root))
    monkeypatch.delenv("ZOOFT_OFFLINE", raising=False)
    yield root
    keras.backend.clear_session()


def make_spec(
    locator: str, size: int, *, mode: str | None = None, weights: zooft.WeightsSpec | None = None, **options: Any
) -> zooft.ModelSpec:
    return zooft.ModelSpec(
        name=f"keras:test_{locator.lower()}",
        source="keras",
        locator=locator,
        weights=weights or zooft.WeightsSpec("none"),
        input_size=(size, size),
        preprocessing={"mode": mode or default_preprocessing(locator)},
        options=options,
    )


def run(model: Any, x: np.ndarray, key: str | None = None) -> np.ndarray:
    """Eager call: tracing a predict() function per model would cost seconds each."""
    out = model(x)
    return keras.ops.convert_to_numpy(out[key] if key else out)


def images(size: int, n: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype("float32")


def calibrate(model: Any, x: np.ndarray) -> None:
    """Give every BatchNorm the statistics of its input on ``x`` (one training pass, momentum 0).

    A freshly initialised network with identity BN statistics loses its signal: by stride 32
    its output no longer depends on the image, and a comparison would prove nothing.
    """
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.momentum = 0.0
    model(x, training=True)
    for bn, momentum in zip(bns, momenta):
        bn.momentum = momentum


def standalone(locator: str, size: int, preprocess: Any = lambda x: x / 127.5 - 1, **options: Any) -> Any:
    """The application as Keras builds it, calibrated on inputs like the test's."""
    model = getattr(keras.applications, locator)(include_top=False, weights=None, input_shape=(size, size, 3), **options)
    calibrate(model, preprocess(images(size, n=4, seed=7)))
    return model


def assert_same_features(bb: zooft.Backbone, ref: Any, x: np.ndarray, x_for_ref: np.ndarray) -> None:
    """Every feature map of ``bb`` on raw ``x`` equals the same layer of ``ref`` on ``x_for_ref``."""
    levels = list(bb.info["feature_layers"])
    probe = keras.Model(ref.input, [ref.get_layer(bb.info["feature_layers"][k]).output for k in levels])
    expected = [keras.ops.convert_to_numpy(t) for t in probe(x_for_ref)]
    # What float noise alone does to this network: the reference on its own input moved by
    # a few float32 ulps (the size of the rounding that a differently ordered but equivalent
    # preprocessing produces). A deep net with random weights can amplify that a lot at
    # stride 32; a wrong preprocessing or weight loading moves everything (error ~ 1).
    ulps = np.random.default_rng(1).uniform(-4, 4, x_for_ref.shape).astype("float32")
    nudged = [keras.ops.convert_to_numpy(t) for t in probe(x_for_ref * (1 + ulps * np.float32(2.0**-24)))]
    for level, want, moved in zip(levels, expected, nudged):
        assert np.abs(want[0] - want[1]).max() > 1e-2 * np.abs(want).max(), f"{level}: output ignores the image"
        got = run(bb.model, x, level)
        assert got.shape == want.shape
        noise = np.linalg.norm(moved - want) / np.linalg.norm(want)
        if level == levels[0]:  # the shallowest level always compares tightly
            assert noise < 0.05, f"{level}: ulp noise moves the reference by {noise:.2e}; the test proves nothing"
        # a relative norm: float noise through a calibrated deep net moves a few ReLU6 kinks; a
        # random-weight net calibrated on 4 images can amplify it (1x1 maps at stride 32 give
        # BatchNorm tiny batch variances), so a deep level is held to what that noise does there
        error = np.linalg.norm(got - want) / np.linalg.norm(want)
        bound = max(2e-3, 10 * noise)
        assert error < bound, f"{level}: relative error {error:.2e} (float noise bound {bound:.2e})"


def test_known_applications_are_real_keras_classes() -> None:
    missing = set(KNOWN_APPLICATIONS) - set(dir(keras.applications))
    assert not missing, f"KNOWN_APPLICATIONS names classes keras.applications lacks: {sorted(missing)}"


# -- outputs, feature maps, groups ------------------------------------------------------------
SAME_PADDED = [
    ("MobileNetV2", 96, {"alpha": 0.35}),
    ("MobileNetV2", 50, {"alpha": 0.35}),  # not a multiple of 32: sizes are ceil(h / s)
    ("EfficientNetB0", 64, {}),
    ("ResNet50", 64, {}),
    ("DenseNet121", 64, {}),
    ("MobileNetV3Small", 64, {}),
    ("ConvNeXtTiny", 64, {}),
]


@pytest.mark.parametrize(("locator", "size", "options"), SAME_PADDED, ids=lambda v: str(v))
def test_outputs_have_pooled_and_strides_of_ceil_size(locator: str, size: int, options: dict[str, Any]) -> None:
    bb = build_backbone(make_spec(locator, size, **options), weights="none")
    out = bb.model(images(size))
    assert set(out) == {"pooled", "stride8", "stride16", "stride32"}
    assert out["pooled"].shape[0] == 2 and len(out["pooled"].shape) == 2
    for level, stride in (("stride8", 8), ("stride16", 16), ("stride32", 32)):
        assert tuple(out[level].shape[1:3]) == (math.ceil(size / stride),) * 2, level
    assert out["stride32"].shape[-1] == out["pooled"].shape[-1]  # pooled = GAP of the last map
    assert bb.info["feature_strides"] == {"stride8": 8, "stride16": 16, "stride32": 32}
    assert bb.input_size == (size, size) and bb.outputs == tuple(bb.model.output.keys())

    names = [layer.name for layer in bb.model.layers]
    flat = [name for group in bb.layer_groups for name in group]
    assert sorted(flat) == sorted(names) and len(flat) == len(set(flat)), "every layer exactly once"
    assert bb.layer_groups[0][0] == "image" and bb.layer_groups[-1][-1] == "pooled"
    assert 4 <= len(bb.layer_groups) <= 24


@pytest.mark.parametrize(
    ("locator", "size", "expected"),
    [("InceptionV3", 75, {"stride8": 7, "stride16": 3, "stride32": 1}), ("Xception", 71, {"stride8": 9, "stride16": 5, "stride32": 3})],
)
def test_valid_padded_networks_get_their_strides_too(locator: str, size: int, expected: dict[str, int]) -> None:
    # 'valid' stems make sizes that are not ceil(h / s); strides are counted, not guessed
    bb = build_backbone(make_spec(locator, size), weights="none")
    assert {k: v[0] for k, v in bb.info["feature_shapes"].items()} == expected


def test_levels_a_network_does_not_reach_are_left_out() -> None:
    # keras.applications all reach stride 32 at their minimum input size, so use a small net
    raw = keras.Input((40, 40, 3), name="image")
    x = raw
    for i in range(4):  # strides 2, 4, 8, 16: no stride-32 map
        x = keras.layers.Conv2D(4, 3, strides=2, padding="same", name=f"down{i}")(x)
        x = keras.layers.Add(name=f"res{i}")([x, keras.layers.Conv2D(4, 1, name=f"side{i}")(x)])
    found = feature_maps(keras.Model(raw, x), {"stride8": 8, "stride16": 16, "stride32": 32})
    assert {k: op.name for k, op in found.items()} == {"stride8": "res2", "stride16": "res3"}


def test_group_counts_are_sensible() -> None:
    mobilenet = build_backbone(make_spec("MobileNetV2", 64, alpha=0.35), weights="none")
    assert 17 <= len(mobilenet.layer_groups) <= 20
    assert mobilenet.layer_groups[1][0] == "block_1_expand"  # stem + first block share group 0
    resnet = build_backbone(make_spec("ResNet50", 32), weights="none")
    assert 4 <= len(resnet.layer_groups) <= 16
    assert [g[-1] for g in resnet.layer_groups[1:-1]] == ["conv2_block3_out", "conv3_block4_out", "conv4_block6_out"]


def test_explicit_feature_layers_and_a_wrong_name() -> None:
    spec = make_spec("MobileNetV2", 64, alpha=0.35)
    spec = zooft.ModelSpec(**{**spec.__dict__, "feature_layers": {"stride16": "block_12_add"}})
    bb = build_backbone(spec, weights="none")
    assert set(bb.outputs) == {"pooled", "stride16"} and bb.info["feature_layers"] == {"stride16": "block_12_add"}
    bad = zooft.ModelSpec(**{**spec.__dict__, "feature_layers": {"stride16": "block_12_ad"}})
    with pytest.raises(zooft.RegistryError, match="block_12_ad") as info:
        build_backbone(bad, weights="none")
    assert "block_12_add" in (info.value.hint or "")


def test_set_trainable_opens_only_the_last_groups_and_keeps_batchnorm_frozen() -> None:
    bb = build_backbone(make_spec("MobileNetV2", 64, alpha=0.35), weights="none")
    count = bb.set_trainable(2)
    open_names = set(bb.layer_groups[-1]) | set(bb.layer_groups[-2])
    trainable = {layer.name for layer in bb.model.layers if layer.trainable}
    assert trainable and trainable <= open_names
    assert not any(l.trainable for l in bb.model.layers if isinstance(l, keras.layers.BatchNormalization))
    assert count == len(bb.model.trainable_weights) > 0
    owners = {layer.name for layer in bb.model.layers for _ in layer.trainable_weights}
    assert owners <= open_names
    assert bb.set_trainable(0) == 0
    assert bb.set_trainable("all") > count
    # from scratch (--weights none) BatchNorm has no pretrained statistics to protect: it trains
    with_bn = bb.set_trainable(2, train_batchnorm=True)
    assert with_bn > count
    bns = [l for l in bb.model.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert any(l.trainable for l in bns)
    # MobileNetV2's momentum 0.999 would leave the inference statistics at their initial values
    # for thousands of steps: trained BN layers track faster, frozen ones keep theirs
    assert {l.momentum for l in bns if l.trainable} == {0.99}
    assert {l.momentum for l in bns if not l.trainable} == {0.999}


# -- preprocessing ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mode", "module"), [("tf", "mobilenet_v2"), ("torch", "densenet"), ("caffe", "resnet50"), ("tf", "xception")]
)
def test_preprocessing_layers_match_keras_preprocess_input(mode: str, module: str) -> None:
    raw = keras.Input((16, 16, 3), name="image")
    model = keras.Model(raw, _preprocess(raw, {"mode": mode}, "keras:t"))
    x = images(16, n=3)
    expected = getattr(keras.applications, module).preprocess_input(x.copy())
    np.testing.assert_allclose(run(model, x), expected, rtol=1e-5, atol=1e-4)


def test_unit_and_scale_preprocessing() -> None:
    raw = keras.Input((8, 8, 3), name="image")
    x = images(8)
    unit = keras.Model(raw, _preprocess(raw, {"mode": "unit"}, "t"))
    np.testing.assert_allclose(run(unit, x), x / 255.0, rtol=1e-6)
    scale = keras.Model(raw, _preprocess(raw, {"mode": "scale", "scale": 0.5, "offset": -3}, "t"))
    np.testing.assert_allclose(run(scale, x), x * 0.5 - 3, rtol=1e-6)
    with pytest.raises(zooft.RegistryError, match="unknown preprocessing mode"):
        _preprocess(raw, {"mode": "bgr"}, "t")


@pytest.mark.parametrize("module", ["mobilenet_v2", "resnet50", "densenet"])  # tf, caffe, torch
def test_backbone_equals_keras_application_on_preprocessed_images(tmp_path: Path, module: str) -> None:
    """Flat build + in-graph preprocessing + weights file = Keras's model on preprocess_input(x).

    The mode is the family's; the network is a small MobileNetV2 so that the test stays fast.
    """
    mode = {"mobilenet_v2": "tf", "resnet50": "caffe", "densenet": "torch"}[module]
    preprocess = getattr(keras.applications, module).preprocess_input
    ref = standalone("MobileNetV2", 32, lambda x: preprocess(x.copy()), alpha=0.35)
    path = tmp_path / "w.weights.h5"
    ref.save_weights(path)
    spec = make_spec("MobileNetV2", 32, mode=mode, weights=zooft.WeightsSpec("file", str(path), sha256_file(path)), alpha=0.35)
    bb = build_backbone(spec)
    x = images(32, n=3)
    assert_same_features(bb, ref, x, preprocess(x.copy()))
    uint8 = x.astype("uint8")
    np.testing.assert_allclose(run(bb.model, uint8, "pooled"), run(bb.model, uint8.astype("float32"), "pooled"), atol=1e-6)


# -- weights: files, URLs, the ImageNet cache, offline -------------------------------------------
def test_weights_file_round_trip_and_errors(tmp_path: Path) -> None:
    ref = standalone("MobileNetV2", 96, alpha=0.35)  # the embedded model's architecture
    path = tmp_path / "mnv2.weights.h5"
    ref.save_weights(path)
    good = make_spec("MobileNetV2", 96, weights=zooft.WeightsSpec("file", str(path), sha256_file(path)), alpha=0.35)
    bb = build_backbone(good, offline=True)
    x = images(96)
    assert_same_features(bb, ref, x, x / 127.5 - 1)
    assert bb.info["weights"] == str(path)

    corrupt = make_spec("MobileNetV2", 96, weights=zooft.WeightsSpec("file", str(path), "0" * 64), alpha=0.35)
    with pytest.raises(zooft.WeightsError, match="sha256 mismatch"):
        build_backbone(corrupt)
    missing = make_spec("MobileNetV2", 96, weights=zooft.WeightsSpec("file", str(tmp_path / "nope.h5")), alpha=0.35)
    with pytest.raises(zooft.WeightsError, match="no file at") as info:
        build_backbone(missing)
    assert info.value.hint
    wrong_arch = make_spec("MobileNetV2", 96, weights=zooft.WeightsSpec("file", str(path)), alpha=1.0)
    with pytest.raises(zooft.WeightsError, match="cannot load"):
        build_backbone(wrong_arch)
    assert build_backbone(good, weights="none").info["weights"] == "none"


def test_offline_without_imagenet_weights_names_zooft_pull(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = make_spec("DenseNet121", 32, weights=zooft.WeightsSpec("builtin", "imagenet"))
    with pytest.raises(zooft.OfflineError) as info:
        build_backbone(spec, offline=True)
    text = f"{info.value} {info.value.hint}"
    assert "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5" in text
    assert f"zooft pull {spec.name}" in text and f"zooft pull {spec.name} --from FILE" in text
    assert "https://storage.googleapis.com/tensorflow/keras-applications/densenet/" in text
    monkeypatch.setenv("ZOOFT_OFFLINE", "1")
    with pytest.raises(zooft.OfflineError, match="offline"):
        build_backbone(spec)


def test_pull_from_file_then_build_offline(tmp_path: Path, home: Path) -> None:
    ref = standalone("MobileNetV2", 96, alpha=0.35)
    hand = tmp_path / "downloaded_by_hand.h5"
    ref.save(hand)  # a legacy .h5 like Keras's published *_no_top.h5 files
    spec = make_spec("MobileNetV2", 96, weights=zooft.WeightsSpec("builtin", "imagenet"), alpha=0.35)
    path = fetch_weights(spec, from_file=hand)
    assert path == home / "keras" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
    bb = build_backbone(spec, offline=True)
    x = images(96)
    assert_same_features(bb, ref, x, x / 127.5 - 1)
    assert fetch_weights(make_spec("MobileNetV2", 96)) is None  # weights none: nothing to fetch


def test_md5_mismatch_on_import_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not weights")
    spec = make_spec("DenseNet121", 32, weights=zooft.WeightsSpec("builtin", "imagenet"))
    with pytest.raises(zooft.WeightsError, match="md5 mismatch"):
        fetch_weights(spec, from_file=junk)


def test_url_weights_download_into_the_cache_and_reuse_offline(tmp_path: Path, home: Path) -> None:
    ref = standalone("MobileNetV2", 32, alpha=0.35)
    src = tmp_path / "remote" / "mnv2.weights.h5"
    src.parent.mkdir()
    ref.save_weights(src)
    spec = make_spec("MobileNetV2", 32, weights=zooft.WeightsSpec("url", src.as_uri(), sha256_file(src)), alpha=0.35)
    bb = build_backbone(spec)
    cached = Path(bb.info["weights"])
    assert cached.is_relative_to(home / "keras") and cached.name == "mnv2.weights.h5"
    src.unlink()
    build_backbone(spec, offline=True)  # served from the cache, no network


# -- the ImageNet file table mirrors what Keras itself downloads -------------------------------
class _Requested(Exception):
    pass


def _keras_request(monkeypatch: pytest.MonkeyPatch, locator: str, size: int, **options: Any) -> tuple[Any, ...]:
    """What Keras's constructor asks ``get_file`` for (test-only patch of a private module)."""
    from keras.src.utils import file_utils

    def fake_get_file(fname: str | None = None, origin: str | None = None, file_hash: str | None = None, **_: Any) -> str:
        raise _Requested(fname, origin, file_hash)

    monkeypatch.setattr(file_utils, "get_file", fake_get_file)
    with pytest.raises(_Requested) as info:
        getattr(keras.applications, locator)(include_top=False, weights="imagenet", input_shape=(size, size, 3), **options)
    return info.value.args


@pytest.mark.parametrize(
    ("locator", "size", "options"),
    [
        ("MobileNetV2", 96, {"alpha": 0.35}),
        pytest.param(
            "MobileNetV2", 64, {},  # no file for 64 px: Keras (with a warning) and zooft take the 224 one
            marks=pytest.mark.filterwarnings("ignore:`input_shape` is undefined or non-square:UserWarning"),
        ),
        ("MobileNetV3Small", 64, {"minimalistic": True}),
        ("ResNet50", 32, {}),
        ("ConvNeXtTiny", 32, {}),  # sha256 rather than md5
        ("EfficientNetV2B0", 32, {}),
    ],
    ids=str,
)
def test_imagenet_table_matches_keras(monkeypatch: pytest.MonkeyPatch, locator: str, size: int, options: dict[str, Any]) -> None:
    remote = imagenet_file(locator, options, (size, size))
    assert _keras_request(monkeypatch, locator, size, **options) == (remote.file_name, remote.url, remote.file_hash)


@pytest.mark.slow
@pytest.mark.parametrize("locator", KNOWN_APPLICATIONS)
def test_imagenet_table_matches_keras_for_every_application(monkeypatch: pytest.MonkeyPatch, locator: str) -> None:
    # sizes where Keras picks the file without a warning (MobileNets: one of their training sizes)
    size = {"Xception": 71, "InceptionV3": 75, "InceptionResNetV2": 75, "NASNetMobile": 224, "NASNetLarge": 331,
            "MobileNet": 128, "MobileNetV2": 96, "MobileNetV3Small": 224, "MobileNetV3Large": 224}
    remote = imagenet_file(locator, {}, (size.get(locator, 32),) * 2)
    assert _keras_request(monkeypatch, locator, size.get(locator, 32)) == (remote.file_name, remote.url, remote.file_hash)


def test_efficientnet_imagenet_matches_keras_own_imagenet_graph(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keras adds a Rescaling to EfficientNet only for weights='imagenet'; zooft folds it in."""
    keras.utils.set_random_seed(0)  # the fake's random weights: the same network on every run
    fake = keras.applications.EfficientNetB0(include_top=False, weights=None, input_shape=(32, 32, 3))
    norm = next(l for l in fake.layers if isinstance(l, keras.layers.Normalization))
    norm.set_weights([np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225]) ** 2, np.array(0)])
    norm.finalize_state()
    calibrate(fake, images(32, n=4, seed=7))
    path = tmp_path / "efficientnetb0_notop.h5"
    fake.save(path)
    spec = make_spec("EfficientNetB0", 32, weights=zooft.WeightsSpec("builtin", "imagenet"))
    monkeypatch.setitem(weights_mod._FIXED, "EfficientNetB0", (path.name, path.as_uri(), None))  # our fake's hash
    fetch_weights(spec, from_file=path)
    bb = build_backbone(spec, offline=True)

    from keras.src.utils import file_utils

    monkeypatch.setattr(file_utils, "get_file", lambda *a, **k: str(path))
    keras_imagenet = keras.applications.EfficientNetB0(include_top=False, weights="imagenet", input_shape=(32, 32, 3))
    x = images(32)
    assert_same_features(bb, keras_imagenet, x, x)


# -- saving and the packaged model ------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["caffe", "torch"])
def test_keras_file_round_trip_without_custom_objects(tmp_path: Path, mode: str) -> None:
    bb = build_backbone(make_spec("MobileNetV2", 32, mode=mode, alpha=0.35), weights="none")
    head = keras.layers.Dense(3, activation="softmax", name="probabilities")(bb.model.output["pooled"])
    model = keras.Model(bb.model.input, {"probabilities": head, "stride16": bb.model.output["stride16"]})
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    x = images(32)
    for key in ("probabilities", "stride16"):
        np.testing.assert_allclose(run(loaded, x, key), run(model, x, key), atol=1e-6)


def test_unknown_locator_and_bad_options_fail_with_hints() -> None:
    with pytest.raises(zooft.RegistryError, match="MobileNetV9") as info:
        build_backbone(make_spec("MobileNetV9", 32, mode="tf"))
    assert "MobileNetV2" in (info.value.hint or "")
    with pytest.raises(zooft.ConfigError, match="alpah"):
        build_backbone(make_spec("MobileNetV2", 32, alpah=0.35))
    with pytest.raises(zooft.ConfigError):
        build_backbone(make_spec("MobileNetV2", 32), weights="imagenet")


def test_packaged_embedded_model_loads_offline() -> None:
    spec = next(s for s, _ in read_registry_file(PACKAGED_REGISTRY) if s.name == "keras:mobilenet_v2_035_shapes96")
    if not Path(spec.weights.location or "").is_file():
        pytest.skip("zooft/weights/mobilenet_v2_035_shapes96.weights.h5 is not produced yet")
    bb = build_backbone(spec, offline=True)
    assert bb.input_size == (96, 96) and bb.info["params"] == spec.params
    assert spec.weights.sha256, "the packaged weights must carry their sha256"

