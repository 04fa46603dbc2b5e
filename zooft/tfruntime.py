"""TensorFlow's process environment, prepared before TensorFlow is first imported.

TensorFlow reads its settings from environment variables when its libraries load, so they
must be in place before the first ``import tensorflow`` (or ``import keras``) of the process.
``import zooft`` calls :func:`configure`, so every zooft path (CLI, the ``zooft.tune`` /
``zooft.export`` API, plugins, child processes, which inherit the environment) runs with it.

**oneDNN.** On CPUs with AVX-512, TensorFlow 2.21's oneDNN kernel for the filter gradient of a
1x1 stride-2 convolution (``jit_avx512_common_1x1_convolution_bwd_weights_t``) corrupts the heap
for batches of one example with few channels (a residual shortcut of a small net, with the
last partial batch of an epoch): the process dies in ``model.fit`` with ``Segmentation fault``,
``double free or corruption`` or ``munmap_chunk(): invalid pointer``. zooft turns TensorFlow's
oneDNN custom ops off (``TF_ENABLE_ONEDNN_OPTS=0``: TensorFlow's own Eigen kernels), which avoids
it and runs every precision. ``ZOOFT_ONEDNN`` overrides the choice: ``off`` (default), ``avx2``
(oneDNN capped at its AVX2 kernels, ``ONEDNN_MAX_CPU_ISA=AVX2``: avoids the bug too, and was
3-11 % faster for a default float32 ``zooft tune`` on an idle AVX-512 machine, but has no
float16 or bfloat16 convolution, so mixed precision on the CPU is refused up front, see
:func:`cpu_mixed_precision_problem`), ``on`` (TensorFlow's default: all ISAs). A user's own
``TF_ENABLE_ONEDNN_OPTS`` or ``ONEDNN_MAX_CPU_ISA`` is respected as set.

**Log noise.** The CLI calls :func:`quiet` unless ``ZOOFT_DEBUG=1``: TensorFlow's C++ INFO and
WARNING lines are turned off (``TF_CPP_MIN_LOG_LEVEL=2``; ERROR lines stay), and the lines
that TensorFlow's libraries print while they load and probe for CUDA (before that setting
applies) are filtered out of file descriptor 2 around that import; every other line written
there is passed on (:func:`filtered_stderr`).

**Start-up.** ``import keras`` also imports scikit-learn (for ``keras.wrappers``) and
matplotlib's pyplot (for ``keras.visualization``) whenever they are installed, which is a
large share of Keras's import time; zooft's commands use neither integration (its report draws
with matplotlib's ``Figure``, not pyplot). The CLI calls :func:`lean_keras`: Keras then imports
as if the two were absent, and both stay importable for everything else in the process.

**Garbage collection.** Importing Keras (and TensorFlow with it) leaves ~300,000 long-lived
Python objects, and every full collection walks them all; tracing a model creates enough
short-lived objects to start many full collections. The CLI calls :func:`freeze_imports`:
once Keras is imported, every object alive is moved out of the collector's reach
(:func:`gc.freeze`), so later collections only walk what the command itself creates
(BENCHMARKS.md, "Garbage collection after the imports"). Library callers keep Python's
default: freezing an embedding program's objects would keep its garbage alive.
"""

from __future__ import annotations

import gc
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import os
import platform
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from types import ModuleType
from typing import Any

from .errors import ConfigError

ONEDNN_VAR = "ZOOFT_ONEDNN"
ONEDNN_CHOICES = ("off", "avx2", "on")
#: oneDNN ISA caps without float16/bfloat16 convolutions (AVX2_VNNI, AVX2 and AVX measured:
#: "could not create a primitive descriptor"; SSE41 has fewer instructions still)
_ISAS_WITHOUT_HALF_CONV = ("SSE41", "AVX", "AVX2", "AVX2_VNNI")
#: variables with which a user takes oneDNN into their own hands
_USER_ONEDNN_VARS = ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")

