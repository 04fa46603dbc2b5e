"""Learning-rate schedules and the optimizer each phase gets (zooft/train/optim.py)."""

from __future__ import annotations

import pytest

from zooft.train.optim import FINE_TUNE_WARMUP_EPOCHS, make_optimizer, make_schedule, schedule_kind, warmup_epochs_for


def _rates(schedule: object, steps: range) -> list[float]:
    return [float(schedule(step)) if callable(schedule) else float(schedule) for step in steps]  # type: ignore[operator]


def test_auto_is_constant_for_the_head_alone_and_cosine_once_the_backbone_trains() -> None:
    assert schedule_kind("auto", backbone_trains=False) == "constant"
    assert schedule_kind("auto", backbone_trains=True) == "cosine"
    for explicit in ("cosine", "constant"):  # an explicit choice holds in every phase
        assert schedule_kind(explicit, backbone_trains=False) == explicit
        assert schedule_kind(explicit, backbone_trains=True) == explicit


def test_constant_schedule_is_the_plain_rate_and_warms_up_when_asked() -> None:
    assert make_schedule(0.01, steps=100, warmup_steps=0, kind="constant") == 0.01
    rates = _rates(make_schedule(0.01, steps=100, warmup_steps=10, kind="constant"), range(0, 100, 5))
    assert rates[0] == pytest.approx(0.0) and rates[1] == pytest.approx(0.005)  # linear warm-up
    assert rates[2:] == pytest.approx([0.01] * (len(rates) - 2))


def test_cosine_schedule_decays_to_zero_after_its_warm_up() -> None:
    rates = _rates(make_schedule(0.01, steps=100, warmup_steps=0, kind="cosine"), range(0, 101, 25))
    assert rates == pytest.approx([0.01, 0.01 * (1 + 2**-0.5) / 2, 0.005, 0.01 * (1 - 2**-0.5) / 2, 0.0], abs=1e-9)
    warm = _rates(make_schedule(0.01, steps=100, warmup_steps=20, kind="cosine"), [0, 10, 20, 60, 100])
    assert warm == pytest.approx([0.0, 0.005, 0.01, 0.005, 0.0], abs=1e-9)


@pytest.mark.parametrize(("backbone_trains", "last_rate"), [(False, 1e-3), (True, 0.0)])
def test_make_optimizer_follows_the_phase(backbone_trains: bool, last_rate: float) -> None:
    config = {"warmup_epochs": 0.0, "schedule": "auto", "optimizer": "adam", "clipnorm": None}
    optimizer = make_optimizer(config, 1e-3, steps=40, steps_per_epoch=10, backbone_trains=backbone_trains)
    optimizer.iterations.assign(40)  # the phase's last step
    assert float(optimizer.learning_rate) == pytest.approx(last_rate, abs=1e-9)


def test_auto_warm_up_is_one_epoch_once_the_backbone_trains_and_none_for_the_head() -> None:
    assert warmup_epochs_for("auto", backbone_trains=False) == 0.0
    assert warmup_epochs_for("auto", backbone_trains=True) == FINE_TUNE_WARMUP_EPOCHS == 1.0
    assert warmup_epochs_for(0.5, backbone_trains=False) == 0.5  # an explicit length holds in every phase
    assert warmup_epochs_for(0.0, backbone_trains=True) == 0.0


@pytest.mark.parametrize(("backbone_trains", "first_rate"), [(False, 1e-3), (True, 0.0)])
def test_default_config_warms_up_fine_tuning_only(backbone_trains: bool, first_rate: float) -> None:
    config = {"warmup_epochs": "auto", "schedule": "auto", "optimizer": "adam", "clipnorm": None}
    optimizer = make_optimizer(config, 1e-3, steps=40, steps_per_epoch=10, backbone_trains=backbone_trains)
    assert float(optimizer.learning_rate) == pytest.approx(first_rate, abs=1e-9)
    optimizer.iterations.assign(5)  # half-way through the first epoch
    assert float(optimizer.learning_rate) == pytest.approx(1e-3 if not backbone_trains else 0.5e-3, rel=1e-3)
