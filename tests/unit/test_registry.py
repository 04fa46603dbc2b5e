"""Registry files: validation errors that point at the problem, merge order, overrides,
aliases, name resolution with suggestions, and listing filters."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import zooft
from zooft import registry as registry_mod
from zooft.plugins import PluginHost
from zooft.registry import PACKAGED_REGISTRY, Registry, load_registry, read_registry_file

SHA = "0123456789abcdef" * 4


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture
def make_file(tmp_path: Path) -> Callable[..., Path]:
    """Write a registry file from ``name -> fields`` given as YAML text."""

    def make(name: str, models: str, *, header: str = "version: 1\nmodels:\n") -> Path:
        body = textwrap.indent(textwrap.dedent(models).strip("\n"), "  ")
        return write(tmp_path / name, header + body + "\n")

    return make


ZOO = """
keras:mobilenet_v2:
  locator: MobileNetV2
  input_size: 224
  weights: imagenet
  preprocessing: tf
  tasks: [classify, detect]
  tags: [mobile, small]
  aliases: [mobilenet_v2, mnv2]
keras:efficientnet_b0:
  locator: EfficientNetB0
  input_size: [240, 256]
  weights: imagenet
  preprocessing: none
  tasks: [classify]
  tags: [accurate]
hub:mobilenet_v2:
  locator: https://example.invalid/mobilenet_v2/1
  weights: none
  tasks: [classify]
hub:bit_s:
  locator: https://example.invalid/bit/s/1
  tasks: [classify]
  tags: [big]
bert:bert_tiny:
  locator: bert_tiny_en_uncased
  modality: text
  tasks: [text-classify]
