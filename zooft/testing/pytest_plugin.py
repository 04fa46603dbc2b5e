"""The pytest side of :mod:`zooft.testing`, loaded through the ``pytest11`` entry point."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from . import data, host


@pytest.fixture
def zooft_host(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Call ``zooft_host("classify", "images", "myplugin")`` for a host with only those plugins and
    a ``ZOOFT_HOME`` under the test's temporary directory; everything is restored afterwards."""
    stack: list[Any] = []

    def make(*plugins: str, objects: tuple[tuple[str, object], ...] = ()) -> Any:
        manager = host.isolated_host(plugins, objects=objects, home=tmp_path / "zooft-home")
        stack.append(manager)
        return manager.__enter__()

    yield make
    while stack:
        stack.pop().__exit__(None, None, None)


@pytest.fixture
def zooft_data(tmp_path: Path) -> Any:
    """The tiny data generators, writing under the test's temporary directory:
    ``zooft_data.image_folder()``, ``.image_csv()``, ``.coco()``, ``.text_csv()``,
    ``.text_jsonl()``, ``.text_folder()``."""

    class Data:
        def image_folder(self, **kwargs: Any) -> Path:
            return data.make_image_folder(tmp_path / "image-folder", **kwargs)

        def image_csv(self, **kwargs: Any) -> Path:
            return data.make_image_csv(tmp_path / "image-csv", **kwargs)

        def coco(self, **kwargs: Any) -> Path:
            return data.make_coco(tmp_path / "coco", **kwargs)

        def text_csv(self, **kwargs: Any) -> Path:
            return data.make_text_csv(tmp_path / "text-csv", **kwargs)

        def text_jsonl(self, **kwargs: Any) -> Path:
            return data.make_text_jsonl(tmp_path / "text-jsonl", **kwargs)

        def text_folder(self, **kwargs: Any) -> Path:
            return data.make_text_folder(tmp_path / "text-folder", **kwargs)

    return Data()
