"""The protocol a task plugin's ``TaskInfo.factory()`` object follows.

The training core is task-agnostic: it asks the task for the head, loss, metrics, the
mapping from :class:`~zooft.data.records.Example` to model targets, evaluation and
post-processing. Methods receive Keras/TensorFlow objects and may import them.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from .backbone import Backbone
from .data.records import Example, LabeledData


@runtime_checkable
class Task(Protocol):
    """A task: everything that differs between classification, detection and text."""

    name: str

    def build_model(self, backbone: Backbone, classes: list[str], config: dict[str, Any]) -> Any:
        """Return the full Keras model: raw inputs -> the backbone -> this task's head.

        The output layer must compute in float32 (``dtype="float32"``) so mixed precision
        never reaches the loss or the exported outputs. ``config`` is the resolved run config.
        """

    def compile_args(self, classes: list[str], config: dict[str, Any]) -> dict[str, Any]:
        """Keyword arguments for ``model.compile`` except the optimizer: ``loss``, ``metrics``."""

    def target(self, example: Example, num_classes: int) -> Any:
        """The model target for one example (e.g. a class index), as numpy-compatible data."""

    def targets(self, examples: list[Example], num_classes: int) -> Any:
        """Targets for many examples at once (a numpy array, or a dict of arrays), in order;
        the training core feeds them to tf.data next to the inputs."""

    def class_weights(self, data: LabeledData, mode: str | None) -> dict[int, float] | None:
        """Per-class loss weights for ``--class-weight`` (``balanced``) or ``None``."""

    def evaluate(self, model: Any, dataset: Any, classes: list[str], config: dict[str, Any]) -> dict[str, Any]:
        """Evaluate on a batched ``tf.data.Dataset`` of ``(inputs, targets)``; JSON-ready metrics."""

    def postprocess(self, outputs: Any, classes: list[str], top_k: int = 1) -> list[dict[str, Any]]:
        """Turn a batch of raw model outputs into one JSON-ready prediction per input."""


# -- optional hooks ------------------------------------------------------------------------------
# A task may define any of the methods below; the host calls them when present and otherwise
# keeps the image-classification behaviour. They are optional (not on the Protocol) so that a
# task written against an older zooft keeps working: hooks evolve additively.
#
# make_dataset(examples, targets, *, config, image_size, batch_size, training, shuffle_seed, cache)
#     -> a batched tf.data.Dataset of (inputs, targets) for train/val/test and `zooft eval`.
#     Detection needs box-aware augmentation, text needs strings: neither fits the image pipeline.
# export_model(model, format, metadata) -> the Keras model an exporter converts for ``format``
#     ("savedmodel", "tflite", "onnx"), e.g. with NMS in the graph or without the tokenizer; it
#     may add keys to ``metadata`` (vocabulary, post-processing settings) that travel with it.
# export_inputs(raw, metadata) -> what that export model takes, from raw inputs (float32 images
#     (n, h, w, 3) or an object array of strings), e.g. token ids. Used for parity samples,
#     calibration data and by `zooft predict` on an artifact (found by ``metadata["task"]``).
# parity(reference, candidate, *, labels, targets, classes, format, quantize) -> (metrics, gates):
#     the task's own comparison of ``{output name: array}`` dicts (e.g. matched boxes for
#     detection; ``targets`` are the samples' Example.target annotations) and the gates to apply
#     (zooft/parity.py: ``*_agreement`` / ``min_*`` gates are minimums, others maximums). Accept
#     ``**kwargs`` too: later versions may pass more keyword arguments.
# feature_head(model, backbone) -> (names, head) | None: the part of ``model`` after the backbone,
#     as a Keras model whose inputs are the named backbone outputs it consumes (e.g.
#     ``("pooled",)``), built from ``model``'s own layer objects so that training it trains
#     ``model``. The frozen-feature cache (zooft/train/feature_cache.py) then trains phase 1's
#     head on backbone features computed once. Return None when the head needs more than those
#     outputs; without the hook (or with make_dataset) phase 1 runs through the backbone.


def task_dataset(
    task: Any,
    examples: list[Example],
    *,
    num_classes: int,
    config: dict[str, Any],
    image_size: tuple[int, int] | None,
    batch_size: int,
    training: bool,
    shuffle_seed: int | None = None,
    cache: str | None = None,
) -> Any:
    """The batched ``(inputs, targets)`` pipeline for ``examples``: the task's own
    ``make_dataset`` if it has one, else the image pipeline with ``config["augment"]`` when training."""
    targets = task.targets(examples, num_classes)
    make = getattr(task, "make_dataset", None)
    if make is not None:
        return make(
            examples, targets, config=config, image_size=image_size, batch_size=batch_size,
            training=training, shuffle_seed=shuffle_seed, cache=cache,
        )
    from .data.images import make_image_dataset, parse_augment

    augment = parse_augment(config.get("augment")) if training else None
    if augment and not geometric_augmentation_allowed(task, config):
        augment = {k: v for k, v in augment.items() if k not in GEOMETRIC_AUGMENTS}
    return make_image_dataset(
        examples,
        image_size=image_size,
        batch_size=batch_size,
        targets=targets,
        training=training,
        augment=augment,
        shuffle_seed=shuffle_seed,
        cache=cache,
    )


#: Augmentations that move pixels: a task whose targets depend on geometry turns them off.
GEOMETRIC_AUGMENTS = frozenset({"flip", "zoom", "rotation", "translate"})


def geometric_augmentation_allowed(task: Any, config: dict[str, Any]) -> bool:
    """False when the task declares geometric augmentation unsafe (``TaskInfo.geometric_augmentation``,
    or a ``geometric_augmentation = False`` attribute on the task object)."""
    own = getattr(task, "geometric_augmentation", None)
    if own is not None:
        return bool(own)
    name = config.get("task")
    if not name:
        return True
    from .plugins import get_host

    info = get_host().items["tasks"].get(name)
    return True if info is None else bool(info.geometric_augmentation)


def target_kind(task_name: str | None) -> str:
    """What the task's examples carry (``TaskInfo.target_kind``): class, classes, boxes or value."""
    from .plugins import get_host

    info = get_host().items["tasks"].get(task_name or "")
    return "class" if info is None else str(info.target_kind)


