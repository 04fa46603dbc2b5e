"""Real photographs that Python packages ship in their wheels, for self-supervised pretraining.

Only images that are *inside* the installed packages are used (scikit-image's ``skimage/data``
files that need no pooch download, scikit-learn's two sample photos); the held-out evaluation
images (``scripts/bench/heldout.py``: ``PRETRAIN_EXCLUDED``) are never read here.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

#: (package, name) of every pretraining photograph.
PHOTOS: tuple[tuple[str, str], ...] = (
    ("skimage", "astronaut"),
    ("skimage", "camera"),
    ("skimage", "cat"),  # chelsea.png
    ("skimage", "coffee"),
    ("skimage", "rocket"),
    ("skimage", "motorcycle"),  # the left view of stereo_motorcycle
    ("skimage", "hubble_deep_field"),
    ("skimage", "immunohistochemistry"),
    ("skimage", "retina"),
    ("skimage", "logo"),
    ("sklearn", "china.jpg"),
    ("sklearn", "flower.jpg"),
)


def load_photo(package: str, name: str) -> np.ndarray:
    """One photograph as uint8 RGB (H×W×3)."""
    if package == "sklearn":
        from sklearn.datasets import load_sample_image

        img = np.asarray(load_sample_image(name))
    elif name == "motorcycle":
        import skimage.data

        img = np.asarray(skimage.data.stereo_motorcycle()[0])
    else:
        import skimage.data

        img = np.asarray(getattr(skimage.data, name)())
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    return np.ascontiguousarray(img[..., :3]).astype(np.uint8)


def load_photos() -> list[np.ndarray]:
    """All :data:`PHOTOS`, in order."""
    return [load_photo(p, n) for p, n in PHOTOS]


def crop_pool(photos: list[np.ndarray], n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random square crops (side 8–70 % of the photo's shorter side, log-uniform), size² px.

    Small crops of large photographs look like textures and edges, large ones like scenes and
    objects; the training augmentation crops again inside each of these.
    """
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        img = photos[int(rng.integers(len(photos)))]
        h, w = img.shape[:2]
        side = int(min(h, w) * np.exp(rng.uniform(np.log(0.08), np.log(0.7))))
        side = max(side, 16)
        top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        patch = Image.fromarray(img[top:top + side, left:left + side])
        out[i] = np.asarray(patch.resize((size, size), Image.BILINEAR if side < size else Image.BOX))
    return out