"""


@pytest.fixture
def zoo(make_file: Callable[..., Path]) -> Registry:
    registry = Registry()
    registry.add_file(make_file("zoo.yaml", ZOO))
    return registry


# -- reading and validating one file -----------------------------------------------------------
def test_a_valid_entry_becomes_a_frozen_model_spec(zoo: Registry) -> None:
    spec = zoo.resolve("keras:mobilenet_v2")
    assert spec.source == "keras" and spec.short_name == "mobilenet_v2"
    assert spec.input_size == (224, 224)
    assert spec.weights == zooft.WeightsSpec("builtin", "imagenet")
    assert spec.preprocessing == {"mode": "tf"}
    assert spec.tasks == ("classify", "detect")
    assert spec.origin.endswith("zoo.yaml")
    assert zoo.resolve("keras:efficientnet_b0").input_size == (240, 256)
    assert zoo.resolve("bert:bert_tiny").modality == "text"
    assert zoo.resolve("bert:bert_tiny").input_size is None
    with pytest.raises(AttributeError):
        spec.name = "other"  # type: ignore[misc]
    assert spec.to_dict()["input_size"] == [224, 224]


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "broken.yaml",
        """
        version: 1
        models:
          keras:a:
            locator: A
            tasks: [classify
          keras:b:
            locator: B
        """,
    )
    with pytest.raises(zooft.RegistryError) as info:
        read_registry_file(path)
    message = str(info.value)
    assert str(path) in message
    assert "malformed YAML" in message
    assert "line 6" in message  # where the unclosed flow sequence is detected
    assert "\n" not in message
    assert info.value.hint


def test_unreadable_file_is_a_registry_error(tmp_path: Path) -> None:
    with pytest.raises(zooft.RegistryError) as info:
        read_registry_file(tmp_path / "missing.yaml")
    assert "missing.yaml" in str(info.value)
    assert "--registry" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ("locator: A\ninput_size: abc", "field 'input_size'"),
        ("locator: A\ninput_size: [224]", "field 'input_size'"),
        ("locator: A\ninput_size: 0", "field 'input_size'"),
        ("locator: A\nlicence: MIT", "unknown field 'licence' (did you mean 'license'?)"),
        ("locator: A\ninput-size: 32", "unknown field 'input-size' (did you mean 'input_size'?)"),
        ("locator: A\nweights: {url: 'https://x.invalid/w.h5', sha256: 'XYZ'}", "field 'weights.sha256'"),
        (f"locator: A\nweights: {{url: 'https://x.invalid/w.h5', sha256: '{SHA.upper()}'}}", "field 'weights.sha256'"),
        ("locator: A\nweights: {url: 'https://x.invalid/w.h5', file: w.h5}", "field 'weights'"),
        ("locator: A\nweights: {link: 'https://x.invalid'}", "field 'weights'"),
        ("locator: A\npreprocessing: fancy", "field 'preprocessing'"),
        ("locator: A\npreprocessing: {mode: scale, scale: big}", "field 'preprocessing.scale'"),
        ("input_size: 32", "field 'locator'"),
        ("locator: A\nmodality: audio", "field 'modality'"),
        ("locator: A\nparams: -3", "field 'params'"),
        ("locator: A\ntasks: {classify: true}", "field 'tasks'"),
        ("locator: A\nfeature_layers: {stride4: conv1}", "field 'feature_layers'"),
    ],
)
def test_schema_errors_name_file_entry_and_field(make_file: Callable[..., Path], fields: str, expected: str) -> None:
    path = make_file("bad.yaml", "keras:model_x:\n" + textwrap.indent(fields, "  "))
    with pytest.raises(zooft.RegistryError) as info:
        read_registry_file(path)
    message = str(info.value)
    assert str(path) in message
    assert "entry 'keras:model_x'" in message
    assert expected in message
    assert info.value.hint


@pytest.mark.parametrize("name", ["Keras:model", "model", "keras:", "keras:two words", "1keras:model"])
def test_bad_entry_names_are_rejected(make_file: Callable[..., Path], name: str) -> None:
    path = make_file("bad.yaml", f"'{name}':\n  locator: A")
    with pytest.raises(zooft.RegistryError) as info:
        read_registry_file(path)
    assert repr(name) in str(info.value)
    assert "source:name" in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- just\n- a list\n", "expected a mapping"),
        ("version: 1\nmodels: [a, b]\n", "expected a mapping"),
        ("version: 2\nmodels: {}\n", "unsupported registry version 2"),
    ],
)
def test_bad_file_layout(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path / "layout.yaml", text)
    with pytest.raises(zooft.RegistryError) as info:
        read_registry_file(path)
    assert str(path) in str(info.value) and expected in str(info.value)


def test_empty_files_hold_no_entries(tmp_path: Path) -> None:
    assert read_registry_file(write(tmp_path / "empty.yaml", "")) == []
    assert read_registry_file(write(tmp_path / "comments.yaml", "# nothing yet\n")) == []
    assert read_registry_file(write(tmp_path / "no-models.yaml", "version: 1\nmodels: {}\n")) == []


def test_weights_forms(make_file: Callable[..., Path]) -> None:
    path = make_file(
        "weights.yaml",
        f"""
        x:none:
          locator: A
        x:builtin:
          locator: A
          weights: imagenet
        x:url:
          locator: A
          weights: https://example.invalid/w.h5
        x:url_sha:
          locator: A
          weights: {{url: 'https://example.invalid/w.h5', sha256: '{SHA}'}}
        x:file_url:
          locator: A
          weights: file:///tmp/w.h5
        """,
    )
    specs = {spec.name: spec.weights for spec, _ in read_registry_file(path)}
    assert specs["x:none"] == zooft.WeightsSpec("none")
    assert specs["x:builtin"] == zooft.WeightsSpec("builtin", "imagenet")
    assert specs["x:url"] == zooft.WeightsSpec("url", "https://example.invalid/w.h5")
    assert specs["x:url_sha"] == zooft.WeightsSpec("url", "https://example.invalid/w.h5", SHA)
    assert specs["x:file_url"].kind == "url"


def test_relative_weight_file_is_resolved_against_the_registry_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "plugin" / "data" / "models.yaml",
        f"""
        version: 1
        models:
          x:local:
            locator: A
            weights: {{file: weights/local.h5, sha256: '{SHA}'}}
          x:up:
            locator: A
            weights: {{file: ../shared/up.h5}}
          x:absolute:
            locator: A
            weights: {{file: {tmp_path / 'abs.h5'}}}
        """,
    )
    registry = Registry()
    registry.add_file(path)
    local = registry.resolve("x:local").weights
    assert local == zooft.WeightsSpec("file", str((tmp_path / "plugin" / "data" / "weights" / "local.h5").resolve()), SHA)
    assert registry.resolve("x:up").weights.location == str((tmp_path / "plugin" / "shared" / "up.h5").resolve())
    assert registry.resolve("x:absolute").weights.location == str(tmp_path / "abs.h5")


# -- merging files -----------------------------------------------------------------------------
class RegistryFilesPlugin:
    def __init__(self, *paths: Path) -> None:
        self.paths = paths

    @zooft.hookimpl
    def zooft_registry_files(self) -> tuple[Path, ...]:
        return self.paths


def test_merge_order_packaged_then_plugins_then_user(
    tmp_path: Path, make_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    packaged = make_file("packaged.yaml", "k:a:\n  locator: packaged\nk:b:\n  locator: packaged\nk:c:\n  locator: packaged")
    # Each later layer overrides one entry on purpose. If the order were different, the
    # earlier-loaded file would see a plain duplicate and fail.
    plugin_file = make_file("plugin.yaml", "k:b:\n  locator: plugin\n  override: true\nk:p:\n  locator: plugin")
    env_file = make_file("env.yaml", "k:c:\n  locator: env\n  override: true\nk:p:\n  locator: env\n  override: true")
    flag_file = make_file("flag.yaml", "k:p:\n  locator: flag\n  override: true")
    monkeypatch.setattr(registry_mod, "PACKAGED_REGISTRY", packaged)
    monkeypatch.setenv("ZOOFT_REGISTRY", str(env_file))
    host = PluginHost(autoload=False, plugins=[("plug", RegistryFilesPlugin(plugin_file))])

    registry = load_registry([flag_file], host=host)

    assert registry.files == [str(packaged), str(plugin_file), str(env_file), str(flag_file)]
    assert {name: spec.locator for name, spec in registry.entries.items()} == {
        "k:a": "packaged",
        "k:b": "plugin",
        "k:c": "env",
        "k:p": "flag",  # --registry files come after ZOOFT_REGISTRY
    }
    assert registry.resolve("k:p").origin == str(flag_file)


def test_registry_env_holds_several_files(
    make_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    packaged = make_file("packaged.yaml", "k:a:\n  locator: A")
    one = make_file("one.yaml", "k:one:\n  locator: A")
    two = make_file("two.yaml", "k:two:\n  locator: A")
    monkeypatch.setattr(registry_mod, "PACKAGED_REGISTRY", packaged)
    monkeypatch.setenv("ZOOFT_REGISTRY", f"{one}{os.pathsep}{two}{os.pathsep}")
    registry = load_registry(host=PluginHost(autoload=False))
    assert sorted(registry.entries) == ["k:a", "k:one", "k:two"]


def test_duplicate_without_override_names_both_files(make_file: Callable[..., Path]) -> None:
    first = make_file("first.yaml", "k:dup:\n  locator: A")
    second = make_file("second.yaml", "k:dup:\n  locator: B")
    registry = Registry()
    registry.add_file(first)
    with pytest.raises(zooft.RegistryError) as info:
        registry.add_file(second)
    message = str(info.value)
    assert "'k:dup'" in message and str(first) in message and str(second) in message
    assert "override: true" in (info.value.hint or "")


def test_duplicate_from_a_plugin_file_names_both_files(
    make_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    packaged = make_file("packaged.yaml", "k:dup:\n  locator: A")
    plugin_file = make_file("plugin.yaml", "k:dup:\n  locator: B")
    monkeypatch.setattr(registry_mod, "PACKAGED_REGISTRY", packaged)
    host = PluginHost(autoload=False, plugins=[("plug", RegistryFilesPlugin(plugin_file))])
    registry = load_registry(host=host)  # the plugin's file is its error; the rest keeps working
    assert registry.resolve("k:dup").locator == "A"
    [error] = host.records["plug"].errors
    assert str(packaged) in error and str(plugin_file) in error and "not loaded" in error


def test_a_plugins_malformed_registry_file_disables_only_its_entries(
    make_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    good = make_file("good.yaml", "k:fine:\n  locator: A")
    bad = make_file("bad.yaml", "k:broken:\n  locator: [unclosed")
    host = PluginHost(autoload=False, plugins=[("good", RegistryFilesPlugin(good)), ("bad", RegistryFilesPlugin(bad))])
    registry = load_registry(host=host)
    assert registry.resolve("k:fine").locator == "A" and "k:broken" not in registry.entries
    assert host.records["good"].ok and not host.records["bad"].ok
    assert "malformed YAML" in host.records["bad"].errors[0]
    load_registry(host=host)  # loading again records the error once
    assert len(host.records["bad"].errors) == 1


def test_override_replaces_the_entry_and_its_aliases(make_file: Callable[..., Path]) -> None:
    registry = Registry()
    registry.add_file(make_file("a.yaml", "k:m:\n  locator: old\n  aliases: [old_alias, shared]"))
    registry.add_file(make_file("b.yaml", "k:m:\n  locator: new\n  override: true\n  aliases: [shared, new_alias]"))
    assert registry.resolve("k:m").locator == "new"
    assert registry.resolve("new_alias").locator == "new"
    assert registry.resolve("shared").locator == "new"
    with pytest.raises(zooft.UnknownModelError):
        registry.resolve("old_alias")


def test_override_of_a_new_name_just_adds_it(make_file: Callable[..., Path]) -> None:
    registry = Registry()
    registry.add_file(make_file("a.yaml", "k:fresh:\n  locator: A\n  override: true"))
    assert registry.resolve("k:fresh").locator == "A"


def test_alias_collision_between_entries(make_file: Callable[..., Path]) -> None:
    registry = Registry()
    registry.add_file(make_file("a.yaml", "k:one:\n  locator: A\n  aliases: [tiny]"))
    with pytest.raises(zooft.RegistryError) as info:
        registry.add_file(make_file("b.yaml", "k:two:\n  locator: B\n  aliases: [tiny]"))
    message = str(info.value)
    assert "alias 'tiny'" in message and "'k:two'" in message and "'k:one'" in message
    assert "b.yaml" in message


def test_alias_may_not_shadow_an_entry_name(make_file: Callable[..., Path]) -> None:
    registry = Registry()
    with pytest.raises(zooft.RegistryError) as info:
        registry.add_file(make_file("a.yaml", "k:one:\n  locator: A\nk:two:\n  locator: B\n  aliases: ['k:one']"))
    assert "alias 'k:one'" in str(info.value)


# -- resolving and listing ---------------------------------------------------------------------
def test_resolve_by_name_alias_and_short_name(zoo: Registry) -> None:
    assert zoo.resolve("keras:mobilenet_v2").name == "keras:mobilenet_v2"
    assert zoo.resolve("mnv2").name == "keras:mobilenet_v2"
    assert zoo.resolve("efficientnet_b0").name == "keras:efficientnet_b0"  # unique short name
    assert zoo.resolve("bit_s").name == "hub:bit_s"
    # "mobilenet_v2" is both an alias of keras:mobilenet_v2 and the short name of
    # hub:mobilenet_v2: the explicit alias wins
    assert zoo.resolve("mobilenet_v2").name == "keras:mobilenet_v2"


def test_ambiguous_short_name_lists_the_candidates(make_file: Callable[..., Path]) -> None:
    registry = Registry()
    registry.add_file(make_file("a.yaml", "keras:net:\n  locator: A\nhub:net:\n  locator: B"))
    with pytest.raises(zooft.UnknownModelError) as info:
        registry.resolve("net")
    assert "ambiguous" in (info.value.hint or "")
    assert "keras:net" in (info.value.hint or "") and "hub:net" in (info.value.hint or "")


def test_unknown_model_suggests_close_names(zoo: Registry) -> None:
    with pytest.raises(zooft.UnknownModelError) as info:
        zoo.resolve("keras:mobilenet_v3")
    assert str(info.value) == "unknown model 'keras:mobilenet_v3'"  # no KeyError quoting
    assert isinstance(info.value, KeyError)
    assert "did you mean" in (info.value.hint or "")
    assert "keras:mobilenet_v2" in (info.value.hint or "")

    with pytest.raises(zooft.UnknownModelError) as info:
        zoo.resolve("qqqqqqqq")
    assert "zooft list-models" in (info.value.hint or "")


def names(specs: list[zooft.ModelSpec]) -> list[str]:
    return [spec.name for spec in specs]


def test_list_filters(zoo: Registry) -> None:
    everything = names(zoo.list())
    assert everything == sorted(everything) and len(everything) == 5
    assert names(zoo.list("*mobilenet*")) == ["hub:mobilenet_v2", "keras:mobilenet_v2"]
    assert names(zoo.list("keras:*")) == ["keras:efficientnet_b0", "keras:mobilenet_v2"]
    assert names(zoo.list("mobile")) == ["hub:mobilenet_v2", "keras:mobilenet_v2"]  # substring
    assert names(zoo.list("EFFICIENT")) == ["keras:efficientnet_b0"]  # case-insensitive
    assert names(zoo.list("mnv?")) == ["keras:mobilenet_v2"]  # aliases match too
    assert names(zoo.list("bit_?")) == []  # a wildcard pattern is anchored: no implicit substring
    assert names(zoo.list(task="detect")) == ["keras:mobilenet_v2"]
    assert names(zoo.list(task="text-classify")) == ["bert:bert_tiny"]
    assert names(zoo.list(source="hub")) == ["hub:bit_s", "hub:mobilenet_v2"]
    assert names(zoo.list(tag="mobile")) == ["keras:mobilenet_v2"]
    assert names(zoo.list("mobilenet", task="classify", source="hub")) == ["hub:mobilenet_v2"]
    assert zoo.list("nothing-like-this") == []


def test_public_list_models_uses_the_merged_registry(
    make_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry_mod, "PACKAGED_REGISTRY", make_file("zoo.yaml", ZOO))
    monkeypatch.setenv("ZOOFT_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert names(zooft.list_models("*mobilenet*", source="keras")) == ["keras:mobilenet_v2"]
    assert names(zooft.list_models(task="text-classify")) == ["bert:bert_tiny"]


# -- the packaged registry (whatever entries it has) -------------------------------------------
def test_packaged_registry_is_valid_and_resolvable() -> None:
    registry = Registry()
    registry.add_file(PACKAGED_REGISTRY)
    assert registry.entries, "zooft/registry.yaml holds no models"
    for name, spec in registry.entries.items():
        assert registry.resolve(name) is spec
        for alias in spec.aliases:
            assert registry.resolve(alias) is spec
        assert spec.license, f"{name}: every packaged entry states its licence"
        assert spec.tasks, f"{name}: every packaged entry lists its tasks"
        if spec.weights.kind == "file":
            assert Path(spec.weights.location or "").is_file(), f"{name}: missing weights file"