def describe_targets(task_name: str | None, classes: list[str]) -> str:
    """``"4 classes"``, or the target kind for tasks without classes (``"value targets"``)."""
    kind = target_kind(task_name)
    if kind == "value" or not classes:
        return f"{kind} targets"
    return f"{len(classes)} classes"


def export_model(task: Any, model: Any, format: str, metadata: dict[str, Any]) -> Any:  # noqa: A002
    """The model to convert for ``format`` (the task's ``export_model`` hook, else ``model``)."""
    hook = getattr(task, "export_model", None)
    return model if hook is None else hook(model, format, metadata)


def export_inputs(task: Any, raw: Any, metadata: dict[str, Any]) -> Any:
    """Raw inputs turned into the export model's inputs (the task's ``export_inputs``, else ``raw``)."""
    hook = getattr(task, "export_inputs", None)
    return raw if hook is None else hook(raw, metadata)


def required_outputs(requires: str | tuple[str, ...]) -> tuple[str, ...]:
    """Backbone output names a task's ``requires`` stands for: ``feature_maps`` is the
    ``stride8/16/32`` maps, any other name is itself."""
    from .backbone import FEATURE_LEVELS

    names: list[str] = []
    for item in (requires,) if isinstance(requires, str) else tuple(requires):
        names.extend(FEATURE_LEVELS if item == "feature_maps" else (item,))
    return tuple(names)


def check_backbone(info: Any, backbone: Backbone) -> None:
    """Fail in one line when ``backbone`` lacks the modality or an output task ``info`` requires."""
    from .errors import ConfigError

    if backbone.modality not in info.modalities:
        raise ConfigError(
            f"task {info.name!r} takes {'/'.join(info.modalities)} backbones; {backbone.spec.name} is {backbone.modality}",
            hint=f"choose a model with 'zooft list-models --task {info.name}'",
        )
    missing = [name for name in required_outputs(info.requires) if name not in backbone.outputs]
    if missing:
        raise ConfigError(
            f"backbone {backbone.spec.name} lacks the output(s) {', '.join(missing)} that task {info.name!r} needs"
            f" (it has {', '.join(backbone.outputs) or 'none'})",
            hint=f"choose a backbone that provides {', '.join(missing)} ('zooft list-models --task {info.name}')",
        )
