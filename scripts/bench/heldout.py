"""Held-out real image sets for judging the embedded model's transfer (never seen in pretraining).

Two sets, both built from data that ships inside Python packages (no download at run time):

``digits``
    scikit-learn's ``load_digits()``: 1,797 hand-written 8×8 greyscale scans, 10 classes.
``textures``
    "Which photograph is this crop from?": random square crops of eight greyscale images that
    scikit-image ships in its wheel (``brick``, ``grass``, ``gravel``, ``coins``, ``moon``,
    ``cell``, ``text``, ``page``; see :data:`TEXTURE_IMAGES`). Train, validation and test crops
    come from *disjoint regions* of each image (left 60 % / next 15 % / right 25 % of its width),
    so a test crop never overlaps a training crop. Crops are 15–45 % of the image's shorter side
    and get a random brightness and contrast, so mean intensity alone does not name the image.

The embedded model's pretraining (``scripts/pretrain_embedded.py``) uses other images
(:data:`PRETRAIN_EXCLUDED` lists what it must never read). Both sets come as arrays (for linear
probes) and as ``train/val/test/<class>/*.png`` folders (for ``zooft tune --data DIR``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

#: scikit-image sample images of the ``textures`` set (all in the scikit-image wheel).
TEXTURE_IMAGES = ("brick", "grass", "gravel", "coins", "moon", "cell", "text", "page")
#: Images pretraining must not use: the textures set, plus ``lfw_subset`` (kept unseen for later).
PRETRAIN_EXCLUDED = frozenset(TEXTURE_IMAGES) | {"lfw_subset"}
#: Fractions of each image's width that feed the train, val and test splits, left to right.
REGION_SPLITS = {"train": (0.0, 0.6), "val": (0.6, 0.75), "test": (0.75, 1.0)}
SPLIT_SIZES = {"train": 120, "val": 30, "test": 50}  # crops per class

Split = dict[str, tuple[np.ndarray, np.ndarray]]


def _grey_image(name: str) -> np.ndarray:
    """A scikit-image sample image as uint8 greyscale (from the installed wheel, no download)."""
    import skimage.data

    img = np.asarray(getattr(skimage.data, name)())
    if img.ndim == 3:
        img = np.asarray(Image.fromarray(img[..., :3]).convert("L"))
    if img.dtype != np.uint8:
        img = (255 * (img - img.min()) / max(float(np.ptp(img)), 1e-6)).astype(np.uint8)
    return img


def _crop(img: np.ndarray, x0: int, x1: int, rng: np.random.Generator, size: int) -> np.ndarray:
    """A random square crop with its left/right edges inside columns [x0, x1), as size² RGB."""
    h = img.shape[0]
    side = int(min(h, img.shape[1]) * rng.uniform(0.15, 0.45))
    side = max(8, min(side, x1 - x0, h))
    left = int(rng.integers(x0, x1 - side + 1))
    top = int(rng.integers(0, h - side + 1))
    patch = Image.fromarray(img[top:top + side, left:left + side]).resize((size, size), Image.BILINEAR)
    # Random contrast and brightness: the class must come from content, not mean grey level.
    x = np.asarray(patch, np.float32)
    x = (x - x.mean()) * rng.uniform(0.6, 1.4) + x.mean() + rng.uniform(-40, 40)
    grey = np.clip(x, 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


def textures(size: int = 96, seed: int = 0) -> Split:
    """{split: (images uint8 N×size×size×3, labels)} of the ``textures`` set."""
    rng = np.random.default_rng(seed)
    out: Split = {}
    images = [_grey_image(name) for name in TEXTURE_IMAGES]
    for split, (a, b) in REGION_SPLITS.items():
        xs, ys = [], []
        for label, img in enumerate(images):
            w = img.shape[1]
            for _ in range(SPLIT_SIZES[split]):
                xs.append(_crop(img, int(a * w), int(b * w), rng, size))
                ys.append(label)
        out[split] = (np.stack(xs), np.array(ys))
    return out


def digits(size: int = 96, seed: int = 0) -> Split:
    """{split: (images, labels)} of sklearn digits, grey on black RGB, bilinear-upsampled.

    The split (60/15/25 %, stratified) is :func:`datasets._split_indices`'s, as in
    ``datasets.write_digits`` for the same seed.
    """
    from sklearn.datasets import load_digits

    from datasets import _split_indices

    d = load_digits()
    imgs = (d.images * (255.0 / 16.0)).round().astype(np.uint8)
    out: Split = {}
    for split, by_label in _split_indices(d.target, np.random.default_rng(seed)).items():
        idx = np.concatenate([by_label[k] for k in sorted(by_label)])
        big = np.stack([np.asarray(Image.fromarray(imgs[i]).resize((size, size), Image.BILINEAR)) for i in idx])
        out[split] = (np.repeat(big[..., None], 3, axis=-1), d.target[idx])
    return out


SETS = {"digits": digits, "textures": textures}


def load(name: str, size: int = 96, seed: int = 0) -> Split:
    """The held-out set ``name`` (one of :data:`SETS`) as arrays per split."""
    return SETS[name](size, seed)


def write(name: str, out_dir: str | Path, size: int = 96, seed: int = 0) -> dict[str, int]:
    """Write ``out_dir/{train,val,test}/<class>/*.png`` for ``zooft tune --data``."""
    out_dir = Path(out_dir)
    counts = {}
    for split, (x, y) in load(name, size, seed).items():
        for i, (img, label) in enumerate(zip(x, y)):
            folder = out_dir / split / f"c{int(label):02d}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(folder / f"{i:05d}.png")
        counts[split] = len(y)
    return counts


def linear_probe(train_feats: np.ndarray, train_y: np.ndarray, test_feats: np.ndarray,
                 test_y: np.ndarray) -> float:
    """Test accuracy of a standardised logistic regression fitted on the training features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=0.5))
    clf.fit(train_feats, train_y)
    return float(clf.score(test_feats, test_y))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Write a held-out set as image folders.")
    parser.add_argument("name", choices=sorted(SETS))
    parser.add_argument("out_dir")
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(write(args.name, args.out_dir, args.size, args.seed))
