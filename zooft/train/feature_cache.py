"""The frozen-feature cache: train phase 1's head on backbone features computed once.

While only the head trains (backbone frozen, BatchNorm in inference mode) and nothing random
happens before the head (no augmentation, no dropout inside the backbone), every epoch feeds
the backbone the same images and gets the same features. Computing them once and training the
head on them gives the same model as training through the backbone, at a fraction of the cost
(measured in BENCHMARKS.md).

The head is a Keras model the task builds from the *same layer objects* as the full model
(task hook ``feature_head``), so training it trains the full model's head: nothing is copied
back. The feature rows are shuffled and batched exactly as the image pipeline shuffles and
batches images (:func:`zooft.data.images.shuffle_plan`, same seed and buffer), so both paths
see the same batches and (up to float rounding in the backbone) the same losses.

Small feature sets stay in memory; sets above :data:`MEMORY_BUDGET_BYTES` (or with
``feature_cache: disk``) are streamed batch by batch into ``.npy`` files under zooft's cache,
keyed by backbone, a hash of its weights, image size and a fingerprint of the data, and reused
by later runs on the same data.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..cache import cache_root, fingerprint_files
from ..config import parse_feature_cache as parse_mode
from ..tfruntime import quiet_interpreter

#: Feature sets larger than this go to disk (memory-mapped) instead of RAM.
MEMORY_BUDGET_BYTES = 256 * 2**20
_STOCHASTIC = ("Dropout", "SpatialDropout", "GaussianNoise", "GaussianDropout", "AlphaDropout", "Random")


@dataclass
class FeaturePlan:
    """What phase 1 fits instead of the full model: the head and feature datasets."""

    head: Any
    train: Any
    val: Any
    note: str
    seconds: float
    storage: str
    files: list[str] = field(default_factory=list)


def why_not(session: Any, phase: Any) -> str | None:
    """The reason the cache cannot be used for ``phase`` (one short line), or None if it can."""
    from ..data.images import augment_is_auto, parse_augment

    config = session.config
    if parse_mode(config.get("feature_cache", "auto")) == "off":
        return "disabled (--no-feature-cache)"
    if phase.unfreeze not in (0, "0"):
        return "the backbone trains in this phase"
    if parse_augment(config["augment"]) and not augment_is_auto(config["augment"]):
        # an explicit --augment asks for augmented images in every phase; the default (auto)
        # augments only where images go through a training backbone
        return "augmentation is on in every phase (--augment auto, the default, or none caches features)"
    if session.backbone.model.trainable_weights:
        return "the backbone has trainable weights (e.g. BatchNorm) in this phase"
    if session.strategy.num_replicas_in_sync != 1 or session.strategy_name not in ("default",):
        return f"strategy {session.strategy_name} (the cache runs on one device)"
    if session.image_size is None:
        return "not an image model"
    if hasattr(session.task, "make_dataset"):
        # features are extracted from zooft's image pipeline; a task-made pipeline may differ
        return f"task {session.task.name!r} builds its own data pipeline (make_dataset)"
    if not hasattr(session.task, "feature_head"):
        return f"task {session.task.name!r} has no feature_head hook"
    stochastic = [layer.name for layer in _all_layers(session.backbone.model)
                  if layer.__class__.__name__.startswith(_STOCHASTIC) and getattr(layer, "rate", 1) != 0]
    if stochastic:
        return f"the backbone has random layers that act while training ({stochastic[0]})"
    return None


def _all_layers(model: Any) -> list[Any]:
    layers = []
    for layer in getattr(model, "layers", []):
        layers.append(layer)
        if hasattr(layer, "layers"):
            layers.extend(_all_layers(layer))
    return layers


def _weights_digest(model: Any) -> str:
    """A hash of the backbone's weights: a changed checkpoint never reuses stale features."""
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(weight.path.encode() if hasattr(weight, "path") else b"")
        digest.update(np.ascontiguousarray(np.asarray(weight.numpy())).tobytes())
    return digest.hexdigest()




def cache_key(session: Any, names: tuple[str, ...], split: str, weights_digest: str) -> str:
    """Backbone, weights hash, image size, feature names and the split's data fingerprint."""
    paths = [ex.source for ex in session.data.splits.get(split) or []]
    text = " ".join([
        "zooft-features-v1", session.spec.name, weights_digest, "x".join(map(str, session.image_size)),
        ",".join(names), fingerprint_files(paths).hexdigest(),
    ])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


#: Images per batch of the extraction pass at 96 px (fewer at larger sizes, the training batch
#: size at least). In a default run on the embedded model, 64 gave a shorter head phase than 32
#: or 128 (BENCHMARKS.md, "Feature extraction: weights as constants").
EXTRACT_BATCH = 64

