"""The ``hub`` source without TensorFlow: handles, cache layout, registry entries, offline and
unreachable errors, sha256 pins, and archives that must be refused (over HTTP and ``--from``)."""

from __future__ import annotations

import hashlib
import io
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import zooft
from zooft.cli import run as cli

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
import hub_fixtures as hf  # noqa: E402  (its TensorFlow parts are imported lazily)

from zooft_hub.backbone import batchnorm_variables, variable_groups  # noqa: E402
from zooft_hub.fetch import archive_url, fetch_module, module_dir, normalize_handle  # noqa: E402
from zooft_hub.plugin import resolve  # noqa: E402


def _fake_savedmodel_archive(path: Path) -> Path:
    """A .tar.gz with a saved_model.pb at its top (enough for the fetch checks; never loaded)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in (("saved_model.pb", b"\x08\x01"), ("variables/variables.index", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def www(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    root = tmp_path / "www"
    root.mkdir()
    with hf.serve(root) as base:
        yield root, base


def _spec(locator: str, **weights: Any) -> zooft.ModelSpec:
    kind = "url" if "url" in weights else "builtin"
    return zooft.ModelSpec(name=f"hub:{locator}", source="hub", locator=locator,
                           weights=zooft.WeightsSpec(kind, weights.get("url", "hub"), weights.get("sha256")))


def test_handles_and_cache_layout(tmp_path: Path) -> None:
    assert normalize_handle("tfhub.dev/google/bit/s-r50x1/1") == "https://tfhub.dev/google/bit/s-r50x1/1"
    assert normalize_handle("http://x/m.tar.gz") == "http://x/m.tar.gz"
    assert normalize_handle(str(tmp_path / "a" / ".." / "b")) == str(tmp_path / "b")
    assert archive_url("https://tfhub.dev/google/bit/s-r50x1/1") == "https://tfhub.dev/google/bit/s-r50x1/1?tf-hub-format=compressed"
    assert archive_url("https://example.com/m.tar.gz") == "https://example.com/m.tar.gz"
    # tensorflow_hub's own cache key: the sha1 of the handle, under TFHUB_CACHE_DIR = <root>/hub
    handle = "https://tfhub.dev/tensorflow/efficientnet/b0/feature-vector/1"
    assert module_dir(handle, tmp_path) == tmp_path / "hub" / hashlib.sha1(handle.encode()).hexdigest()


def test_registry_entries_are_feature_vectors_in_unit_range() -> None:
    specs = {s.name: s for s in zooft.list_models(source="hub")}
    assert {"hub:efficientnet", "hub:efficientnet_v2_b0", "hub:mobilenet_v2", "hub:mobilenet_v3_small",
            "hub:resnet50", "hub:bit_s_r50x1", "hub:inception_v3"} <= set(specs)
    assert specs["hub:efficientnet"].locator == "https://tfhub.dev/tensorflow/efficientnet/b0/feature-vector/1"
    assert specs["hub:inception_v3"].input_size == (299, 299)
    for spec in specs.values():
        assert spec.preprocessing == {"mode": "unit"} and spec.input_size and spec.params and spec.license
        assert spec.locator.startswith("https://tfhub.dev/") and "classify" in spec.tasks


def test_ad_hoc_names() -> None:
    spec = resolve("https://example.com/models/m.tar.gz")
    assert spec is not None and spec.source == "hub" and spec.input_size is None  # not cached: --image-size
    assert resolve("no-such-thing") is None  # neither URL nor folder: the registry suggests names
    assert zooft.list_models("hub:efficientnet")[0].name == "hub:efficientnet"


def test_variable_groups_follow_blocks_from_input_to_output() -> None:
    names = ["net/stem/conv/kernel", "net/stem/bn/gamma", "net/blocks_0/conv/kernel", "net/blocks_0/bn/beta",
             "net/blocks_1/conv/kernel", "net/head/conv/kernel"]
    keys, groups = variable_groups(names)
    assert keys == ["stem", "blocks_0", "blocks_1", "head"]
    assert groups == [[0, 1], [2, 3], [4], [5]]
    keys, groups = variable_groups(["block1_conv/kernel", "block1_bn/gamma", "block2_conv/kernel"])
    assert keys == ["block1", "block2"] and groups == [[0, 1], [2]]


def test_batchnorm_variables_are_told_from_other_norms() -> None:
    names = ["a/conv/kernel", "a/BatchNorm/gamma", "a/BatchNorm/beta", "a/BatchNorm/moving_mean",
             "a/BatchNorm/moving_variance", "b/group_norm/gamma", "b/group_norm/beta"]
    assert batchnorm_variables(names) == {1, 2}


def test_offline_names_the_handle_the_cache_and_the_fix(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ZOOFT_OFFLINE", "1")
    capsys.readouterr()
    assert cli(["pull", "hub:efficientnet"]) != 0
    err = capsys.readouterr().err
    first = err.splitlines()[0]
    assert first.startswith("error: hub:efficientnet (https://tfhub.dev/tensorflow/efficientnet/b0/feature-vector/1)")
    assert str(zooft_home() / "hub") in err and "zooft pull hub:efficientnet --from FILE.tar.gz" in err


def zooft_home() -> Path:
    from zooft.cache import cache_root

    return cache_root()


def test_unreachable_network_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with pytest.raises(zooft.OfflineError) as info:
        fetch_module(zooft.list_models("hub:mobilenet_v2")[0])
    message = str(info.value)
    assert "\n" not in message and "cannot download hub:mobilenet_v2" in message
    assert "mobilenet_v2_100_224/feature_vector/5?tf-hub-format=compressed" in message
    assert "zooft pull hub:mobilenet_v2" in (info.value.hint or "")


def test_download_is_cached_and_sha256_pinned(www: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    root, base = www
    archive = _fake_savedmodel_archive(root / "m.tar.gz")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    url = f"{base}/m.tar.gz"
    with pytest.raises(zooft.WeightsError, match="sha256 mismatch"):
        fetch_module(_spec("https://tfhub.dev/x/y/1", url=url, sha256="0" * 64))
    path = fetch_module(_spec("https://tfhub.dev/x/y/1", url=url, sha256=digest))
    assert (path / "saved_model.pb").is_file() and path == module_dir("https://tfhub.dev/x/y/1")
    assert not list((path.parent / ".downloads").glob("*"))  # the archive is not kept
    archive.unlink()  # the server no longer has it, and zooft is offline: the cache answers
    monkeypatch.setenv("ZOOFT_OFFLINE", "1")
    assert fetch_module(_spec("https://tfhub.dev/x/y/1", url=url, sha256=digest)) == path


@pytest.mark.parametrize("kind", ["traversal", "absolute", "link", "not-savedmodel"])
def test_bad_archives_are_refused_in_one_line(kind: str, www: tuple[Path, str], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    root, base = www
    hf.bad_archive(root / f"{kind}.tar.gz", kind)
    handle = f"{base}/{kind}.tar.gz"
    capsys.readouterr()
    assert cli(["pull", f"hub:{handle}"]) == 1  # over HTTP
    first = capsys.readouterr().err.splitlines()
    assert first[0].startswith("error: ") and first[1].startswith("hint: ")
    assert "unsafe member" in first[0] or "points outside" in first[0] or "not a TF2 SavedModel" in first[0]
    assert not (module_dir(handle) / "saved_model.pb").exists()
    assert not Path("/tmp/zooft-escaped.txt").exists() and not (tmp_path / "escaped.txt").exists()
    assert cli(["pull", "hub:efficientnet", "--from", str(root / f"{kind}.tar.gz")]) == 1  # imported by hand
    assert len(capsys.readouterr().err.splitlines()) == 2


def test_tune_fails_offline_in_one_line_before_importing_tensorflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import subprocess

    monkeypatch.setenv("ZOOFT_OFFLINE", "1")
    code = (  # a fresh process: other tests in this one may have imported TensorFlow already
        "import sys; from zooft.cli import run; "
        f"code = run(['tune', '--backbone', 'hub:efficientnet', '--data', {str(tmp_path)!r}, '--output', {str(tmp_path / 'run')!r}]); "
        "print(code, 'tensorflow' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ), timeout=120)
    assert proc.stdout.split() == ["1", "False"], proc.stdout + proc.stderr  # failed, and TF was never imported
    lines = proc.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: hub:efficientnet") and "zooft pull hub:efficientnet" in lines[1]
    assert not (tmp_path / "run").exists()


def test_registry_entry_with_a_pinned_local_archive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = _fake_savedmodel_archive(tmp_path / "mine.tar.gz")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    registry = tmp_path / "zoo.yaml"
    registry.write_text(f"""version: 1
