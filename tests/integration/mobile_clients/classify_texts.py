"""Classify texts with MediaPipe Tasks' ``TextClassifier``, as an app would. Runs in the client's venv.

    python classify_texts.py JOB.json  ->  prints one JSON object on stdout

JOB is ``{"models": {name: path}, "texts": [...]}``. MediaPipe tokenizes each text itself with
the vocabulary and tokenizer settings in the model's metadata. Per model the output has either
``top1`` (the first category's name per text), ``names`` and ``version``, or ``error`` (the
client's refusal, one line).
"""

from __future__ import annotations

import json
import sys
from typing import Any


def main() -> None:
    import mediapipe
    from mediapipe.tasks.python import BaseOptions, text

    with open(sys.argv[1], encoding="utf-8") as f:
        job = json.load(f)
    results: dict[str, Any] = {}
    for name, path in job["models"].items():
        try:
            options = text.TextClassifierOptions(base_options=BaseOptions(model_asset_path=path))
            classifier = text.TextClassifier.create_from_options(options)
        except Exception as exc:  # the client's refusal is the result
            results[name] = {"error": f"{type(exc).__name__}: {exc}".replace("\n", " ")[:800]}
            continue
        top1, names = [], set()
        for sentence in job["texts"]:
            categories = classifier.classify(sentence).classifications[0].categories
            top1.append(categories[0].category_name if categories else None)
            names.update(c.category_name for c in categories)
        classifier.close()  # before interpreter exit: MediaPipe's __del__ fails at shutdown
        results[name] = {"top1": top1, "names": sorted(names), "version": f"mediapipe {mediapipe.__version__}"}
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
