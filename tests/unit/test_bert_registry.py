"""The ``bert`` plugin's TF-free side: its registry file, local preset paths, offline errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import zooft
from zooft.registry import load_registry, read_registry_file, resolve_model
from zooft_bert.plugin import REGISTRY_FILE
from zooft_bert.presets import cached_handle_dir, preset_location

SPECS = [spec for spec, _ in read_registry_file(REGISTRY_FILE)]


def test_registry_lists_the_bert_presets_with_their_kaggle_handles() -> None:
    names = {spec.short_name for spec in SPECS}
    assert {"bert_tiny_en_uncased", "bert_small_en_uncased", "bert_medium_en_uncased", "bert_base_en_uncased",
            "bert_base_en", "bert_base_multi"} <= names
    for spec in SPECS:
        assert spec.source == "bert" and spec.modality == "text" and spec.tasks == ("text-classify",)
        assert spec.weights.kind == "builtin"
        assert spec.weights.location == f"kaggle://keras/bert/keras/{spec.locator}/3"
        assert spec.input_size is None and spec.params and spec.aliases and spec.license == "Apache-2.0"
    listed = {s.name for s in zooft.list_models(task="text-classify")}
    assert "bert:bert_tiny_en_uncased" in listed
    assert load_registry().resolve("bert-multilingual").locator == "bert_base_multi"


def fake_preset(path: Path, class_name: str = "BertBackbone") -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"class_name": class_name, "config": {"max_sequence_length": 64, "num_layers": 2}}))
    (path / "tokenizer.json").write_text("{}")
    return path


def test_local_preset_paths_resolve_and_bad_ones_say_why(tmp_path: Path) -> None:
    preset = fake_preset(tmp_path / "my-preset")
    spec = resolve_model(f"bert:{preset}")
    assert spec.name == "bert:my-preset" and spec.locator == str(preset) and spec.modality == "text"
    assert spec.options["max_sequence_length"] == 64
    with pytest.raises(zooft.ConfigError, match="is not a keras-hub preset directory"):
        resolve_model(f"bert:{tmp_path / 'missing'}")
    with pytest.raises(zooft.ConfigError, match="holds a GPT2Backbone preset, not a BertBackbone"):
        resolve_model(f"bert:{fake_preset(tmp_path / 'gpt', 'GPT2Backbone')}")
    with pytest.raises(zooft.UnknownModelError):
        resolve_model("bert:no_such_preset")


def test_offline_without_the_cached_preset_names_zooft_pull(tmp_path: Path) -> None:
    spec = load_registry().resolve("bert:bert_tiny_en_uncased")
    with pytest.raises(zooft.OfflineError, match="not in the cache") as info:
        preset_location(spec, cache_dir=tmp_path, offline=True)
    assert "zooft pull bert:bert_tiny_en_uncased" in (info.value.hint or "")
    cached = fake_preset(cached_handle_dir(spec.weights.location or "", tmp_path))
    assert preset_location(spec, cache_dir=tmp_path, offline=True) == str(cached)
