"""Meta-tests: the plugin contract is documented and tested, the CLI path and zooft's modules
stay TensorFlow-free, and the example plugin sticks to the public API.

Subprocesses give each import check a fresh interpreter: in this one, another test may
already have imported TensorFlow.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import subprocess
import sys
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

import zooft
from zooft import hookspecs

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "plugins.md"
EXAMPLE = ROOT / "examples" / "zooft-plugin-example"
EXAMPLE_MODULE = EXAMPLE / "zooft_plugin_example" / "plugin.py"
HEAVY = ("tensorflow", "keras")

# Modules allowed to import TensorFlow at module level: they only run when training or
# streaming data, after the CLI has decided to do real work. ``zooft.__main__`` is skipped
# because importing it runs the CLI.
TF_ALLOWED = ("zooft.train", "zooft.data.images", "zooft.__main__")


def _python(code: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )


def hook_names() -> list[str]:
    """Every hook declared in zooft/hookspecs.py (pluggy marks them with ``zooft_spec``)."""
    return sorted(
        name for name, obj in vars(hookspecs).items() if callable(obj) and hasattr(obj, "zooft_spec")
    )


def docs_section(text: str, heading_re: str) -> str:
    """The Markdown section whose whole heading text matches ``heading_re``, up to the next
    heading of the same or a higher level."""
    match = re.search(rf"^(#+) (?:{heading_re})[ \t]*$", text, re.M)
    assert match, f"no heading matching {heading_re!r} in {DOCS.relative_to(ROOT)}"
    level = len(match.group(1))
    rest = text[match.end():]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest[: end.start()] if end else rest


# -- the CLI path never imports TensorFlow -----------------------------------------------------
CLI_PROBE = """
import json, sys
import zooft.cli
commands = [["--help"], ["list-models", "--json"], ["plugins", "--json"], ["info", "embedded", "--json"]]
statuses = [zooft.cli.run(argv) for argv in commands]
heavy = sorted(m for m in ("tensorflow", "keras") if m in sys.modules)
loaded = sorted({m.split(".")[0] for m in sys.modules})
with open(sys.argv[1], "w") as f:
    json.dump({"statuses": statuses, "heavy": heavy, "loaded": loaded}, f)
"""


def test_cli_listing_commands_import_no_tensorflow(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    proc = _python(CLI_PROBE, str(report))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(report.read_text())
    assert result["heavy"] == [], (
        f"'zooft --help/list-models/plugins/info' imported {result['heavy']}; top-level modules loaded:"
        f" {result['loaded']}"
    )
    assert result["statuses"] == [0, 0, 0, 0], proc.stderr[-2000:]


# -- zooft's modules are importable without TensorFlow -----------------------------------------
def zooft_modules() -> list[str]:
    names = []
    for path in sorted((ROOT / "zooft").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        if not any(name == allowed or name.startswith(allowed + ".") for allowed in TF_ALLOWED):
            names.append(name)
    return names


IMPORT_PROBE = """
import importlib, json, sys
result = {}
for name in sys.argv[1:]:
    importlib.import_module(name)
    result[name] = sorted(m for m in ("tensorflow", "keras") if m in sys.modules)
