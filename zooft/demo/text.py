"""A generated text-classification data set for offline demos and tests (pure Python).

Each text is a short sentence of filler words around a few *topic* keywords: mostly from its
own topic, sometimes one from another topic as a distractor, so a model has to weigh the
words rather than look one up. ``multi_label`` texts mix the keywords of one to three topics
and are labelled with all of them (``"sports|food"``). Everything is a function of ``seed``.

Written files: ``texts.csv`` (``text,label,split`` with ``train``/``test`` rows; the tune
host carves ``val`` from ``train``) and ``vocab.txt`` (every word used, one per line: the
vocabulary a tiny BERT preset for this data needs, see ``zooft_bert.presets.write_tiny_preset``).
"""

from __future__ import annotations

import csv
import os
import random
from pathlib import Path
from typing import Any

__all__ = ["TEXT_TOPICS", "demo_vocabulary", "write_text_demo"]

#: Topic (the label) -> its keywords.
TEXT_TOPICS: dict[str, tuple[str, ...]] = {
    "sports": ("match", "goal", "team", "coach", "score", "league", "player", "stadium", "race", "win"),
    "weather": ("rain", "storm", "sunny", "cloud", "wind", "snow", "forecast", "cold", "warm", "thunder"),
    "food": ("pizza", "recipe", "bread", "cheese", "soup", "spicy", "dinner", "bake", "salad", "sweet"),
    "music": ("guitar", "song", "album", "concert", "drum", "band", "melody", "singer", "piano", "lyrics"),
}
_FILLER = (
    "the a an this that today yesterday really very quite we they it is was were will be about "
    "after before during with without for some many every new old big small good great my our "
    "people said think saw heard told again still just also then"
).split()


def demo_vocabulary() -> list[str]:
    """Every word the generator can write, sorted (topics' keywords and filler)."""
    return sorted({*_FILLER, *(w for words in TEXT_TOPICS.values() for w in words)})


def _sentence(rng: random.Random, topics: list[str], distractor: bool) -> str:
    words = [rng.choice(TEXT_TOPICS[t]) for t in topics for _ in range(rng.randint(2, 3))]
    if distractor:
        other = rng.choice([t for t in TEXT_TOPICS if t not in topics])
        words.append(rng.choice(TEXT_TOPICS[other]))
    words += [rng.choice(_FILLER) for _ in range(rng.randint(4, 8))]
    rng.shuffle(words)
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice((".", "!", "?", "."))


def write_text_demo(
    out_dir: str | os.PathLike[str],
    *,
    per_class: int = 60,
    seed: int = 0,
    multi_label: bool = False,
    test_fraction: float = 0.25,
) -> dict[str, Any]:
    """Write ``texts.csv`` and ``vocab.txt`` into ``out_dir`` (created; must be new or empty).

    ``per_class`` texts per topic (single-label), or ``per_class x topics`` texts with one to
    three labels each (``multi_label``). A quarter of the texts (``test_fraction``) are
    ``test`` rows. Returns ``{path, csv, vocabulary, classes, counts}``; raises
    ``FileExistsError`` for a non-empty ``out_dir`` and ``ValueError`` for ``per_class < 1``.
    """
    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {per_class}")
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} already exists and is not empty; refusing to overwrite it")
    rng = random.Random(f"zooft-text-demo:{seed}")
    topics = sorted(TEXT_TOPICS)
    rows: list[tuple[str, list[str]]] = []
    for i in range(per_class * len(topics)):
        if multi_label:
            chosen = sorted(rng.sample(topics, rng.choice((1, 1, 2, 2, 3))))
        else:
            chosen = [topics[i % len(topics)]]
        rows.append((_sentence(rng, chosen, distractor=rng.random() < 0.3 and len(chosen) < len(topics)), chosen))
    rng.shuffle(rows)
    n_test = max(len(topics), round(len(rows) * test_fraction))
    counts: dict[str, dict[str, int]] = {"train": dict.fromkeys(topics, 0), "test": dict.fromkeys(topics, 0)}
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "texts.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label", "split"])
        for index, (text, labels) in enumerate(rows):
            split = "test" if index < n_test else "train"
            writer.writerow([text, "|".join(labels), split])
            for label in labels:
                counts[split][label] += 1
    (out / "vocab.txt").write_text("".join(f"{w}\n" for w in demo_vocabulary()), encoding="utf-8")
    return {"path": str(out), "csv": str(csv_path), "vocabulary": str(out / "vocab.txt"), "classes": topics,
            "counts": counts, "multi_label": multi_label}