#: lines TensorFlow's libraries print on import and on the first device query of a CPU-only
#: machine: notices, not failures (real errors raise Python exceptions or are other E lines)
NOISE = (
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"),
    re.compile(r"^[IW]\d{4} [\d:.]+\s+\d+ \S+:\d+\] "),  # absl INFO / WARNING lines
    re.compile(r"^E\d{4} [\d:.]+\s+\d+ cuda_[a-z_]+\.cc:\d+\] failed call to cuInit"),
    re.compile(r"^To enable the following instructions: .*rebuild TensorFlow"),
    # LiteRT, when an interpreter is created (once per process; not under TF_CPP_MIN_LOG_LEVEL)
    re.compile(r"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.$"),
)


def debug_enabled() -> bool:
    """``ZOOFT_DEBUG`` is set to something other than empty or ``0``."""
    return os.environ.get("ZOOFT_DEBUG", "") not in ("", "0")


def onednn_choice() -> str:
    """The oneDNN setting asked for by ``ZOOFT_ONEDNN`` (``off`` when unset)."""
    raw = os.environ.get(ONEDNN_VAR, "").strip().lower()
    aliases = {"": "off", "auto": "off", "1": "on", "true": "on", "0": "off", "false": "off"}
    choice = aliases.get(raw, raw)
    if choice not in ONEDNN_CHOICES:
        raise ConfigError(
            f"{ONEDNN_VAR} must be one of {', '.join(ONEDNN_CHOICES)} (got {raw!r})",
            hint=f"unset {ONEDNN_VAR} for zooft's default (off); see docs/training.md",
        )
    return choice


def configure() -> None:
    """Set TensorFlow's oneDNN variables for this process (and its children) before TensorFlow
    loads. Idempotent; no effect once TensorFlow is imported (it has read them already).
    Raises :class:`ConfigError` for a bad ``ZOOFT_ONEDNN``."""
    choice = onednn_choice()
    if "tensorflow" in sys.modules or any(name in os.environ for name in _USER_ONEDNN_VARS):
        return
    if choice == "off":
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
    elif choice == "avx2" and platform.machine().lower() in ("x86_64", "amd64"):
        # a cap, not a demand: CPUs without AVX2 keep their own best kernels
        os.environ["ONEDNN_MAX_CPU_ISA"] = "AVX2"


def cpu_mixed_precision_problem() -> str | None:
    """Why mixed precision cannot train on this process's CPU, or None: oneDNN capped at one of
    :data:`_ISAS_WITHOUT_HALF_CONV` (``ONEDNN_MAX_CPU_ISA``, e.g. ``ZOOFT_ONEDNN=avx2``) has no
    float16 or bfloat16 convolution, and TensorFlow aborts the first convolution. Other caps are
    not judged (newer ISAs may have such kernels)."""
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip().lower() in ("0", "false"):
        return None
    for name in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):
        cap = os.environ.get(name, "").strip().upper()
        if cap in _ISAS_WITHOUT_HALF_CONV:
            return f"oneDNN is capped at {cap} ({name}), which has no float16 or bfloat16 convolution"
    return None


def quiet() -> None:
    """Keep TensorFlow's notices out of the console (the CLI calls this unless debugging)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in ("tensorflow", "tf2onnx", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # whoever imports TensorFlow first (zooft, keras, a plugin), its notices are filtered
    _install_first_import_hook("tensorflow", _quiet_tensorflow_import)


#: modules that Keras imports only for integrations zooft never uses (see the module docstring)
KERAS_OPTIONAL_IMPORTS = ("sklearn", "matplotlib.pyplot")


def lean_keras() -> None:
    """Make the process's first ``import keras`` skip :data:`KERAS_OPTIONAL_IMPORTS`.

    Only Keras's own import is affected: for its duration each of those modules that is not
    imported yet reads as absent (Keras then defines its scikit-learn wrappers and image
    gallery without them, and they raise if called); afterwards ``import sklearn`` and
    ``import matplotlib.pyplot`` work as usual. No effect once Keras is imported."""
    _install_first_import_hook("keras", _without_keras_optional_imports)


def freeze_imports() -> None:
    """Once the process has imported Keras, move every object alive then into the garbage
    collector's permanent generation (see the module docstring). No effect once Keras is
    imported."""
    _install_first_import_hook("keras", _freeze_after_import)


def is_noise(line: str) -> bool:
    """Whether ``line`` is one of TensorFlow's known start-up notices."""
    return any(pattern.search(line) for pattern in NOISE)


