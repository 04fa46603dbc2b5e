"""The index a data-format plugin returns: examples as paths or texts plus labels.

Pixels are never loaded here; the training core streams them through tf.data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Example:
    """One labelled example.

    ``source`` is an absolute file path (images) or the text itself (text tasks).
    ``label`` is a class index into :attr:`LabeledData.classes`, a tuple of indices
    (multi-label), or ``None`` (unlabelled, or a task without classes). ``target`` holds
    anything else a task learns from, by its ``TaskInfo.target_kind``: ``"boxes"`` →
    ``{"boxes": [[x0, y0, x1, y1], ...], "labels": [...]}`` (detection); ``"value"`` → a
    number or a list of numbers (regression; the data set then has ``classes == []``).
    """

    source: str
    label: int | tuple[int, ...] | None = None
    target: Any = None


@dataclass
class LabeledData:
    """A data set index: class names and examples per split (``train``, ``val``, ``test``).

    A format that finds no explicit splits puts everything in ``train``; the host then carves
    a seeded, stratified validation split. ``skipped`` lists files a check dropped (with
    ``--skip-bad-files``) as ``(path, reason)`` pairs; ``format`` names the plugin format.

    ``empty_classes`` says what the data check does with a class that has no training examples
    once the validation split is carved: ``"error"`` (the default: a class folder without
    images is almost always a mistake) or ``"warn"`` (the format read a declared label map,
    e.g. COCO categories of which some have no boxes: the model keeps the whole map).
    ``warnings`` collects what the check found but did not refuse, for the run's report.
    """

    classes: list[str]
    splits: dict[str, list[Example]]
    format: str = ""
    root: str = ""
    modality: str = "image"
    skipped: list[tuple[str, str]] = field(default_factory=list)
    empty_classes: str = "error"
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        """Examples per class for each split (single-label data)."""
        result: dict[str, dict[str, int]] = {}
        for split, examples in self.splits.items():
            per = dict.fromkeys(self.classes, 0)
            for ex in examples:
                labels = ex.label if isinstance(ex.label, tuple) else (ex.label,)
                for label in labels:
                    if label is not None:
                        per[self.classes[label]] += 1
            result[split] = per
        return result
