"""zooft's TensorFlow environment (zooft/tfruntime.py): the oneDNN crash and the start-up noise.

Each case runs in a fresh subprocess: TensorFlow reads these settings once, when it loads, and
a native crash must not take the test session with it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# The smallest net found that trips TensorFlow 2.21's AVX-512 oneDNN kernel for the filter
# gradient of a 1x1 stride-2 convolution: 16x16x8 features, 8 filters, batches of one example.
# With oneDNN's AVX-512 kernels it dies (SIGSEGV / SIGABRT from glibc's heap checks) in every
# run measured; ``import zooft`` first (oneDNN off, or capped at AVX2) makes it finish. On CPUs
# without AVX-512 these tests pass either way.
CRASHER = """
import numpy as np
import keras

inputs = keras.Input((32, 32, 3))
x = keras.layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(inputs)
x = keras.layers.BatchNormalization()(x)
x = keras.layers.ReLU()(x)
y = keras.layers.Conv2D(8, 3, strides=2, padding="same")(x)
x = keras.layers.ReLU()(keras.layers.Add()([y, keras.layers.Conv2D(8, 1, strides=2)(x)]))
model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling2D()(x)))
rng = np.random.default_rng(0)
model.compile("adam", "mse")
model.fit(rng.random((4, 32, 32, 3), dtype=np.float32), rng.random((4, 1), dtype=np.float32),
          batch_size=1, epochs=3, verbose=0)
print("finished")
"""

# A third-party-style backbone source with the same residual shortcut, for the CLI path.
PLUGIN = '''
import zooft


def build(spec, *, input_size=None, weights="pretrained", **_):
    import keras

    h, w = input_size or (32, 32)
    inputs = keras.Input((h, w, 3), name="image")
    x = keras.layers.Rescaling(1 / 255.0, name="rescale")(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="stem")(x)
    x = keras.layers.ReLU(name="stem_relu")(keras.layers.BatchNormalization(name="stem_bn")(x))
    y = keras.layers.Conv2D(8, 3, strides=2, padding="same", name="conv")(x)
    s = keras.layers.Conv2D(8, 1, strides=2, name="shortcut")(x)
    x = keras.layers.ReLU(name="out")(keras.layers.Add(name="add")([y, s]))
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    groups = [["image", "rescale"], ["stem", "stem_bn", "stem_relu", "conv", "shortcut", "add", "out", "pool"]]
    return zooft.Backbone(model=keras.Model(inputs, {"pooled": pooled}), spec=spec, input_size=(h, w),
                          layer_groups=groups)


def resolve(locator):
    return zooft.ModelSpec(name="resnetlet:" + locator, source="resnetlet", locator=locator,
                           weights=zooft.WeightsSpec("none"), input_size=(32, 32),
                           preprocessing={"mode": "unit"}, tasks=("classify",))


@zooft.hookimpl
def zooft_register_backbones(register):
    register(zooft.BackboneSource(name="resnetlet", factory=build, resolve=resolve, description="test"))
'''

RUN_CLI = """
import sys
import zooft.cli
import zooft.plugins
import resnetlet_plugin

