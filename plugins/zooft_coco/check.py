"""Annotation checks shared by the COCO and VOC readers (no TensorFlow, no pixels).

Each problem is ``(where, reason)`` with the ids needed to find it: the image file and the
annotation id (COCO) or object index (VOC). Boxes up to ``TOLERANCE`` pixels outside the image
are clipped silently (rounding in exported annotations); larger overflows, zero-area boxes,
and, in the readers, unknown category ids and missing images are problems. The host's data check raises them all
(or, with ``--skip-bad-files``, leaves the affected images out).
"""

from __future__ import annotations

TOLERANCE = 1.0  # pixels


def check_box(box: list[float], width: float | None, height: float | None, what: str) -> tuple[list[float] | None, str | None]:
    """``(clipped [x0, y0, x1, y1] or None, problem or None)`` for one pixel box."""
    try:
        x0, y0, x1, y1 = (float(v) for v in box)
    except (TypeError, ValueError):
        return None, f"{what}: box {box!r} is not four numbers"
    if not all(v == v and abs(v) != float("inf") for v in (x0, y0, x1, y1)):
        return None, f"{what}: box {box!r} has non-finite coordinates"
    if width and height:
        if x0 < -TOLERANCE or y0 < -TOLERANCE or x1 > width + TOLERANCE or y1 > height + TOLERANCE:
            return None, f"{what}: box [{x0:g}, {y0:g}, {x1:g}, {y1:g}] lies outside the {width:g}x{height:g} image"
        x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1)
    if x1 - x0 <= 0 or y1 - y0 <= 0:
        return None, f"{what}: zero-area box [{x0:g}, {y0:g}, {x1:g}, {y1:g}]"
    return [x0, y0, x1, y1], None
