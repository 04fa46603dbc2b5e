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

    # Optional hook (the training core checks with hasattr; tasks without it train phase 1
    # through the backbone every epoch):
    #
    # def feature_head(self, model: Any, backbone: Backbone) -> tuple[tuple[str, ...], Any] | None:
    #     """The part of ``model`` after the backbone, as a Keras model whose inputs are the
    #     named backbone outputs it consumes (e.g. ``("pooled",)``), built from ``model``'s own
    #     layer objects so that training it trains ``model``. Used by the frozen-feature cache
    #     (zooft/train/feature_cache.py) to train the head on features computed once. Return
    #     None when the head needs more than cached backbone outputs (e.g. raw inputs too)."""
