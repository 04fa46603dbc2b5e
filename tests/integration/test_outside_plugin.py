"""An outside plugin distribution of zooft's own (tests/plugins/zooft-plugin-regress: a backbone,
a ``regress`` task with no classes, a CSV format and an ``npz`` exporter with its own option),
pip-installed and driven through every command; and deliberately broken plugins
(tests/plugins/zooft-plugin-broken) whose failures stay contained.

Both are installed with ``pip install --target`` into a temporary directory that only the
commands of this module see (``PYTHONPATH``): installing them into the environment would load
them in every other test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "tests" / "plugins"
ZOOFT = [sys.executable, "-m", "zooft"]


def _install(dist: Path, target: Path) -> None:
    """pip-install the distribution folder ``dist`` (no dependencies) into the site folder ``target``.

    It is built from a copy: a build writes ``build/`` and ``*.egg-info`` next to its sources,
    and two test modules installing the same distribution at once (pytest -n) must not share them.
    The build reuses this environment's setuptools (no index needed) and falls back to an
    isolated build when that lacks what the build backend needs (e.g. ``wheel``)."""
    source = target.with_name(target.name + "-src")
    shutil.copytree(dist, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    base = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check",
            "--target", str(target)]
    errors = []
    for cmd in ([*base, "--no-build-isolation", str(source)], [*base, str(source)]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if proc.returncode == 0:
            return
        errors.append(f"$ {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    pytest.fail(f"could not install {dist.name}:\n" + "\n".join(errors))


def write_values(root: Path, n: int = 40, seed: int = 0) -> Path:
    """``values.csv`` (path,value) of grey 32x32 images whose brightness is the value."""
    from PIL import Image

    (root / "img").mkdir(parents=True)
    rng = np.random.default_rng(seed)
    rows = ["path,value"]
    for i in range(n):
        value = float(rng.uniform(0.1, 0.9))
        pixels = np.clip(rng.normal(value * 255, 20, (32, 32, 3)), 0, 255).astype("uint8")
        Image.fromarray(pixels).save(root / "img" / f"{i:03d}.png")
        rows.append(f"img/{i:03d}.png,{value:.4f}")
    (root / "values.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root / "values.csv"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Both distributions installed into their own directories, plus a data set."""
    base = tmp_path_factory.mktemp("outside")
    _install(PLUGINS / "zooft-plugin-regress", base / "regress")
    _install(PLUGINS / "zooft-plugin-broken", base / "broken")
    return {"base": base, "regress": base / "regress", "broken": base / "broken", "csv": write_values(base / "data")}


