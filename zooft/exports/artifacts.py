"""Load an exported artifact (TFLite, ONNX, SavedModel) and run it in its own runtime.

This is what ``zooft predict ARTIFACT`` and ``zooft bench`` use, and what the built-in exporters'
``verify`` steps use too, so a parity check exercises exactly the code path users run.
Every artifact takes raw images (float32, 0–255, ``(n, h, w, 3)``) and returns
``{output name: array}``; integer-quantized TFLite inputs/outputs are (de)quantized here with the
tensor's own scale and zero point. Importing this module imports no TensorFlow: each runtime is
imported when an artifact of its format is loaded.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ExportError
from .parity import Outputs
from ..tfruntime import quiet_interpreter

METADATA_KEY = "zooft_metadata"  # TFLite metadata entry / ONNX metadata_props key holding the JSON
METADATA_FILE = "metadata.json"
SAVEDMODEL_DIR = "saved_model"  # the SavedModel sits in exports/savedmodel/saved_model/


def load_images(paths: Sequence[str | os.PathLike[str]], image_size: tuple[int, int]) -> np.ndarray:
    """Decode images to ``(n, h, w, 3)`` float32 0–255 with Pillow only (no TensorFlow).

    For running TFLite / ONNX artifacts where TensorFlow is not installed. Bilinear with
    antialiasing (Pillow filters over the whole source footprint when it shrinks, like
    ``tf.image.resize(..., antialias=True)``), EXIF orientation ignored as TensorFlow's decoders
    do; resized pixels can differ from training's by a grey level. Parity checks use the
    training pipeline's loader (``zooft.data.images.load_images_for_predict``) instead.
    """
    from PIL import Image

    height, width = image_size
    out = np.empty((len(paths), height, width, 3), dtype=np.float32)
    for i, path in enumerate(paths):
        with Image.open(path) as img:
            rgb = img.convert("RGB")
            if rgb.size != (width, height):
                rgb = rgb.resize((width, height), Image.Resampling.BILINEAR)
            out[i] = np.asarray(rgb, dtype=np.float32)
    return out


def path_size(path: str | os.PathLike[str]) -> int:
    """Bytes of a file, or of every file under a directory."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _cast(x: np.ndarray, dtype: np.dtype, scale: float = 0.0, zero_point: int = 0) -> np.ndarray:
    """Convert float inputs to a runtime's input dtype, quantizing when it has a scale."""
    dtype = np.dtype(dtype)
    if dtype.kind in "OSU":  # strings (text SavedModels)
        return np.asarray(x, dtype=object)
    if dtype.kind == "f":
        return x.astype(dtype, copy=False)
    if scale:
        x = x / scale + zero_point
    info = np.iinfo(dtype)
    return np.clip(np.round(x), info.min, info.max).astype(dtype)


