"""The CLI through ``zooft.cli.run(argv) -> exit status``: listings, JSON, and errors that are
one line plus a hint (tracebacks only with ZOOFT_DEBUG=1). Nothing here imports TensorFlow."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import zooft
import zooft.cli
from zooft import registry as registry_mod
from zooft.plugins import PluginHost, reset_host

Capsys = pytest.CaptureFixture[str]

ZOO = """
version: 1
models:
  testsrc:alpha:
    locator: Alpha
    input_size: 32
    tasks: [classify]
    license: MIT
    params: 1234
    tags: [tiny]
    aliases: [alpha]
    description: The first test model.
  testsrc:beta:
    locator: Beta
    input_size: [48, 64]
    weights: https://example.invalid/beta.h5
    tasks: [classify, detect]
    license: Apache-2.0
    params: 2500000
  othersrc:gamma:
    locator: Gamma
    modality: text
    tasks: [text-classify]
"""
OUR_MODELS = ["othersrc:gamma", "testsrc:alpha", "testsrc:beta"]


@pytest.fixture
def zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Replace the packaged registry with a known one, and load no installed plugin."""
    path = tmp_path / "registry.yaml"
    path.write_text(textwrap.dedent(ZOO).lstrip(), encoding="utf-8")
    monkeypatch.setattr(registry_mod, "PACKAGED_REGISTRY", path)
    monkeypatch.setenv("ZOOFT_DISABLE_PLUGIN_AUTOLOAD", "1")
    return path


def run(capsys: Capsys, *argv: str) -> tuple[int, str, str]:
    status = zooft.cli.run(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(err: str, *needles: str) -> None:
    """stderr is exactly an ``error:`` line and a ``hint:`` line, with no traceback."""
    lines = err.strip().splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith("error: ") and lines[1].startswith("hint: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, err)


# -- basics ------------------------------------------------------------------------------------
def test_version(capsys: Capsys) -> None:
    status, out, err = run(capsys, "--version")
    assert status == 0
    assert out.strip() == f"zooft {zooft.__version__}"


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(capsys: Capsys, flag: str) -> None:
    status, out, _ = run(capsys, flag)
    assert status == 0
    for command in ("list-models", "info", "plugins", "tune", "export"):
        assert command in out


def test_command_help(capsys: Capsys) -> None:
    status, out, _ = run(capsys, "list-models", "--help")
    assert status == 0
    assert "--json" in out and "--task" in out


def test_unknown_command_is_a_usage_error(capsys: Capsys) -> None:
    status, _, err = run(capsys, "frobnicate")
    assert status == 2
    assert_one_line_error(err, "frobnicate")


# -- the model zoo -----------------------------------------------------------------------------
def test_list_models_json(capsys: Capsys, zoo: Path) -> None:
    status, out, _ = run(capsys, "list-models", "--json")
    assert status == 0
    models = json.loads(out)
    assert isinstance(models, list)
    assert [m["name"] for m in models] == OUR_MODELS
    alpha = models[1]
    assert alpha["input_size"] == [32, 32] and alpha["aliases"] == ["alpha"] and alpha["origin"] == str(zoo)


def test_list_models_table(capsys: Capsys, zoo: Path) -> None:
    status, out, err = run(capsys, "list-models")
    assert status == 0
    for name in OUR_MODELS:
        assert name in out
    assert "48×64" in out and "2.5M" in out and "1k" in out
    assert "3 model(s)" in err  # counts are diagnostics: stdout stays the table


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["alph"], ["testsrc:alpha"]),
        (["testsrc:*"], ["testsrc:alpha", "testsrc:beta"]),
        (["--task", "detect"], ["testsrc:beta"]),
        (["--source", "othersrc"], ["othersrc:gamma"]),
        (["--tag", "tiny"], ["testsrc:alpha"]),
        (["*a", "--task", "classify"], ["testsrc:alpha", "testsrc:beta"]),
        (["nothing-matches"], []),
    ],
)
def test_list_models_pattern_and_filters(capsys: Capsys, zoo: Path, args: list[str], expected: list[str]) -> None:
    status, out, _ = run(capsys, "list-models", *args, "--json")
    assert status == 0
    assert [m["name"] for m in json.loads(out)] == expected


