"""The demo classification set (numpy + Pillow only, no TensorFlow).

:func:`render_demo_image` and :func:`write_classify_demo` draw :data:`DEMO_CLASSIFY_CLASSES`
on photo-like backgrounds. Classes and backgrounds are deliberately *different* from the
pretraining ones (``scripts/pretraining/shapes.py``), so that the demo fine-tune is a real
transfer. Every image is a function of the ``numpy.random.Generator`` passed in, so a seed
reproduces a data set exactly (Pillow's drawing and filters are deterministic).
"""

from __future__ import annotations

import math
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from .drawing import (
    _SS,
    Array,
    _composite,
    _contrasting_colour,
    _downsample,
    _fractal_noise,
    _gaussian_blur,
    _grid,
    _luma,
    _new_mask,
    _place,
    _regular_polygon,
    _smooth_noise,
    _to_uint8,
    _transform,
)

__all__ = [
    "DEMO_CLASSIFY_CLASSES",
    "render_demo_image",
    "write_classify_demo",
]

# --------------------------------------------------------------------------------------------
# Demo classification set: other classes, other (photo-like) backgrounds
# --------------------------------------------------------------------------------------------


def _arrow(up: bool) -> Callable[[np.random.Generator], Array]:
    def points(rng: np.random.Generator) -> Array:
        t, h, hl = rng.uniform(0.18, 0.32), rng.uniform(0.6, 0.95), rng.uniform(0.6, 0.95)
        pts = np.array([[0, -1], [h, -1 + hl], [t, -1 + hl], [t, 1], [-t, 1], [-t, -1 + hl],
                        [-h, -1 + hl]], dtype=np.float64)
        return pts if up else pts * [1, -1]
    return points


