"""Registry and config files from anyone, and flags with out-of-range values: one line each."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from zooft.safe_yaml import MAX_DEPTH

from .conftest import Cli, one_line_error, zooft_subprocess

BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(f"{c}: &{c} [{', '.join(['*' + p] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi")),
        "version: 1",
        "models: {}",
    ]
)


def registry_cases(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (registry path, what the one-line error must say)."""
    cases: dict[str, tuple[Path, str]] = {}

    def file(name: str, data: bytes, expected: str) -> None:
        path = tmp_path / name
        path.write_bytes(data)
        cases[name] = (path, expected)

    file("bomb.yaml", BOMB.encode(), "aliases")
    file("merge.yaml", b"base: &b {locator: A}\nversion: 1\nmodels:\n  keras:x:\n    <<: *b\n", "aliases")
    file("latin1.yaml", "version: 1\nmodels:\n  keras:caf\xe9:\n    locator: A\n".encode("latin-1"), "line 3: not UTF-8")
    file("deep.yaml", ("x: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n").encode(), "nested more than")
    file("dup.yaml", b"version: 1\nmodels:\n  keras:x: {locator: A}\n  keras:x: {locator: B}\n", "appears twice")
    file("nul.yaml", b"version: 1\nmodels: {}\n\0\n", "NUL byte")
    file("python.yaml", b"!!python/object/apply:os.system ['touch /tmp/zooft-pwned']\n", "malformed YAML")
    big = tmp_path / "big.yaml"
    with open(big, "wb") as handle:  # sparse: 5 MB on paper, nothing on disk
        handle.truncate(5 * 10**6)
    cases["big.yaml"] = (big, "above the 4 MB limit")
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    cases["folder.yaml"] = (folder, "a directory, not a regular file")
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")  # would be read until memory runs out
    cases["zero.yaml"] = (tmp_path / "zero.yaml", "a character device")
    return cases


CASES = ["bomb.yaml", "merge.yaml", "latin1.yaml", "deep.yaml", "dup.yaml", "nul.yaml", "python.yaml", "big.yaml", "folder.yaml",
         "zero.yaml"]


@pytest.mark.parametrize("name", CASES)
def test_hostile_registry_file_is_one_line(name: str, cli: Cli, tmp_path: Path) -> None:
    path, expected = registry_cases(tmp_path)[name]
    started = time.monotonic()
    status, out, err = cli("--registry", str(path), "list-models")
    assert time.monotonic() - started < 10
    assert status == 1 and out == ""
    one_line_error(err, name, expected)
    assert not Path("/tmp/zooft-pwned").exists()


def test_registry_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # open() would block forever: run in a subprocess with a timeout
    proc = zooft_subprocess("--registry", str(fifo), "list-models", timeout=30)
    assert proc.returncode == 1
    one_line_error(proc.stderr, "fifo.yaml", "named pipe")


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("dup.yaml", "epochs: 1\nepochs: 2\n", "'epochs' appears twice"),
        ("dup.json", '{"epochs": 1, "epochs": 2}', "'epochs' appears twice"),
        ("dashes.yaml", "fine-tune-epochs: 1\nfine_tune_epochs: 2\n", "'fine_tune_epochs' is given twice"),
        ("alias.yaml", "x: &x 1\nepochs: *x\n", "aliases"),
        ("latin1.yaml", "label_column: \xe9t\xe9\n", "not UTF-8"),
        ("folder.yaml", None, "a directory"),
    ],
)
def test_hostile_config_file_is_one_line(name: str, text: str | None, expected: str, cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / name
    if text is None:
        path.mkdir()
    else:
        path.write_bytes(text.encode("latin-1" if "latin1" in name else "utf-8"))
    status, _, err = cli("tune", "--config", str(path), "--backbone", "embedded", "--data", str(tmp_path))
    assert status == 1
    one_line_error(err, name, expected)


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--seed", "-1", "invalid value -1 for --seed"),
        ("--seed", str(2**32), "for --seed"),
        ("--image-size", "1", "invalid value '1' for --image-size"),
        ("--image-size", "8x96", "between 16 and 8192"),
        ("--image-size", "100000", "between 16 and 8192"),
    ],
)
def test_out_of_range_flags_are_one_line(flag: str, value: str, expected: str, cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "data" / "a").mkdir(parents=True)
    status, _, err = cli("tune", "--backbone", "embedded", "--data", str(tmp_path / "data"), flag, value,
                         "--output", str(tmp_path / "run"))
    assert status == 1
    one_line_error(err, expected)
    assert not (tmp_path / "run").exists()