models:
  hub:mine:
    locator: https://tfhub.dev/me/mine/1
    weights: {{file: mine.tar.gz, sha256: {digest}}}
    input_size: 64
    preprocessing: unit
  hub:mine_bad:
    locator: https://tfhub.dev/me/mine/2
    weights: {{file: mine.tar.gz, sha256: {"f" * 64}}}
""")
    capsys.readouterr()
    assert cli(["--registry", str(registry), "pull", "hub:mine"]) == 0
    assert (module_dir("https://tfhub.dev/me/mine/1") / "saved_model.pb").is_file()
    assert cli(["--registry", str(registry), "pull", "hub:mine_bad"]) == 1
    assert "sha256 mismatch" in capsys.readouterr().err


def test_default_run_directory_of_an_ad_hoc_url_is_one_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zooft.config import ResolvedConfig
    from zooft.train.tune import prepare_run_dir

    monkeypatch.chdir(tmp_path)
    spec = resolve("http://127.0.0.1:8000/models/net.tar.gz")
    assert spec is not None
    run_dir = prepare_run_dir(ResolvedConfig({"output": None, "task": "classify"}, {}), spec)
    assert run_dir.parent == Path("runs") and run_dir.name.startswith("http_127.0.0.1_8000_models_net.tar.gz-classify-")
    assert run_dir.is_dir()