def _heart_points(rng: np.random.Generator) -> Array:
    t = np.linspace(0, 2 * math.pi, 120, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return np.stack([x, y + 2.5], axis=1) / 16.5 * [rng.uniform(0.85, 1.1), 1.0]


def _house_parts(rng: np.random.Generator) -> list[tuple[Array, int]]:
    roof = rng.uniform(0.75, 1.0)
    parts = [(np.array([[-0.7, -0.05], [0.7, -0.05], [0.7, 0.95], [-0.7, 0.95]]), 255),
             (np.array([[-roof, 0.0], [0.0, -0.95], [roof, 0.0]]), 255)]
    if rng.random() < 0.5:  # chimney
        parts.append((np.array([[0.35, -0.75], [0.55, -0.75], [0.55, -0.2], [0.35, -0.2]]), 255))
    if rng.random() < 0.7:  # door, cut out of the body
        parts.append((np.array([[-0.15, 0.4], [0.15, 0.4], [0.15, 0.95], [-0.15, 0.95]]), 0))
    return parts


def _letter_t_parts(rng: np.random.Generator) -> list[tuple[Array, int]]:
    bar, stem = rng.uniform(0.2, 0.38), rng.uniform(0.14, 0.26)
    return [(np.array([[-0.85, -0.9], [0.85, -0.9], [0.85, -0.9 + bar], [-0.85, -0.9 + bar]]), 255),
            (np.array([[-stem, -0.9], [stem, -0.9], [stem, 0.95], [-stem, 0.95]]), 255)]


def _demo_mask(rng: np.random.Generator, name: str, size: int) -> Array:
    """Supersampled, anti-aliased mask of one demo object (upright ±20°, except the moon)."""
    canvas = size * _SS
    angle = rng.uniform(0, 2 * math.pi) if name == "moon" else rng.uniform(-0.35, 0.35)
    g = _place(rng, canvas, (0.24, 0.4), angle)
    mask, draw = _new_mask(canvas)
    if name == "moon":
        # A crescent: a disc minus an offset disc.
        draw.polygon(_transform(_regular_polygon(96), g), fill=255)
        off = rng.uniform(0.35, 0.65)
        draw.polygon(_transform(_regular_polygon(96) * rng.uniform(0.85, 1.0) + [off, 0], g),
                     fill=0)
    elif name in ("house", "letter_T"):
        parts = _house_parts(rng) if name == "house" else _letter_t_parts(rng)
        for pts, fill in parts:
            draw.polygon(_transform(pts, g), fill=fill)
    else:
        draw.polygon(_transform(_DEMO_POLYGONS[name](rng), g), fill=255)
    return _downsample(mask, size)


_DEMO_POLYGONS: dict[str, Callable[[np.random.Generator], Array]] = {
    "arrow_up": _arrow(up=True),
    "arrow_down": _arrow(up=False),
    "heart": _heart_points,
}

#: Class names of the demo classification data set (none of them is a pretraining class).
DEMO_CLASSIFY_CLASSES: tuple[str, ...] = ("arrow_up", "arrow_down", "heart", "moon", "house",
                                          "letter_T")


def _palette(rng: np.random.Generator, t: Array, n: int = 3) -> Array:
    """Map a scalar field in [0, 1] through a random piecewise-linear colour palette."""
    stops = rng.random((n, 3)).astype(np.float32)
    pos = t * (n - 1)
    i = np.clip(np.floor(pos).astype(int), 0, n - 2)
    f = (pos - i)[..., None]
    return stops[i] * (1 - f) + stops[i + 1] * f


def _demo_background(rng: np.random.Generator, size: int) -> Array:
    """Photo-like textured backgrounds made from noise: terrain, wood/marble, landscape, bokeh."""
    kind = rng.choice(["terrain", "grain", "landscape", "bokeh"])
    x, y = _grid(size)
    if kind == "terrain":
        return _palette(rng, _fractal_noise(rng, size), n=int(rng.integers(2, 5)))
    if kind == "grain":
        turb = _fractal_noise(rng, size, octaves=4)
        a = rng.uniform(0, math.pi)
        freq = rng.uniform(4, 14)
        field = np.sin(2 * math.pi * freq * ((x * math.cos(a) + y * math.sin(a)) +
                                              rng.uniform(0.1, 0.4) * turb))
        return _palette(rng, 0.5 + 0.5 * field, n=2)
    if kind == "landscape":
        horizon = rng.uniform(0.3, 0.7) + 0.08 * (_smooth_noise(rng, size, 4)[0] - 0.5)
        sky = _palette(rng, np.clip(y / horizon[None, :], 0, 1), n=2)
        ground = _palette(rng, _fractal_noise(rng, size), n=3) * 0.8
        return np.where((y > horizon[None, :])[..., None], ground, sky)
    img = _palette(rng, y, n=2) * rng.uniform(0.3, 0.8)
    for _ in range(int(rng.integers(8, 25))):
        cx, cy = rng.uniform(0, 1, 2)
        rad = rng.uniform(0.03, 0.15)
        disc = np.clip((rad - np.hypot(x - cx, y - cy)) * size * 0.5, 0, 1)
        img = _composite(img, disc, rng.random(3).astype(np.float32), rng.uniform(0.2, 0.6))
    return _gaussian_blur(img, rng.uniform(1.0, 3.0) * size / 96)


def render_demo_image(rng: np.random.Generator, class_index: int, size: int = 96) -> Array:
    """Render one image of ``DEMO_CLASSIFY_CLASSES[class_index]`` on a photo-like background.

    The object gets a shading gradient, a soft drop shadow and sometimes an outline; the image
    then gets mild blur, sensor noise and a global brightness/contrast change.

    Returns:
        An ``(size, size, 3)`` ``uint8`` RGB array.
    """
    if not 0 <= class_index < len(DEMO_CLASSIFY_CLASSES):
        raise ValueError(
            f"class_index must be in [0, {len(DEMO_CLASSIFY_CLASSES)}), got {class_index}")
    img = _demo_background(rng, size)
    mask = _demo_mask(rng, DEMO_CLASSIFY_CLASSES[class_index], size)
    # Drop shadow: the mask shifted and blurred, darkening the background.
    shift = rng.integers(1, max(2, size // 24) + 1, 2)
    shadow = np.roll(mask, tuple(int(s) for s in shift), axis=(0, 1))
    shadow = np.asarray(Image.fromarray(_to_uint8(shadow)).filter(
        ImageFilter.GaussianBlur(size / 48)), dtype=np.float32) / 255.0
    img = img * (1 - 0.45 * shadow[..., None])
    bg_luma = float(_luma(img[mask > 0.5]).mean()) if (mask > 0.5).any() else 0.5
    colour = _contrasting_colour(rng, bg_luma, min_diff=rng.uniform(0.2, 0.4))
    x, y = _grid(size)
    shade = np.clip(colour + (0.5 - y[..., None]) * rng.uniform(0.1, 0.5), 0, 1)  # lit from above
    if rng.random() < 0.3:
        grown = Image.fromarray(_to_uint8(mask)).filter(ImageFilter.MaxFilter(3))
        outline = np.asarray(grown, dtype=np.float32) / 255.0
        img = _composite(img, outline, 1.0 - colour)
    img = _composite(img, mask, shade)
    if rng.random() < 0.5:
        img = _gaussian_blur(img, rng.uniform(0.3, 1.2) * size / 96)
    img = img + rng.normal(0, rng.uniform(0.0, 0.05), img.shape).astype(np.float32)
    img = (img - 0.5) * rng.uniform(0.8, 1.2) + 0.5 + rng.uniform(-0.1, 0.1)
    return _to_uint8(img)


# --------------------------------------------------------------------------------------------
# Writing the demo data set to disk
# --------------------------------------------------------------------------------------------

_SPLITS = ("train", "val", "test")


def _split_sizes(n: int) -> dict[str, int]:
    """70/15/15 split of n images per class (val and test rounded, train takes the rest)."""
    n_val = int(round(0.15 * n))
    n_test = int(round(0.15 * n))
    return {"train": n - n_val - n_test, "val": n_val, "test": n_test}


def _check_target(out: Path) -> None:
    if out.exists():
        if not out.is_dir():
            raise FileExistsError(f"{out} exists and is not a directory; choose another path")
        if any(out.iterdir()):
            raise FileExistsError(
                f"{out} already exists and is not empty; refusing to overwrite it. "
                "Delete it or choose another output directory.")


def write_classify_demo(out_dir: str | os.PathLike, *, images_per_class: int = 60,
                        size: int = 96, seed: int = 0, splits: bool = False) -> dict:
    """Write the demo image-classification data set as PNG files, one folder per class.

    Layout: ``out_dir/<class>/<class>_0000.png`` or, with ``splits=True``,
    ``out_dir/{train,val,test}/<class>/<class>_0000.png`` (70/15/15 per class; file numbers are
    unique across splits). The set is written to a temporary sibling directory that is renamed
    into place at the end, so an interrupted run never leaves a half-written data set behind.

    Args:
        out_dir: destination; must not exist or be an empty directory.
        images_per_class: number of images per class (over all splits).
        size: side of the square images in pixels.
        seed: the data set is a deterministic function of (seed, images_per_class, size).
        splits: write train/val/test sub-folders instead of a single folder per class.

    Returns:
        ``{"path": str, "classes": [...], "counts": {split_or_"all": {class: n}}}``.

    Raises:
        FileExistsError: if ``out_dir`` exists and is not an empty directory.
        ValueError: on a non-positive ``images_per_class`` or ``size``.
    """
    if images_per_class < 1 or size < 8:
        raise ValueError("images_per_class must be >= 1 and size >= 8")
    out = Path(out_dir).absolute()
    _check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        counts = _write_images(tmp, images_per_class, size, seed, splits)
        _check_target(out)  # someone may have created it while we were rendering
        if out.exists():
            out.rmdir()  # empty: replace it (os.replace onto a directory is not portable)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"path": str(out), "classes": list(DEMO_CLASSIFY_CLASSES), "counts": counts}


def _write_images(root: Path, n: int, size: int, seed: int,
                  splits: bool) -> dict[str, dict[str, int]]:
    sizes = _split_sizes(n) if splits else {"all": n}
    counts: dict[str, dict[str, int]] = {split: {} for split in sizes}
    for ci, name in enumerate(DEMO_CLASSIFY_CLASSES):
        index = 0
        for split, count in sizes.items():
            folder = root / name if split == "all" else root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for _ in range(count):
                # One generator per image: any image can be regenerated on its own.
                rng = np.random.default_rng([seed, ci, index])
                Image.fromarray(render_demo_image(rng, ci, size)).save(
                    folder / f"{name}_{index:04d}.png")
                index += 1
            counts[split][name] = count
    return counts
