"""Archives and folders imported into the cache (``zooft pull --from``, hub downloads): nothing
escapes the destination, nothing half-written stays, each refusal is one line."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

import zooft
import zooft.archives
from zooft.cache import import_tree, safe_extract

from .conftest import Cli, one_line_error, tree


def member(name: str, data: bytes = b"x", *, kind: bytes = tarfile.REGTYPE, link: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info, data


def make_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


SYM, HARD, DIR = tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE

HOSTILE = {
    # the chain from the report: each link alone looks harmless, together they climb out
    "link-chain": [member("sub", kind=DIR), member("l1", kind=SYM, link="sub/.."), member("l2", kind=SYM, link="l1/.."),
                   member("l2/outside/x", b"escaped")],
    "through-link-listed-first": [member("a/x", b"escaped"), member("a", kind=SYM, link="../../outside")],
    "through-inner-link": [member("sub", kind=DIR), member("in", kind=SYM, link="sub"), member("in/x", b"escaped")],
    "link-target-through-link": [member("sub", kind=DIR), member("l1", kind=SYM, link="sub"),
                                 member("l2", kind=SYM, link="l1/../..")],
    "absolute": [member("@TMP@/absolute-escaped", b"escaped")],  # @TMP@: the test's tmp_path
    "dotdot": [member("model/../../escaped", b"escaped")],
    "symlink-out": [member("model/escape", kind=SYM, link="../../outside")],
    "symlink-absolute": [member("model/abs", kind=SYM, link="/etc")],
    "hardlink-out": [member("model/hard", kind=HARD, link="../outside/secret")],
    "hardlink-to-later": [member("model/hard", kind=HARD, link="model/later"), member("model/later", b"x")],
    "device": [member("model/null", kind=tarfile.CHRTYPE)],
    "fifo": [member("model/pipe", kind=tarfile.FIFOTYPE)],
    "file-then-link": [member("model/x", b"x"), member("model/x", kind=SYM, link="../../outside")],
    "self-link": [member("model/self", kind=SYM, link="self")],
}


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder next to the cache that hostile archives aim at; it must stay untouched."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret").write_text("secret")
    return path


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_tar_is_refused_by_zoofts_own_check(case: str, tmp_path: Path, outside: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # as on Python 3.10 < 3.10.12 / 3.11 < 3.11.4: no tarfile "data" filter behind zooft's check
    monkeypatch.setattr(zooft.archives, "_TAR_FILTER", "fully_trusted")
    members = [member(info.name.replace("@TMP@", str(tmp_path)), data, kind=info.type, link=info.linkname)
               for info, data in HOSTILE[case]]
    archive = make_tar(tmp_path / "evil.tar.gz", [member("model/ok.txt", b"fine"), *members])
    cache = tmp_path / "cache" / "hub"
    cache.mkdir(parents=True)
    before = tree(tmp_path)
    with pytest.raises(zooft.WeightsError) as info:
        safe_extract(archive, cache / "module")
    assert str(archive) in str(info.value) and "\n" not in str(info.value)
    assert tree(tmp_path) == before  # nothing written anywhere: not in the cache, not outside
    assert (outside / "secret").read_text() == "secret"


def test_safe_archive_with_inner_links_unpacks(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "ok.tar.gz", [
        member("model", kind=DIR), member("model/saved_model.pb", b"pb"),
        member("model/latest", kind=SYM, link="saved_model.pb"), member("model/copy", kind=HARD, link="model/saved_model.pb"),
        member("model/up", kind=SYM, link="../model/saved_model.pb"),
    ])
    dest = safe_extract(archive, tmp_path / "cache" / "m")
    assert (dest / "model" / "latest").read_bytes() == b"pb" and (dest / "model" / "copy").read_bytes() == b"pb"
    assert (dest / "model" / "up").read_bytes() == b"pb"
    assert tree(tmp_path / "cache") == ["m", "m/model", "m/model/copy", "m/model/latest", "m/model/saved_model.pb", "m/model/up"]
    assert not os.stat(dest / "model" / "saved_model.pb").st_mode & 0o022  # nothing group/world-writable


def test_archive_above_the_size_limit_is_refused_before_unpacking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = make_tar(tmp_path / "big.tar.gz", [member("model/zeros", bytes(200_000))])
    monkeypatch.setenv("ZOOFT_MAX_ARCHIVE_GB", "0.0001")  # 100 kB
    with pytest.raises(zooft.WeightsError, match="above the 0.0001 GB limit"):
        safe_extract(archive, tmp_path / "cache" / "m")
    assert tree(tmp_path / "cache") == []


def test_debris_of_a_killed_extraction_is_removed(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    stale = cache / ".m.unpack-999999999-abcd"  # no such pid: a SIGKILLed extraction's folder
    stale.mkdir(parents=True)
    (stale / "half").write_bytes(b"x")
    live = cache / f".m.unpack-{os.getpid()}-live"  # a live process's folder is left alone
    live.mkdir()
    safe_extract(make_tar(tmp_path / "ok.tar.gz", [member("saved_model.pb", b"pb")]), cache / "m")
    assert sorted(p.name for p in cache.iterdir()) == [live.name, "m"]


def test_pull_from_a_hostile_tar_or_a_zip_is_one_line(cli: Cli, tmp_path: Path, outside: Path,
                                                      zooft_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zooft.archives, "_TAR_FILTER", "fully_trusted")
    chain = make_tar(tmp_path / "chain.tar.gz", [member("saved_model.pb", b"pb"), *HOSTILE["link-chain"]])
    status, _, err = cli("pull", "hub:efficientnet", "--from", str(chain))
    assert status == 1
    one_line_error(err, "chain.tar.gz", "passes through the link")
    with zipfile.ZipFile(tmp_path / "slip.zip", "w") as zf:  # zip slip: zips are not accepted at all
        zf.writestr("../../escaped.txt", "escaped")
        zf.writestr("saved_model.pb", "pb")
    status, _, err = cli("pull", "hub:efficientnet", "--from", str(tmp_path / "slip.zip"))
    assert status == 1
    one_line_error(err, "slip.zip", "not a readable tar archive")
    assert not list(tmp_path.rglob("escaped*")) and not list(zooft_env.rglob("escaped*"))
    assert [p for p in tree(zooft_env) if "/." in "/" + p] == []  # no hidden staging folders


# -- folders: zooft pull --from DIR -------------------------------------------------------------


def savedmodel_dir(path: Path) -> Path:
    (path / "variables").mkdir(parents=True)
    (path / "saved_model.pb").write_bytes(b"pb")
    (path / "variables" / "variables.index").write_bytes(b"idx")
    return path


def test_folder_import_never_follows_a_link_out(cli: Cli, tmp_path: Path, outside: Path, zooft_env: Path) -> None:
    src = savedmodel_dir(tmp_path / "model")
    (src / "variables" / "stolen").symlink_to(outside / "secret")
    status, _, err = cli("pull", "hub:efficientnet", "--from", str(src))
    assert status == 1
    one_line_error(err, "variables/stolen", "outside")
    assert not [p for p in zooft_env.rglob("*") if p.name == "stolen" or p.name.startswith(".")]


def test_folder_import_refuses_a_symlink_loop_without_recursion(cli: Cli, tmp_path: Path, zooft_env: Path) -> None:
    src = savedmodel_dir(tmp_path / "model")
    (src / "variables" / "loop").symlink_to("..")
    status, _, err = cli("pull", "hub:efficientnet", "--from", str(src))
    assert status == 1
    one_line_error(err, "symlink loop")
    assert [p for p in tree(zooft_env) if "/." in "/" + p] == []  # the hidden import folder is gone


def test_folder_import_refuses_special_files_and_copies_inner_links(tmp_path: Path) -> None:
    src = savedmodel_dir(tmp_path / "model")
    (src / "latest.pb").symlink_to("saved_model.pb")
    (src / "vars").symlink_to("variables")
    dest = import_tree(src, tmp_path / "cache" / "m")
    assert (dest / "latest.pb").read_bytes() == b"pb" and not (dest / "latest.pb").is_symlink()
    assert (dest / "vars" / "variables.index").read_bytes() == b"idx"
    os.mkfifo(src / "variables" / "pipe")
    with pytest.raises(zooft.WeightsError, match="not a regular file"):
        import_tree(src, tmp_path / "cache" / "m2")
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["m"]


def test_deep_folder_imports_without_recursion(tmp_path: Path) -> None:
    src = tmp_path / "deep"
    path = src
    for _ in range(60):  # deeper than an os.walk-free recursive copy would like, cheap to build
        path = path / "d"
    path.mkdir(parents=True)
    (path / "f").write_bytes(b"x")
    dest = import_tree(src, tmp_path / "cache" / "deep")
    assert (dest / Path(*["d"] * 60) / "f").read_bytes() == b"x"


def test_weights_import_from_a_fifo_or_folder_is_refused_unread(tmp_path: Path, cli: Cli) -> None:
    from .conftest import zooft_subprocess

    fifo = tmp_path / "weights.h5"
    os.mkfifo(fifo)  # hashing it before the check would block forever: a subprocess with a timeout
    proc = zooft_subprocess("pull", "keras:mobilenet_v2", "--from", str(fifo),
                            env={"ZOOFT_HOME": str(tmp_path / "home")}, timeout=60)
    assert proc.returncode == 1
    one_line_error(proc.stderr, "weights.h5", "named pipe")
    status, _, err = cli("pull", "keras:mobilenet_v2", "--from", str(tmp_path))
    assert status == 1
    one_line_error(err, "a directory, not a regular file")
    assert not [p for p in tree(tmp_path / "home") if p.endswith(".part")]
