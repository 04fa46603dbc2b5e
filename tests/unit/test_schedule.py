"""The automatic schedule's configuration: ``auto`` epochs, the budget, what explicit flags keep."""

from __future__ import annotations

import pytest

from zooft.config import resolve
from zooft.data.images import AUTO_AUGMENT, DEFAULT_AUGMENT, augment_is_auto, parse_augment
from zooft.errors import ConfigError
from zooft.train.schedule import (
    CACHED_HEAD_FACTOR,
    FINE_TUNE_PATIENCE,
    HEAD_PATIENCE,
    MIN_DELTA,
    describe,
    phases_of,
    selection_key,
    track_phase_best,
)


def _config(**flags: object) -> dict:
    return resolve(flags=flags).values


def test_defaults_are_auto_in_both_phases() -> None:
    config = _config()
    assert (config["epochs"], config["fine_tune_epochs"], config["max_epochs"], config["augment"]) == ("auto", "auto", 4, "auto")
    head, fine = phases_of(config)
    assert (head.name, head.auto, head.epochs, head.patience, head.unfreeze) == ("head", True, 4, HEAD_PATIENCE, 0)
    assert (fine.name, fine.auto, fine.epochs, fine.patience, fine.unfreeze) == ("fine-tune", True, 4, FINE_TUNE_PATIENCE, "all")
    # a head on cached features may run more (cheap) epochs; a phase through the backbone may not
    assert head.budget(on_cached_features=True) == 4 * CACHED_HEAD_FACTOR
    assert head.budget(on_cached_features=False) == fine.budget(on_cached_features=False) == 4
    assert describe([head, fine])["fine-tune"].startswith("auto: until 2 epochs")


def test_max_epochs_caps_every_auto_phase() -> None:
    head, fine = phases_of(_config(max_epochs=7))
    assert (head.epochs, fine.epochs) == (7, 7)


def test_explicit_epochs_keep_their_meaning() -> None:
    # --epochs N alone: N head epochs and no fine-tuning, as before the automatic schedule
    config = resolve(flags={"epochs": 3})
    assert (config.values["epochs"], config.values["fine_tune_epochs"]) == (3, 0)
    assert config.sources["fine_tune_epochs"].startswith("default (0 when --epochs is a number")
    (head,) = phases_of(config.values)
    assert (head.auto, head.epochs) == (False, 3)
    head, fine = phases_of(_config(epochs=2, fine_tune_epochs=5))
    assert (head.auto, head.epochs, fine.auto, fine.epochs) == (False, 2, False, 5)
    # a fixed fine-tuning length after an automatic head
    head, fine = phases_of(_config(fine_tune_epochs="4"))
    assert (head.auto, fine.auto, fine.epochs) == (True, False, 4)
    assert len(phases_of(_config(epochs="auto", fine_tune_epochs=0))) == 1


@pytest.mark.parametrize("value", ["-1", "many", "2.5"])
def test_bad_epoch_values_fail_with_the_flag(value: str) -> None:
    with pytest.raises(ConfigError, match="--fine-tune-epochs") as info:
        resolve(flags={"fine_tune_epochs": value})
    assert "'auto'" in str(info.value)


def test_augment_auto_is_the_measured_choice_with_a_place() -> None:
    assert augment_is_auto("auto") and augment_is_auto("AUTO:zoom=0.2") and not augment_is_auto("default")
    assert parse_augment("auto") == AUTO_AUGMENT == {}  # measured best for classification
    assert parse_augment("auto:default") == DEFAULT_AUGMENT == parse_augment("default")
    assert parse_augment("auto:zoom=0.2") == {"zoom": 0.2}
    assert parse_augment("auto:none") == {}
    assert "flip" not in DEFAULT_AUGMENT  # flips change what digits and text mean


def test_a_cached_head_waits_at_least_a_hundred_steps() -> None:
    head, fine = phases_of(_config())
    assert head.patience_for(34, on_cached_features=True) == HEAD_PATIENCE  # 1,078 images, batch 32
    assert head.patience_for(5, on_cached_features=True) == 20  # 150 images: 3 epochs are 15 steps
    assert head.patience_for(5, on_cached_features=False) == HEAD_PATIENCE
    assert fine.patience_for(5, on_cached_features=False) == FINE_TUNE_PATIENCE


