"""SSD anchors in numpy: one grid per feature level, several scales and aspect ratios per cell.

The layout is a pure function of the input size and the anchor options, so the training
pipeline (which encodes targets), the model (whose decode layer carries the same options) and
host-side code all rebuild identical anchors without sharing state. Level ``l`` has a
``ceil(H / stride) x ceil(W / stride)`` grid: what 'same'-padded stride-2 layers produce, and what
the head checks the backbone's maps against.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

#: Backbone levels the head reads, then the extra levels it adds (stride-2 convolutions).
BACKBONE_STRIDES = (8, 16, 32)


@dataclass(frozen=True)
class AnchorConfig:
    """Anchor options (all JSON-serialisable: the decode layer stores them in the model).

    ``strides``: one level per stride (8, 16, 32 come from the backbone; larger ones are extra
    layers). ``min_scale``/``max_scale``: anchor size of the first/last level as a fraction of the
    input side, linear in between (SSD). ``aspect_ratios``: width/height ratios per cell; ratio 1
    also gets SSD's in-between scale ``sqrt(s_l * s_{l+1})``.
    """

    image_size: tuple[int, int]
    strides: tuple[int, ...] = (8, 16, 32, 64, 128)
    min_scale: float = 0.1
    max_scale: float = 0.9
    aspect_ratios: tuple[float, ...] = (1.0, 2.0, 0.5)
    variances: tuple[float, float] = (0.1, 0.2)

    def grid(self, stride: int) -> tuple[int, int]:
        """``(rows, cols)`` of the level with this stride."""
        h, w = self.image_size
        return math.ceil(h / stride), math.ceil(w / stride)

    @property
    def per_cell(self) -> int:
        """Anchors per grid cell."""
        return len(self.aspect_ratios) + (1 if 1.0 in self.aspect_ratios else 0)

    def scales(self) -> list[float]:
        """Anchor scale per level, plus one beyond the last (for the in-between square)."""
        n = len(self.strides)
        step = (self.max_scale - self.min_scale) / max(1, n - 1)
        return [self.min_scale + step * i for i in range(n + 1)]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready view."""
        doc = asdict(self)
        doc["image_size"] = list(self.image_size)
        doc["strides"] = list(self.strides)
        doc["aspect_ratios"] = list(self.aspect_ratios)
        doc["variances"] = list(self.variances)
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, object]) -> AnchorConfig:
        """Inverse of :meth:`to_dict`."""
        return cls(
            image_size=tuple(int(v) for v in doc["image_size"]),  # type: ignore[arg-type, union-attr]
            strides=tuple(int(v) for v in doc.get("strides", (8, 16, 32, 64, 128))),  # type: ignore[union-attr]
            min_scale=float(doc.get("min_scale", 0.1)),  # type: ignore[arg-type]
            max_scale=float(doc.get("max_scale", 0.9)),  # type: ignore[arg-type]
            aspect_ratios=tuple(float(v) for v in doc.get("aspect_ratios", (1.0, 2.0, 0.5))),  # type: ignore[union-attr]
            variances=tuple(float(v) for v in doc.get("variances", (0.1, 0.2))),  # type: ignore[arg-type, union-attr]
        )


def cell_shapes(config: AnchorConfig, level: int) -> list[tuple[float, float]]:
    """``(width, height)`` of the anchors of one cell at ``level``, normalised to the input.

    Sizes are relative to the shorter input side so that anchors stay square-ish in pixels on
    non-square inputs.
    """
    h, w = config.image_size
    side = min(h, w)
    scales = config.scales()
    s = scales[level]
    shapes = []
    for ratio in config.aspect_ratios:
        r = math.sqrt(ratio)
        shapes.append((s * r * side / w, s / r * side / h))
        if ratio == 1.0:
            mid = math.sqrt(s * scales[level + 1])
            shapes.append((mid * side / w, mid * side / h))
    return shapes


def level_anchors(config: AnchorConfig, level: int) -> np.ndarray:
    """Corner anchors of one level, ordered (row, column, anchor): the order in which the head
    reshapes its ``(rows, cols, per_cell * 4)`` convolution output."""
    rows, cols = config.grid(config.strides[level])
    cy = (np.arange(rows, dtype=np.float64) + 0.5) / rows
    cx = (np.arange(cols, dtype=np.float64) + 0.5) / cols
    shapes = np.asarray(cell_shapes(config, level), dtype=np.float64)  # (k, 2)
    grid_y, grid_x = np.meshgrid(cy, cx, indexing="ij")
    centers = np.stack([grid_x, grid_y], axis=-1)[:, :, None, :]  # (rows, cols, 1, 2)
    half = np.broadcast_to(shapes / 2, (rows, cols, len(shapes), 2))
    corners = np.concatenate([centers - half, centers + half], axis=-1)
    return corners.reshape(-1, 4)


def make_anchors(config: AnchorConfig) -> np.ndarray:
    """All anchors ``(A, 4)`` float32, level by level."""
    return np.concatenate([level_anchors(config, i) for i in range(len(config.strides))]).astype(np.float32)


def anchor_count(config: AnchorConfig) -> int:
    """``A``: anchors over all levels."""
    return sum(math.prod(config.grid(s)) for s in config.strides) * config.per_cell


def usable_strides(image_size: Sequence[int], strides: Sequence[int]) -> tuple[int, ...]:
    """Drop extra levels past the one whose grid is already 1x1 (they would repeat it)."""
    kept: list[int] = []
    for stride in strides:
        kept.append(int(stride))
        if math.ceil(image_size[0] / stride) == 1 and math.ceil(image_size[1] / stride) == 1:
            break
    return tuple(kept)
