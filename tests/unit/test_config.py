"""The tune configuration: precedence, validation messages and config files."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

import zooft
from zooft import registry as registry_mod
from zooft.config import TUNE_KEYS, parse_value, read_config_file, resolve


def test_defaults_without_any_layer() -> None:
    config = resolve(flags={})
    assert config.values == {key: spec.default for key, spec in TUNE_KEYS.items()}
    assert set(config.sources.values()) == {"default"}
    assert config.to_json() == {"values": config.values, "sources": config.sources}
    json.dumps(config.to_json())  # config.json must be serialisable


def test_every_default_passes_its_own_parser() -> None:
    for key, spec in TUNE_KEYS.items():
        if spec.default is not None:
            assert parse_value(key, spec.default, "default") == spec.default, key
        assert spec.help, key


ENTRY = {"epochs": 3, "lr": 0.01, "batch_size": 8, "image_size": 64}
FILE = {"epochs": 7, "lr": 0.05, "optimizer": "sgd"}
FLAGS = {"epochs": 9, "seed": 4, "lr": None, "export": []}  # None / [] mean "flag not given"
EXPECTED = {
    "epochs": (9, "command line"),
    "seed": (4, "command line"),
    "lr": (0.05, "my.yaml"),
    "optimizer": ("sgd", "my.yaml"),
    "batch_size": (8, "registry entry"),
    "image_size": ([64, 64], "registry entry"),
    "dropout": (0.2, "default"),
    "export": ([], "default"),
}


def _reordered(mapping: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    return {key: mapping[key] for key in order}


@pytest.mark.parametrize("permutation", range(6))
def test_precedence_defaults_entry_file_flags_independent_of_order(permutation: int) -> None:
    # Any order of keys inside each layer gives the same result: layers, not positions, decide.
    flags = _reordered(FLAGS, list(itertools.permutations(FLAGS))[permutation * 3])
    file_values = _reordered(FILE, list(itertools.permutations(FILE))[permutation])
    entry = _reordered(ENTRY, list(itertools.permutations(ENTRY))[permutation * 4])
    config = resolve(flags=flags, file_values=file_values, file_name="my.yaml", entry_defaults=entry)
    for key, (value, source) in EXPECTED.items():
        assert (config.values[key], config.sources[key]) == (value, source), key


def _registry_with_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    packaged = tmp_path / "registry.yaml"
    packaged.write_text(
        "version: 1\nmodels:\n  k:net:\n    locator: Net\n    input_size: 32\n"
        "    defaults: {batch_size: 8, epochs: 3, lr: 0.01}\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(registry_mod, "PACKAGED_REGISTRY", packaged)
    # only the classify task plugin: tune checks the task exists before it reads any data
    monkeypatch.setenv("ZOOFT_PLUGINS", "classify")


def test_tune_options_precedence_does_not_depend_on_argument_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The path ``zooft tune`` takes: registry entry defaults, then --config, then flags."""
    from zooft.train.tune import resolve_tune_config  # TensorFlow-free until training starts

    _registry_with_defaults(tmp_path, monkeypatch)
    config_file = tmp_path / "tune.yaml"
    config_file.write_text("epochs: 7\nlr: 0.05\ndata: ./from-file\n", encoding="utf-8")
    flags = {"backbone": "k:net", "epochs": 9, "lr": None, "batch_size": None}
    results = []
    for options in (
        {"config": str(config_file), **flags},
        {**dict(reversed(list(flags.items()))), "config": str(config_file)},
    ):
        config, spec, resume = resolve_tune_config(options)
        assert spec.name == "k:net" and resume is None
        results.append(config)
    first, second = results
    assert first.values == second.values and first.sources == second.sources
    assert (first.values["epochs"], first.sources["epochs"]) == (9, "command line")
    assert (first.values["lr"], first.sources["lr"]) == (0.05, str(config_file))
    assert (first.values["batch_size"], first.sources["batch_size"]) == (8, "registry entry")
    assert first.values["data"] == "./from-file"
    assert first.sources["dropout"] == "default"


def test_unknown_key_in_file_suggests_the_closest(tmp_path: Path) -> None:
    path = tmp_path / "tune.yaml"
    path.write_text("epoch: 3\n", encoding="utf-8")
    with pytest.raises(zooft.ConfigError) as info:
        resolve(flags={}, file_values=read_config_file(path), file_name=str(path))
    assert str(info.value) == f"unknown config key 'epoch' in {path}"
    assert info.value.hint == "did you mean 'epochs'?"


def test_unknown_key_without_a_close_match_lists_known_keys() -> None:
    with pytest.raises(zooft.ConfigError) as info:
        resolve(flags={}, file_values={"zzzzzz": 1})
    assert "known keys:" in (info.value.hint or "") and "batch_size" in (info.value.hint or "")


def test_unknown_key_in_registry_defaults_is_reported() -> None:
    with pytest.raises(zooft.ConfigError) as info:
        resolve(flags={}, entry_defaults={"learning_rate": 0.1})
    assert "registry entry" in str(info.value)