def test_list_models_pattern_table(capsys: Capsys, zoo: Path) -> None:
    status, out, _ = run(capsys, "list-models", "beta")
    assert status == 0
    assert "testsrc:beta" in out and "testsrc:alpha" not in out


def test_list_models_reads_extra_registry_files(capsys: Capsys, zoo: Path, tmp_path: Path) -> None:
    extra = tmp_path / "mine.yaml"
    extra.write_text("version: 1\nmodels:\n  mine:delta:\n    locator: D\n", encoding="utf-8")
    status, out, _ = run(capsys, "--registry", str(extra), "list-models", "--json")
    assert status == 0
    assert "mine:delta" in [m["name"] for m in json.loads(out)]


@pytest.mark.parametrize("name", ["testsrc:alpha", "alpha"])
def test_info_json(capsys: Capsys, zoo: Path, name: str) -> None:
    status, out, _ = run(capsys, "info", name, "--json")
    assert status == 0
    info = json.loads(out)
    assert info["name"] == "testsrc:alpha"
    assert info["license"] == "MIT" and info["weights"]["kind"] == "none"


def test_info_text(capsys: Capsys, zoo: Path) -> None:
    status, out, _ = run(capsys, "info", "testsrc:beta")
    assert status == 0
    assert "testsrc:beta" in out and "https://example.invalid/beta.h5" in out


def test_unknown_model_is_one_error_line_and_one_hint(capsys: Capsys, zoo: Path) -> None:
    status, out, err = run(capsys, "info", "testsrc:alpah")
    assert status != 0
    assert out == ""
    assert_one_line_error(err, "unknown model 'testsrc:alpah'")
    assert "testsrc:alpha" in err.splitlines()[1]  # the hint suggests the close name


