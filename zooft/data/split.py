"""Seeded, stratified splits and samples of a data set index (no TensorFlow).

Both functions group examples by class *name* rather than by index and shuffle each class with
its own generator seeded from ``(seed, class name)``. So the result does not depend on the
class order, on other classes, or on a later remapping of label indices (``zooft eval`` maps
labels onto the run's class list and must carve the very same validation split as ``tune``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from .records import Example

__all__ = ["stratified_sample", "stratified_split"]


def _class_key(example: Example, classes: Sequence[str] | None) -> str:
    label = example.label
    if isinstance(label, tuple):  # multi-label: stratify on the first label
        label = label[0] if label else None
    if label is None:
        return ""
    return classes[label] if classes is not None else str(label)


def _group(examples: Sequence[Example], classes: Sequence[str] | None) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for index, example in enumerate(examples):
        groups.setdefault(_class_key(example, classes), []).append(index)
    return groups


def _rng(seed: int, key: str) -> random.Random:
    # random.Random seeds a str through sha512: stable across processes and PYTHONHASHSEED.
    return random.Random(f"zooft:{seed}:{key}")


def stratified_split(
    examples: Sequence[Example],
    fraction: float,
    *,
    seed: int = 0,
    classes: Sequence[str] | None = None,
) -> tuple[list[Example], list[Example]]:
    """Split ``examples`` into ``(train, val)`` with about ``fraction`` of each class in val.

    A class with at least 2 examples gives at least 1 to val and keeps at least 1 in train; a
    class with a single example stays in train. The same inputs and ``seed`` always give the
    same split; both lists keep the input order. ``classes`` (the class names) makes the
    per-class shuffles independent of label indices.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    if fraction == 0.0:
        return list(examples), []
    val_indices: set[int] = set()
    for key, indices in _group(examples, classes).items():
        n = len(indices)
        if n < 2:
            continue
        k = min(n - 1, max(1, round(n * fraction)))
        shuffled = list(indices)
        _rng(seed, key).shuffle(shuffled)
        val_indices.update(shuffled[:k])
    train = [ex for i, ex in enumerate(examples) if i not in val_indices]
    val = [ex for i, ex in enumerate(examples) if i in val_indices]
    return train, val


def stratified_sample(
    examples: Sequence[Example],
    n: int,
    seed: int = 0,
    *,
    classes: Sequence[str] | None = None,
) -> list[Example]:
    """A seeded subset of ``n`` examples with classes in proportion (e.g. for calibration).

    Each class gets its proportional share, rounded by largest remainder, and at least one
    example when ``n`` is at least the number of classes. Returns all examples when ``n >= len(examples)``; the subset
    keeps the input order.
    """
    if n <= 0:
        return []
    if n >= len(examples):
        return list(examples)
    groups = _group(examples, classes)
    keys = sorted(groups)
    sizes = {key: len(groups[key]) for key in keys}
    shares = {key: n * sizes[key] / len(examples) for key in keys}
    quota = {key: min(sizes[key], int(shares[key])) for key in keys}
    if n >= len(keys):  # rare classes are never left out
        quota = {key: max(1, q) for key, q in quota.items()}
    # settle rounding: take from the most over-served, give to the largest remainder (ties by name)
    while sum(quota.values()) > n:
        key = max((k for k in keys if quota[k] > 1), key=lambda k: (quota[k] - shares[k], k))
        quota[key] -= 1
    while sum(quota.values()) < n:
        key = max((k for k in keys if quota[k] < sizes[k]), key=lambda k: (shares[k] - quota[k], k))
        quota[key] += 1
    chosen: set[int] = set()
    for key in keys:
        indices = list(groups[key])
        _rng(seed, key).shuffle(indices)
        chosen.update(indices[: quota[key]])
    return [ex for i, ex in enumerate(examples) if i in chosen]
