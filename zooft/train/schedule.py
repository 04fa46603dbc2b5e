"""The phases of a run and the automatic schedule (``--epochs auto``, ``--fine-tune-epochs auto``).

A phase with a fixed number of epochs runs exactly that many (``--early-stopping`` aside). An
``auto`` phase runs until the monitored loss (``val_loss``, else ``loss``) has not improved
for its patience, at most its budget, and then the best weights seen so far are restored
before the next phase starts, so fine-tuning starts from the best head and a fine-tuning
phase that never beats the head gives the head back. "Best" is :func:`selection_key`'s: the
highest validation accuracy where the task reports one, else the lowest loss.

Budgets: ``--max-epochs`` (default 4) for a phase that runs images through the backbone; a
head on cached features (``feature_cache.py``) costs a small fraction of that per epoch
and may run :data:`CACHED_HEAD_FACTOR` times as many. Patiences were chosen by measurement
(BENCHMARKS.md, "Automatic schedule").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..config import AUTO, DEFAULT_MAX_EPOCHS

#: Epochs without a better loss before an auto head phase ends. The head on fixed features
#: improves slowly but steadily at a constant rate; its epochs are cheap on cached features.
HEAD_PATIENCE = 3
#: ... and at least this many optimizer steps: on a small data set an epoch is a handful of
#: steps, and three of them say nothing about whether the head still improves.
HEAD_PATIENCE_STEPS = 100
#: Epochs without a better loss before auto fine-tuning ends (each epoch costs a full pass).
FINE_TUNE_PATIENCE = 2
#: An auto phase counts an epoch as better only when the loss drops by this fraction of its
#: best so far: a head on fixed features keeps shaving a fraction of a percent off val_loss
#: for dozens of epochs, which fine-tuning then dwarfs.
MIN_DELTA = 0.01
#: An auto head phase on cached features may run this many times ``max_epochs``.
CACHED_HEAD_FACTOR = 10


@dataclass
class Phase:
    """One training phase: which layer groups train, for how long, at which learning rate.

    ``patience`` is None for a fixed number of epochs; for an auto phase it is the number of
    epochs without improvement that ends it, and ``epochs`` is its budget."""

    name: str
    epochs: int
    unfreeze: int | str
    lr: float
    patience: int | None = None

    @property
    def auto(self) -> bool:
        """Whether this phase stops on its own (``--epochs auto`` / ``--fine-tune-epochs auto``)."""
        return self.patience is not None

    def patience_for(self, steps_per_epoch: int, *, on_cached_features: bool) -> int | None:
        """The patience this phase applies: a head on cached features waits at least
        :data:`HEAD_PATIENCE_STEPS` steps (its epochs cost milliseconds)."""
        if self.patience is None or not on_cached_features:
            return self.patience
        return max(self.patience, -(-HEAD_PATIENCE_STEPS // max(1, steps_per_epoch)))

    def budget(self, *, on_cached_features: bool) -> int:
        """Epochs this phase may run: its fixed count, or an auto phase's budget (larger for a
        head trained on cached features)."""
        return self.epochs * CACHED_HEAD_FACTOR if self.auto and on_cached_features else self.epochs


def phases_of(config: dict[str, Any]) -> list[Phase]:
    """Phase 1 trains the head only; phase 2 unfreezes the top groups at a lower rate."""
    fine_lr = config["fine_tune_lr"] or config["lr"] * config["fine_tune_lr_factor"]
    budget = config.get("max_epochs") or DEFAULT_MAX_EPOCHS
    head, fine = config["epochs"], config["fine_tune_epochs"]
    phases = [Phase("head", budget, 0, config["lr"], HEAD_PATIENCE) if head == AUTO else Phase("head", head, 0, config["lr"])]
    if fine == AUTO:
        phases.append(Phase("fine-tune", budget, config["unfreeze"], fine_lr, FINE_TUNE_PATIENCE))
    elif fine:
        phases.append(Phase("fine-tune", fine, config["unfreeze"], fine_lr))
    return phases


def describe(phases: list[Phase]) -> dict[str, str]:
    """Per phase, how its length is decided (for timing.json and the report)."""
    return {p.name: (f"auto: until {p.patience} epochs without a loss {MIN_DELTA:.0%} below the phase's best, at most {p.epochs}"
                     + (f" ({p.epochs * CACHED_HEAD_FACTOR} on cached features)" if p.unfreeze in (0, "0") else ""))
            if p.auto else f"fixed: {p.epochs} epochs" for p in phases}


def track_phase_best(own: dict[str, Any] | None, phase: str, epoch: int, monitor: float | None, *,
                     warmup_epochs: float = 0.0) -> dict[str, Any]:
    """Update an auto phase's own best epoch (``state.json``'s ``phase_best``) after ``epoch``.

    A phase judges itself against its own best, not the run's: fine-tuning starts from a
    well-trained head and usually needs a few epochs to pass it. An epoch is better when
    ``monitor`` drops :data:`MIN_DELTA` below the best; otherwise it counts as stale.

    Epochs that end inside the phase's learning-rate warm-up (``epoch <= warmup_epochs``) neither
    set the best nor count as stale: with the rate still climbing, a warm-up epoch's loss is
    often the lowest the phase sees before its full-rate epochs settle, and as the yardstick it
    ended fine-tuning two epochs later (BENCHMARKS.md, "Defaults (issue 17)"). The run's own
    best (restored at the end) still includes them.

    Returns the updated record (a new one when ``own`` belongs to another phase).
    """
    if own is None or own["phase"] != phase:
        own = {"phase": phase, "value": None, "stale": 0}
    if epoch <= warmup_epochs:
        return own
    if monitor is not None and (own["value"] is None or monitor < own["value"] - MIN_DELTA * abs(own["value"])):
        own["value"], own["stale"] = monitor, 0
    else:
        own["stale"] += 1
    return own


def selection_key(record: dict[str, Any]) -> tuple[float, float] | None:
    """How an epoch ranks for the weights a run keeps (larger is better), or None without a loss.

    With validation data and a task that reports ``accuracy``, the highest ``val_accuracy``
    wins and ties go to the lower ``val_loss``; otherwise the lower loss (``val_loss``, else the
    training ``loss``) wins. Loss alone ranked a fine-tuned model below the head it started from
    whenever fine-tuning made the model more confident, even as it classified far more of the
    validation images correctly (held-out textures: 84 % against 71 % validation accuracy, but
    val_loss 0.94 against 0.78; BENCHMARKS.md). The schedule's stopping rules still watch the
    loss, which moves smoothly from epoch to epoch.
    """
    loss = record.get("val_loss", record.get("loss"))
    if loss is None:
        return None
    accuracy = record.get("val_accuracy") if "val_loss" in record else None
    return (-math.inf if accuracy is None else float(accuracy), -float(loss))
