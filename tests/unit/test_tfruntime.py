"""zooft/tfruntime.py without TensorFlow: the oneDNN choice, the user's overrides, the stderr filter."""

from __future__ import annotations

import os
import sys

import pytest

import zooft
from zooft import tfruntime
from zooft.cli import run

ONEDNN_VARS = ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "ZOOFT_ONEDNN")


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No oneDNN variables, and TensorFlow looks not yet imported (configure() acts only then)."""
    for name in ONEDNN_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    monkeypatch.setattr(tfruntime.platform, "machine", lambda: "x86_64")
    return monkeypatch


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, {"TF_ENABLE_ONEDNN_OPTS": "0"}), ("auto", {"TF_ENABLE_ONEDNN_OPTS": "0"}), ("avx2", {"ONEDNN_MAX_CPU_ISA": "AVX2"}),
     ("off", {"TF_ENABLE_ONEDNN_OPTS": "0"}), ("0", {"TF_ENABLE_ONEDNN_OPTS": "0"}), ("on", {}), ("1", {})],
)
def test_zooft_onednn_chooses_the_variables(fresh: pytest.MonkeyPatch, value: str | None, expected: dict[str, str]) -> None:
    if value is not None:
        fresh.setenv("ZOOFT_ONEDNN", value)
    tfruntime.configure()
    assert {k: os.environ[k] for k in ONEDNN_VARS[:3] if k in os.environ} == expected


@pytest.mark.parametrize("name", ["TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA"])
def test_a_users_own_onednn_variable_is_left_alone(fresh: pytest.MonkeyPatch, name: str) -> None:
    fresh.setenv(name, "1" if name == "TF_ENABLE_ONEDNN_OPTS" else "ALL")
    tfruntime.configure()
    assert [k for k in ONEDNN_VARS[:3] if k in os.environ] == [name]


def test_nothing_changes_once_tensorflow_is_loaded(fresh: pytest.MonkeyPatch) -> None:
    fresh.setitem(sys.modules, "tensorflow", object())
    tfruntime.configure()
    assert not any(k in os.environ for k in ONEDNN_VARS)


def test_other_cpus_get_no_x86_cap(fresh: pytest.MonkeyPatch) -> None:
    fresh.setenv("ZOOFT_ONEDNN", "avx2")
    fresh.setattr(tfruntime.platform, "machine", lambda: "aarch64")
    tfruntime.configure()
    assert "ONEDNN_MAX_CPU_ISA" not in os.environ


def test_a_bad_zooft_onednn_is_a_one_line_error(fresh: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fresh.setenv("ZOOFT_ONEDNN", "fast")
    with pytest.raises(zooft.ConfigError, match="'fast'"):
        tfruntime.configure()
    assert run(["list-models"]) == zooft.ConfigError.exit_code
    err = capsys.readouterr().err
    assert "ZOOFT_ONEDNN must be one of off, avx2, on (got 'fast')" in err and "Traceback" not in err


def test_filtered_stderr_drops_only_the_known_notices(capfd: pytest.CaptureFixture[str]) -> None:
    notices = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
        "I0000 00:00:1796285884.517410    9105 port.cc:153] oneDNN custom operations are on.\n",
        "E0000 00:00:1796285906.559749    9105 cuda_platform.cc:52] failed call to cuInit: INTERNAL\n",
        "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n",
    ]
    real = [
        "E0000 00:00:1796285906.559749    9105 op_kernel.cc:1857] OP_REQUIRES failed: out of memory\n",
        "Traceback (most recent call last):\n",
    ]
    with tfruntime.filtered_stderr():
        for line in notices + real:
            os.write(2, line.encode())
        print("python stderr line", file=sys.stderr)
    # (under capfd, sys.stderr is pytest's own object, so the order of the two kinds differs)
    lines = capfd.readouterr().err.splitlines(keepends=True)
    assert sorted(lines) == sorted([*real, "python stderr line\n"])


def test_filtered_stderr_passes_everything_when_debugging(monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ZOOFT_DEBUG", "1")
    line = "I0000 00:00:1796285884.517410    9105 port.cc:153] oneDNN custom operations are on.\n"
    with tfruntime.filtered_stderr():
        os.write(2, line.encode())
    assert capfd.readouterr().err == line
