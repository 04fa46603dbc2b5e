"""Procedural shapes for pretraining zooft's embedded backbone (numpy + Pillow, no TensorFlow; the
letter classes of ``letters.py`` read the fonts in Matplotlib's wheel).

Not part of the package: only ``scripts/pretrain_embedded.py`` uses it (it reuses the drawing
primitives of :mod:`zooft.demo.drawing`, which the demo data sets also use).

:func:`render_pretrain_image` draws one of :data:`PRETRAIN_CLASSES` (geometric shapes,
outlines, textures, pen-like strokes, an invented alphabet of glyphs and font letters) on cluttered synthetic
backgrounds; ``scripts/pretrain_embedded.py`` trained ``keras:mobilenet_v2_035_shapes96`` on it.
Changing what it draws changes that model's training data: its registry sha256 pins the weights,
not this generator, but the model card in ``docs/models/`` describes this version.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

from letters import LETTER_CLASSES, letter_mask_functions  # noqa: E402  (sibling script module)
from zooft.demo.drawing import (
    _SS,
    Array,
    _composite,
    _contrasting_colour,
    _downsample,
    _gaussian_blur,
    _grid,
    _luma,
    _new_mask,
    _place,
    _regular_polygon,
    _smooth_noise,
    _stroke,
    _to_uint8,
    _transform,
)

__all__ = ["PRETRAIN_CLASSES", "PRETRAIN_UPRIGHT_CLASSES", "render_pretrain_image"]

# --------------------------------------------------------------------------------------------
# Pretraining primitives: one function per class, each returning a float mask in [0, 1]
# --------------------------------------------------------------------------------------------

_ShapeFn = Callable[[np.random.Generator, int], Array]


def _filled_or_outlined(rng: np.random.Generator, size: int, unit_pts: Array,
                        angle: float | None = None, p_outline: float = 0.35) -> Array:
    canvas = size * _SS
    g = _place(rng, canvas, (0.16, 0.38), angle)
    mask, draw = _new_mask(canvas)
    pts = _transform(unit_pts, g)
    if rng.random() < p_outline:
        _stroke(draw, pts, min(g.width, 0.35 * g.r), closed=True)
    else:
        draw.polygon(pts, fill=255)
    return _downsample(mask, size)


def _circle(rng: np.random.Generator, size: int, outline: bool) -> Array:
    canvas = size * _SS
    g = _place(rng, canvas, (0.12, 0.38))
    mask, draw = _new_mask(canvas)
    # Slightly elliptical: hand-made circles and perspective are never perfect.
    rx, ry = g.r, g.r * rng.uniform(0.8, 1.0)
    pts = _transform(_regular_polygon(96) * np.array([rx / g.r, ry / g.r]), g)
    if outline:
        _stroke(draw, pts, min(g.width, 0.3 * g.r), closed=True)
    else:
        draw.polygon(pts, fill=255)
    return _downsample(mask, size)


def _square(rng: np.random.Generator, size: int, outline: bool) -> Array:
    canvas = size * _SS
    g = _place(rng, canvas, (0.14, 0.36))
    mask, draw = _new_mask(canvas)
    aspect = rng.uniform(0.75, 1.0)  # near-square rectangles
    pts = _transform(np.array([[-1, -aspect], [1, -aspect], [1, aspect], [-1, aspect]]), g)
    if outline:
        _stroke(draw, pts, min(g.width, 0.3 * g.r), closed=True)
    else:
        draw.polygon(pts, fill=255)
    return _downsample(mask, size)


def _triangle(rng: np.random.Generator, size: int) -> Array:
    # Random (not only equilateral) triangles: three angles jittered around 120° apart.
    t = np.arange(3) * 2 * math.pi / 3 + rng.uniform(-0.35, 0.35, 3)
    return _filled_or_outlined(rng, size, np.stack([np.cos(t), np.sin(t)], axis=1))


def _star(rng: np.random.Generator, size: int) -> Array:
    n = int(rng.integers(5, 8))
    inner = rng.uniform(0.35, 0.55)
    t = np.arange(2 * n) * math.pi / n
    rad = np.where(np.arange(2 * n) % 2 == 0, 1.0, inner)
    return _filled_or_outlined(rng, size, np.stack([rad * np.cos(t), rad * np.sin(t)], axis=1))


def _hexagon(rng: np.random.Generator, size: int) -> Array:
    return _filled_or_outlined(rng, size, _regular_polygon(6))


def _plus_points(t: float) -> Array:
    return np.array([[-t, -1], [t, -1], [t, -t], [1, -t], [1, t], [t, t], [t, 1], [-t, 1],
                     [-t, t], [-1, t], [-1, -t], [-t, -t]])


def _plus(rng: np.random.Generator, size: int) -> Array:
    # Rotation limited to ±15° so that 'plus' and 'x_cross' stay different classes.
    angle = rng.uniform(-0.26, 0.26)
    return _filled_or_outlined(rng, size, _plus_points(rng.uniform(0.12, 0.35)), angle)


def _x_cross(rng: np.random.Generator, size: int) -> Array:
    angle = math.pi / 4 + rng.uniform(-0.26, 0.26)
    return _filled_or_outlined(rng, size, _plus_points(rng.uniform(0.12, 0.35)), angle)


def _concentric_rings(rng: np.random.Generator, size: int) -> Array:
    canvas = size * _SS
    g = _place(rng, canvas, (0.2, 0.42))
    mask, draw = _new_mask(canvas)
    n = int(rng.integers(2, 5))
    width = min(g.width, g.r / (2.2 * n))
    for k in range(n):
        rr = g.r * (k + 1) / n
        draw.ellipse((g.cx - rr, g.cy - rr, g.cx + rr, g.cy + rr), outline=255,
                     width=max(int(width), 1))
    if rng.random() < 0.4:  # bull's-eye centre
        rr = g.r / (2 * n)
        draw.ellipse((g.cx - rr, g.cy - rr, g.cx + rr, g.cy + rr), fill=255)
    return _downsample(mask, size)


def _region_mask(rng: np.random.Generator, size: int) -> Array:
    """Where a texture is visible: a large rotated rectangle, an ellipse or the whole frame."""
    canvas = size * _SS
    kind = rng.integers(3)
    if kind == 2:
        return np.ones((size, size), dtype=np.float32)
    g = _place(rng, canvas, (0.3, 0.5))
    mask, draw = _new_mask(canvas)
    if kind == 0:
        a = rng.uniform(0.6, 1.0)
        draw.polygon(_transform(np.array([[-1, -a], [1, -a], [1, a], [-1, a]]), g), fill=255)
    else:
        draw.polygon(_transform(_regular_polygon(64) * [1.0, rng.uniform(0.6, 1.0)], g),
                     fill=255)
    return _downsample(mask, size)


def _rotated_coords(rng: np.random.Generator, size: int,
                    min_period: float = 0.05) -> tuple[Array, Array, float]:
    x, y = _grid(size)
    a = rng.uniform(0, math.pi)
    period = math.exp(rng.uniform(math.log(min_period), math.log(0.22)))
    u = (x * math.cos(a) + y * math.sin(a)) / period
    v = (-x * math.sin(a) + y * math.cos(a)) / period
    return u, v, period * size  # period in output pixels


def _soft_step(z: Array, px: float) -> Array:
    """Anti-aliased threshold at 0 of a signed value z whose unit is ``px`` output pixels."""
    return np.clip(0.5 + z * px, 0.0, 1.0)


def _stripes(rng: np.random.Generator, size: int) -> Array:
    u, _, px = _rotated_coords(rng, size)
    duty = rng.uniform(0.25, 0.6)
    frac = u - np.floor(u)
    return _region_mask(rng, size) * _soft_step(duty - frac, px)


def _checkerboard(rng: np.random.Generator, size: int) -> Array:
    u, v, px = _rotated_coords(rng, size)
    fu, fv = u - np.floor(u), v - np.floor(v)
    a, b = _soft_step(0.5 - fu, px), _soft_step(0.5 - fv, px)
    checker = a * b + (1 - a) * (1 - b)
    return _region_mask(rng, size) * checker


def _dots(rng: np.random.Generator, size: int) -> Array:
    u, v, px = _rotated_coords(rng, size)
    du, dv = u - np.floor(u) - 0.5, v - np.floor(v) - 0.5
    radius = rng.uniform(0.15, 0.4)
    return _region_mask(rng, size) * _soft_step(radius - np.sqrt(du ** 2 + dv ** 2), px)


def _grid_lines(rng: np.random.Generator, size: int) -> Array:
    u, v, px = _rotated_coords(rng, size, min_period=0.09)  # finer grids blur into flat grey
    half = rng.uniform(0.05, 0.15)
    du = np.abs(u - np.round(u))
    dv = np.abs(v - np.round(v))
    return _region_mask(rng, size) * _soft_step(half - np.minimum(du, dv), px)


def _blobs(rng: np.random.Generator, size: int) -> Array:
    cells = int(rng.integers(4, 9))
    noise = _smooth_noise(rng, size, cells)
    thr = rng.uniform(0.55, 0.7)
    return _region_mask(rng, size) * np.clip((noise - thr) * 25.0, 0.0, 1.0)


def _fit_unit(pts: Array) -> Array:
    """Centre a point set and scale it so that it just fits in [-1, 1]²."""
    pts = pts - (pts.max(axis=0) + pts.min(axis=0)) / 2
    return pts / max(float(np.abs(pts).max()), 1e-6)


def _pen(rng: np.random.Generator, size: int, unit_pts: Array, closed: bool = False,
         r_range: tuple[float, float] = (0.2, 0.42), max_width: float = 0.3) -> Array:
    """Draw a pen stroke through unit-coordinate points at a random placement and width."""
    unit_pts = _fit_unit(unit_pts)
    canvas = size * _SS
    g = _place(rng, canvas, r_range)
    mask, draw = _new_mask(canvas)
    _stroke(draw, _transform(unit_pts, g), min(g.width, max_width * g.r), closed=closed)
    return _downsample(mask, size)


def _spiral(rng: np.random.Generator, size: int) -> Array:
    turns = rng.uniform(1.5, 3.5)
    t = np.linspace(0, turns * 2 * math.pi, 240)
    rad = (t / t[-1]) ** rng.uniform(0.8, 1.2)
    sign = 1 if rng.random() < 0.5 else -1
    pts = np.stack([rad * np.cos(sign * t), rad * np.sin(sign * t)], axis=1)
    return _pen(rng, size, pts, max_width=0.12 / turns * 2)


def _scribble(rng: np.random.Generator, size: int) -> Array:
    # A jittery random walk with momentum, reflected to stay inside the unit disc.
    n = int(rng.integers(25, 60))
    heading = rng.uniform(0, 2 * math.pi)
    p = rng.uniform(-0.3, 0.3, 2)
    pts = [p.copy()]
    for _ in range(n):
        heading += rng.normal(0, 0.9)
        p = p + 0.18 * np.array([math.cos(heading), math.sin(heading)])
        if np.hypot(*p) > 1.0:
            heading += math.pi
            p = p / np.hypot(*p)
        pts.append(p.copy())
    return _pen(rng, size, np.array(pts), max_width=0.15)


def _arc(rng: np.random.Generator, size: int) -> Array:
    # An open circular/elliptical arc (a 'C'), the round part of many letters and digits.
    span = rng.uniform(0.8, 1.7) * math.pi
    t = np.linspace(0, span, 80)
    pts = np.stack([np.cos(t), rng.uniform(0.6, 1.0) * np.sin(t)], axis=1)
    return _pen(rng, size, pts)


def _s_curve(rng: np.random.Generator, size: int) -> Array:
    # A smooth stroke with one inflection (an 'S' or a tilde), stretched at random.
    t = np.linspace(-1, 1, 80)
    pts = np.stack([t * rng.uniform(0.4, 1.0), np.sin(t * math.pi * rng.uniform(0.8, 1.2))],
                   axis=1)
    return _pen(rng, size, pts)


def _line(rng: np.random.Generator, size: int) -> Array:
    # One straight stroke: the commonest primitive of all.
    return _pen(rng, size, np.array([[-1.0, 0.0], [1.0, 0.0]]), max_width=0.45)


def _corner(rng: np.random.Generator, size: int) -> Array:
    # Two strokes meeting at an end point ('L', 'V'): a stroke corner.
    a = rng.uniform(0.7, 2.4)  # opening angle in radians
    l1, l2 = rng.uniform(0.6, 1.0, 2)
    pts = np.array([[l1, 0.0], [0.0, 0.0], [l2 * math.cos(a), l2 * math.sin(a)]])
    return _pen(rng, size, pts)


def _fork(rng: np.random.Generator, size: int) -> Array:
    # Three strokes meeting at one point ('Y', 'λ'): a stroke junction. Rays are 90-150° apart,
    # so no two of them line up (that would be a 'T', which is a demo class).
    angles = np.array([0.0, 2 * math.pi / 3, 4 * math.pi / 3]) + rng.uniform(-0.5, 0.5, 3)
    lengths = rng.uniform(0.5, 1.0, 3)
    canvas = size * _SS
    g = _place(rng, canvas, (0.2, 0.42))
    mask, draw = _new_mask(canvas)
    width = min(g.width, 0.3 * g.r)
    for a, ln in zip(angles, lengths):
        _stroke(draw, _transform(np.array([[0.0, 0.0], [ln * math.cos(a), ln * math.sin(a)]]), g),
                width)
    return _downsample(mask, size)


def _dashed_line(rng: np.random.Generator, size: int) -> Array:
    # Dashes or dots along a straight or gently curved path.
    canvas = size * _SS
    g = _place(rng, canvas, (0.25, 0.45))
    mask, draw = _new_mask(canvas)
    n = int(rng.integers(4, 9))
    bend = rng.uniform(-0.5, 0.5)
    t = np.linspace(-1, 1, 2 * n)
    pts = np.stack([t, bend * (1 - t ** 2)], axis=1)
    width = min(g.width, 0.12 * g.r)
    for k in range(n):
        _stroke(draw, _transform(pts[2 * k:2 * k + 2], g), width)
    return _downsample(mask, size)


def _loop(rng: np.random.Generator, size: int) -> Array:
    # A closed smooth stroke (like a hand-drawn 0 or o): low-order Fourier radius wobble.
    t = np.linspace(0, 2 * math.pi, 120, endpoint=False)
    rad = np.ones_like(t)
    for k in (2, 3, 4):
        rad += rng.uniform(0, 0.12) * np.cos(k * t + rng.uniform(0, 2 * math.pi))
    sx, sy = 1.0, rng.uniform(0.45, 1.0)
    pts = np.stack([sx * rad * np.cos(t), sy * rad * np.sin(t)], axis=1)
    return _pen(rng, size, pts / rad.max(), closed=True)


def _line_segments(rng: np.random.Generator, size: int) -> Array:
    canvas = size * _SS
    g = _place(rng, canvas, (0.25, 0.45))
    mask, draw = _new_mask(canvas)
    for _ in range(int(rng.integers(3, 6))):
        ends = rng.uniform(-1, 1, (2, 2))
        ends[1] = ends[0] + (ends[1] - ends[0]) / max(np.hypot(*(ends[1] - ends[0])), 1e-3) * \
            rng.uniform(1.0, 2.0)
        width = max(g.width * rng.uniform(0.3, 1.0), 1.0)
        _stroke(draw, _transform(ends, g), min(width, 0.15 * g.r))
    return _downsample(mask, size)


def _zigzag(rng: np.random.Generator, size: int) -> Array:
    teeth = int(rng.integers(3, 8))
    amp = rng.uniform(0.2, 0.5)
    x = np.linspace(-1, 1, 2 * teeth + 1)
    y = np.where(np.arange(len(x)) % 2 == 0, -amp, amp)
    if rng.random() < 0.3:  # smooth wave instead of sharp teeth
        x = np.linspace(-1, 1, 100)
        y = amp * np.sin((x + 1) * teeth * math.pi)
    return _pen(rng, size, np.stack([x, y], axis=1), max_width=0.6 / teeth)


# Glyphs: an invented alphabet of upright pen-stroke symbols (like an unknown script). Each class
# is a fixed template of one to three strokes; images jitter the strokes and the pen. They teach
# stroke *configurations* and their orientation, which the rotation-invariant primitives cannot.
# 150, not 24: at the same 22-minute budget the larger alphabet lifted the held-out linear probes
# by 1.1 (digits) and 4.0 (textures) points (BENCHMARKS.md, "Third attempt"); 300 was worse on
# both probes and in the textures fine-tune ("Fourth attempt").
_N_GLYPHS = 150
_GLYPH_SEED = 7919  # fixed: the alphabet is part of the class definitions, not of a data seed


def _glyph_stroke(rng: np.random.Generator, start: Array | None) -> Array:
    """One random stroke (line, arc or bent hook) in unit coordinates, optionally from start."""
    p0 = start if start is not None else rng.uniform(-1, 1, 2)
    kind = rng.integers(3)
    if kind == 0:
        return np.stack([p0, rng.uniform(-1, 1, 2)])
    if kind == 1:
        rad = rng.uniform(0.3, 0.8)
        a0 = rng.uniform(0, 2 * math.pi)
        t = a0 + np.linspace(0, rng.choice([-1, 1]) * rng.uniform(0.5, 1.8) * math.pi, 40)
        centre = p0 - rad * np.array([math.cos(a0), math.sin(a0)])
        return centre + rad * np.stack([np.cos(t), np.sin(t)], axis=1)
    mid, end = rng.uniform(-1, 1, 2), rng.uniform(-1, 1, 2)
    t = np.linspace(0, 1, 30)[:, None]
    return (1 - t) ** 2 * p0 + 2 * t * (1 - t) * mid + t ** 2 * end  # quadratic Bézier


def _raster(strokes: list[Array], n: int = 16) -> Array:
    """Coarse binary raster of a stroke set, used to keep the glyphs of the alphabet distinct."""
    img = Image.new("L", (n, n), 0)
    draw = ImageDraw.Draw(img)
    allpts = _fit_unit(np.concatenate(strokes))
    k = 0
    for st in strokes:
        pts = (allpts[k:k + len(st)] + 1) * (n - 1) / 2
        draw.line([tuple(p) for p in pts], fill=255, width=2)
        k += len(st)
    return np.asarray(img) > 0


@functools.lru_cache(maxsize=None)
def _glyph_alphabet() -> tuple[tuple[Array, ...], ...]:
    """The fixed alphabet: random stroke templates, each overlapping every other one < 55 %."""
    rng = np.random.default_rng(_GLYPH_SEED)
    glyphs: list[tuple[Array, ...]] = []
    rasters: list[Array] = []
    while len(glyphs) < _N_GLYPHS:
        strokes: list[Array] = []
        # Two or three strokes (one stroke would just be a 'line' or an 'arc').
        while len(strokes) < int(rng.choice([2, 2, 3])):
            # Mostly connected strokes, starting on a point of an earlier stroke, as in writing.
            start = None
            if strokes and rng.random() < 0.7:
                prev = strokes[int(rng.integers(len(strokes)))]
                start = prev[int(rng.integers(len(prev)))]
            stroke = _glyph_stroke(rng, start)
            if np.hypot(*np.diff(stroke, axis=0).T).sum() > 0.7:  # no dots or ticks
                strokes.append(stroke)
        ink = _raster(strokes)
        if all((ink & r).sum() / max((ink | r).sum(), 1) < 0.55 for r in rasters):
            glyphs.append(tuple(strokes))
            rasters.append(ink)
    return tuple(glyphs)


def _glyph(index: int) -> _ShapeFn:
    def draw_glyph(rng: np.random.Generator, size: int) -> Array:
        strokes = _glyph_alphabet()[index]
        # Handwriting variation: per-stroke shifts and sizes, and a global shear/aspect.
        shear, aspect = rng.uniform(-0.25, 0.25), rng.uniform(0.75, 1.25)
        jittered = [(st - st.mean(0)) * rng.uniform(0.85, 1.15) + st.mean(0) + rng.normal(0, 0.06, 2)
                    for st in strokes]
        pts = np.concatenate(jittered) @ np.array([[aspect, 0.0], [shear, 1.0]])
        pts = _fit_unit(pts)
        canvas = size * _SS
        g = _place(rng, canvas, (0.22, 0.42), angle=rng.uniform(-0.2, 0.2))
        mask, draw = _new_mask(canvas)
        k = 0
        for st in jittered:
            _stroke(draw, _transform(pts[k:k + len(st)], g), min(g.width, 0.22 * g.r))
            k += len(st)
        return _downsample(mask, size)
    return draw_glyph


_PRETRAIN_SHAPES: dict[str, _ShapeFn] = {
    "circle": lambda rng, s: _circle(rng, s, outline=False),
    "circle_outline": lambda rng, s: _circle(rng, s, outline=True),
    "square": lambda rng, s: _square(rng, s, outline=False),
    "square_outline": lambda rng, s: _square(rng, s, outline=True),
    "triangle": _triangle,
    "star": _star,
    "hexagon": _hexagon,
    "plus": _plus,
    "x_cross": _x_cross,
    "concentric_rings": _concentric_rings,
    "stripes": _stripes,
    "checkerboard": _checkerboard,
    "dots": _dots,
    "grid": _grid_lines,
    "blobs": _blobs,
    "spiral": _spiral,
    "scribble": _scribble,
    "arc": _arc,
    "s_curve": _s_curve,
    "loop": _loop,
    "line": _line,
    "corner": _corner,
    "fork": _fork,
    "line_segments": _line_segments,
    "dashed_line": _dashed_line,
    "zigzag": _zigzag,
    **{f"glyph_{i:02d}": _glyph(i) for i in range(_N_GLYPHS)},
    **letter_mask_functions(),
}

#: Class names of the pretraining task, in label order.
PRETRAIN_CLASSES: tuple[str, ...] = tuple(_PRETRAIN_SHAPES)

#: Pretraining classes drawn upright (±12°): rotating or mirroring their images changes the class.
#: All the other classes are invariant to 90° rotations and mirroring.
PRETRAIN_UPRIGHT_CLASSES: frozenset[str] = frozenset(
    name for name in PRETRAIN_CLASSES if name.startswith("glyph_") or name in LETTER_CLASSES)


# --------------------------------------------------------------------------------------------
# Pretraining backgrounds, appearance and degradations
# --------------------------------------------------------------------------------------------


def _pretrain_background(rng: np.random.Generator, size: int) -> Array:
    """Uniform, gradient, smooth-noise or white-noise backgrounds (float RGB in [0, 1])."""
    kind = rng.choice(["dark", "uniform", "linear", "radial", "smooth", "noise"],
                      p=[0.15, 0.15, 0.2, 0.15, 0.25, 0.1])
    c1, c2 = rng.random(3).astype(np.float32), rng.random(3).astype(np.float32)
    if kind == "dark":  # like scanned digits / night shots: near-black
        return np.full((size, size, 3), rng.uniform(0, 0.12), dtype=np.float32)
    if kind == "uniform":
        return np.broadcast_to(c1, (size, size, 3)).astype(np.float32)
    x, y = _grid(size)
    if kind == "linear":
        a = rng.uniform(0, 2 * math.pi)
        t = np.clip((x - 0.5) * math.cos(a) + (y - 0.5) * math.sin(a) + 0.5, 0, 1)
    elif kind == "radial":
        cx, cy = rng.uniform(0, 1, 2)
        t = np.clip(np.hypot(x - cx, y - cy) / 1.2, 0, 1)
    elif kind == "smooth":
        return _smooth_noise(rng, size, int(rng.integers(2, 7)), channels=3) * \
            rng.uniform(0.4, 1.0) + rng.uniform(0, 0.3)
    else:
        base = c1 * 0.6 + 0.2
        return np.clip(base + rng.normal(0, rng.uniform(0.05, 0.25), (size, size, 3)), 0, 1)
    return (c1 * (1 - t[..., None]) + c2 * t[..., None]).astype(np.float32)


def _fill_paint(rng: np.random.Generator, size: int, colour: Array) -> Array:
    """Flat colour most of the time, otherwise a gradient or a mottled version of it."""
    kind = rng.random()
    if kind < 0.65:
        return colour
    if kind < 0.85:
        x, y = _grid(size)
        a = rng.uniform(0, 2 * math.pi)
        t = ((x - 0.5) * math.cos(a) + (y - 0.5) * math.sin(a))[..., None]
        return np.clip(colour + t * rng.uniform(0.2, 0.6), 0, 1)
    return np.clip(colour + (_smooth_noise(rng, size, 8, 3) - 0.5) * 0.3, 0, 1)


def _add_distractors(rng: np.random.Generator, img: Array, size: int, class_index: int) -> Array:
    """Faint, small instances of *other* simple shapes: clutter the network must learn to ignore."""
    simple = [k for k, name in enumerate(PRETRAIN_CLASSES)
              if name in ("circle", "square", "triangle", "line", "arc", "circle_outline")
              and k != class_index]
    for _ in range(int(rng.integers(0, 4))):
        fn = _PRETRAIN_SHAPES[PRETRAIN_CLASSES[int(rng.choice(simple))]]
        small = fn(rng, size // 2)  # rendered at half size, pasted somewhere
        mask = np.zeros((size, size), dtype=np.float32)
        ox, oy = rng.integers(0, size - size // 2 + 1, 2)
        mask[oy:oy + size // 2, ox:ox + size // 2] = small
        img = _composite(img, mask, rng.random(3).astype(np.float32), rng.uniform(0.1, 0.3))
    return img


def _degrade(rng: np.random.Generator, img: Array, size: int) -> Array:
    """Camera/scanner-like degradations: pixelation, blur, noise, greyscale, inversion."""
    if rng.random() < 0.2:
        # Down- then up-sampling: the look of tiny images (e.g. 8x8 digits) shown large.
        small = int(rng.integers(8, 33))
        pil = Image.fromarray(_to_uint8(img)).resize((small, small), Image.BOX)
        resample = Image.NEAREST if rng.random() < 0.5 else Image.BILINEAR
        img = np.asarray(pil.resize((size, size), resample), dtype=np.float32) / 255.0
    if rng.random() < 0.5:
        img = _gaussian_blur(img, rng.uniform(0.3, 2.0) * size / 96)
    if rng.random() < 0.5:
        img = img + rng.normal(0, rng.uniform(0.01, 0.08), img.shape).astype(np.float32)
    if rng.random() < 0.35:
        img = np.repeat(_luma(img)[..., None], 3, axis=-1)
    if rng.random() < 0.1:
        img = 1.0 - img
    return img


def render_pretrain_image(rng: np.random.Generator, class_index: int, size: int = 96) -> Array:
    """Render one pretraining image of ``PRETRAIN_CLASSES[class_index]``.

    The class decides the primitive (shape, outline, texture or pen stroke); position, scale,
    rotation, stroke width, colours, background, clutter and degradations are drawn from ``rng``.

    Args:
        rng: source of randomness; the image is a deterministic function of its state.
        class_index: index into :data:`PRETRAIN_CLASSES`.
        size: side of the square output image in pixels.

    Returns:
        An ``(size, size, 3)`` ``uint8`` RGB array.
    """
    if not 0 <= class_index < len(PRETRAIN_CLASSES):
        raise ValueError(f"class_index must be in [0, {len(PRETRAIN_CLASSES)}), got {class_index}")
    img = _pretrain_background(rng, size)
    digit_like = rng.random() < 0.12  # light pen on black, as in scanned-digit data sets
    if digit_like:
        img = np.zeros_like(img)
    else:
        img = _add_distractors(rng, img, size, class_index)
    mask = _PRETRAIN_SHAPES[PRETRAIN_CLASSES[class_index]](rng, size)
    covered = mask > 0.5
    bg_luma = float(_luma(img[covered]).mean()) if covered.any() else float(_luma(img).mean())
    if digit_like:
        colour = np.full(3, rng.uniform(0.6, 1.0), dtype=np.float32)
    else:
        colour = _contrasting_colour(rng, bg_luma, min_diff=rng.uniform(0.3, 0.55))
    img = _composite(img, mask, _fill_paint(rng, size, colour))
    return _to_uint8(_degrade(rng, img, size))