class Artifact:
    """An exported model loaded in its runtime (public as ``zooft.Artifact``).

    A third-party format's ``ExporterInfo.load`` returns a subclass that calls
    ``super().__init__(path, metadata, threads)`` (``metadata`` carries at least ``task``,
    ``labels`` and ``input_size``, as the export context gave them) and implements
    :meth:`run_batch`; :meth:`outputs`, :meth:`predict` and :meth:`benchmark` then work on it.
    """

    format = ""

    def __init__(self, path: Path, metadata: dict[str, Any], threads: int | None) -> None:
        self.path = path
        self.metadata = metadata
        self.threads = threads
        self.runtime = ""
        self.input_name = ""
        self._input_shape: tuple[int | None, ...] = ()

    @property
    def classes(self) -> list[str]:
        """Class names in output order (from the artifact's metadata; empty if it has none)."""
        return list(self.metadata.get("labels") or [])

    @property
    def task(self) -> str:
        """The task the model was trained for (from its metadata; ``classify`` if it has none)."""
        return str(self.metadata.get("task") or "classify")

    @property
    def input_size(self) -> tuple[int, int] | None:
        """``(height, width)`` the artifact takes."""
        size = self.metadata.get("input_size")
        if size:
            return int(size[0]), int(size[1])
        shape = self._input_shape
        if len(shape) == 4 and shape[1] and shape[2]:
            return int(shape[1]), int(shape[2])
        return None

    @property
    def size_bytes(self) -> int:
        """Size of the artifact on disk."""
        return path_size(self.path)

    def run_batch(self, batch: np.ndarray) -> Outputs:
        """Run one batch of inputs (float32 images 0–255, or what the task's ``export_inputs``
        made) and return ``{output name: array}``. Subclasses implement this."""
        raise NotImplementedError(f"{type(self).__name__} does not implement run_batch()")

    def _run(self, batch: np.ndarray) -> Outputs:
        # the built-in runtimes override _run; third-party artifacts implement run_batch
        return self.run_batch(batch)

    def outputs(self, images: Any, batch_size: int = 32) -> Outputs:
        """Run on raw images (float 0–255), in batches (of the artifact's own batch size if it has a
        fixed one); always ``{output name: array}``.

        Strings and integer arrays (text artifacts: texts, token ids) are passed as they are."""
        images = np.asarray(images)
        if images.dtype.kind not in "iuOSU" or images.dtype == np.uint8:
            images = images.astype(np.float32)
        if self._input_shape and self._input_shape[0]:  # a fixed batch (TFLite's detection op: 1)
            batch_size = int(self._input_shape[0])
        chunks = [self._run(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
        if not chunks:
            raise ExportError("no images to run", hint="pass at least one image")
        return {name: np.concatenate([c[name] for c in chunks]) for name in chunks[0]}

    def predict(self, images: Any, batch_size: int = 32) -> np.ndarray | Outputs:
        """Like ``keras.Model.predict``: the array for single-output models, else the dict."""
        out = self.outputs(images, batch_size)
        return next(iter(out.values())) if len(out) == 1 else out

    def benchmark(self, batch: int = 1, runs: int = 50, warmup: int = 5) -> dict[str, Any]:
        """Latency percentiles and throughput on random images of the artifact's input size
        (text artifacts: a fixed text, or random token ids of the exported length)."""
        spec = self.metadata.get("input") or {}
        rng = np.random.default_rng(0)
        if spec.get("dtype") == "string":
            x: np.ndarray = np.asarray(["a short text to time the model with"] * batch, dtype=object)
        elif str(spec.get("dtype", "")).startswith("int") and len(spec.get("shape") or []) == 2:
            vocabulary = ((self.metadata.get("tokenizer") or {}).get("config") or {}).get("vocabulary") or [0] * 100
            x = rng.integers(0, len(vocabulary), (batch, int(spec["shape"][1]))).astype(np.int32)
        else:
            size = self.input_size
            if size is None:
                raise ExportError(f"cannot benchmark {self.path}: unknown input size", hint="re-export with zooft")
            x = rng.integers(0, 256, (batch, *size, 3)).astype(np.float32)
        for _ in range(warmup):
            self._run(x)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            self._run(x)
            times.append(time.perf_counter() - start)
        lat = np.asarray(times) * 1000.0
        return {
            "format": self.format,
            "runtime": self.runtime,
            "batch": batch,
            "runs": runs,
            "threads": self.threads,
            "latency_ms": {k: float(f(lat)) for k, f in
                           (("p50", np.median), ("p90", lambda a: np.percentile(a, 90)), ("mean", np.mean), ("min", np.min))},
            "throughput_per_s": float(batch / np.mean(times)),
            "size_bytes": self.size_bytes,
        }


def tflite_interpreter() -> tuple[Any, str]:
    """LiteRT's interpreter class (as a factory that filters its XNNPACK notice); TensorFlow's
    deprecated copy only if ai-edge-litert is missing."""
    try:
        from importlib.metadata import version

        from ai_edge_litert.interpreter import Interpreter

        return quiet_interpreter(Interpreter), f"ai_edge_litert {version('ai-edge-litert')}"
    except ImportError:
        import tensorflow as tf

        return quiet_interpreter(tf.lite.Interpreter), f"tf.lite.Interpreter {tf.__version__} (ai-edge-litert missing)"


def read_tflite_metadata(model: bytes) -> dict[str, Any]:
    """The zooft metadata JSON embedded in a .tflite flatbuffer, or ``{}``."""
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:  # pragma: no cover - ai-edge-litert is the [tflite] extra
        from tensorflow.lite.python import schema_py_generated as schema
    root = schema.Model.GetRootAs(model, 0)
    for i in range(root.MetadataLength()):
        entry = root.Metadata(i)
        if entry.Name() == METADATA_KEY.encode():
            return json.loads(bytes(root.Buffers(entry.Buffer()).DataAsNumpy()).decode("utf-8"))
    return {}


class TFLiteArtifact(Artifact):
    """A ``.tflite`` model run by the LiteRT interpreter (``serving_default`` signature)."""

    format = "tflite"

    def __init__(self, path: Path, metadata: dict[str, Any], threads: int | None) -> None:
        super().__init__(path, {**read_tflite_metadata(path.read_bytes()), **metadata}, threads)
        interpreter_cls, self.runtime = tflite_interpreter()
        self._it = interpreter_cls(model_path=str(path), num_threads=threads)
        signatures = self._it.get_signature_list()
        if signatures:  # named inputs/outputs: look outputs up by name, never by position
            runner = self._it.get_signature_runner("serving_default" if "serving_default" in signatures else None)
            inputs, self._outs = runner.get_input_details(), runner.get_output_details()
        else:
            inputs = {d["name"]: d for d in self._it.get_input_details()}
            self._outs = {d["name"]: d for d in self._it.get_output_details()}
        if len(inputs) != 1:
            raise ExportError(f"{path} has {len(inputs)} inputs; zooft runs single-input image models")
        self.input_name, self._in = next(iter(inputs.items()))
        self._input_shape = tuple(int(d) if d > 0 else None for d in self._in["shape_signature"])
        self._allocated: tuple[int, ...] | None = None

    def _run(self, batch: np.ndarray) -> Outputs:
        scale, zero = self._in["quantization"]
        x = _cast(batch, self._in["dtype"], scale, zero)
        if x.shape != self._allocated:  # re-allocating on every call would dominate latency
            self._it.resize_tensor_input(self._in["index"], list(x.shape), strict=False)
            self._it.allocate_tensors()
            self._allocated = x.shape
        self._it.set_tensor(self._in["index"], x)
        self._it.invoke()
        result = {}
        for name, detail in self._outs.items():
            y = self._it.get_tensor(detail["index"])
            scale, zero = detail["quantization"]
            result[name] = (y.astype(np.float32) - zero) * scale if scale else y
        return result


class OnnxArtifact(Artifact):
    """An ``.onnx`` model run by onnxruntime on the CPU."""

    format = "onnx"

    def __init__(self, path: Path, metadata: dict[str, Any], threads: int | None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: ORT's warnings are about graph rewrites
        if threads:
            options.intra_op_num_threads = threads
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        props = self._session.get_modelmeta().custom_metadata_map
        embedded = json.loads(props[METADATA_KEY]) if METADATA_KEY in props else {}
        super().__init__(path, {**embedded, **metadata}, threads)
        self.runtime = f"onnxruntime {ort.__version__} (CPUExecutionProvider)"
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise ExportError(f"{path} has {len(inputs)} inputs; zooft runs single-input image models")
        self.input_name = inputs[0].name
        self._input_shape = tuple(d if isinstance(d, int) else None for d in inputs[0].shape)
        self._dtype = {"tensor(float)": np.float32, "tensor(uint8)": np.uint8, "tensor(int32)": np.int32,
                       "tensor(int64)": np.int64}.get(inputs[0].type, np.float32)
        self._names = [o.name for o in self._session.get_outputs()]

    def _run(self, batch: np.ndarray) -> Outputs:
        values = self._session.run(self._names, {self.input_name: _cast(batch, self._dtype)})
        return dict(zip(self._names, values))


class SavedModelArtifact(Artifact):
    """A TensorFlow SavedModel run through one of its signatures (``serving_default``)."""

    format = "savedmodel"

    def __init__(self, path: Path, metadata: dict[str, Any], threads: int | None, signature: str | None) -> None:
        import tensorflow as tf

        super().__init__(path, metadata, threads)
        self.runtime = f"tensorflow {tf.__version__}"
        _import_op_libraries(metadata.get("tf_op_libraries") or [], path)
        loaded = tf.saved_model.load(str(path))
        self.signature = signature or "serving_default"
        if self.signature not in loaded.signatures:
            raise ExportError(f"{path} has no signature {self.signature!r}; it has {sorted(loaded.signatures)}")
        self._loaded, self._fn = loaded, loaded.signatures[self.signature]  # keep the owner alive
        specs = self._fn.structured_input_signature[1]
        if len(specs) != 1:
            raise ExportError(f"{path} signature {self.signature!r} has {len(specs)} inputs; expected one image")
        self.input_name, spec = next(iter(specs.items()))
        self._dtype = spec.dtype.as_numpy_dtype
        self._input_shape = tuple(spec.shape.as_list())
        self._tf = tf

    def _run(self, batch: np.ndarray) -> Outputs:
        out = self._fn(**{self.input_name: self._tf.constant(_cast(batch, self._dtype))})
        return {name: value.numpy() for name, value in out.items()}


#: Python packages that register TensorFlow ops a SavedModel may use (importing registers them).
OP_LIBRARIES = ("tensorflow_text",)


def _import_op_libraries(names: list[str], path: Path) -> None:
    """Import the op libraries an artifact's metadata lists (text tokenizers), allow-listed."""
    import importlib

    for name in names:
        if name not in OP_LIBRARIES:
            raise ExportError(f"{path} needs op library {name!r}, which zooft does not know", hint=f"known: {', '.join(OP_LIBRARIES)}")
        try:
            importlib.import_module(name)
        except ImportError:
            raise ExportError(f"{path} uses {name} ops, which are not installed", hint="pip install 'zooft[bert]'") from None


def _sidecar(directory: Path) -> dict[str, Any]:
    file = directory / METADATA_FILE
    return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else {}


def load_artifact(path: str | os.PathLike[str], *, threads: int | None = None, signature: str | None = None) -> Artifact:
    """Open a ``.tflite`` / ``.onnx`` file, a SavedModel directory, or an ``exports/<fmt>/`` dir.

    ``threads`` caps the runtime's CPU threads (default: the runtime's choice); ``signature``
    picks a SavedModel signature (``serving_default`` float32, ``serving_uint8``).
    """
    path = Path(path)
    if path.is_dir() and not (path / "saved_model.pb").is_file():
        found = sorted(path.glob("*.tflite")) + sorted(path.glob("*.onnx"))
        found += [p for p in (path / SAVEDMODEL_DIR,) if (p / "saved_model.pb").is_file()]
        if len(found) != 1:
            what = "no" if not found else f"{len(found)}"
            raise ExportError(
                f"{what} exported model in {path}", hint="pass a .tflite/.onnx file or a SavedModel directory"
            )
        path = found[0]
    if path.suffix == ".tflite" and path.is_file():
        return TFLiteArtifact(path, _sidecar(path.parent), threads)
    if path.suffix == ".onnx" and path.is_file():
        return OnnxArtifact(path, _sidecar(path.parent), threads)
    if (path / "saved_model.pb").is_file():
        metadata = {**_sidecar(path.parent), **_sidecar(path / "assets.extra")}
        return SavedModelArtifact(path, metadata, threads, signature)
    raise ExportError(
        f"no exported model at {path}", hint="pass a .tflite or .onnx file, a SavedModel dir or a run's exports/<format> dir"
    )
