"""Precision and strategy choice, with the device query faked (no GPU/TPU here)."""

from __future__ import annotations

import json

import pytest

from zooft.errors import ConfigError
from zooft.train.devices import Devices, choose_precision, choose_strategy, count_workers


@pytest.mark.parametrize(
    ("devices", "expected"),
    [
        (Devices(), "float32"),
        (Devices(gpu_capabilities=((8, 0),)), "mixed_float16"),
        (Devices(gpu_capabilities=((7, 0), (8, 6))), "mixed_float16"),
        (Devices(gpu_capabilities=((6, 1),)), "float32"),  # Pascal: no tensor cores, fp16 is slower
        (Devices(gpu_capabilities=((8, 0), (6, 0))), "float32"),  # mixed fleet: the slowest decides
        (Devices(tpu=True), "mixed_bfloat16"),
    ],
)
def test_auto_precision_follows_the_hardware(devices: Devices, expected: str) -> None:
    assert choose_precision("auto", devices) == expected


def test_explicit_precision_wins() -> None:
    assert choose_precision("mixed_bfloat16", Devices()) == "mixed_bfloat16"
    assert choose_precision("float32", Devices(gpu_capabilities=((9, 0),))) == "float32"


@pytest.mark.parametrize(
    ("env", "refused"),
    [({"ONEDNN_MAX_CPU_ISA": "AVX2"}, True), ({"DNNL_MAX_CPU_ISA": "SSE41"}, True),
     ({"ONEDNN_MAX_CPU_ISA": "AVX2", "TF_ENABLE_ONEDNN_OPTS": "0"}, False), ({"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_FP16"}, False),
     ({"ONEDNN_MAX_CPU_ISA": "ALL"}, False), ({"ONEDNN_MAX_CPU_ISA": "AVX2_VNNI_2"}, False), ({}, False)],
)
def test_mixed_precision_on_a_cpu_without_half_precision_convolutions_is_refused(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str], refused: bool) -> None:
    """oneDNN capped at AVX2 or older has no float16/bfloat16 convolution (TensorFlow aborts the
    first one): refused before training, with what to change; GPUs and float32 are unaffected."""
    for name in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "TF_ENABLE_ONEDNN_OPTS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for precision in ("mixed_float16", "mixed_bfloat16"):
        if refused:
            with pytest.raises(ConfigError, match=f"--precision {precision} cannot train on this CPU: oneDNN is capped at") as info:
                choose_precision(precision, Devices())
            assert "ZOOFT_ONEDNN" in info.value.hint
        else:
            assert choose_precision(precision, Devices()) == precision
        assert choose_precision(precision, Devices(gpu_capabilities=((8, 0),))) == precision
    assert choose_precision("float32", Devices()) == choose_precision("auto", Devices()) == "float32"


@pytest.mark.parametrize(
    ("devices", "expected"),
    [
        (Devices(), "default"),
        (Devices(gpu_capabilities=((8, 0),)), "default"),
        (Devices(gpu_capabilities=((8, 0), (8, 0))), "mirrored"),
        (Devices(workers=3), "multiworker"),
        (Devices(tpu=True, workers=2), "tpu"),
    ],
)
def test_auto_strategy_follows_the_hardware(devices: Devices, expected: str) -> None:
    assert choose_strategy("auto", devices) == expected
    assert choose_strategy("default", devices) == "default"


def test_workers_are_counted_from_tf_config() -> None:
    assert count_workers("") == 1
    config = {"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]}, "task": {"type": "worker", "index": 0}}
    assert count_workers(json.dumps(config)) == 3
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        count_workers("{not json")



def test_chief_is_the_chief_task_else_worker_zero() -> None:
    from zooft.train.multiworker import is_chief, task_of

    workers = {"worker": ["a:1", "b:1"]}
    assert task_of("") == ("worker", 0) and is_chief("")
    assert is_chief(json.dumps({"cluster": workers, "task": {"type": "worker", "index": 0}}))
    assert not is_chief(json.dumps({"cluster": workers, "task": {"type": "worker", "index": 1}}))
    with_chief = {"chief": ["c:1"], **workers}
    assert is_chief(json.dumps({"cluster": with_chief, "task": {"type": "chief", "index": 0}}))
    assert not is_chief(json.dumps({"cluster": with_chief, "task": {"type": "worker", "index": 0}}))
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        task_of("[1, 2]")


def test_non_chief_writes_a_private_copy(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zooft.train.multiworker import worker_output

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}))
    values = {"output": str(tmp_path / "shared")}
    assert worker_output(values, None) is None
    assert values["output"] != str(tmp_path / "shared") and "zooft-worker1-" in values["output"]
    shared = tmp_path / "run"
    shared.mkdir()
    (shared / "state.json").write_text("{}")
    copy = worker_output({}, shared)
    assert copy != shared and (copy / "state.json").read_text() == "{}"
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}))
    values = {"output": "x"}
    assert worker_output(values, shared) == shared and values["output"] == "x"
