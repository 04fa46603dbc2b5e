"""Drawing and compositing helpers shared by zooft's procedural image generators.

Shapes are drawn as masks on a supersampled canvas (:data:`_SS` times the output size) and
downsampled, which gives anti-aliased edges without per-primitive anti-aliasing in Pillow;
colours, noise and blur are numpy. Deterministic for a given ``numpy.random.Generator``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# Shapes are drawn on a canvas this many times larger than the output and downsampled, which gives
# anti-aliased edges without per-primitive anti-aliasing support in Pillow.
_SS = 2

Array = np.ndarray


# --------------------------------------------------------------------------------------------
# Small geometry / compositing helpers shared by both generators
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Geom:
    """Placement of one object on the supersampled canvas (pixels of the big canvas)."""

    cx: float
    cy: float
    r: float  # half-extent of the object
    angle: float  # radians
    width: float  # stroke width for outlines and pen strokes
    canvas: int  # side of the supersampled canvas


def _place(rng: np.random.Generator, canvas: int, r_range: tuple[float, float],
           angle: float | None = None) -> _Geom:
    """Random position/scale/rotation that keeps most of the object inside the canvas."""
    r = rng.uniform(*r_range) * canvas
    margin = 0.75 * r  # allow slight cropping at the border, as in real photos
    cx = rng.uniform(margin, canvas - margin)
    cy = rng.uniform(margin, canvas - margin)
    if angle is None:
        angle = rng.uniform(0.0, 2.0 * math.pi)
    # Log-uniform widths: thin pen lines are as common as thick marker strokes.
    width = math.exp(rng.uniform(math.log(0.012), math.log(0.16))) * canvas
    return _Geom(cx, cy, r, angle, max(width, 1.0), canvas)


def _transform(points: Array, g: _Geom, scale: float = 1.0) -> list[tuple[float, float]]:
    """Map unit-square points (y pointing down) to canvas coordinates: rotate, scale, shift."""
    pts = np.asarray(points, dtype=np.float64)
    c, s = math.cos(g.angle), math.sin(g.angle)
    x = pts[:, 0] * c - pts[:, 1] * s
    y = pts[:, 0] * s + pts[:, 1] * c
    return list(zip((g.cx + g.r * scale * x).tolist(), (g.cy + g.r * scale * y).tolist()))


def _stroke(draw: ImageDraw.ImageDraw, pts: list[tuple[float, float]], width: float,
            closed: bool = False) -> None:
    """Draw a pen stroke with round joints and round caps (Pillow only rounds the joints)."""
    if closed:
        pts = pts + [pts[0]]
    w = max(int(round(width)), 1)
    draw.line(pts, fill=255, width=w, joint="curve")
    if not closed and w > 2:
        for x, y in (pts[0], pts[-1]):
            draw.ellipse((x - w / 2, y - w / 2, x + w / 2, y + w / 2), fill=255)


def _new_mask(canvas: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    mask = Image.new("L", (canvas, canvas), 0)
    return mask, ImageDraw.Draw(mask)


def _downsample(mask: Image.Image, size: int) -> Array:
    """Supersampled 'L' mask → anti-aliased float mask in [0, 1] at the output size."""
    return np.asarray(mask.resize((size, size), Image.BOX), dtype=np.float32) / 255.0


def _grid(size: int) -> tuple[Array, Array]:
    """Pixel-centre coordinates in [0, 1) for numpy-rendered textures."""
    ax = (np.arange(size, dtype=np.float32) + 0.5) / size
    return np.meshgrid(ax, ax)  # (x, y)


def _smooth_noise(rng: np.random.Generator, size: int, cells: int, channels: int = 1) -> Array:
    """Band-limited noise in [0, 1]: a small random grid upsampled bicubically."""
    out = []
    for _ in range(channels):
        small = rng.random((cells, cells)).astype(np.float32)
        img = Image.fromarray(small).resize((size, size), Image.BICUBIC)
        out.append(np.asarray(img))
    arr = np.clip(np.stack(out, axis=-1), 0.0, 1.0)
    return arr[..., 0] if channels == 1 else arr


def _fractal_noise(rng: np.random.Generator, size: int, octaves: int = 5,
                   base_cells: int = 3, persistence: float = 0.55) -> Array:
    """Sum of octaves of smooth noise (pink-ish, 'natural' looking), normalised to [0, 1]."""
    total = np.zeros((size, size), dtype=np.float32)
    amp, cells = 1.0, base_cells
    for _ in range(octaves):
        total += amp * _smooth_noise(rng, size, min(cells, size))
        amp *= persistence
        cells *= 2
    total -= total.min()
    return total / max(float(total.max()), 1e-6)


def _luma(rgb: Array) -> Array | float:
    rgb = np.asarray(rgb, dtype=np.float32)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _contrasting_colour(rng: np.random.Generator, background_luma: float,
                        min_diff: float = 0.3) -> Array:
    """A random colour whose luminance differs from the background's by at least min_diff."""
    colour = rng.random(3).astype(np.float32)
    lum = float(_luma(colour))
    if abs(lum - background_luma) < min_diff:
        # Pull the colour towards white or black, whichever is farther from the background.
        target = 1.0 if background_luma < 0.5 else 0.0
        need = min_diff - (lum - background_luma if target else background_luma - lum)
        t = min(1.0, max(0.0, need / max(abs(target - lum), 1e-3)))
        colour = colour * (1 - t) + target * t
    return colour


def _composite(img: Array, mask: Array, paint: Array, alpha: float = 1.0) -> Array:
    """Alpha-blend ``paint`` (RGB colour or HxWx3 image) into ``img`` where ``mask`` is set."""
    a = (mask * alpha)[..., None]
    return img * (1.0 - a) + np.broadcast_to(paint, img.shape) * a


def _to_uint8(img: Array) -> Array:
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _gaussian_blur(img: Array, radius: float) -> Array:
    pil = Image.fromarray(_to_uint8(img))
    return np.asarray(pil.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32) / 255.0


def _regular_polygon(n: int, phase: float = 0.0) -> Array:
    """The ``n`` corners of a regular polygon on the unit circle, starting at angle ``phase``."""
    t = phase + np.arange(n) * 2 * math.pi / n
    return np.stack([np.cos(t), np.sin(t)], axis=1)
