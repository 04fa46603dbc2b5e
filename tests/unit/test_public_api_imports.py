"""Meta-test: every module under plugins/ and examples/ uses only zooft's public API.

The public API is ``zooft``'s ``__all__`` (plus the ``zooft.testing`` pytest plugin for test
code). The AST of each module is walked and every form of reaching past it fails:
``import zooft.x``, ``from zooft.x import y``, ``from zooft import name`` for a name outside
``__all__``, ``zooft.name`` attribute access to a non-public name, ``importlib.import_module("zooft.x")``
/ ``__import__("zooft.x")``, relative imports that climb out of the plugin's own package, and
importing another plugin package. A planted violation of each form proves the checker catches it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import zooft

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_MODULES = {"zooft", "zooft.testing"}


def plugin_packages() -> dict[str, Path]:
    """Top-level import name -> package directory, for every first-party and example plugin."""
    found = {p.name: p for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").is_file()}
    for dist in (ROOT / "examples").iterdir():
        found.update({p.name: p for p in dist.iterdir() if (p / "__init__.py").is_file()})
    tests_plugins = ROOT / "tests" / "plugins"
    if tests_plugins.is_dir():
        for dist in tests_plugins.iterdir():
            if dist.is_dir():
                found.update({p.name: p for p in dist.iterdir() if (p / "__init__.py").is_file()})
    return found


@dataclass(frozen=True)
class Violation:
    """One import past the public API."""

    line: int
    text: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.text}"


def _module_parts(path: Path, package_dir: Path) -> list[str]:
    """``pkg.sub.mod`` of ``path`` as parts, its package being ``package_dir``."""
    rel = path.relative_to(package_dir.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return parts


def check_source(source: str, *, own_package: str, module_parts: list[str], is_package: bool,
                 plugin_names: set[str], public: set[str] | None = None) -> list[Violation]:
    """Every import in ``source`` that reaches past zooft's public API or into another plugin."""
    public = set(zooft.__all__) if public is None else public
    tree = ast.parse(source)
    found: list[Violation] = []

    def other_plugin(name: str) -> bool:
        top = name.split(".")[0]
        return top in plugin_names and top != own_package

    def check_module(name: str, line: int, how: str) -> None:
        if (name == "zooft" or name.startswith("zooft.")) and name not in PUBLIC_MODULES:
            found.append(Violation(line, f"{how} {name!r}: zooft internals; use the public names in zooft.__all__"))
        elif other_plugin(name):
            found.append(Violation(line, f"{how} {name!r}: another plugin; move shared code into zooft's public API"))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                check_module(alias.name, node.lineno, "import")
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module_parts if is_package else module_parts[:-1]
                if node.level - 1 >= len(base):
                    found.append(Violation(node.lineno, f"relative import {'.' * node.level}{node.module or ''} climbs out of {own_package!r}"))
                    continue
                resolved = base[: len(base) - (node.level - 1)]
                if not resolved or resolved[0] != own_package:
                    found.append(Violation(node.lineno, f"relative import escapes {own_package!r}"))
                continue
            module = node.module or ""
            check_module(module, node.lineno, "from")
            if module == "zooft":
                for alias in node.names:
                    if alias.name not in public:
                        found.append(Violation(node.lineno, f"from zooft import {alias.name}: {alias.name!r} is not in zooft.__all__"))
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "zooft":
            if node.attr not in public and not node.attr.startswith("__"):
                found.append(Violation(node.lineno, f"zooft.{node.attr}: not in zooft.__all__"))
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("import_module", "__import__") and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    check_module(arg.value, node.lineno, f"{name}(")
    return found


def plugin_modules() -> list[tuple[str, Path, Path]]:
    return [
        (name, package, path)
        for name, package in sorted(plugin_packages().items())
        for path in sorted(package.rglob("*.py"))
    ]


@pytest.mark.parametrize(
    ("package_name", "package", "path"),
    plugin_modules(),
    ids=[str(p.relative_to(ROOT)) for _, _, p in plugin_modules()],
)
def test_plugin_module_imports_only_public_api(package_name: str, package: Path, path: Path) -> None:
    violations = check_source(
        path.read_text(encoding="utf-8"),
        own_package=package_name,
        module_parts=_module_parts(path, package),
        is_package=path.name == "__init__.py",
        plugin_names=set(plugin_packages()),
    )
    assert not violations, f"{path.relative_to(ROOT)} reaches past zooft's public API:\n" + "\n".join(map(str, violations))


def test_every_first_party_plugin_is_checked() -> None:
    names = set(plugin_packages())
    assert {"zooft_classify", "zooft_tflite", "zooft_onnx", "zooft_savedmodel", "zooft_text", "zooft_plugin_example"} <= names


PLANTED = [
    "import zooft.registry",
    "import zooft.exports.parity as p",
    "from zooft.cache import download",
    "from zooft import registry",
    "from zooft import parity",
    "x = zooft.plugins.get_host()",
    "import importlib\nimportlib.import_module('zooft.registry')",
    "__import__('zooft.cli')",
    "from ... import something",
    "import zooft_savedmodel.exporter",
    "from zooft_classify.task import ClassifyTask",
    "import importlib\nimportlib.import_module('zooft_onnx')",
]


@pytest.mark.parametrize("source", PLANTED)
def test_checker_catches_a_planted_violation(source: str) -> None:
    violations = check_source(
        "import zooft\n" + source,
        own_package="zooft_mine",
        module_parts=["zooft_mine", "sub"],
        is_package=False,
        plugin_names={"zooft_mine", "zooft_savedmodel", "zooft_classify", "zooft_onnx"},
    )
    assert violations, f"the checker missed: {source!r}"


@pytest.mark.parametrize(
    "source",
    ["import zooft", "from zooft import ConfigError, build_parity_report", "from . import task",
     "from .export import parity", "x = zooft.load_artifact", "import zooft.testing", "from zooft_mine import x"],
)
def test_checker_accepts_public_use(source: str) -> None:
    assert check_source(
        source, own_package="zooft_mine", module_parts=["zooft_mine", "sub"], is_package=False,
        plugin_names={"zooft_mine", "zooft_onnx"},
    ) == []


# -- docs/plugins.md uses only public names, and documents every one ---------------------------
DOCS = ROOT / "docs" / "plugins.md"


def doc_python_blocks() -> list[str]:
    import re

    text = DOCS.read_text(encoding="utf-8")
    return [textwrap_dedent(block) for block in re.findall(r"```python\n(.*?)```", text, re.S)]


def textwrap_dedent(block: str) -> str:
    import textwrap

    return textwrap.dedent(block)


def test_docs_code_uses_only_public_names() -> None:
    import zooft.testing

    blocks = doc_python_blocks()
    assert len(blocks) >= 8
    for block in blocks:
        violations = check_source(block, own_package="docs_example", module_parts=["docs_example", "doc"],
                                  is_package=False, plugin_names={"docs_example"})
        assert not violations, "docs/plugins.md code reaches past the public API:\n" + "\n".join(map(str, violations)) + "\n" + block
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.ImportFrom) and node.module == "zooft.testing":
                for alias in node.names:
                    assert alias.name in zooft.testing.__all__, f"docs import zooft.testing.{alias.name}, which is not public"


def test_every_public_name_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [name for name in zooft.__all__ if f"`{name}" not in text and f"zooft.{name}" not in text]
    assert not missing, f"docs/plugins.md does not document these public names: {missing}"