def test_malformed_registry_file_is_a_one_line_error(capsys: Capsys, zoo: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nmodels:\n  mine:x: [unclosed\n", encoding="utf-8")
    status, _, err = run(capsys, "--registry", str(bad), "list-models")
    assert status == 1
    assert_one_line_error(err, str(bad), "malformed YAML", "line ")


def test_registry_schema_error_is_a_one_line_error(capsys: Capsys, zoo: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nmodels:\n  mine:x:\n    locator: X\n    input_size: big\n", encoding="utf-8")
    status, _, err = run(capsys, "--registry", str(bad), "info", "mine:x")
    assert status == 1
    assert_one_line_error(err, str(bad), "'mine:x'", "input_size")


def test_duplicate_from_user_file_is_a_one_line_error(capsys: Capsys, zoo: Path, tmp_path: Path) -> None:
    dup = tmp_path / "dup.yaml"
    dup.write_text("version: 1\nmodels:\n  testsrc:alpha:\n    locator: Other\n", encoding="utf-8")
    status, _, err = run(capsys, "--registry", str(dup), "list-models")
    assert status == 1
    assert_one_line_error(err, str(zoo), str(dup))


def test_registry_env_variable(capsys: Capsys, zoo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    extra = tmp_path / "env.yaml"
    extra.write_text("version: 1\nmodels:\n  env:eps:\n    locator: E\n", encoding="utf-8")
    monkeypatch.setenv("ZOOFT_REGISTRY", str(extra))
    status, out, _ = run(capsys, "info", "env:eps", "--json")
    assert status == 0 and json.loads(out)["origin"] == str(extra)


# -- bad flags, debug --------------------------------------------------------------------------
def test_bad_flag_value_is_a_usage_error(capsys: Capsys) -> None:
    status, out, err = run(capsys, "tune", "--batch-size", "abc")
    assert status == 2
    assert out == ""
    assert_one_line_error(err, "--batch-size", "integer")
    assert "zooft tune --help" in err


def test_unknown_option_is_a_usage_error(capsys: Capsys) -> None:
    status, _, err = run(capsys, "list-models", "--frobnicate")
    assert status == 2
    assert_one_line_error(err, "--frobnicate")


def test_export_option_must_be_key_value(capsys: Capsys, tmp_path: Path) -> None:
    status, out, err = run(capsys, "export", str(tmp_path), "-f", "tflite", "--option", "postprocess")
    assert status != 0 and out == ""
    assert_one_line_error(err, "--option 'postprocess' is not KEY=VALUE")


def test_missing_argument_is_a_usage_error(capsys: Capsys) -> None:
    status, _, err = run(capsys, "info")
    assert status == 2
    assert_one_line_error(err)


def test_zooft_debug_reraises(capsys: Capsys, zoo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOFT_DEBUG", "1")
    with pytest.raises(zooft.UnknownModelError):
        zooft.cli.run(["info", "no-such-model"])


def test_zooft_debug_zero_means_off(capsys: Capsys, zoo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOFT_DEBUG", "0")
    status, _, err = run(capsys, "info", "no-such-model")
    assert status == 1
    assert_one_line_error(err)


def test_unexpected_exception_is_one_line_and_reraised_in_debug(
    capsys: Capsys, zoo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise LookupError("internal surprise")

    monkeypatch.setattr(registry_mod.Registry, "list", explode)
    status, _, err = run(capsys, "list-models")
    assert status == 1
    assert_one_line_error(err, "unexpected LookupError: internal surprise")
    assert "ZOOFT_DEBUG=1" in err.splitlines()[1]
    monkeypatch.setenv("ZOOFT_DEBUG", "1")
    with pytest.raises(LookupError):
        zooft.cli.run(["list-models"])


# -- plugins -----------------------------------------------------------------------------------
class FakePlugin:
    @zooft.hookimpl
    def zooft_register_backbones(self, register: Callable[[zooft.BackboneSource], None]) -> None:
        register(zooft.BackboneSource(name="fakesrc", factory=lambda spec, **kw: None))


class BrokenPlugin:
    @zooft.hookimpl
    def zooft_register_tasks(self, register: Callable[[zooft.TaskInfo], None]) -> None:
        raise RuntimeError("kaputt")


def test_plugins_json(capsys: Capsys) -> None:
    reset_host(PluginHost(autoload=False, plugins=[("fake", FakePlugin()), ("broken", BrokenPlugin())]))
    status, out, _ = run(capsys, "plugins", "--json")
    assert status == 0
    records = {r["name"]: r for r in json.loads(out)}
    assert set(records) == {"fake", "broken"}
    assert records["fake"]["registered"] == {"backbones": ["fakesrc"]}
    assert records["fake"]["errors"] == [] and records["fake"]["builtin"] is False
    (error,) = records["broken"]["errors"]
    assert "zooft_register_tasks" in error and "kaputt" in error


def test_plugins_table_shows_status_and_errors(capsys: Capsys) -> None:
    reset_host(PluginHost(autoload=False, plugins=[("fake", FakePlugin()), ("broken", BrokenPlugin())]))
    status, out, err = run(capsys, "plugins")
    assert status == 0
    assert "fake" in out and "backbones: fakesrc" in out and "third-party" in out
    assert "ok" in out and "error" in out
    assert "plugin broken:" in err and "kaputt" in err


def test_plugins_json_with_the_installed_plugins(capsys: Capsys) -> None:
    status, out, _ = run(capsys, "plugins", "--json")
    assert status == 0
    records = json.loads(out)
    assert isinstance(records, list)
    for record in records:
        assert set(record) == {"name", "module", "distribution", "version", "builtin", "registered", "errors", "options"}
        assert record["builtin"] == (record["distribution"] == "zooft")


def test_missing_plugin_lookup_is_a_one_line_error(capsys: Capsys, zoo: Path) -> None:
    # 'pull' looks up the backbone source of the model: none is registered here.
    reset_host(PluginHost(autoload=False, plugins=[("broken", BrokenPlugin())]))
    status, _, err = run(capsys, "pull", "testsrc:alpha")
    assert status == 1
    assert_one_line_error(err, "no backbone named 'testsrc'")
    assert "plugins with errors: broken" in err
