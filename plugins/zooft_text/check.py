"""The text data check, shared by every text format: rows in, a checked LabeledData out.

Problems found (each with the file and line, or the file for text folders): text that is not
valid UTF-8, empty texts, rows without a label, several labels on a single-label task, and
labels of val/test rows that no training row has ("unknown labels": the model could never
predict them). Without ``skip_bad_files`` any problem raises :class:`zooft.DataError` with the
first few in one line (all of them in ``error.problems``); with it, the bad rows are left out
and listed in ``LabeledData.skipped``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import zooft

LABEL_SEPARATOR = "|"  # several labels in one CSV cell (multi-label): "sports|politics"
_SHOWN = 3


@dataclass(frozen=True)
class TextExample(zooft.Example):
    """An example that remembers where it came from (``"file.csv line 12"``) for messages."""

    origin: str = ""


@dataclass
class Row:
    """One raw record before the check: its origin, text, label names and split."""

    origin: str
    text: str | None
    labels: list[str]
    split: str = "train"
    problem: str | None = None  # set by a reader that already knows the row is bad


def split_labels(value: Any) -> list[str]:
    """Label names from a cell (``"a|b"``), a JSON list, a number or ``None``; blanks dropped."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        items = str(value).split(LABEL_SEPARATOR)
    return [item.strip() for item in items if item.strip()]


def raise_problems(problems: list[tuple[str, str]], root: str, hint: str) -> None:
    """One-line DataError naming the first problems; the whole list in ``error.problems``."""
    shown = "; ".join(f"{where}: {why}" for where, why in problems[:_SHOWN])
    more = f" and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
    noun = "problem" if len(problems) == 1 else "problems"
    error = zooft.DataError(f"{len(problems)} {noun} in the text data at {root}: {shown}{more}", hint=hint)
    error.problems = problems  # type: ignore[attr-defined]
    raise error


def build_data(
    rows: list[Row], *, root: str, format: str, multi_label: bool, skip_bad_files: bool  # noqa: A002
) -> zooft.LabeledData:
    """Check ``rows`` and index them; see the module docstring for what is checked."""
    problems: list[tuple[str, str]] = []
    good: list[Row] = []
    for row in rows:
        if row.problem:
            problems.append((row.origin, row.problem))
        elif row.text is None or not row.text.strip():
            problems.append((row.origin, "empty text"))
        elif not row.labels and not multi_label:
            problems.append((row.origin, "empty label"))
        elif len(row.labels) > 1 and not multi_label:
            problems.append((row.origin, f"{len(row.labels)} labels {LABEL_SEPARATOR.join(row.labels)!r} but the task is single-label (pass --multi-label)"))
        else:
            good.append(row)
    known = {label for row in good if row.split == "train" for label in row.labels}
    kept: list[Row] = []
    for row in good:
        unknown = [label for label in row.labels if label not in known]
        if unknown:
            problems.append((row.origin, f"label {unknown[0]!r} ({row.split}) occurs in no training row"))
        else:
            kept.append(row)
    if problems and not skip_bad_files:
        raise_problems(problems, root, "fix these rows (UTF-8 text, a label each), or pass --skip-bad-files to leave them out")
    classes = sorted(known)
    if len(classes) < 2:
        raise zooft.DataError(
            f"text classification needs at least 2 labels in the training rows of {root}, found {len(classes)}: {classes}",
            hint="check the label column (--label-column) and the split column",
        )
    index = {name: i for i, name in enumerate(classes)}
    splits: dict[str, list[zooft.Example]] = {"train": []}
    for row in kept:
        ids = tuple(sorted(index[label] for label in row.labels))
        label: int | tuple[int, ...] = ids if multi_label else ids[0]
        splits.setdefault(row.split, []).append(TextExample(source=row.text or "", label=label, origin=row.origin))
    return zooft.LabeledData(classes=classes, splits=splits, format=format, root=root, modality="text", skipped=problems)
