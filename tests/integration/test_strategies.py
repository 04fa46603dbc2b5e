"""Strategy creation with the TPU device query and resolver faked (no TPU here)."""

from __future__ import annotations

from typing import Any

import pytest

from zooft.errors import ConfigError
from zooft.train import devices


def test_tpu_strategy_connects_initializes_and_wraps_the_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    import tensorflow as tf

    calls: list[tuple[str, Any]] = []

    class FakeResolver:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            calls.append(("resolver", kwargs))

    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver", FakeResolver)
    monkeypatch.setattr(tf.config, "experimental_connect_to_cluster", lambda r: calls.append(("connect", r)))
    monkeypatch.setattr(tf.tpu.experimental, "initialize_tpu_system", lambda r: calls.append(("init", r)))
    monkeypatch.setattr(tf.distribute, "TPUStrategy", lambda r: ("tpu-strategy", r))
    strategy = devices.make_strategy("tpu")
    assert [c[0] for c in calls] == ["resolver", "connect", "init"]
    assert strategy[0] == "tpu-strategy" and isinstance(strategy[1], FakeResolver)


def test_tpu_strategy_without_a_tpu_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import tensorflow as tf

    def no_tpu(*args: Any, **kwargs: Any) -> None:
        raise ValueError("Please provide a TPU Name to connect to.")

    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver", no_tpu)
    with pytest.raises(ConfigError, match="no TPU found"):
        devices.make_strategy("tpu")


def test_auto_picks_tpu_when_the_device_query_sees_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TPU_NAME", "fake-tpu")
    found = devices.query_devices()
    assert found.tpu and devices.choose_strategy("auto", found) == "tpu"
    assert devices.choose_precision("auto", found) == "mixed_bfloat16"


def test_multiworker_without_tf_config_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="at least two workers"):
        devices.make_strategy("multiworker")