#: Below this many input pixels (images x height x width, train + val) TensorFlow extracts:
#: converting to LiteRT costs ~1.5 s, and LiteRT saves ~4.7e-8 s per pixel on the smallest
#: registry backbone (MobileNetV2 0.35, 2 cores; larger backbones save more per pixel).
LITERT_MIN_PIXELS = 32_000_000
#: Largest difference allowed between LiteRT and TensorFlow features, relative to their scale.
LITERT_TOLERANCE = 1e-4


def _litert_runner(fn: Any) -> Any:
    """The traced feature function as a LiteRT (TFLite + XNNPACK) signature runner.

    The concrete function is frozen (variables become constants) before conversion: converting
    it with live Keras 3 variables gives a model without weights (seen with TensorFlow 2.21).
    Measured on the embedded MobileNetV2 (2 cores): ~1.2 s to build, then 3.5-4x TensorFlow's
    images/s at 96 and 224 px, features within ~1e-6.
    """
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    frozen = convert_variables_to_constants_v2(fn.get_concrete_function())
    # a trackable object makes the converter write a signature: outputs output_0, output_1, ...
    # in the order the function returns them
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen], tf.Module())
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    interpreter = quiet_interpreter(Interpreter)(model_content=converter.convert(), num_threads=cores)
    return interpreter.get_signature_runner()


#: Backbones whose weights take at most this many bytes are traced with their weights as graph
#: constants (:func:`_frozen_values`); larger ones read their variables (a graph holds at most
#: 2 GiB, and the constants are a second copy of the weights while features are computed).
FROZEN_MAX_BYTES = 256 * 2**20


def _frozen_values(model: Any) -> tuple[list[np.ndarray], list[np.ndarray]] | None:
    """The model's trainable and non-trainable weight values, to trace it with constants.

    A frozen backbone's weights do not change while features are computed, so the traced
    function can hold them as constants (Keras's ``stateless_call``): tracing skips a variable
    read per weight, and TensorFlow's graph optimizer precomputes BatchNorm's per-channel scale
    and offset, so the trace, the first call and every batch are cheaper (BENCHMARKS.md,
    "Feature extraction: weights as constants"). None (read the variables) for models without
    ``stateless_call`` or above :data:`FROZEN_MAX_BYTES`.
    """
    import tensorflow as tf

    from .checkpoint import read_values

    if not hasattr(model, "stateless_call"):
        return None
    variables = [*model.trainable_variables, *model.non_trainable_variables]
    if sum(int(np.prod(v.shape)) * tf.as_dtype(v.dtype).size for v in variables) > FROZEN_MAX_BYTES:
        return None
    values = read_values(variables)
    split = len(model.trainable_variables)
    return values[:split], values[split:]


