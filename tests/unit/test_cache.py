"""The cache: verified atomic downloads (file:// and a local HTTP server), offline behaviour,
manual imports and safe archive extraction. Never touches the real network."""

from __future__ import annotations

import hashlib
import io
import socket
import sys
import tarfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import zooft
from zooft.cache import cache_root, download, import_file, is_offline, safe_extract, sha256_file, verify_sha256

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from loopback import serve  # noqa: E402  (no TensorFlow: the shared loopback server)

PAYLOAD = b"pretend these are weights\n" * 5000  # > 64 KiB, several reads
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()
WRONG_SHA = "0" * 64


def leftovers(directory: Path) -> list[str]:
    """Temporary files a download or import may have left behind."""
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".") or p.suffix == ".part")


@pytest.fixture
def source_file(tmp_path: Path) -> Path:
    path = tmp_path / "served" / "weights.h5"
    path.parent.mkdir()
    path.write_bytes(PAYLOAD)
    return path


@pytest.fixture
def http_root(source_file: Path) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 (ephemeral port) serving ``source_file``'s directory."""
    with serve(source_file.parent) as url:
        yield url


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the network must not be touched")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


# -- cache root and switches -------------------------------------------------------------------
def test_cache_root_follows_zooft_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOFT_HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home"
    monkeypatch.delenv("ZOOFT_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "zooft"


def test_conftest_isolates_the_cache(zooft_env: Path) -> None:
    assert cache_root() == zooft_env


@pytest.mark.parametrize(("value", "offline"), [("1", True), ("true", True), ("YES", True), ("0", False), ("", False)])
def test_offline_switch_values(monkeypatch: pytest.MonkeyPatch, value: str, offline: bool) -> None:
    monkeypatch.setenv("ZOOFT_OFFLINE", value)
    assert is_offline() is offline


# -- downloads ---------------------------------------------------------------------------------
def test_download_from_file_url(source_file: Path, tmp_path: Path) -> None:
    dest = tmp_path / "cache" / "models" / "weights.h5"
    result = download(source_file.as_uri(), dest, sha256=PAYLOAD_SHA, what="test weights")
    assert result == dest
    assert dest.read_bytes() == PAYLOAD
    assert leftovers(dest.parent) == []


def test_download_from_local_http_server_reports_progress(http_root: str, tmp_path: Path) -> None:
    dest = tmp_path / "cache" / "weights.h5"
    seen: list[tuple[int, int | None]] = []
    download(f"{http_root}/weights.h5", dest, sha256=PAYLOAD_SHA, progress=lambda done, total: seen.append((done, total)))
    assert dest.read_bytes() == PAYLOAD
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert leftovers(dest.parent) == []


def test_download_without_a_known_sha256(http_root: str, tmp_path: Path) -> None:
    dest = tmp_path / "weights.h5"
    download(f"{http_root}/weights.h5", dest)
    assert sha256_file(dest) == PAYLOAD_SHA


@pytest.mark.parametrize("scheme", ["file", "http"])
def test_sha256_mismatch_leaves_no_file(
    source_file: Path, http_root: str, tmp_path: Path, scheme: str
) -> None:
    url = source_file.as_uri() if scheme == "file" else f"{http_root}/weights.h5"
    dest = tmp_path / "cache" / "weights.h5"
    with pytest.raises(zooft.WeightsError) as info:
        download(url, dest, sha256=WRONG_SHA, what="test weights")
    assert "sha256 mismatch" in str(info.value) and "test weights" in str(info.value)
    assert PAYLOAD_SHA[:12] in str(info.value)
    assert info.value.hint
    assert not dest.exists()
    assert leftovers(dest.parent) == []


def test_offline_without_cache_raises_with_the_given_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: None
) -> None:
    monkeypatch.setenv("ZOOFT_OFFLINE", "1")
    dest = tmp_path / "cache" / "weights.h5"
    hint = "run 'zooft pull keras:net' while online, or 'zooft pull keras:net --from FILE'"
    with pytest.raises(zooft.OfflineError) as info:
        download("https://example.invalid/weights.h5", dest, what="keras:net weights", fetch_hint=hint)
    assert info.value.hint == hint
    assert "ZOOFT_OFFLINE=1" in str(info.value) and "keras:net weights" in str(info.value)
    assert isinstance(info.value, ConnectionError)
    assert not dest.parent.exists()  # nothing created


def test_offline_default_hint_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: None) -> None:
    monkeypatch.setenv("ZOOFT_OFFLINE", "1")
    dest = tmp_path / "weights.h5"
    with pytest.raises(zooft.OfflineError) as info:
        download("https://example.invalid/weights.h5", dest)
    assert "ZOOFT_OFFLINE" in (info.value.hint or "") and str(dest) in (info.value.hint or "")