print(json.dumps(result))
"""


def test_zooft_modules_import_no_tensorflow() -> None:
    modules = zooft_modules()
    assert "zooft.registry" in modules and "zooft.cli.app" in modules
    # Fast path: all of them in one interpreter.
    proc = _python(IMPORT_PROBE, *modules)
    assert proc.returncode == 0, proc.stderr
    if not any(json.loads(proc.stdout).values()):
        return
    # Something imported TensorFlow: find out which modules do, each in a fresh interpreter.
    culprits = [name for name in modules if json.loads(_python(IMPORT_PROBE, name).stdout or "{}").get(name)]
    pytest.fail(
        f"these modules import TensorFlow/Keras at import time: {culprits}; import them inside the"
        f" functions that need them (or add the module to TF_ALLOWED with a reason)"
    )


def test_public_api_names_exist() -> None:
    for name in zooft.__all__:
        assert hasattr(zooft, name), name
    assert len(zooft.__all__) == len(set(zooft.__all__))


# -- every hook is documented and tested -------------------------------------------------------
def test_hookspecs_are_found() -> None:
    assert set(hook_names()) >= {
        "zooft_register_backbones",
        "zooft_register_tasks",
        "zooft_register_exporters",
        "zooft_register_datasets",
        "zooft_registry_files",
    }


@pytest.mark.parametrize("hook", hook_names())
def test_hook_has_a_docstring(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert len(doc) > 80, f"{hook} in zooft/hookspecs.py needs a docstring: arguments, return contract"
    assert "return" in doc.lower(), f"{hook}: the docstring must state the return contract"


@pytest.mark.parametrize("hook", hook_names())
def test_hook_is_documented_in_docs(hook: str) -> None:
    section = docs_section(DOCS.read_text(encoding="utf-8"), rf"`{hook}\([^)]*\)`")
    for arg in inspect.signature(getattr(hookspecs, hook)).parameters:
        assert f"`{arg}`" in section, f"docs/plugins.md: argument {arg!r} of {hook} is not documented"
    assert "Returns" in section, f"docs/plugins.md: the return contract of {hook} is not documented"
    assert "```python" in section and "@zooft.hookimpl" in section, f"docs/plugins.md: {hook} needs an example"


@pytest.mark.parametrize("hook", hook_names())
def test_hook_is_named_in_a_test(hook: str) -> None:
    here = Path(__file__).resolve()
    files = [p for p in (ROOT / "tests").rglob("*.py") if p.resolve() != here]
    assert any(hook in p.read_text(encoding="utf-8") for p in files), f"no test under tests/ uses {hook}"


@pytest.mark.parametrize(
    "cls", [zooft.BackboneSource, zooft.TaskInfo, zooft.ExporterInfo, zooft.DatasetFormat, zooft.Backbone]
)
def test_register_dataclass_fields_are_documented(cls: type) -> None:
    section = docs_section(DOCS.read_text(encoding="utf-8"), rf"`zooft\.{cls.__name__}`|{cls.__name__}")
    for field in fields(cls):
        assert f"`{field.name}`" in section, f"docs/plugins.md: {cls.__name__}.{field.name} is not documented"


@pytest.mark.parametrize("protocol", [zooft.Task, zooft.Exporter])
def test_protocol_methods_are_documented(protocol: type) -> None:
    name = protocol.__name__
    section = docs_section(DOCS.read_text(encoding="utf-8"), name)
    methods = [m for m in vars(protocol) if not m.startswith("_") and callable(getattr(protocol, m))]
    assert methods
    for method in methods:
        assert f"`{method}(" in section, f"docs/plugins.md: {name}.{method} is not documented"


def test_env_switches_and_plugins_command_are_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    plugins_source = (ROOT / "zooft" / "plugins.py").read_text(encoding="utf-8")
    for switch in sorted(set(re.findall(r"ZOOFT_[A-Z_]+", plugins_source))):
        assert switch in text, f"docs/plugins.md does not document {switch}"
    assert "zooft plugins --json" in text
    assert "zooft_registry_files" in text and "override: true" in text


# -- the example plugin ------------------------------------------------------------------------
def _zooft_names_used(tree: ast.AST) -> set[str]:
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "zooft"
    }


def test_example_plugin_uses_only_the_public_api() -> None:
    tree = ast.parse(EXAMPLE_MODULE.read_text(encoding="utf-8"))
    private = sorted(_zooft_names_used(tree) - set(zooft.__all__))
    assert private == [], f"the example plugin uses names outside zooft.__all__: {private}"
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert not (node.module or "").startswith("zooft."), f"imports {node.module}: use 'import zooft'"
        if isinstance(node, ast.Import):
            assert all(not a.name.startswith("zooft.") for a in node.names)


def test_example_plugin_imports_no_heavy_library_at_module_level() -> None:
    tree = ast.parse(EXAMPLE_MODULE.read_text(encoding="utf-8"))
    top_level = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    imported = {a.name.split(".")[0] for n in top_level if isinstance(n, ast.Import) for a in n.names}
    imported |= {(n.module or "").split(".")[0] for n in top_level if isinstance(n, ast.ImportFrom)}
    assert not imported & {*HEAVY, "numpy", "tensorflow_hub", "keras_hub"}


def test_example_plugin_packaging() -> None:
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["name"] == "zooft-plugin-example"
    assert any(dep.startswith("zooft") for dep in project["project"]["dependencies"])
    assert project["project"]["entry-points"]["zooft"] == {"example": "zooft_plugin_example.plugin"}
    assert "models.yaml" in project["tool"]["setuptools"]["package-data"]["zooft_plugin_example"]


def test_example_readme_shows_the_whole_plugin() -> None:
    readme = (EXAMPLE / "README.md").read_text(encoding="utf-8")
    assert EXAMPLE_MODULE.read_text(encoding="utf-8") in readme, "README.md must quote plugin.py verbatim"
    assert "pip install" in readme


def test_example_plugin_registers_without_installing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Load the example as a plain object (no entry point, no TensorFlow) and check what it offers."""
    from zooft.plugins import PluginHost
    from zooft.registry import Registry

    monkeypatch.syspath_prepend(str(EXAMPLE))
    import zooft_plugin_example.plugin as plugin

    host = PluginHost(autoload=False, plugins=[("example", plugin)])
    assert host.errors() == []
    source = host.backbone_source("tinycnn")
    assert source.plugin == "example" and source.resolve is not None
    assert source.resolve("small") is not None and source.resolve("huge") is None
    registry = Registry()
    for path, owner in host.registry_files:
        assert owner == "example"
        registry.add_file(path)
    spec = registry.resolve("tinycnn:tiny32")
    assert (spec.locator, spec.input_size, spec.weights.kind) == ("tiny", (32, 32), "none")
    assert spec.tasks == ("classify", "detect") and spec.license == "MIT" and spec.params and spec.description


def test_every_first_party_plugin_loads_and_registers_without_error() -> None:
    """A plugin's failure is contained (the rest keep working), so a broken built-in would go
    unnoticed by every other test that does not use it: each entry point of pyproject.toml
    must load, register something and report no error."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["zooft"]
    out = subprocess.run([sys.executable, "-m", "zooft", "plugins", "--json"], capture_output=True, text=True, check=True).stdout
    rows = {row["name"]: row for row in json.loads(out)}
    for name in declared:
        assert name in rows, f"built-in plugin {name!r} is not loaded"
        assert rows[name]["errors"] == [], f"built-in plugin {name!r}: {rows[name]['errors']}"
        assert any(rows[name]["registered"].values()), f"built-in plugin {name!r} registered nothing"
