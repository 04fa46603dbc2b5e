"""The example third-party plugin, installed for real: pip-install it into a folder of its own
(``pip install --target``, as a site directory on ``PYTHONPATH``), then check that zooft finds
it through its entry point — in the listings, in ``zooft plugins`` as a third-party plugin, and
by building its backbone.

Everything after the install runs in fresh interpreters that see the folder on
``PYTHONPATH``; the project's own environment is never changed, so other tests (also those
running at the same time under ``pytest -n``) never see the example plugin appear mid-run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "zooft-plugin-example"
DIST = "zooft-plugin-example"


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/zooft-plugin-example installed (no dependencies) into a fresh site folder."""
    sys.path.insert(0, str(ROOT / "tests" / "integration"))
    from test_outside_plugin import _install

    target = tmp_path_factory.mktemp("example-site") / "site"
    _install(EXAMPLE, target)
    return target


def _python(site: Path, code: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout, env=env)


INSTALLED_PROBE = """
import json, sys
from importlib import metadata
import zooft_plugin_example
dist = metadata.distribution(sys.argv[1])
print(json.dumps({"version": dist.version, "file": zooft_plugin_example.__file__,
                  "entry_points": [ep.value for ep in dist.entry_points if ep.group == "zooft"]}))
"""


def test_the_installed_distribution_is_the_example(example_site: Path) -> None:
    proc = _python(example_site, INSTALLED_PROBE, DIST)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(proc.stdout)
    assert Path(info["file"]).resolve().is_relative_to(example_site.resolve())
    assert info["entry_points"] == ["zooft_plugin_example.plugin"] and info["version"] == "0.1.0"


CLI_PROBE = """
import contextlib, io, json, sys
import zooft.cli
out = {}
for key, argv in (("models", ["list-models", "--json"]), ("plugins", ["plugins", "--json"]),
                  ("info", ["info", "tinycnn:tiny32", "--json"])):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        status = zooft.cli.run(argv)
    out[key] = {"status": status, "output": buffer.getvalue()}
out["heavy"] = sorted(m for m in ("tensorflow", "keras") if m in sys.modules)
with open(sys.argv[1], "w") as f:
    json.dump(out, f)
"""


def test_cli_lists_the_example_plugin_and_its_model(example_site: Path, tmp_path: Path) -> None:
    report = tmp_path / "cli.json"
    proc = _python(example_site, CLI_PROBE, str(report))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(report.read_text())
    for key in ("models", "plugins", "info"):
        assert result[key]["status"] == 0, (key, proc.stderr[-3000:])
    assert result["heavy"] == [], "listing with the example plugin installed must not import TensorFlow"

    models = {m["name"]: m for m in json.loads(result["models"]["output"])}
    assert "tinycnn:tiny32" in models
    assert len(models) >= 15, f"expected the packaged zoo plus the example, got {sorted(models)}"
    tiny = models["tinycnn:tiny32"]
    assert tiny["source"] == "tinycnn" and tiny["input_size"] == [32, 32] and tiny["license"] == "MIT"
    assert tiny["tasks"] == ["classify", "detect"] and tiny["weights"]["kind"] == "none"
    assert tiny["origin"].endswith("models.yaml")
    assert json.loads(result["info"]["output"])["name"] == "tinycnn:tiny32"

    plugins = {p["name"]: p for p in json.loads(result["plugins"]["output"])}
    example = plugins["example"]
    assert example["builtin"] is False  # third-party
    assert example["distribution"] == DIST and example["version"] == "0.1.0"
    assert example["module"] == "zooft_plugin_example.plugin"
    assert example["errors"] == []
    assert example["registered"]["backbones"] == ["tinycnn"]
    assert len(example["registered"]["registry_files"]) == 1


BUILD_PROBE = """
import json, sys
import numpy as np
from zooft.plugins import get_host
from zooft.registry import load_registry

spec = load_registry().resolve("tinycnn:tiny32")
source = get_host().backbone_source("tinycnn")
result = {"plugin": source.plugin}
for size in ((32, 32), (64, 48)):
    backbone = source.factory(spec, input_size=size)
    model = backbone.model
    outputs = model(np.random.default_rng(0).uniform(0, 255, (2, *size, 3)).astype("float32"))
    layers = [layer.name for layer in model.layers]
    grouped = [name for group in backbone.layer_groups for name in group]
    result[f"{size[0]}x{size[1]}"] = {
        "input_size": list(backbone.input_size),
        "input_name": model.inputs[0].name,
        "input_shape": list(model.inputs[0].shape),
        "shapes": {k: list(v.shape) for k, v in outputs.items()},
        "finite": bool(all(np.isfinite(np.asarray(v)).all() for v in outputs.values())),
        "groups_cover_layers_once": sorted(grouped) == sorted(layers) and len(grouped) == len(set(grouped)),
        "groups_in_order": grouped == layers,
        "n_groups": len(backbone.layer_groups),
        "outputs": list(backbone.outputs),
        "spec": backbone.spec.name,
    }
trainable = backbone.set_trainable(1)
result["trainable_after_unfreezing_one_group"] = trainable
adhoc = source.resolve("small")
result["adhoc"] = list(source.factory(adhoc).model.output["pooled"].shape)
print(json.dumps(result))
"""


def test_the_example_backbone_builds_through_the_host(example_site: Path) -> None:
    proc = _python(example_site, BUILD_PROBE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["plugin"] == "example"

    small = result["32x32"]
    assert small["spec"] == "tinycnn:tiny32"
    assert small["input_size"] == [32, 32] and small["input_shape"] == [None, 32, 32, 3]
    assert small["input_name"].startswith("image")
    assert small["shapes"] == {
        "pooled": [2, 64],
        "stride8": [2, 4, 4, 32],
        "stride16": [2, 2, 2, 64],
        "stride32": [2, 1, 1, 64],
    }
    assert set(small["outputs"]) == {"pooled", "stride8", "stride16", "stride32"}
    assert small["finite"] and small["groups_cover_layers_once"] and small["groups_in_order"]
    assert small["n_groups"] >= 4

    wide = result["64x48"]  # input_size overrides the spec's 32×32
    assert wide["shapes"]["stride8"] == [2, 8, 6, 32]
    assert wide["shapes"]["stride32"] == [2, 2, 2, 64]
    # the last group (block4 conv + BN + pool) has one trainable weight: the conv kernel
    assert result["trainable_after_unfreezing_one_group"] == 1
    assert result["adhoc"] == [None, 128]
