"""The embedded model's pretraining shapes (scripts/pretraining/shapes.py: numpy + Pillow only)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zooft.demo.synthetic import DEMO_CLASSIFY_CLASSES

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts" / "pretraining"))

from shapes import PRETRAIN_CLASSES, render_pretrain_image  # noqa: E402


def test_does_not_import_tensorflow() -> None:
    code = ("import sys; sys.path.insert(0, 'scripts/pretraining'); import shapes; "
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


def test_class_list() -> None:
    assert len(PRETRAIN_CLASSES) >= 12
    assert len(set(PRETRAIN_CLASSES)) == len(PRETRAIN_CLASSES)
    # Real transfer: the demo task shares no class with pretraining.
    assert not set(PRETRAIN_CLASSES) & set(DEMO_CLASSIFY_CLASSES)


@pytest.mark.parametrize("size", [32, 96])
def test_every_class(size: int) -> None:
    rng = np.random.default_rng(0)
    for ci in range(len(PRETRAIN_CLASSES)):
        img = render_pretrain_image(rng, ci, size)
        assert img.shape == (size, size, 3) and img.dtype == np.uint8
        assert img.std() > 0  # not a blank canvas


def test_deterministic_per_seed() -> None:
    a = render_pretrain_image(np.random.default_rng(123), 2)
    b = render_pretrain_image(np.random.default_rng(123), 2)
    c = render_pretrain_image(np.random.default_rng(124), 2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_bad_class_index() -> None:
    with pytest.raises(ValueError):
        render_pretrain_image(np.random.default_rng(0), len(PRETRAIN_CLASSES))
