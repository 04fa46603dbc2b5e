"""A generated object-detection data set in COCO format (numpy + Pillow only, no TensorFlow).

Images hold 0–3 objects of :data:`DEMO_DETECT_CLASSES` (the demo classification shapes) at
random positions, sizes and tilts on the photo-like demo backgrounds; each box is the tight box
around the object's rendered pixels. Shape drawing and backgrounds come from
:mod:`zooft.demo.synthetic` and :mod:`zooft.demo.drawing`; only placement and the COCO writing are new here.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from zooft.demo import drawing
from zooft.demo import synthetic as syn

#: Object classes of the detection demo (category ids 1..4 in this order).
DEMO_DETECT_CLASSES: tuple[str, ...] = ("heart", "moon", "house", "letter_T")

_SPLIT_FRACTIONS = (("train", 0.7), ("val", 0.15), ("test", 0.15))


def _object_mask(rng: np.random.Generator, name: str, size: int, cx: float, cy: float, r: float) -> np.ndarray:
    """Anti-aliased mask of one object centred at ``(cx, cy)`` with half-extent ``r`` (pixels)."""
    canvas = size * drawing._SS
    angle = rng.uniform(0, 2 * math.pi) if name == "moon" else rng.uniform(-0.3, 0.3)
    g = drawing._Geom(cx * drawing._SS, cy * drawing._SS, r * drawing._SS, angle, 1.0, canvas)
    mask, draw = drawing._new_mask(canvas)
    if name == "moon":
        draw.polygon(drawing._transform(drawing._regular_polygon(96), g), fill=255)
        off = rng.uniform(0.45, 0.7)
        draw.polygon(drawing._transform(drawing._regular_polygon(96) * rng.uniform(0.85, 1.0) + [off, 0], g), fill=0)
    elif name in ("house", "letter_T"):
        parts = syn._house_parts(rng) if name == "house" else syn._letter_t_parts(rng)
        for pts, fill in parts:
            draw.polygon(drawing._transform(pts, g), fill=fill)
    else:
        draw.polygon(drawing._transform(syn._DEMO_POLYGONS[name](rng), g), fill=255)
    return drawing._downsample(mask, size)


def _overlap(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def render_detection_image(rng: np.random.Generator, size: int = 96, max_objects: int = 3) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """One image ``(size, size, 3)`` uint8 and its objects ``[{"label": index, "box": [x0, y0, x1, y1]}]``
    (pixel coordinates, tight around the rendered shape)."""
    img = syn._demo_background(rng, size)
    objects: list[dict[str, Any]] = []
    n = int(rng.choice(np.arange(max_objects + 1), p=[0.05] + [0.95 / max_objects] * max_objects))
    for _ in range(n):
        for _attempt in range(10):
            r = rng.uniform(0.1, 0.24) * size
            cx, cy = rng.uniform(r * 0.9, size - r * 0.9, 2)
            label = int(rng.integers(len(DEMO_DETECT_CLASSES)))
            mask = _object_mask(rng, DEMO_DETECT_CLASSES[label], size, cx, cy, r)
            ys, xs = np.nonzero(mask > 0.5)
            if len(xs) < 12:
                continue
            box = [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
            if any(_overlap(box, o["box"]) > 0.2 for o in objects):
                continue
            covered = mask > 0.5
            bg_luma = float(drawing._luma(img[covered]).mean())
            colour = drawing._contrasting_colour(rng, bg_luma, min_diff=rng.uniform(0.25, 0.45))
            img = drawing._composite(img, mask, colour)
            objects.append({"label": label, "box": box})
            break
    if rng.random() < 0.4:
        img = drawing._gaussian_blur(img, rng.uniform(0.3, 0.9) * size / 96)
    img = img + rng.normal(0, rng.uniform(0.0, 0.04), img.shape).astype(np.float32)
    return drawing._to_uint8(img), objects


def _coco(images: list[dict[str, Any]], annotations: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "info": {"description": "zooft generated detection demo"},
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i + 1, "name": n, "supercategory": "shape"} for i, n in enumerate(DEMO_DETECT_CLASSES)],
    }


def write_detect_demo(out_dir: str | os.PathLike[str], *, images: int = 300, size: int = 96, seed: int = 0) -> dict[str, Any]:
    """Write ``images`` generated images as a COCO data set: ``out_dir/{train,val,test}.json`` and
    ``out_dir/images/*.png`` (70/15/15). Written to a temporary sibling and renamed into place.

    Returns ``{"path", "classes", "counts": {split: images}, "objects": {split: objects}}``.
    Raises ``FileExistsError`` if ``out_dir`` exists and is not empty.
    """
    if images < 3 or size < 32:
        raise ValueError("images must be >= 3 and size >= 32")
    out = Path(out_dir).absolute()
    syn._check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    (tmp / "images").mkdir(parents=True)
    counts, objects_per = {}, {}
    try:
        index = 0
        for split, fraction in _SPLIT_FRACTIONS:
            n = images - sum(counts.values()) if split == "test" else max(1, round(images * fraction))
            records, annotations = [], []
            for _ in range(n):
                rng = np.random.default_rng([seed, index])
                pixels, objects = render_detection_image(rng, size)
                name = f"images/{split}_{index:05d}.png"
                Image.fromarray(pixels).save(tmp / name)
                records.append({"id": index + 1, "file_name": name, "width": size, "height": size})
                for obj in objects:
                    x0, y0, x1, y1 = obj["box"]
                    annotations.append({"id": len(annotations) + 1, "image_id": index + 1, "category_id": obj["label"] + 1,
                                        "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0), "iscrowd": 0})
                index += 1
            (tmp / f"{split}.json").write_text(json.dumps(_coco(records, annotations)), encoding="utf-8")
            counts[split], objects_per[split] = n, len(annotations)
        syn._check_target(out)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"path": str(out), "classes": list(DEMO_DETECT_CLASSES), "counts": counts, "objects": objects_per}