host = zooft.plugins.PluginHost()
host.add_plugin(resnetlet_plugin, "resnetlet")
zooft.plugins.reset_host(host)
sys.exit(zooft.cli.run(sys.argv[1:]))
"""

#: the notices TensorFlow prints on a CPU-only machine while it loads and probes for CUDA
NOISE = re.compile(
    r"oneDNN custom operations|Could not find cuda drivers|cuInit|absl::InitializeLog|cpu_feature_guard"
)


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ZOOFT_ONEDNN", "TF_", "ONEDNN_", "DNNL_"))}
    clean.pop("ZOOFT_DEBUG", None)
    return subprocess.run([sys.executable, *args], cwd=cwd, env={**clean, **env}, capture_output=True,
                          text=True, timeout=900)


def _crashed(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"


@pytest.mark.slow
def test_keras_script_after_import_zooft_does_not_crash(tmp_path: Path) -> None:
    proc = _run(["-c", "import zooft\n" + CRASHER], tmp_path)
    assert proc.returncode == 0 and "finished" in proc.stdout, _crashed(proc)


def _image_folder(root: Path) -> Path:
    from PIL import Image

    rng = __import__("numpy").random.default_rng(0)
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(4):
            pixels = rng.integers(0, 256, (32, 32, 3), dtype="uint8")
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


@pytest.mark.slow
def test_cli_tune_of_a_residual_plugin_backbone_does_not_crash(tmp_path: Path) -> None:
    (tmp_path / "resnetlet_plugin.py").write_text(PLUGIN)
    (tmp_path / "run_cli.py").write_text(RUN_CLI)
    data = _image_folder(tmp_path / "data")
    proc = _run(["run_cli.py", "tune", "--backbone", "resnetlet:tiny", "--task", "classify", "--data", str(data),
                 "--epochs", "1", "--fine-tune-epochs", "2", "--unfreeze", "all", "--batch-size", "1",
                 "--augment", "none", "--no-feature-cache", "--output", str(tmp_path / "run")],
                tmp_path, ZOOFT_HOME=str(tmp_path / "home"), ZOOFT_OFFLINE="1")
    assert proc.returncode == 0, _crashed(proc)
    assert "fine-tune epoch 2/2" in proc.stderr + proc.stdout
    # the CLI keeps TensorFlow's start-up notices out of the console
    assert not NOISE.search(proc.stderr + proc.stdout), proc.stderr


@pytest.mark.slow
def test_tensorflow_notices_are_filtered_unless_debugging(tmp_path: Path) -> None:
    """The notices come from TensorFlow's import and first device query: filtered after the
    CLI's set-up (``quiet``), and passed through with ``ZOOFT_DEBUG=1``, so the filter is what
    removes them. Other writes to stderr in the same window still come through."""
    script = textwrap.dedent("""
        import sys
        import zooft.cli
        import tensorflow as tf  # imported after the CLI set up its filter, as commands do
        tf.constant(1.0) + 1.0
        print("tf ok", file=sys.stderr)
        tf.print("tf.print reaches stderr", output_stream=sys.stderr)
        sys.stderr.flush()
    """)
    code = "import zooft.tfruntime\nif not zooft.tfruntime.debug_enabled():\n    zooft.tfruntime.quiet()\n" + script
    quiet = _run(["-c", code], tmp_path)
    loud = _run(["-c", code], tmp_path, ZOOFT_DEBUG="1")
    assert quiet.returncode == 0 and loud.returncode == 0, quiet.stderr + loud.stderr
    assert "tf ok" in quiet.stderr and "tf ok" in loud.stderr
    assert not NOISE.search(quiet.stderr + quiet.stdout), quiet.stderr
    assert NOISE.search(loud.stderr), loud.stderr


@pytest.mark.slow
def test_cli_imports_keras_without_its_optional_sklearn_and_pyplot(tmp_path: Path) -> None:
    """Keras imports scikit-learn and pyplot whenever they are installed (both are in the test
    environment); after the CLI's set-up, Keras's import skips them and both import normally
    afterwards."""
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    script = textwrap.dedent("""
        import sys
        import zooft.cli
        assert zooft.cli.run(["list-models"]) == 0
        import keras
        print("after keras:", sorted(m for m in ("sklearn", "matplotlib.pyplot") if m in sys.modules))
        from sklearn.linear_model import LogisticRegression
        import matplotlib.pyplot
        print("later imports ok:", LogisticRegression.__name__, matplotlib.pyplot.__name__)
        print("keras works:", float(keras.ops.sum(keras.ops.ones((2, 2)))))
    """)
    proc = _run(["-c", script], tmp_path, ZOOFT_HOME=str(tmp_path / "home"))
    assert proc.returncode == 0, _crashed(proc)
    assert "after keras: []" in proc.stdout, proc.stdout
    assert "later imports ok: LogisticRegression matplotlib.pyplot" in proc.stdout
    assert "keras works: 4.0" in proc.stdout


@pytest.mark.slow
def test_cli_freezes_what_importing_keras_left_and_the_library_does_not(tmp_path: Path) -> None:
    """After the CLI's set-up, Keras's import ends with :func:`gc.freeze` (later collections
    skip the ~300,000 objects it left); ``import zooft`` alone leaves the collector as it was."""
    script = textwrap.dedent("""
        import gc, sys
        import zooft
        if sys.argv[1] == "cli":
            import zooft.cli
            assert zooft.cli.run(["list-models"]) == 0
        print("before keras:", gc.get_freeze_count())
        import keras
        print("after keras:", gc.get_freeze_count())
        print("keras works:", float(keras.ops.sum(keras.ops.ones((2, 2)))))
    """)
    counts = {}
    for mode in ("cli", "library"):
        proc = _run(["-c", script, mode], tmp_path, ZOOFT_HOME=str(tmp_path / "home"))
        assert proc.returncode == 0 and "keras works: 4.0" in proc.stdout, _crashed(proc)
        counts[mode] = [int(line.split(":")[1]) for line in proc.stdout.splitlines() if line.endswith(tuple("0123456789"))
                        and line.startswith(("before", "after"))]
    assert counts["cli"][0] == 0 and counts["cli"][1] > 100_000, counts
    assert counts["library"] == [0, 0], counts


@pytest.mark.slow
def test_mixed_precision_under_the_avx2_cap_is_refused_in_one_line_and_trains_by_default(tmp_path: Path) -> None:
    """Capped at AVX2 (``ZOOFT_ONEDNN=avx2``), oneDNN has no float16 convolution and TensorFlow
    would abort the first one mid-training: ``zooft tune`` refuses it up front. zooft's default
    (oneDNN off) trains the same command."""
    data = _image_folder(tmp_path / "data")
    args = ["-m", "zooft", "tune", "--backbone", "embedded", "--task", "classify", "--data", str(data), "--image-size", "32",
            "--precision", "mixed_float16", "--epochs", "1", "--fine-tune-epochs", "1", "--augment", "none"]
    env = {"ZOOFT_HOME": str(tmp_path / "home"), "ZOOFT_OFFLINE": "1"}
    capped = _run([*args, "--output", str(tmp_path / "capped")], tmp_path, ZOOFT_ONEDNN="avx2", **env)
    assert capped.returncode != 0, _crashed(capped)
    assert "--precision mixed_float16 cannot train on this CPU: oneDNN is capped at AVX2" in capped.stderr
    assert "Traceback" not in capped.stderr and "primitive descriptor" not in capped.stderr
    default = _run([*args, "--output", str(tmp_path / "default")], tmp_path, **env)
    assert default.returncode == 0, _crashed(default)
    assert "precision mixed_float16" in default.stderr
