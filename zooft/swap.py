"""Put a finished file or folder in place of an old one: the one replace that downloads,
archive extraction and exports share."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def swap_into_place(src: Path, dst: Path, aside: Path) -> None:
    """Move ``src`` to ``dst``, replacing what is there.

    An old ``dst`` (folder, file or symlink) is first renamed to ``aside``, put back if the
    second rename fails, and deleted after it succeeds: readers see the old entry or the new
    one, never a mix of both. ``aside`` must be on the same file system as ``dst`` (a sibling
    with a name that the caller's debris cleanup recognises)."""
    old = None
    if dst.exists() or dst.is_symlink():
        os.replace(dst, aside)
        old = aside
    try:
        os.replace(src, dst)
    except BaseException:
        if old is not None:
            os.replace(old, dst)
        raise
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