@pytest.mark.parametrize(
    ("key", "value", "flag"),
    [
        ("batch_size", 0, "--batch-size"),
        ("batch_size", -4, "--batch-size"),
        ("batch_size", 2.5, "--batch-size"),
        ("batch_size", True, "--batch-size"),
        ("image_size", "abc", "--image-size"),
        ("image_size", "0x32", "--image-size"),
        ("image_size", "1x2x3", "--image-size"),
        ("precision", "fp8", "--precision"),
        ("epochs", -1, "--epochs"),
        ("lr", 0, "--lr"),
        ("val_split", 1.0, "--val-split"),
        ("optimizer", "rmsprop", "--optimizer"),
        ("unfreeze", "some", "--unfreeze"),
        ("weights", "imagenet", "--weights"),
        ("warmup_epochs", -1, "--warmup-epochs"),
        ("warmup_epochs", "soon", "--warmup-epochs"),
    ],
)
def test_bad_values_name_the_flag_and_the_value(key: str, value: Any, flag: str) -> None:
    with pytest.raises(zooft.ConfigError) as info:
        resolve(flags={key: value})
    message = str(info.value)
    assert flag in message
    assert repr(value) in message
    assert "command line" in message
    assert "\n" not in message
    assert info.value.hint == TUNE_KEYS[key].help
    assert isinstance(info.value, ValueError)


def test_bad_value_in_a_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tune.json"
    path.write_text(json.dumps({"precision": "fp8"}), encoding="utf-8")
    with pytest.raises(zooft.ConfigError) as info:
        resolve(flags={}, file_values=read_config_file(path), file_name=str(path))
    assert "--precision" in str(info.value) and "'fp8'" in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize(
    ("key", "value", "parsed"),
    [
        ("image_size", 96, [96, 96]),
        ("image_size", "96", [96, 96]),
        ("image_size", "128x160", [128, 160]),
        ("image_size", "128,160", [128, 160]),
        ("image_size", [128, 160], [128, 160]),
        ("batch_size", "16", 16),
        ("precision", "Float32", "float32"),
        ("unfreeze", "all", "all"),
        ("unfreeze", "2", 2),
        ("fine_tune_lr", "none", None),
        ("fine_tune_lr", "1e-4", 1e-4),
        ("export", "savedmodel,tflite:int8", ["savedmodel", "tflite:int8"]),
        ("export", ["onnx"], ["onnx"]),
        ("class_weight", "balanced", "balanced"),
        ("cache", "Memory", "memory"),
        ("cache", "AUTO", "auto"),
        ("cache", "off", None),
        ("cache", "none", None),
        ("cache", "/tmp/zooft-images", "/tmp/zooft-images"),
        ("warmup_epochs", "Auto", "auto"),
        ("warmup_epochs", "0.5", 0.5),
        ("warmup_epochs", 0, 0.0),
    ],
)
def test_good_values_are_normalised(key: str, value: Any, parsed: Any) -> None:
    assert parse_value(key, value, "test") == parsed


def test_yaml_file_with_dashes_in_keys(tmp_path: Path) -> None:
    path = tmp_path / "tune.yaml"
    path.write_text("fine-tune-epochs: 2\nbatch-size: 16\nimage_size: 64x48\n", encoding="utf-8")
    values = read_config_file(path)
    assert values == {"fine_tune_epochs": 2, "batch_size": 16, "image_size": "64x48"}
    config = resolve(flags={}, file_values=values, file_name=str(path))
    assert config.values["fine_tune_epochs"] == 2
    assert config.values["image_size"] == [64, 48]
    assert config.sources["batch_size"] == str(path)


def test_json_file(tmp_path: Path) -> None:
    path = tmp_path / "tune.json"
    path.write_text(json.dumps({"fine-tune-lr": 0.0001, "export": ["savedmodel"]}), encoding="utf-8")
    config = resolve(flags={}, file_values=read_config_file(path), file_name=str(path))
    assert config.values["fine_tune_lr"] == 0.0001
    assert config.values["export"] == ["savedmodel"]


def test_empty_file_sets_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    assert read_config_file(path) == {}


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("bad.json", "{epochs: 3", "malformed config file"),
        ("bad.yaml", "epochs: [3\n", "malformed config file"),
        ("list.yaml", "- 1\n- 2\n", "must hold a mapping"),
    ],
)
def test_unreadable_config_files(tmp_path: Path, name: str, text: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(zooft.ConfigError) as info:
        read_config_file(path)
    assert expected in str(info.value) and str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(zooft.ConfigError) as info:
        read_config_file(tmp_path / "nope.yaml")
    assert "nope.yaml" in str(info.value) and "--config" in (info.value.hint or "")


def test_decoded_images_are_cached_automatically_while_they_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    from zooft.data import images

    assert resolve(flags={}).values["cache"] == "auto"
    monkeypatch.setattr(images, "_physical_memory", lambda: 64 * 2**30)
    fits, needed, budget = images.auto_cache_in_memory(1_797, (96, 96))
    assert (fits, needed, budget) == (True, 1_797 * 96 * 96 * 3, images.AUTO_CACHE_BYTES)
    # 224 px: 7,133 images fit 1 GiB, one more does not
    assert images.auto_cache_in_memory(7_133, (224, 224))[0]
    assert not images.auto_cache_in_memory(7_134, (224, 224))[0]
    # a small machine keeps an eighth of its memory as the budget
    monkeypatch.setattr(images, "_physical_memory", lambda: 2**28)
    assert images.auto_cache_in_memory(1_797, (96, 96)) == (False, 1_797 * 96 * 96 * 3, 2**25)
