"""Per-epoch checkpoints that survive SIGKILL, and the state that ``--resume`` reads.

Each epoch writes ``checkpoints/<phase>-e<NNN>.weights.npz`` (the model's weights, in
``model.weights`` order) and the optimizer's variables (``.opt.npz``), each through a temporary
file and ``os.replace``; only then is ``state.json`` rewritten to point at them. ``state.json``
is the commit point: a run killed at any instant resumes from the last epoch whose state was
committed, and never repeats it.

Why not Keras's ``save_weights``: its ``.weights.h5`` writer walks every layer's attributes
(creating throw-away layer objects to find what to skip) and took 2.6 s per epoch for the
embedded MobileNetV2 on this machine, more than a head epoch on cached features; an ``.npz``
of the same arrays takes milliseconds. ``.weights.h5`` checkpoints of older runs still load.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..runs import atomic_write, read_json, write_json_atomic


def read_values(variables: list[Any]) -> list[Any]:
    """The current values of ``variables`` as numpy arrays, read by one op.

    ``variable.numpy()`` one by one dispatches an eager op per variable; for a MobileNetV2 with
    its optimizer that was most of an epoch's checkpoint, which runs after every (cheap) head
    epoch on cached features. One ``IdentityN`` over all of them reads the same values."""
    import numpy as np
    import tensorflow as tf

    if not variables:
        return []
    return [np.asarray(t) for t in tf.raw_ops.IdentityN(input=[v.value for v in variables])]


def save_weights(model: Any, path: Path) -> None:
    """The model's weights, atomically: an ``.npz`` of ``model.weights`` in order (or Keras's
    ``save_weights`` for a ``.weights.h5`` name)."""
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".weights.h5"):
        atomic_write(path, lambda tmp: model.save_weights(tmp))
        return
    arrays = {f"w{i:05d}": value for i, value in enumerate(read_values(model.weights))}

    def write(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    atomic_write(path, write)


def load_weights(model: Any, path: Path) -> None:
    """Load model weights only (optimizer state is :func:`restore_optimizer`'s job).

    ``.npz`` files must match ``model.weights`` in number and shapes. Keras's ``.weights.h5``
    files also carry the optimizer's variables and Keras warns when they do not fit the
    current optimizer; that warning is expected here and silenced."""
    import warnings

    import numpy as np

    if path.name.endswith(".npz"):
        with np.load(path) as saved:
            arrays = [saved[k] for k in sorted(saved.files)]
        if len(arrays) != len(model.weights) or any(tuple(a.shape) != tuple(w.shape) for a, w in zip(arrays, model.weights)):
            raise ValueError(f"weights checkpoint {path} does not fit this model ({len(arrays)} arrays, {len(model.weights)} weights)")
        for weight, value in zip(model.weights, arrays):
            weight.assign(value)
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model.load_weights(path)


def save_optimizer(optimizer: Any, path: Path) -> None:
    """The optimizer's variables (iteration count, moments) as an ``.npz``."""
    import numpy as np

    arrays = {f"v{i:05d}": value for i, value in enumerate(read_values(optimizer.variables))}

    def write(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    atomic_write(path, write)


def restore_optimizer(optimizer: Any, trainable_variables: list[Any], path: Path) -> None:
    """Build the optimizer for ``trainable_variables`` and load its saved variables."""
    import numpy as np

    optimizer.build(trainable_variables)
    with np.load(path) as saved:
        arrays = [saved[k] for k in sorted(saved.files)]
    if len(arrays) != len(optimizer.variables):
        raise ValueError(f"optimizer checkpoint {path} has {len(arrays)} variables, expected {len(optimizer.variables)}")
    for variable, value in zip(optimizer.variables, arrays):
        variable.assign(value)


class CheckpointStore:
    """The ``checkpoints/`` folder and ``state.json`` of one run."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.dir = run_dir / "checkpoints"
        self.state_path = run_dir / "state.json"

    def load_state(self) -> dict[str, Any] | None:
        """The committed state, or None for a fresh run."""
        return read_json(self.state_path) if self.state_path.is_file() else None

    def commit_epoch(self, model: Any, state: dict[str, Any], phase: str, epoch: int, *, best: bool = False) -> None:
        """Save weights and optimizer for ``epoch`` (1-based) of ``phase``, then commit state.

        ``best``: this epoch is the best so far; its weights file also becomes ``best``'s (see
        :meth:`save_best`), before the state that says so is committed."""
        stem = f"{phase}-e{epoch:03d}"
        weights = self.dir / f"{stem}.weights.npz"
        save_weights(model, weights)
        save_optimizer(model.optimizer, self.dir / f"{stem}.opt.npz")
        if best:
            self._keep_as_best(model, weights)
        previous = state.get("checkpoint")
        state["checkpoint"] = stem
        write_json_atomic(self.state_path, state)
        # Only now may older checkpoints go: keep the committed one and the one before it.
        keep = {stem, previous, "best"}
        for path in self.dir.glob("*-e[0-9][0-9][0-9].*"):
            if path.name.split(".", 1)[0] not in keep:
                path.unlink(missing_ok=True)

    def save_best(self, model: Any) -> None:
        """Keep the weights of the best epoch so far (restored at the end with early stopping)."""
        save_weights(model, self.best_path())

    def _keep_as_best(self, model: Any, weights: Path) -> None:
        """Make the just-written ``weights`` file the best one without serialising the model
        again: a hard link (files here are only ever replaced, never changed in place, so
        sharing one is safe), or a copy where the file system has no links. A run of an older
        version keeps its ``best.weights.h5`` format."""
        import shutil

        if not self.best_path().name.endswith(".npz"):
            self.save_best(model)
            return

        def link(tmp: str) -> None:
            os.unlink(tmp)
            try:
                os.link(weights, tmp)
            except OSError:
                shutil.copyfile(weights, tmp)

        atomic_write(self.dir / "best.weights.npz", link)

    def weights_path(self, stem: str) -> Path:
        """The weights file of checkpoint ``stem`` (``.weights.h5`` in runs of older versions)."""
        legacy = self.dir / f"{stem}.weights.h5"
        return legacy if legacy.is_file() else self.dir / f"{stem}.weights.npz"

    def optimizer_path(self, stem: str) -> Path:
        """The optimizer file of checkpoint ``stem``."""
        return self.dir / f"{stem}.opt.npz"

    def best_path(self) -> Path:
        """Weights of the best epoch (``best.weights.h5`` in runs of older versions)."""
        legacy = self.dir / "best.weights.h5"
        return legacy if legacy.is_file() else self.dir / "best.weights.npz"
