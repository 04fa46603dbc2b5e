"""The packaged model zoo (``zooft/registry.yaml``) and the ``keras`` plugin's TF-free metadata.

No TensorFlow here: ``KNOWN_APPLICATIONS`` stands in for ``dir(keras.applications)`` (an
integration test checks that it really is a subset of it).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import zooft
from zooft.cache import sha256_file
from zooft.registry import PACKAGED_REGISTRY, Registry, read_registry_file
from zooft_keras.plugin import KNOWN_APPLICATIONS, default_preprocessing, resolve
from zooft_keras.weights import fetch_weights, imagenet_file

SPECS = [spec for spec, _override in read_registry_file(PACKAGED_REGISTRY)]
KERAS = [spec for spec in SPECS if spec.source == "keras"]
IMAGENET = [spec for spec in KERAS if spec.weights.kind == "builtin"]
NATIVE = {
    "MobileNetV2": 224, "MobileNetV3Small": 224, "MobileNetV3Large": 224,
    "EfficientNetB0": 224, "EfficientNetB1": 240, "EfficientNetB2": 260, "EfficientNetB3": 300,
    "EfficientNetV2B0": 224, "EfficientNetV2B1": 240, "EfficientNetV2B2": 260, "EfficientNetV2B3": 300,
    "EfficientNetV2S": 384, "ResNet50": 224, "ResNet50V2": 224, "ConvNeXtTiny": 224,
    "DenseNet121": 224, "Xception": 299, "InceptionV3": 299,
}


def by_name(name: str) -> zooft.ModelSpec:
    return next(spec for spec in SPECS if spec.name == name)


def test_packaged_registry_has_every_family() -> None:
    assert len(KERAS) >= 15
    assert {spec.locator for spec in IMAGENET} >= set(NATIVE)


@pytest.mark.parametrize("spec", IMAGENET, ids=lambda s: s.name)
def test_imagenet_entry_is_complete_and_consistent(spec: zooft.ModelSpec) -> None:
    assert spec.locator in KNOWN_APPLICATIONS
    assert spec.weights.location == "imagenet"
    if spec.locator in NATIVE and not spec.options:
        assert spec.input_size == (NATIVE[spec.locator],) * 2, "native input size"
    # what the family's keras.applications preprocess_input does (none: inside the network)
    assert spec.preprocessing == {"mode": default_preprocessing(spec.locator)}
    assert set(spec.tasks) == {"classify", "detect"}
    assert spec.license in ("Apache-2.0", "MIT")
    assert isinstance(spec.params, int) and spec.params > 100_000
    assert spec.tags and spec.description and spec.aliases
    assert spec.short_name in spec.aliases or spec.options, "the plain short name is an alias"
    remote = imagenet_file(spec.locator, spec.options, spec.input_size)  # a file Keras publishes
    assert remote.url.startswith("https://storage.googleapis.com/") and remote.url.endswith(remote.file_name)


def test_preprocessing_modes_per_family() -> None:
    expected = {
        "MobileNetV2": "tf", "ResNet50V2": "tf", "Xception": "tf", "InceptionV3": "tf",
        "ResNet50": "caffe", "VGG16": "caffe", "DenseNet121": "torch",
        "EfficientNetB0": "none", "EfficientNetV2S": "none", "ConvNeXtTiny": "none", "MobileNetV3Large": "none",
    }
    assert {loc: default_preprocessing(loc) for loc in expected} == expected


def test_aliases_are_unique_and_resolve() -> None:
    aliases = [alias for spec in SPECS for alias in spec.aliases]
    assert len(aliases) == len(set(aliases))
    assert not set(aliases) & {spec.name for spec in SPECS}
    registry = Registry()
    registry.add_file(PACKAGED_REGISTRY)
    assert registry.resolve("efficientnet_b0").name == "keras:efficientnet_b0"
    assert registry.resolve("default").name == "keras:mobilenet_v2_035_shapes96"


def test_small_mobilenet_uses_the_96px_imagenet_file() -> None:
    spec = by_name("keras:mobilenet_v2_035_96")
    assert spec.options == {"alpha": 0.35} and spec.input_size == (96, 96)
    assert imagenet_file(spec.locator, spec.options, spec.input_size).file_name == (
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
    )


def test_embedded_model_entry() -> None:
    spec = by_name("keras:mobilenet_v2_035_shapes96")
    assert (spec.locator, dict(spec.options), spec.input_size) == ("MobileNetV2", {"alpha": 0.35}, (96, 96))
    assert spec.preprocessing == {"mode": "tf"}, "trained on inputs in [-1, 1]"
    assert {"embedded", "offline"} <= set(spec.tags) and {"embedded", "default"} <= set(spec.aliases)
    path = Path(spec.weights.location or "")
    assert spec.weights.kind == "file" and path == Path(zooft.__file__).parent / "weights" / path.name
    if not path.is_file():
        pytest.skip("the embedded weights are not produced yet")
    assert spec.weights.sha256 == sha256_file(path)
    assert fetch_weights(spec) == path  # a packaged file: nothing to download


def test_offline_fetch_names_the_exact_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOFT_OFFLINE", "1")
    spec = by_name("keras:efficientnet_b0")
    with pytest.raises(zooft.OfflineError) as info:
        fetch_weights(spec)
    hint = info.value.hint or ""
    assert "zooft pull keras:efficientnet_b0" in hint and "--from FILE" in hint
    assert "https://storage.googleapis.com/keras-applications/efficientnetb0_notop.h5" in hint


def test_unknown_locators_and_weights_fail_with_suggestions() -> None:
    with pytest.raises(zooft.RegistryError) as info:
        imagenet_file("EfficientNetV2X", {}, None)
    assert "EfficientNetV2" in (info.value.hint or "")
    with pytest.raises(zooft.WeightsError, match="alpha=0.6"):
        imagenet_file("MobileNetV2", {"alpha": 0.6}, (224, 224))
    with pytest.raises(zooft.WeightsError, match="no ImageNet weights"):
        imagenet_file("MobileNetV3Small", {"alpha": 0.5}, (224, 224))


def test_ad_hoc_names_resolve_to_imagenet_specs() -> None:
    spec = resolve("ResNet101")
    assert spec is not None and spec.name == "keras:ResNet101" and spec.preprocessing == {"mode": "caffe"}
    assert resolve("InceptionResNetV2").input_size == (299, 299)  # type: ignore[union-attr]
    assert resolve("not_a_model") is None


def test_the_plugin_registers_without_importing_tensorflow() -> None:
    code = (
        "import sys, zooft.plugins as p\n"
        "host = p.PluginHost(autoload=False, plugins=[('keras', __import__('zooft_keras.plugin', fromlist=['x']))])\n"
        "src = host.backbone_source('keras')\n"
        "assert src.fetch is not None and src.resolve is not None and src.modalities == ('image',), src\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'heavy import'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
