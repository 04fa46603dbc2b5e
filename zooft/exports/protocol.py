"""The protocol an exporter plugin's ``ExporterInfo.factory()`` object follows, and the
parity report it returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@dataclass
class ParityReport:
    """How closely an exported artifact, run in its own runtime, matches the Keras model.

    ``passed`` is decided by the exporter against ``thresholds`` (documented per mode);
    the host turns ``passed=False`` into a :class:`~zooft.errors.ParityError` and marks the
    artifact failed. ``metrics`` holds e.g. ``max_abs``, ``max_rel``, ``top1_agreement`` and
    the task metric of both models.
    """

    format: str
    passed: bool
    samples: int
    metrics: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    verified: bool = True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view, written as ``parity.json`` next to the artifact."""
        return asdict(self)


@dataclass
class ExportContext:
    """Everything an exporter may use, so exporters never need to know the run layout.

    ``model`` is the Keras model to convert: the trained model, or what the task's optional
    ``export_model`` hook makes of it for this format (NMS in the graph, no tokenizer …).
    ``samples`` are held-out inputs for the parity check and ``calibration`` class-stratified
    training inputs for quantization, both already in the form ``model`` takes (raw float32
    images ``(n, h, w, 3)`` in 0–255, or what the task's ``export_inputs`` hook made, e.g. token
    ids), with ``sample_labels`` (and task annotations, ``sample_targets``, e.g. boxes) where
    known. ``metadata`` (labels, preprocessing, input size, source model, task …) must travel
    with the artifact. ``options`` are the exporter options given by the user (e.g.
    ``{"quantize": "int8"}``), ``tolerance`` overrides the default thresholds and
    ``verify=False`` skips the parity run (recorded in the report). ``task_object`` is the task;
    exporters pass :attr:`parity_task` to :func:`zooft.parity.build_report` so that a task's
    optional ``parity`` hook compares outputs its own way.
    """

    model: Any
    task: str
    classes: list[str]
    metadata: dict[str, Any]
    samples: Any
    sample_labels: Any = None
    sample_targets: Any = None
    calibration: Any = None
    options: dict[str, Any] = field(default_factory=dict)
    tolerance: float | None = None
    verify: bool = True
    task_object: Any = None

    @property
    def parity_task(self) -> Any:
        """What exporters pass to :func:`zooft.parity.build_report` as ``task``."""
        return self.task_object if self.task_object is not None else self.task


@runtime_checkable
class Exporter(Protocol):
    """Writes one format, reloads it in that format's runtime and checks parity."""

    def export(self, context: ExportContext, out_dir: Path) -> Path:
        """Write the artifact inside ``out_dir`` and return its path.

        ``out_dir`` is a fresh temporary directory; the host moves it into place only when
        the whole export, parity included, succeeded, so a failure leaves nothing behind.
        """

    def verify(self, context: ExportContext, artifact: Path) -> ParityReport:
        """Load ``artifact`` in its own runtime, run it on ``context.samples`` and compare
        with ``context.model``; decide ``passed`` against the mode's thresholds."""