def test_cached_file_is_reused_offline(
    source_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "cache" / "weights.h5"
    download(source_file.as_uri(), dest, sha256=PAYLOAD_SHA)
    source_file.unlink()  # the origin is gone: only the cache can answer
    monkeypatch.setenv("ZOOFT_OFFLINE", "1")
    monkeypatch.setattr(urllib.request, "urlopen", pytest.fail)
    assert download("https://example.invalid/weights.h5", dest, sha256=PAYLOAD_SHA) == dest
    assert download("https://example.invalid/weights.h5", dest) == dest  # no sha known: still reused


def test_corrupt_cached_file_is_reported(tmp_path: Path, no_network: None) -> None:
    dest = tmp_path / "weights.h5"
    dest.write_bytes(b"truncated")
    with pytest.raises(zooft.WeightsError) as info:
        download("https://example.invalid/weights.h5", dest, sha256=PAYLOAD_SHA)
    assert "sha256 mismatch" in str(info.value)
    assert "delete it" in (info.value.hint or "")


def test_unreachable_url_is_an_offline_error(tmp_path: Path, closed_port: int) -> None:
    dest = tmp_path / "cache" / "weights.h5"
    url = f"http://127.0.0.1:{closed_port}/weights.h5"
    with pytest.raises(zooft.OfflineError) as info:
        download(url, dest, what="test weights", fetch_hint="import it with 'zooft pull --from'")
    assert url in str(info.value)
    assert info.value.hint == "import it with 'zooft pull --from'"
    assert not dest.exists()
    assert leftovers(dest.parent) == []


def test_missing_file_url_is_an_error(tmp_path: Path) -> None:
    dest = tmp_path / "cache" / "weights.h5"
    with pytest.raises(zooft.ZooftError):
        download((tmp_path / "nope.h5").as_uri(), dest)
    assert not dest.exists() and leftovers(dest.parent) == []


# -- verification and manual import -----------------------------------------------------------
def test_verify_sha256(source_file: Path) -> None:
    verify_sha256(source_file, PAYLOAD_SHA, what="w")
    verify_sha256(source_file, None, what="w")  # unknown sha: nothing to check
    with pytest.raises(zooft.WeightsError):
        verify_sha256(source_file, WRONG_SHA, what="w")


def test_import_file(source_file: Path, tmp_path: Path) -> None:
    dest = tmp_path / "cache" / "imported.h5"
    assert import_file(source_file, dest, sha256=PAYLOAD_SHA, what="w") == dest
    assert dest.read_bytes() == PAYLOAD
    assert leftovers(dest.parent) == []


def test_import_file_rejects_a_wrong_or_missing_file(source_file: Path, tmp_path: Path) -> None:
    dest = tmp_path / "cache" / "imported.h5"
    with pytest.raises(zooft.WeightsError):
        import_file(source_file, dest, sha256=WRONG_SHA, what="w")
    with pytest.raises(zooft.WeightsError) as info:
        import_file(tmp_path / "nope.h5", dest, sha256=None, what="w")
    assert "--from" in (info.value.hint or "")
    assert not dest.exists()


# -- archives ----------------------------------------------------------------------------------
def make_tar(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def link(name: str, target: str, *, hard: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info


def test_safe_extract_good_archive(tmp_path: Path) -> None:
    archive = make_tar(
        tmp_path / "model.tar.gz",
        [("model/saved_model.pb", b"pb"), ("model/variables/variables.index", b"idx"), link("model/latest", "saved_model.pb")],
    )
    dest = tmp_path / "cache" / "model"
    dest.mkdir(parents=True)
    (dest / "stale.txt").write_text("from an older extraction")
    assert safe_extract(archive, dest) == dest
    assert (dest / "model" / "saved_model.pb").read_bytes() == b"pb"
    assert (dest / "model" / "variables" / "variables.index").read_bytes() == b"idx"
    assert (dest / "model" / "latest").is_symlink()
    assert not (dest / "stale.txt").exists()  # replaced as a whole
    assert sorted(p.name for p in dest.parent.iterdir()) == ["model"]  # no temporary dirs left


@pytest.mark.parametrize(
    "member",
    [
        ("/etc/evil", b"x"),
        ("../evil", b"x"),
        ("model/../../evil", b"x"),
        link("model/escape", "../../outside"),
        link("model/abs", "/etc/passwd"),
        link("model/hard", "../outside", hard=True),
    ],
    ids=["absolute", "dotdot", "nested-dotdot", "symlink-out", "symlink-absolute", "hardlink-out"],
)
def test_safe_extract_rejects_escaping_members(tmp_path: Path, member: tarfile.TarInfo | tuple[str, bytes]) -> None:
    archive = make_tar(tmp_path / "evil.tar.gz", [("model/ok.txt", b"fine"), member])
    dest = tmp_path / "cache" / "model"
    with pytest.raises(zooft.WeightsError) as info:
        safe_extract(archive, dest)
    assert str(archive) in str(info.value)
    assert "not to be trusted" in (info.value.hint or "")
    assert not dest.exists()  # checked before anything was written
    assert not (tmp_path / "evil").exists() and not (tmp_path / "cache" / "evil").exists()


def test_safe_extract_rejects_device_files(tmp_path: Path) -> None:
    device = tarfile.TarInfo("model/null")
    device.type = tarfile.CHRTYPE
    archive = make_tar(tmp_path / "dev.tar.gz", [device])
    with pytest.raises(zooft.WeightsError):
        safe_extract(archive, tmp_path / "out")


def test_safe_extract_rejects_a_non_archive(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.tar.gz"
    bogus.write_bytes(b"this is not a tar file")
    with pytest.raises(zooft.WeightsError) as info:
        safe_extract(bogus, tmp_path / "out")
    assert "not a readable tar archive" in str(info.value)