class _Extractor:
    """Runs the frozen backbone once over images, to memory or to ``.npy`` files on disk.

    Features come from LiteRT when it is installed, there are enough pixels to repay the
    conversion (:data:`LITERT_MIN_PIXELS`) and nothing but the CPU would run the backbone.
    Its first batch is checked against TensorFlow: a difference above :data:`LITERT_TOLERANCE`
    (or any conversion error) falls back to TensorFlow, said in the run summary. ``engine``
    (auto, litert, tensorflow) forces one.
    """

    def __init__(self, backbone_model: Any, names: tuple[str, ...], image_size: tuple[int, int], *,
                 n_images: int, engine: str = "auto") -> None:
        if engine not in ("auto", "litert", "tensorflow"):
            raise ValueError(f"engine must be auto, litert or tensorflow, got {engine!r}")
        import tensorflow as tf

        self.names = names
        frozen = _frozen_values(backbone_model)

        def features(images: Any) -> Any:
            if frozen is None:
                out = backbone_model(images, training=False)
            else:
                # the weights as constants of the graph: no variable reads to trace, and
                # TensorFlow folds what depends on weights alone (BatchNorm's scale and offset)
                trainable, non_trainable = ([tf.constant(value) for value in values] for values in frozen)
                out = backbone_model.stateless_call(trainable, non_trainable, images, training=False)[0]
            out = out if isinstance(out, dict) else {"pooled": out}
            return tuple(tf.cast(out[name], tf.float32) for name in names)  # in ``names`` order

        # one trace for every batch size (the last batch is partial): tracing costs seconds;
        # no AutoGraph (plain calls, nothing to rewrite)
        self.fn = tf.function(features, input_signature=[tf.TensorSpec([None, *image_size, 3], tf.float32, name="images")],
                              autograph=False)
        self.fn.get_concrete_function()  # the one trace, made up front
        self.engine = "TensorFlow"
        self.reason = ""
        self._runner = None
        self._checked = False
        if engine == "auto":
            if n_images * image_size[0] * image_size[1] < LITERT_MIN_PIXELS:
                engine = "tensorflow"
            elif tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"):
                engine = "tensorflow"
        if engine in ("auto", "litert"):
            try:
                self._runner = _litert_runner(self.fn)
            except Exception as exc:  # ImportError (no ai-edge-litert), unsupported ops, ...
                first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
                self.reason = f"LiteRT unavailable ({first_line})"

    def __call__(self, images: Any) -> dict[str, np.ndarray]:
        """Features of one batch of images, as numpy arrays."""
        if self._runner is not None:
            array = np.asarray(images, dtype=np.float32)
            result = self._runner(images=array)
            out = {name: result[f"output_{i}"] for i, name in enumerate(self.names)}
            if not self._checked:
                self._checked = True
                reference = self._tensorflow(array[:8])
                worst = max(float(np.abs(out[name][:8] - reference[name]).max()) / max(1.0, float(np.abs(reference[name]).max()))
                            for name in self.names)
                if not worst <= LITERT_TOLERANCE:  # also catches NaN
                    self._runner = None
                    self.reason = f"LiteRT features differed from TensorFlow's by {worst:.1e}"
                    return self(images)
                self.engine = "LiteRT"
            return {name: np.asarray(value) for name, value in out.items()}
        return self._tensorflow(images)

    def _tensorflow(self, images: Any) -> dict[str, np.ndarray]:
        return {name: value.numpy() for name, value in zip(self.names, self.fn(images), strict=True)}

    def to_memory(self, dataset: Any) -> dict[str, np.ndarray]:
        """Features of every batch of ``dataset`` (images, or tuples whose first item is
        images), concatenated in order."""
        parts: dict[str, list[np.ndarray]] = {name: [] for name in self.names}
        for batch in dataset:
            for name, value in self(_images(batch)).items():
                parts[name].append(value)
        return {name: np.concatenate(values) for name, values in parts.items()}

    def to_disk(self, dataset: Any, n: int, stem: Path) -> dict[str, np.ndarray]:
        """Stream batches into ``<stem>-<name>.npy`` (written under a temporary name, then
        renamed, so an interrupted run never leaves a truncated cache that looks complete)."""
        files = {name: Path(f"{stem}-{name}.npy") for name in self.names}
        if all(path.is_file() for path in files.values()):
            arrays = {name: np.load(path, mmap_mode="r") for name, path in files.items()}
            if all(len(a) == n for a in arrays.values()):
                return arrays
        stem.parent.mkdir(parents=True, exist_ok=True)
        arrays = {}
        tmp = {name: path.with_name(f".{path.name}.{os.getpid()}.tmp") for name, path in files.items()}
        row = 0
        for batch in dataset:
            out = self(_images(batch))
            for name, value in out.items():
                if name not in arrays:
                    arrays[name] = np.lib.format.open_memmap(tmp[name], mode="w+", dtype=np.float32, shape=(n, *value.shape[1:]))
                arrays[name][row:row + len(value)] = value
            row += len(next(iter(out.values())))
        for name, array in arrays.items():
            array.flush()
            del array
            os.replace(tmp[name], files[name])
        return {name: np.load(path, mmap_mode="r") for name, path in files.items()}


def _images(batch: Any) -> Any:
    return batch[0] if isinstance(batch, tuple) else batch


def _feature_dataset(features: dict[str, np.ndarray], targets: Any, *, batch_size: int, shuffle: tuple[Any, int] | None,
                     seed: int | None, on_disk: bool, single: str | None) -> Any:
    """Batches of ``(features, targets)`` in the order the image pipeline would produce.

    Indices are shuffled (same seed, same buffer size as the image pipeline: tf.data's order
    depends only on those and the element count), then each batch gathers its rows: a graph
    op from memory, a memory-mapped read (numpy, once per batch) from disk.
    """
    import tensorflow as tf

    from ..data.images import pipeline_options

    n = len(next(iter(features.values())))
    index = np.arange(n)
    ds = None
    if shuffle is not None:
        order, buffer = shuffle
        if order is not None:
            index = index[order]
        ds = tf.data.Dataset.from_tensor_slices(index).shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    else:
        ds = tf.data.Dataset.from_tensor_slices(index)
    ds = ds.batch(batch_size)
    target_table = tf.constant(np.asarray(targets))
    if on_disk:
        names = list(features)
        dims = {name: features[name].shape[1:] for name in names}

        def read(idx: np.ndarray) -> list[np.ndarray]:
            order = np.argsort(idx)  # memmap reads are fastest in file order
            rows = idx[order]
            back = np.argsort(order)
            return [np.asarray(features[name][rows])[back] for name in names]

        @tf.autograph.experimental.do_not_convert
        def gather(idx: Any) -> Any:
            values = tf.numpy_function(read, [idx], [tf.float32] * len(names), stateful=False)
            out = {}
            for name, value in zip(names, values):
                value.set_shape([None, *dims[name]])
                out[name] = value
            return out, tf.gather(target_table, idx)
    else:
        tables = {name: tf.constant(array) for name, array in features.items()}

        @tf.autograph.experimental.do_not_convert
        def gather(idx: Any) -> Any:
            return {name: tf.gather(table, idx) for name, table in tables.items()}, tf.gather(target_table, idx)

    @tf.autograph.experimental.do_not_convert
    def select(x: Any, y: Any) -> Any:
        return (x[single] if single else x), y

    ds = ds.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).map(select)
    return ds.with_options(pipeline_options()).prefetch(tf.data.AUTOTUNE)


