"""``zooft predict --draw DIR``: copies of the images with their detections drawn (Pillow)."""

from __future__ import annotations

import colorsys
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw


def _colour(index: int) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb((index * 0.618034) % 1.0, 0.85, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def draw_detections(row: dict[str, Any], out_dir: Path, threshold: float) -> Path:
    """Draw ``row["detections"]`` with score >= ``threshold`` on ``row["file"]``; returns the PNG written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    source = Path(row["file"])
    with Image.open(source) as img:
        canvas = img.convert("RGB")
    draw = ImageDraw.Draw(canvas)
    width = max(1, round(min(canvas.size) / 150))
    for det in row["detections"]:
        if det["score"] < threshold:
            continue
        colour = _colour(det["class_index"])
        x0, y0, x1, y1 = det["box"]
        draw.rectangle([x0, y0, x1, y1], outline=colour, width=width)
        text = f"{det['label']} {det['score']:.2f}"
        left, top, right, bottom = draw.textbbox((x0, y0), text)
        draw.rectangle([x0, y0 - (bottom - top) - 2, x0 + (right - left) + 2, y0], fill=colour)
        draw.text((x0 + 1, y0 - (bottom - top) - 2), text, fill=(0, 0, 0))
    target = out_dir / f"{source.stem}.png"
    canvas.save(target)
    return target
