"""Letters rendered from the TrueType fonts that Matplotlib's wheel ships, for pretraining.

Not part of the package: ``scripts/pretraining/shapes.py`` adds these classes to the pretraining
task. Each class is one letter (or symbol) drawn from one of the DejaVu, STIX and Computer Modern
fonts in ``matplotlib/mpl-data/fonts/ttf`` at a random size, position, slant, rotation (±15°)
and stroke weight. Lower-case letters whose shape is their capital's (c, o, s, u, v, w, x, z)
share the capital's class. T and t are left out: T is a class of zooft's demo set. **No digits
are drawn**: the held-out evaluation sets of the embedded model include handwritten digits, and
a letter alphabet teaches the same kind of upright stroke shapes without showing the evaluation
classes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageFont

from zooft.demo.drawing import _SS, Array, _downsample

__all__ = ["LETTER_CLASSES", "letter_mask_functions"]

_SAME_SHAPE_LOWER = set("cosuvwxz")
# T (and its lower case) is a class of zooft's demo set (``zooft demo-data classify``), which the
# embedded model must not have seen: the demo measures transfer, not recall.
_HELD_OUT = set("Tt")
_SYMBOLS = {"ampersand": "&", "at": "@", "hash": "#", "percent": "%", "question": "?"}

#: Characters of each class: upper-case letters (with their same-shaped lower case),
#: the other lower-case letters, and a few symbols.
_CLASS_CHARS: dict[str, str] = {
    **{f"letter_{c}": c + (c.lower() if c.lower() in _SAME_SHAPE_LOWER else "")
       for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in _HELD_OUT},
    **{f"letter_{c}_lower": c for c in "abdefghijklmnpqrty" if c not in _HELD_OUT},
    **{f"symbol_{name}": ch for name, ch in _SYMBOLS.items()},
}

#: Class names, in label order.
LETTER_CLASSES: tuple[str, ...] = tuple(_CLASS_CHARS)

_FONT_PREFIXES = ("DejaVuSans", "DejaVuSerif", "STIXGeneral", "cmr10", "cmss10", "cmtt10",
                  "cmb10", "cmti10")


@functools.lru_cache(maxsize=1)
def _font_files() -> tuple[Path, ...]:
    import matplotlib  # the fonts ship in its wheel; imported lazily (pretraining only)

    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    files = tuple(sorted(p for p in ttf.glob("*.ttf")
                         if p.name.startswith(_FONT_PREFIXES) and "Display" not in p.name))
    if not files:
        raise RuntimeError(f"no fonts found in {ttf}")
    return files


@functools.lru_cache(maxsize=None)
def _font(path: Path, px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), px)


@functools.lru_cache(maxsize=None)
def _renders(path: Path, ch: str) -> bool:
    """Whether ``path`` draws ``ch`` (Computer Modern fonts lack some symbols)."""
    font = _font(path, 64)
    img = Image.new("L", (128, 128), 0)
    from PIL import ImageDraw

    ImageDraw.Draw(img).text((20, 10), ch, font=font, fill=255)
    arr = np.asarray(img)
    missing = Image.new("L", (128, 128), 0)
    ImageDraw.Draw(missing).text((20, 10), "\uffff", font=font, fill=255)
    return bool(arr.any()) and not np.array_equal(arr, np.asarray(missing))


def _draw_letter(rng: np.random.Generator, size: int, chars: str) -> Array:
    from PIL import ImageDraw

    ch = chars[int(rng.integers(len(chars)))]
    fonts = [f for f in _font_files() if _renders(f, ch)]
    path = fonts[int(rng.integers(len(fonts)))]
    canvas = size * _SS
    height = rng.uniform(0.3, 0.8) * canvas  # glyph height on the canvas
    font = _font(path, max(8, int(round(height / 0.75))))
    left, top, right, bottom = font.getbbox(ch)
    w, h = max(right - left, 1), max(bottom - top, 1)
    pad = int(0.3 * max(w, h)) + 4
    tile = Image.new("L", (w + 2 * pad, h + 2 * pad), 0)
    ImageDraw.Draw(tile).text((pad - left, pad - top), ch, font=font, fill=255)
    # Stroke weight: thin (erode), as drawn, or heavy (dilate), like pens of different widths.
    weight = rng.choice(3, p=[0.2, 0.5, 0.3])
    k = 2 * int(rng.integers(1, max(2, int(0.02 * canvas)) + 1)) + 1
    if weight == 0:
        tile = tile.filter(ImageFilter.MinFilter(3))
    elif weight == 2:
        tile = tile.filter(ImageFilter.MaxFilter(k))
    shear = rng.uniform(-0.25, 0.25)
    sx, sy = rng.uniform(0.8, 1.2), rng.uniform(0.85, 1.15)
    angle = math.radians(rng.uniform(-15.0, 15.0))
    cos, sin = math.cos(angle), math.sin(angle)
    # Inverse affine map canvas → tile: rotate, shear and scale about the glyph's centre.
    a, b = cos / sx, (sin + shear * cos) / sx
    d, e = -sin / sy, cos / sy
    tw, th = tile.size
    half = 0.5 * max(tw * sx, th * sy)
    cx = rng.uniform(min(half, canvas / 2), max(canvas - half, canvas / 2))
    cy = rng.uniform(min(half, canvas / 2), max(canvas - half, canvas / 2))
    c0 = tw / 2 - a * cx - b * cy
    f0 = th / 2 - d * cx - e * cy
    mask = tile.transform((canvas, canvas), Image.AFFINE, (a, b, c0, d, e, f0),
                          resample=Image.BILINEAR)
    return _downsample(mask, size)


def letter_mask_functions() -> dict[str, Callable[[np.random.Generator, int], Array]]:
    """One mask function ``(rng, size) -> float mask in [0, 1]`` per class of LETTER_CLASSES."""
    return {name: functools.partial(_draw_letter, chars=chars)
            for name, chars in _CLASS_CHARS.items()}