def build_plan(session: Any, phase: Any) -> FeaturePlan | None:
    """Compute (or load) features and return what to fit, or None with the reason printed."""
    import time

    from ..data.images import make_image_dataset, parse_augment, shuffle_plan

    reason = why_not(session, phase)
    hooked = None if reason else session.task.feature_head(session.model, session.backbone)
    if reason is None and hooked is None:
        reason = f"task {session.task.name!r} has no separable head for this model"
    if reason is not None:
        session.console.print(f"feature cache: off for phase {phase.name}: {reason}")
        session.feature_cache_note = f"off: {reason}"
        return None
    names, head = hooked
    names = tuple(names)
    config = session.config
    mode = parse_mode(config.get("feature_cache", "auto"))
    start = time.perf_counter()
    n_images = sum(len(session.data.splits.get(split) or []) for split in ("train", "val"))
    extractor = _Extractor(session.backbone.model, names, session.image_size, n_images=n_images)
    out_dims = {name: int(np.prod(session.backbone.model.output[name].shape[1:])) if isinstance(session.backbone.model.output, dict)
                else int(np.prod(session.backbone.model.output.shape[1:])) for name in names}
    digest = None
    storage = "memory"
    files: list[str] = []
    splits = {split: session.data.splits.get(split) or [] for split in ("train", "val")}
    on_disk = {split: mode == "disk" or (mode == "auto" and len(examples) * sum(out_dims.values()) * 4 > MEMORY_BUDGET_BYTES)
               for split, examples in splits.items()}
    # fixed order, no augmentation; batches of EXTRACT_BATCH at 96 px, as many pixels at other sizes
    h, w = session.image_size
    batch = max(config["batch_size"], min(EXTRACT_BATCH, (EXTRACT_BATCH * 96 * 96) // (h * w)))

    def source(examples: list[Any]) -> Any:
        return make_image_dataset(examples, image_size=session.image_size, batch_size=batch, targets=None,
                                  training=False, augment=None, shuffle_seed=None, cache=None)

    features: dict[str, dict[str, np.ndarray]] = {}
    in_memory = [split for split, examples in splits.items() if examples and not on_disk[split]]
    if in_memory:
        # one pass over every in-memory split: one pipeline and one partial batch, not one per split
        together = extractor.to_memory(source([ex for split in in_memory for ex in splits[split]]))
        offset = 0
        for split in in_memory:
            n = len(splits[split])
            features[split] = {name: array[offset:offset + n] for name, array in together.items()}
            offset += n
    for split, examples in splits.items():
        if examples and on_disk[split]:
            digest = digest or _weights_digest(session.backbone.model)
            stem = cache_root() / "features" / cache_key(session, names, split, digest)
            features[split] = extractor.to_disk(source(examples), len(examples), stem)
            storage = "disk"
            files += [f"{stem}-{name}.npy" for name in names]
    datasets: dict[str, Any] = {}
    for split, examples in splits.items():
        if not examples:
            datasets[split] = None
            continue
        training = split == "train"
        shuffle = shuffle_plan(
            len(examples), batch_size=config["batch_size"], image_size=session.image_size,
            shuffle_seed=config["seed"], cache=session.image_cache(split),
        ) if training else None
        datasets[split] = _feature_dataset(
            features[split], session.task.targets(examples, len(session.data.classes)), batch_size=config["batch_size"], shuffle=shuffle,
            seed=config["seed"] if training else None, on_disk=on_disk[split], single=names[0] if len(names) == 1 else None,
        )
    seconds = time.perf_counter() - start
    engine = extractor.engine + (f"; {extractor.reason}" if extractor.reason else "")
    note = f"on ({storage}, {engine}): {', '.join(names)} features of {session.n_train} train images computed once in {seconds:.1f}s"
    if parse_augment(config["augment"]):
        note += " (un-augmented images; augmentation applies where the backbone trains)"
    session.console.print(f"feature cache: {note}")
    session.feature_cache_note = note
    return FeaturePlan(head=head, train=datasets["train"], val=datasets["val"], note=note, seconds=seconds,
                       storage=storage, files=files)

