"""Where the training core reports progress: a diagnostics console of its own (stderr), so that
the core never imports the CLI, and the arithmetic progress bars need."""

from __future__ import annotations

import functools
import math

from rich.console import Console


@functools.cache
def diagnostics() -> Console:
    """The stderr console used when the caller of :func:`zooft.tune` passes none."""
    return Console(stderr=True, highlight=False, soft_wrap=True)


def steps_for(n: int, batch_size: int) -> int:
    """Batches per epoch (the last one may be partial)."""
    return max(1, math.ceil(n / batch_size))
