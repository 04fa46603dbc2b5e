"""Training on several machines: MultiWorkerMirroredStrategy from ``TF_CONFIG``.

Keras 3.15's ``model.fit`` fails under MultiWorkerMirroredStrategy (tensorflow#72388: the
trainer's symbolic build reduces the PerReplica batch, then reduces scalar logs on axis 0), so
the multi-worker path runs this module's own loop: each step is ``strategy.run`` of a forward
and backward pass whose loss is the worker's summed example losses divided by the *global*
example count (all-reduced), so the optimizer's summed gradients are the gradient of the
global mean loss, as single-process ``fit`` computes it. The loop drives zooft's ordinary
Keras callbacks (progress, per-epoch commit, early stopping, TensorBoard), so checkpoints,
``state.json`` and ``--resume`` work as on one machine. Drop this loop for ``fit`` once Keras
fixes the issue.

Data: every worker builds the same seeded pipeline; ``experimental_distribute_dataset`` splits
each global batch into per-replica batches and auto-sharding (policy DATA, set by the image
pipeline) gives each worker its own. The stream is repeated and each epoch runs a fixed number
of steps, so no worker runs out of data before the others (which would hang the collectives).
Validation runs on every worker over the whole validation set, outside the strategy: every
worker gets the same numbers and takes the same early-stopping decision.

Files: only the chief (``TF_CONFIG`` task ``chief``, else worker 0) writes the run directory;
the others write the same files into a temporary directory (:func:`worker_output`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .devices import count_workers


def task_of(tf_config: str | None = None) -> tuple[str, int]:
    """``(task type, index)`` of this process in ``TF_CONFIG`` (``("worker", 0)`` without one)."""
    raw = os.environ.get("TF_CONFIG", "") if tf_config is None else tf_config
    if not raw:
        return "worker", 0
    try:
        task = json.loads(raw).get("task", {})
        return str(task.get("type", "worker")), int(task.get("index", 0))
    except (ValueError, AttributeError, TypeError):
        raise ConfigError(f"TF_CONFIG has no valid task: {raw[:60]!r}", hint="see docs/distributed.md") from None


def is_chief(tf_config: str | None = None) -> bool:
    """The chief writes the run directory: task ``chief``, or worker 0 when there is no chief."""
    raw = os.environ.get("TF_CONFIG", "") if tf_config is None else tf_config
    kind, index = task_of(raw)
    if kind == "chief":
        return True
    has_chief = bool(raw) and bool(json.loads(raw).get("cluster", {}).get("chief"))
    return kind == "worker" and index == 0 and not has_chief


def uses_multiworker(strategy: str) -> bool:
    """Whether a run with ``--strategy strategy`` will train on several workers."""
    return strategy == "multiworker" or (strategy == "auto" and count_workers() > 1)


def worker_output(values: dict[str, Any], resume_dir: Path | None) -> Path | None:
    """Point a non-chief worker at a private temporary run directory; returns the directory to
    resume from (a private copy of the shared one for a non-chief worker)."""
    if is_chief():
        return resume_dir
    kind, index = task_of()
    temp = Path(tempfile.mkdtemp(prefix=f"zooft-{kind}{index}-"))
    if resume_dir is not None:
        # every worker must load the same committed checkpoint: read it from the shared run
        # directory, but write the continuation privately
        shutil.copytree(resume_dir, temp / "run")
        return temp / "run"
    values["output"] = str(temp / "run")
    from .progress import diagnostics

    diagnostics().print(f"{kind} {index} is not the chief: its run files go to {temp / 'run'}")
    return None


def _per_example(loss: Any) -> Any:
    """The compiled Keras loss with no reduction (one value per example)."""
    config = dict(loss.get_config())
    config["reduction"] = None
    return type(loss).from_config(config)


def fit(
    strategy: Any,
    model: Any,
    dataset: Any,
    *,
    validation_data: Any,
    epochs: int,
    initial_epoch: int,
    callbacks: list[Any],
    class_weight: dict[int, float] | None,
    steps: int,
    metrics: list[Any],
) -> None:
    """``model.fit`` for MultiWorkerMirroredStrategy (see the module docstring). ``model`` is
    compiled (its optimizer and loss are used); ``metrics`` are fresh metric objects."""
    import keras
    import tensorflow as tf

    loss_fn = _per_example(model.loss)
    optimizer = model.optimizer
    weights = None
    if class_weight:
        size = max(class_weight) + 1
        weights = tf.constant([float(class_weight.get(i, 1.0)) for i in range(size)], tf.float32)

    def replica_step(x: Any, y: Any) -> Any:
        context = tf.distribute.get_replica_context()
        with tf.GradientTape() as tape:
            pred = model(x, training=True)
            per_example = tf.reshape(tf.cast(loss_fn(y, pred), tf.float32), [-1])
            if weights is not None:
                index = tf.argmax(y, axis=-1) if y.shape.rank > 1 and y.shape[-1] > 1 else tf.reshape(tf.cast(y, tf.int64), [-1])
                per_example = per_example * tf.gather(weights, index)
            local_sum = tf.reduce_sum(per_example)
            count = tf.cast(tf.shape(per_example)[0], tf.float32)
            global_count = context.all_reduce(tf.distribute.ReduceOp.SUM, count)
            loss = local_sum / global_count
            if model.losses:
                loss += tf.add_n(model.losses) / strategy.num_replicas_in_sync
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return local_sum, count, y, pred

    @tf.function
    def train_step(iterator: Any) -> Any:
        x, y = next(iterator)[:2]
        local_sum, count, y, pred = strategy.run(replica_step, args=(x, y))
        total = strategy.reduce(tf.distribute.ReduceOp.SUM, local_sum, axis=None)
        n = strategy.reduce(tf.distribute.ReduceOp.SUM, count, axis=None)
        return total, n, strategy.gather(y, axis=0), strategy.gather(pred, axis=0)

    plain_loss = type(model.loss).from_config(model.loss.get_config())
    predict = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def validate() -> dict[str, float]:
        for metric in metrics:
            metric.reset_state()
        total, n = 0.0, 0
        for batch in validation_data:
            x, y = batch[0], batch[1]
            pred = predict(x)
            total += float(plain_loss(y, pred)) * int(tf.shape(y)[0])
            n += int(tf.shape(y)[0])
            for metric in metrics:
                metric.update_state(y, pred)
        return {"val_loss": total / max(n, 1), **{f"val_{m.name}": float(m.result()) for m in metrics}}

    callback_list = keras.callbacks.CallbackList(callbacks, model=model, add_history=False, add_progbar=False)
    model.stop_training = False
    iterator = iter(strategy.experimental_distribute_dataset(dataset.repeat()))
    callback_list.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callback_list.on_epoch_begin(epoch)
        for metric in metrics:
            metric.reset_state()
        total, n = 0.0, 0.0
        for step in range(steps):
            batch_sum, batch_n, y, pred = train_step(iterator)
            total += float(batch_sum)
            n += float(batch_n)
            for metric in metrics:
                metric.update_state(y, pred)
            logs = {"loss": total / max(n, 1.0), **{m.name: float(m.result()) for m in metrics}}
            callback_list.on_train_batch_end(step, logs)
        if validation_data is not None:
            logs.update(validate())
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end()