def zooft(site: dict[str, Any], *args: str, broken: bool = True, ok: bool = True) -> subprocess.CompletedProcess[str]:
    paths = [str(site["regress"])] + ([str(site["broken"])] if broken else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "ZOOFT_HOME": str(site["base"] / "home"),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    for key in ("ZOOFT_PLUGINS", "ZOOFT_DISABLE_PLUGINS", "ZOOFT_DISABLE_PLUGIN_AUTOLOAD"):
        env.pop(key, None)
    # TensorFlow 2.21's oneDNN kernels crash small conv nets natively (docs/training.md)
    env.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    proc = subprocess.run([*ZOOFT, *args], capture_output=True, text=True, cwd=site["base"], env=env, timeout=900)
    if ok:
        assert proc.returncode == 0, f"zooft {' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


BATCH = """
import contextlib, io, json, sys
import zooft.cli
results = []
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = zooft.cli.run(argv)
    results.append({"argv": argv, "status": status, "stdout": out.getvalue(), "stderr": err.getvalue()})
print(json.dumps(results))
"""


def zooft_batch(site: dict[str, Any], *commands: list[str], broken: bool = True) -> list[dict[str, Any]]:
    """Run several commands in one child interpreter (one TensorFlow import, not one per command),
    each through ``zooft.cli.run`` exactly as the console script runs it."""
    paths = [str(site["regress"])] + ([str(site["broken"])] if broken else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "ZOOFT_HOME": str(site["base"] / "home"),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    for key in ("ZOOFT_PLUGINS", "ZOOFT_DISABLE_PLUGINS", "ZOOFT_DISABLE_PLUGIN_AUTOLOAD"):
        env.pop(key, None)
    env.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    proc = subprocess.run([sys.executable, "-c", BATCH, json.dumps(list(commands))], capture_output=True, text=True,
                          cwd=site["base"], env=env, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_broken_plugins_stay_contained(site: dict[str, Any]) -> None:
    records = {r["name"]: r for r in json.loads(zooft(site, "plugins", "--json").stdout)}
    assert records["regress"]["errors"] == [] and not records["regress"]["builtin"]
    errors = {name: " ".join(records[name]["errors"]) for name in records if name.startswith("broken-")}
    assert "ModuleNotFoundError" in errors["broken-import"]
    assert "called sys.exit('zooft-plugin-broken: exiting at import')" in errors["broken-exit"]
    assert "invalid hook implementation" in errors["broken-hook"] and "surprise" in errors["broken-hook"]
    assert "malformed YAML" in errors["broken-registry"] and "bad.yaml" in errors["broken-registry"]
    assert "built-in name (plugin 'classify')" in errors["broken-collision"]
    assert "rename it in plugin 'broken-collision'" in errors["broken-collision"]
    assert all(records[name]["errors"] == [] for name in records if records[name]["builtin"])
    # the rest of the zoo keeps working: listings, info, and the built-ins under their names
    models = {m["name"] for m in json.loads(zooft(site, "list-models", "--json").stdout)}
    assert {"smallconv:tiny", "keras:mobilenet_v2_035_shapes96"} <= models and "keras:broken_entry" not in models
    assert json.loads(zooft(site, "info", "smallconv:tiny", "--json").stdout)["source"] == "smallconv"
    human = zooft(site, "plugins")
    assert "error" in human.stdout and "plugin broken-exit" in human.stderr


@pytest.mark.slow
def test_outside_plugin_on_every_command(site: dict[str, Any]) -> None:
    csv = str(site["csv"])
    run = str(site["base"] / "runs" / "own")
    image = str(site["base"] / "data" / "img" / "000.png")
    npz_dir = str(Path(run) / "exports" / "npz-float16")
    results = zooft_batch(
        site,
        ["tune", "--backbone", "smallconv:tiny", "--task", "regress", "--data", csv, "--epochs", "2",
         "--fine-tune-epochs", "1", "--batch-size", "8", "--option", "loss=mae", "--output", run],
        ["tune", "--backbone", "smallconv:tiny", "--task", "regress", "--data", csv, "--option", "los=mae"],
        ["eval", run, "--json"],
        ["eval", run],
        ["predict", run, image, "--json"],
        ["predict", run, image],
        ["export", run, "--format", "npz", "--option", "dtype=float16", "--format", "tflite", "--json"],
        ["export", run, "--format", "npz", "--option", "dtype=int4"],
        ["predict", npz_dir, image, "--json"],
    )
    tune, bad_tune, eval_json, eval_text, predict_json, predict_text, export, bad_export, predict_npz = results
    assert tune["status"] == 0, tune["stderr"][-2000:]
    config = json.loads((Path(run) / "config.json").read_text())
    assert config["values"]["task_options"] == {"loss": "mae"}
    assert bad_tune["status"] != 0 and "unknown regress task option 'los'" in bad_tune["stderr"]
    assert "did you mean 'loss'" in bad_tune["stderr"]

    metrics = json.loads(eval_json["stdout"])
    assert set(metrics) == {"mae", "rmse", "samples"} and metrics["samples"] > 0
    assert "mae " in eval_text["stdout"]
    rows = json.loads(predict_json["stdout"])
    assert list(rows[0]) == ["file", "value"] and isinstance(rows[0]["value"], float)
    assert "000.png: value " in predict_text["stdout"]

    assert export["status"] == 0, export["stderr"][-2000:]
    npz, tflite = json.loads(export["stdout"])
    assert npz["name"] == "npz-float16" and npz["parity"]["passed"] and npz["options"] == {"dtype": "float16"}
    assert tflite["name"] == "tflite" and tflite["parity"]["passed"]
    assert bad_export["status"] != 0 and "dtype='int4' is not valid; allowed: float32, float16" in bad_export["stderr"]
    assert json.loads(predict_npz["stdout"])[0]["value"] == pytest.approx(rows[0]["value"], abs=5e-3)

    (Path(run) / "exports" / "orphan").mkdir()
    (Path(run) / "exports" / "orphan" / "parity.json").write_text('{"format": "gone"}')
    [bench] = zooft_batch(site, ["bench", run, "--runs", "5", "--json"])
    result = json.loads(bench["stdout"])
    assert {r["name"] for r in result["rows"]} == {"keras", "npz-float16", "tflite"}
    assert result["skipped"][0]["name"] == "orphan" and "no installed plugin registers 'gone'" in result["skipped"][0]["reason"]


@pytest.mark.slow
def test_outside_task_on_a_builtin_backbone(site: dict[str, Any]) -> None:
    """The embedded model's registry entry lists classify/detect only: a hint, not a gate."""
    run = str(site["base"] / "runs" / "embedded")
    tune, evaluated = zooft_batch(
        site,
        ["tune", "--backbone", "embedded", "--task", "regress", "--data", str(site["csv"]), "--epochs", "1",
         "--batch-size", "8", "--image-size", "32", "--no-feature-cache", "--output", run],
        ["eval", run, "--json"],
        broken=False,
    )
    assert tune["status"] == 0, tune["stderr"][-2000:]
    assert json.loads(evaluated["stdout"])["samples"] > 0