@contextmanager
def filtered_stderr(noise: Sequence[re.Pattern[str]] = NOISE) -> Iterator[None]:
    """Capture file descriptor 2 (C++ and Python writes alike) for the block, then write back
    every line that matches none of ``noise``; nothing is filtered when debugging. The capture
    goes to a temporary file, not a pipe, so a chatty library can never block on it."""
    if debug_enabled():
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2 (closed, or a replaced sys.stderr)
        yield
        return
    capture = tempfile.TemporaryFile()
    os.dup2(capture.fileno(), 2)
    try:
        yield
    finally:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(saved, 2)
        os.close(saved)
        capture.seek(0)
        text = capture.read().decode("utf-8", errors="replace")
        capture.close()
        kept = [line for line in text.splitlines(keepends=True) if not any(p.search(line) for p in noise)]
        if kept:
            sys.stderr.write("".join(kept))
            sys.stderr.flush()


def quiet_interpreter(factory: Any) -> Any:
    """LiteRT's ``Interpreter`` class wrapped so that each interpreter is created and its
    tensors allocated inside :func:`filtered_stderr`: the XNNPACK delegate is applied (and
    announces itself on stderr) when tensors are first allocated."""

    def create(*args: Any, **kwargs: Any) -> Any:
        with filtered_stderr():
            interpreter = factory(*args, **kwargs)
            interpreter.allocate_tensors()
        return interpreter

    return create


class _FirstImportHook(importlib.abc.MetaPathFinder):
    """Runs the first import of module ``name`` inside ``around(module)`` (a context manager
    around the module's execution); removes itself once used, whoever imports it first (zooft,
    keras, a plugin)."""

    def __init__(self, name: str, around: Callable[[ModuleType], AbstractContextManager[None]]) -> None:
        self.name, self.around = name, around

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if name != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _HookedLoader(spec.loader, self.around)
        return spec


def _install_first_import_hook(name: str, around: Callable[[ModuleType], AbstractContextManager[None]]) -> None:
    """Put a :class:`_FirstImportHook` first on ``sys.meta_path`` unless ``name`` is imported
    or the same hook is already waiting."""
    if name in sys.modules or any(isinstance(f, _FirstImportHook) and f.around is around for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _FirstImportHook(name, around))


class _HookedLoader(importlib.abc.Loader):
    def __init__(self, inner: Any, around: Callable[[ModuleType], AbstractContextManager[None]]) -> None:
        self.inner, self.around = inner, around

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # the module keeps its own loader (resource readers and reloads use it)
        module.__loader__ = self.inner
        if module.__spec__ is not None:
            module.__spec__.loader = self.inner
        with self.around(module):
            self.inner.exec_module(module)


@contextmanager
def _quiet_tensorflow_import(module: ModuleType) -> Iterator[None]:
    """TensorFlow's import inside :func:`filtered_stderr`, followed by the CUDA probe
    (``list_physical_devices``, which prints the ``cuInit`` line on machines without a GPU
    driver)."""
    with filtered_stderr():
        yield
        # physical devices only: listing logical ones would initialise the runtime, after
        # which multi-worker collectives and logical-device splits can no longer be set up
        module.config.list_physical_devices("GPU")


@contextmanager
def _freeze_after_import(module: ModuleType) -> Iterator[None]:
    """The import, then :func:`gc.freeze` (what the import left behind is module state that
    lives as long as the process)."""
    yield
    gc.freeze()


@contextmanager
def _without_keras_optional_imports(module: ModuleType) -> Iterator[None]:
    """Keras's import with :data:`KERAS_OPTIONAL_IMPORTS` reading as absent: a None entry in
    ``sys.modules`` makes ``import name`` raise ImportError, which Keras catches for its
    optional dependencies. The entries are removed afterwards."""
    hidden = [name for name in KERAS_OPTIONAL_IMPORTS if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in hidden:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]
