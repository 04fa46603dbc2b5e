"""Keras callbacks of the training core: progress display and per-epoch commit.

Both subclass ``keras.callbacks.Callback``; the classes are created by factory functions so
that importing this module does not import Keras.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any


def _fmt_logs(logs: dict[str, Any], keys: tuple[str, ...] = ("loss", "accuracy")) -> str:
    parts = []
    for key in keys:
        if key in logs:
            parts.append(f"{key} {float(logs[key]):.4f}")
    return "  ".join(parts)


def progress_callback(*, phase: str, epochs: int, steps: int, batch_size: int, console: Any) -> Any:
    """A rich progress bar (phase, epoch, step, loss/metrics, img/s, ETA) plus one line per epoch.

    On a terminal the bar updates live; elsewhere (CI, logs) only the per-epoch lines appear.
    """
    import keras
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    class RichProgress(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.progress: Progress | None = None
            self.task_id: Any = None
            self.epoch_start = 0.0

        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.epoch_start = time.perf_counter()
            if console.is_terminal:
                self.progress = Progress(
                    TextColumn(f"[bold]{phase}[/] epoch {epoch + 1}/{epochs}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("{task.fields[metrics]}  {task.fields[speed]}"),
                    TimeRemainingColumn(),
                    console=console,
                    transient=True,
                )
                self.progress.start()
                self.task_id = self.progress.add_task("train", total=steps, metrics="", speed="")

        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            if self.progress is None:
                return
            elapsed = max(time.perf_counter() - self.epoch_start, 1e-9)
            speed = (batch + 1) * batch_size / elapsed
            self.progress.update(
                self.task_id, completed=batch + 1, metrics=_fmt_logs(logs or {}), speed=f"{speed:.0f} img/s"
            )

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            if self.progress is not None:
                self.progress.stop()
                self.progress = None
            logs = logs or {}
            seconds = time.perf_counter() - self.epoch_start
            train = _fmt_logs(logs)
            val = _fmt_logs({k[4:]: v for k, v in logs.items() if k.startswith("val_")})
            console.print(
                f"{phase} epoch {epoch + 1}/{epochs}  {train}  val: {val}  "
                f"{seconds:.1f}s  {steps * batch_size / max(seconds, 1e-9):.0f} img/s"
            )

    return RichProgress()


def commit_callback(
    *,
    phase: str,
    steps: int,
    batch_size: int,
    on_commit: Callable[[str, int, dict[str, Any]], None],
    should_stop: Callable[[], bool],
) -> Any:
    """Records each epoch's logs, lr, time and throughput, then calls ``on_commit``, which
    checkpoints the model and commits ``state.json``; stops training when ``should_stop()``."""
    import keras

    from .optim import current_lr

    class EpochCommit(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            seconds = time.perf_counter() - self.start
            record = {"epoch": epoch + 1}
            for key, value in (logs or {}).items():
                number = float(value)
                record[key] = number if math.isfinite(number) else None
            record["lr"] = current_lr(self.model.optimizer)
            record["seconds"] = round(seconds, 3)
            record["images_per_second"] = round(steps * batch_size / max(seconds, 1e-9), 1)
            on_commit(phase, epoch + 1, record)
            if should_stop():
                self.model.stop_training = True

    return EpochCommit()