def test_a_phase_judges_itself_by_its_own_best_with_a_relative_margin() -> None:
    own = track_phase_best(None, "fine-tune", 1, 1.0)
    assert own == {"phase": "fine-tune", "value": 1.0, "stale": 0}
    own = track_phase_best(own, "fine-tune", 2, 1.0 - MIN_DELTA / 2)  # better, but not by the margin
    assert own["value"] == 1.0 and own["stale"] == 1
    own = track_phase_best(own, "fine-tune", 3, 0.5)
    assert own == {"phase": "fine-tune", "value": 0.5, "stale": 0}
    # a new phase starts its own record, whatever the previous phase reached
    assert track_phase_best(own, "next", 1, 0.9) == {"phase": "next", "value": 0.9, "stale": 0}


def test_warm_up_epochs_neither_set_the_best_nor_count_as_stale() -> None:
    # the warm-up epoch has the lowest loss; the full-rate epochs after it are judged among
    # themselves, so two of them no better than the warm-up do not end the phase
    own = None
    for epoch, loss in enumerate([0.30, 0.40, 0.41, 0.35], start=1):
        own = track_phase_best(own, "fine-tune", epoch, loss, warmup_epochs=1.0)
    assert own == {"phase": "fine-tune", "value": 0.35, "stale": 0}
    # without the rule, the warm-up epoch would have been the best and epochs 2-4 stale
    own = None
    for epoch, loss in enumerate([0.30, 0.40, 0.41, 0.35], start=1):
        own = track_phase_best(own, "fine-tune", epoch, loss)
    assert own == {"phase": "fine-tune", "value": 0.30, "stale": 3}
    # half an epoch of warm-up ends inside epoch 1, which counts
    assert track_phase_best(None, "fine-tune", 1, 0.3, warmup_epochs=0.5)["value"] == 0.3


def test_the_kept_weights_are_the_most_accurate_on_validation_then_the_lowest_loss() -> None:
    head = {"loss": 0.28, "val_loss": 0.78, "val_accuracy": 0.70}
    confident = {"loss": 0.09, "val_loss": 0.94, "val_accuracy": 0.84}  # fine-tuned: more right, more sure
    assert selection_key(confident) > selection_key(head)
    # equal accuracy: the lower loss wins
    assert selection_key({"val_loss": 0.5, "val_accuracy": 0.9}) > selection_key({"val_loss": 0.6, "val_accuracy": 0.9})
    # no accuracy (e.g. detection), or no validation data: the lower loss wins
    assert selection_key({"val_loss": 0.5}) > selection_key({"val_loss": 0.6})
    assert selection_key({"loss": 0.5, "accuracy": 0.1}) > selection_key({"loss": 0.6, "accuracy": 0.9})
    assert selection_key({"accuracy": 0.9}) is None


def test_a_run_keeps_the_more_accurate_fine_tuned_weights_and_early_stopping_still_watches_the_loss() -> None:
    """The session's bookkeeping per committed epoch (what ``state.json`` says and which epoch
    the checkpoint store saves as the best), without TensorFlow."""
    from zooft.train.session import TrainingSession

    class Store:
        def __init__(self) -> None:
            self.saved_as_best: list[tuple[str, int]] = []

        def commit_epoch(self, model: object, state: dict, phase: str, epoch: int, *, best: bool = False) -> None:
            if best:
                self.saved_as_best.append((phase, epoch))

    session = object.__new__(TrainingSession)
    session.state = {"epochs_done": {}, "history": {"phases": []}, "best": None}
    session.store, session.model, session.keep_best, session.phase_warmup_epochs = Store(), None, True, 0.0
    epochs = [("head", 1, 0.90, 0.60), ("head", 2, 0.78, 0.70), ("head", 3, 0.80, 0.70),
              ("fine-tune", 1, 1.01, 0.67), ("fine-tune", 2, 0.94, 0.84), ("fine-tune", 3, 0.96, 0.84)]
    for phase, epoch, val_loss, val_accuracy in epochs:
        session._on_commit(phase, epoch, {"loss": 0.3, "val_loss": val_loss, "val_accuracy": val_accuracy})
    assert session.state["best"] == {"value": 0.94, "phase": "fine-tune", "epoch": 2, "accuracy": 0.84}
    assert session.store.saved_as_best == [("head", 1), ("head", 2), ("fine-tune", 2)]
    # --early-stopping: four epochs since the lowest val_loss (head epoch 2)
    assert session.state["stale"] == 4 and session.state["lowest_loss"] == 0.78
