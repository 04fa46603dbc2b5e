"""One training session: the model, its data pipelines and its checkpoints, phase by phase."""

from __future__ import annotations

import functools
import math
import time
from typing import Any

from ..cache import cache_root, is_offline
from ..data.records import LabeledData
from ..runs import Run, atomic_write, refresh_report
from ..specs import ModelSpec
from .checkpoint import CheckpointStore, load_weights, restore_optimizer
from ..task import check_backbone, describe_targets
from .devices import choose_precision, choose_strategy, make_strategy, query_devices
from .schedule import MIN_DELTA, selection_key, track_phase_best


class TrainingSession:
    """Builds everything once, then runs phases; resumable from ``state.json``."""

    def __init__(self, run: Run, config: dict[str, Any], spec: ModelSpec, data: LabeledData, *, console: Any) -> None:
        import keras

        from ..plugins import get_host

        self.run, self.config, self.spec, self.data, self.console = run, config, spec, data, console
        self.store = CheckpointStore(run.path)
        self.state: dict[str, Any] = self.store.load_state() or {
            "epochs_done": {},
            "history": {"phases": []},
            "best": None,
        }
        host = get_host()
        devices = query_devices()
        self.precision = choose_precision(config["precision"], devices)
        self.strategy_name = choose_strategy(config["strategy"], devices)
        keras.mixed_precision.set_global_policy(self.precision)  # tune() restores the previous one
        keras.utils.set_random_seed(config["seed"])
        self.strategy = make_strategy(self.strategy_name)
        self.image_size = tuple(config["image_size"]) if config.get("image_size") else None  # None: text
        self.task = host.task(config["task"]).factory()
        with self.strategy.scope():
            self.backbone = host.backbone_source(spec.source).factory(
                spec, input_size=self.image_size, weights=config["weights"], offline=is_offline(), cache_dir=cache_root(),
                sequence_length=(config.get("task_options") or {}).get("sequence_length"),
            )
            check_backbone(host.task(config["task"]), self.backbone)
            # Re-seed: the head's initialisation (and dropout) then depends on --seed only, not
            # on how many random draws building the backbone took (a hub model takes none).
            keras.utils.set_random_seed(config["seed"])
            self.model = self.task.build_model(self.backbone, data.classes, config)
        self.console.print(
            f"model {spec.name} ({self.model.count_params():,} params), {describe_targets(config['task'], data.classes)}, "
            f"precision {self.precision}, strategy {self.strategy_name}, {self.strategy.num_replicas_in_sync} replica(s)"
        )
        self._check_training_data()
        self.phase_seconds: dict[str, float] = {}
        self.schedule_notes: dict[str, str] = {}  # set by train: how each phase's length is decided
        self.extraction_seconds: float | None = None  # the feature cache's extraction, when it ran
        self.keep_best = False  # set by train: whether the best epoch's weights are kept
        self.phase_warmup_epochs = 0.0  # set by _compile: the current phase's warm-up, in epochs
        self.feature_cache_note: str | None = None  # set by feature_cache.build_plan

    # -- data ------------------------------------------------------------------------------------
    def dataset(self, split: str, *, training: bool) -> Any:
        """A batched tf.data pipeline over ``split`` (None when the split is empty)."""
        from ..task import task_dataset

        examples = self.data.splits.get(split) or []
        if not examples:
            return None
        cache = self.image_cache(split)
        return task_dataset(
            self.task,
            examples,
            num_classes=len(self.data.classes),
            config=self.config,
            image_size=self.image_size,
            batch_size=self.config["batch_size"],
            training=training,
            shuffle_seed=self.config["seed"] if training else None,
            cache=cache,
        )

    def image_cache(self, split: str) -> str | None:
        """The ``cache`` argument of make_image_dataset for ``split``: "" (memory), a path, None."""
        cache = self._image_cache_choice[0]
        if not cache:
            return None
        return "" if cache == "memory" else f"{cache}-{split}"

    @property
    def image_cache_note(self) -> str:
        """How decoded images are kept between epochs, and why (timing.json's ``image_cache``)."""
        return self._image_cache_choice[1]

    @functools.cached_property
    def _image_cache_choice(self) -> tuple[str | None, str]:
        """``(--cache with auto decided: "memory", a path prefix or None, its note)``."""
        cache = self.config["cache"]
        if cache != "auto":
            return cache, {None: "off", "memory": "memory"}.get(cache, f"disk: {cache}")
        if self.image_size is None:
            return None, "off (auto): the data are not images"
        from ..data.images import auto_cache_in_memory

        n = sum(len(examples or []) for examples in self.data.splits.values())
        fits, needed, budget = auto_cache_in_memory(n, self.image_size)
        size = f"{n:,} images, {needed / 2**20:,.0f} MiB decoded"
        note = f"memory (auto: {size})" if fits else f"off (auto: {size}, over {budget / 2**20:,.0f} MiB)"
        self.console.print(f"image cache: {note}")
        return ("memory" if fits else None), note

    def _check_training_data(self) -> None:
        self.n_train = len(self.data.splits.get("train") or [])
        if not self.n_train:
            from ..errors import DataError

            raise DataError(f"no training examples in {self.config['data']}", hint="check the data path and format")

    # Built on first use: a run whose phases all train on cached features never needs them.
    @functools.cached_property
    def train_ds(self) -> Any:
        """The training pipeline over images (shuffled, augmented)."""
        return self.dataset("train", training=True)

    @functools.cached_property
    def val_ds(self) -> Any:
        """The validation pipeline over images (None without validation data)."""
        return self.dataset("val", training=False)

    # -- phases ----------------------------------------------------------------------------------
    def _compile(self, phase: Any, steps_per_epoch: int) -> None:
        from .optim import make_optimizer, warmup_epochs_for

        trainable = self.backbone.set_trainable(phase.unfreeze, train_batchnorm=self.config["weights"] == "none")
        with self.strategy.scope():
            optimizer = make_optimizer(self.config, phase.lr, steps=phase.epochs * steps_per_epoch, steps_per_epoch=steps_per_epoch,
                                       backbone_trains=trainable > 0)
            self.model.compile(optimizer=optimizer, **self.task.compile_args(self.data.classes, self.config))
            # Create the optimizer's slots now, eagerly. Left to Keras, they are created inside
            # the first trace of the train step, and a tf.function that creates variables is
            # traced twice: measured +2.3 s per phase for MobileNetV2 on this CPU.
            self.model.optimizer.build(self.model.trainable_variables)
        length = f"auto (patience {phase.patience})" if phase.auto else f"{phase.epochs} epoch(s)"
        warmup = self.phase_warmup_epochs = warmup_epochs_for(self.config["warmup_epochs"], backbone_trains=trainable > 0)
        self.console.print(
            f"phase {phase.name}: {length}, lr {phase.lr:g}{f' after a {warmup:g}-epoch warm-up' if warmup else ''}, "
            f"{trainable} trainable backbone tensors, {len(self.model.trainable_weights)} in total"
        )

    def _restore_weights(self) -> None:
        """On resume: load the committed checkpoint's weights, before any compile (an
        uncompiled model takes them without the optimizer mismatch Keras warns about)."""
        stem = self.state.get("checkpoint")
        if stem:
            load_weights(self.model, self.store.weights_path(stem))

    def _restore_optimizer(self, phase_name: str) -> None:
        """On resume within a phase: its optimizer state (moments, step of the schedule)."""
        stem = self.state.get("checkpoint")
        if stem and stem.startswith(f"{phase_name}-e"):
            restore_optimizer(self.model.optimizer, self.model.trainable_variables, self.store.optimizer_path(stem))

    def _phase_history(self, name: str) -> list[dict[str, Any]]:
        for entry in self.state["history"]["phases"]:
            if entry["name"] == name:
                return entry["epochs"]
        self.state["history"]["phases"].append({"name": name, "epochs": []})
        return self.state["history"]["phases"][-1]["epochs"]

    def _on_commit(self, phase: str, epoch: int, record: dict[str, Any]) -> None:
        self._phase_history(phase).append(record)
        self.state["epochs_done"][phase] = epoch
        monitor = record.get("val_loss", record.get("loss"))
        # --early-stopping counts epochs without a lower loss
        lowest = self.state.get("lowest_loss", (self.state.get("best") or {}).get("value"))
        if monitor is not None and (lowest is None or monitor < lowest - 1e-7):
            self.state["lowest_loss"] = monitor
            self.state["stale"] = 0
        else:
            self.state["stale"] = self.state.get("stale", 0) + 1
        # the weights kept are the best by selection_key; state.json's "best" holds its loss
        # ("value") and, where ranked by it, its validation accuracy
        key = selection_key(record)
        best = self.state.get("best")
        best_key = selection_key({"val_loss": best["value"], "val_accuracy": best.get("accuracy")}) if best else None
        improved = key is not None and (best_key is None or key > best_key)
        if improved:
            self.state["best"] = {"value": monitor, "phase": phase, "epoch": epoch}
            if key[0] != -math.inf:
                self.state["best"]["accuracy"] = key[0]
        self.state["phase_best"] = track_phase_best(self.state.get("phase_best"), phase, epoch, monitor,
                                                    warmup_epochs=self.phase_warmup_epochs)
        self.store.commit_epoch(self.model, self.state, phase, epoch, best=improved and self.keep_best)

    def train(self, phases: list[Any]) -> None:
        """Run every phase that is not finished yet (an auto phase is finished once it stopped)."""
        import keras

        from ..runs import write_json_atomic
        from .callbacks import commit_callback, progress_callback
        from .progress import steps_for
        from .schedule import describe

        steps = steps_for(self.n_train, self.config["batch_size"])
        patience = self.config["early_stopping"]
        # best weights are kept for --early-stopping and for every auto phase (restored at its end)
        self.keep_best = bool(patience) or any(p.auto for p in phases)
        self.schedule_notes = describe(phases)
        finished: list[str] = self.state.setdefault("finished", [])
        self._restore_weights()
        for index, phase in enumerate(phases):
            done = self.state["epochs_done"].get(phase.name, 0)
            if phase.epochs == 0 or phase.name in finished or (not phase.auto and done >= phase.epochs):
                continue
            if self.state.get("stopped_early"):
                break
            if done == 0 and any(p.auto for p in phases[:index]) and self.store.best_path().is_file():
                # start from the best weights of the auto phase before (also after a resume
                # between phases, when the last checkpoint holds that phase's last epoch)
                load_weights(self.model, self.store.best_path())
            self._compile(phase, steps)
            self._restore_optimizer(phase.name)
            fit_model, train_ds, val_ds = self._fit_inputs(phase, steps)
            cached = fit_model is not self.model
            epochs = phase.budget(on_cached_features=cached)
            phase_patience = phase.patience_for(steps, on_cached_features=cached)
            if done == 0:
                self.state["stale"] = 0

            def should_stop(phase: Any = phase, own: int | None = phase_patience) -> bool:
                return (bool(patience) and self.state.get("stale", 0) >= patience) or (own is not None and self._phase_stale(phase.name) >= own)

            callbacks = [
                progress_callback(phase=phase.name, epochs=epochs, steps=steps, batch_size=self.config["batch_size"], console=self.console),
                commit_callback(phase=phase.name, steps=steps, batch_size=self.config["batch_size"], on_commit=self._on_commit,
                                should_stop=should_stop),
                keras.callbacks.TensorBoard(log_dir=str(self.run.path / "logs" / phase.name), write_graph=False),
            ]
            start = time.perf_counter()
            if done < epochs:
                self._fit(fit_model, train_ds, val_ds, epochs=epochs, initial_epoch=done, callbacks=callbacks, steps=steps)
            self.phase_seconds[phase.name] = time.perf_counter() - start + self.phase_seconds.get(phase.name, 0.0)
            run = self.state["epochs_done"].get(phase.name, 0)
            if phase.auto:
                stale = self._phase_stale(phase.name)
                why = (f"{stale} epochs without a {self._monitor_name()} {MIN_DELTA:.0%} below the phase's best" if stale >= phase_patience
                       else f"its budget of {epochs} epochs")
                self.state.setdefault("stopped", {})[phase.name] = f"after {run} epochs: {why}"
                finished.append(phase.name)
                write_json_atomic(self.store.state_path, self.state)
                self.console.print(f"phase {phase.name} (auto) stopped after {run} epochs: {why}")
            if patience and self.state.get("stale", 0) >= patience:
                self.state["stopped_early"] = {"phase": phase.name, "epoch": run}
                self.console.print(f"early stopping in {phase.name} after epoch {run}")
                break
        if self.keep_best and self.store.best_path().is_file():
            load_weights(self.model, self.store.best_path())
            best = self.state["best"]
            accuracy = f"val_accuracy {best['accuracy']:.4f}, " if "accuracy" in best else ""
            self.console.print(f"restored best weights: {best['phase']} epoch {best['epoch']} "
                               f"({accuracy}{self._monitor_name()} {best['value']:.4f})")
        if self.config["weights"] == "none":
            self._recalibrate_batchnorm()

    def _phase_stale(self, name: str) -> int:
        """Epochs of phase ``name`` since its best epoch (its own best, not the run's)."""
        own = self.state.get("phase_best") or {}
        return own.get("stale", 0) if own.get("phase") == name else 0

    def _monitor_name(self) -> str:
        """What early stopping and the auto schedule watch: val_loss, or loss without validation data."""
        return "val_loss" if self.data.splits.get("val") else "loss"

    def _recalibrate_batchnorm(self) -> None:
        """From scratch, BatchNorm trained too: re-estimate its statistics on the final weights
        (zooft/train/batchnorm.py says why), on shuffled training data without augmentation."""
        from ..task import task_dataset
        from .batchnorm import recalibrate_batchnorm

        dataset = task_dataset(
            self.task,
            self.data.splits["train"],
            num_classes=len(self.data.classes),
            config={**self.config, "augment": "none"},
            image_size=self.image_size,
            batch_size=self.config["batch_size"],
            training=True,
            shuffle_seed=self.config["seed"],
        )
        with self.strategy.scope():
            batches = recalibrate_batchnorm(self.model, dataset, strategy=self.strategy)
        if batches:
            self.console.print(f"re-estimated BatchNorm statistics on {batches} training batches")

    def _fit(self, model: Any, train_ds: Any, val_ds: Any, *, epochs: int, initial_epoch: int, callbacks: list[Any], steps: int) -> None:
        """``model.fit``, or zooft's own loop under MultiWorkerMirroredStrategy (multiworker.py)."""
        class_weight = self.task.class_weights(self.data, self.config["class_weight"])
        if self.strategy_name == "multiworker":
            from .multiworker import fit as multiworker_fit

            metrics = self.task.compile_args(self.data.classes, self.config)["metrics"]
            multiworker_fit(self.strategy, model, train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=initial_epoch,
                            callbacks=callbacks, class_weight=class_weight, steps=steps, metrics=metrics)
            return
        model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=epochs,
            initial_epoch=initial_epoch,
            callbacks=callbacks,
            class_weight=class_weight,
            shuffle=False,  # the tf.data pipeline shuffles, seeded
            verbose=0,
        )

    def _fit_inputs(self, phase: Any, steps: int) -> tuple[Any, Any, Any]:
        """The model and datasets ``fit`` runs for ``phase``: the task's head on cached backbone
        features where that gives the same model (see feature_cache.py), else the full model.

        The head on features runs a whole epoch per call of its traced train function
        (``steps_per_execution``): its steps take microseconds, so Keras's per-step Python
        work (~4 ms here) would otherwise be most of the phase. Same steps, same order."""
        from .feature_cache import build_plan

        plan = build_plan(self, phase) if phase.unfreeze in (0, "0") else None
        if plan is None:
            return self.model, self.train_ds, self.val_ds
        self.phase_seconds[phase.name] = plan.seconds
        self.extraction_seconds = plan.seconds
        # the head shares the full model's layers and, compiled with the same optimizer object,
        # its slot variables: checkpoints of self.model stay valid and resumable either way
        plan.head.compile(optimizer=self.model.optimizer, steps_per_execution=steps,
                          **self.task.compile_args(self.data.classes, self.config))
        return plan.head, plan.train, plan.val

    # -- results ---------------------------------------------------------------------------------
    def evaluate(self) -> dict[str, Any]:
        """Evaluate on test (else val) data and write ``metrics.json``."""
        split = "test" if self.data.splits.get("test") else "val"
        dataset = self.dataset(split, training=False)
        if dataset is None:
            metrics: dict[str, Any] = {"split": None, "note": "no held-out data to evaluate on"}
        else:
            metrics = {"split": split, **self.task.evaluate(self.model, dataset, self.data.classes, self.config)}
        self.run.write_json("metrics.json", metrics)
        return metrics

    def save_model(self) -> None:
        """``model.keras`` written atomically: a crash never leaves a truncated model."""
        atomic_write(self.run.path / "model.keras", self.model.save)

    def finish(self, *, total_seconds: float, watch: Any = None) -> None:
        """Evaluate, save the model, history, timing and report. ``watch`` (tune's Stopwatch)
        gets the evaluation, save and report steps; its laps go to ``timing.json``."""
        self.metrics = self.evaluate()
        if watch is not None:
            watch.lap("evaluation")
        self.save_model()
        self.run.write_json("history.json", self.state["history"])
        epochs = [e for p in self.state["history"]["phases"] for e in p["epochs"]]
        images = sum(e.get("images_per_second", 0) * e.get("seconds", 0) for e in epochs)
        train_seconds = sum(e.get("seconds", 0) for e in epochs)
        self.timing = {
            "total_seconds": round(total_seconds, 1),
            "phases": {p["name"]: round(sum(e.get("seconds", 0) for e in p["epochs"]), 1) for p in self.state["history"]["phases"]},
            "images_per_second": round(images / train_seconds, 1) if train_seconds else None,
            "precision": self.precision,
            "strategy": self.strategy_name,
            "feature_cache": self.feature_cache_note or "off: no head-only phase",
            "image_cache": self.image_cache_note,
            # the epochs each phase actually ran (an auto phase decides its own) and why it ended
            "epochs_run": {p["name"]: len(p["epochs"]) for p in self.state["history"]["phases"]},
            "schedule": self.schedule_notes,
            "stopped": self.state.get("stopped", {}),
            # this process's wall time per phase, feature extraction and graph tracing included
            "phase_wall_seconds": {name: round(sec, 2) for name, sec in self.phase_seconds.items()},
            "feature_extraction_seconds": None if self.extraction_seconds is None else round(self.extraction_seconds, 2),
        }
        if watch is not None:
            watch.lap("save model and history")
            # the split of the training step: feature extraction (in the head's wall time) and phases
            self.timing["steps"] = dict(watch.steps)
        self.run.write_json("timing.json", self.timing)
        refresh_report(self.run)
        if watch is not None:
            watch.lap("report")
            self.timing["steps"] = dict(watch.steps)
            self.run.write_json("timing.json", self.timing)
        acc = self.metrics.get("accuracy")
        self.console.print(
            f"done in {total_seconds:.0f}s: {self.metrics.get('split')} accuracy "
            f"{acc:.4f}" if acc is not None else f"done in {total_seconds:.0f}s"
        )
