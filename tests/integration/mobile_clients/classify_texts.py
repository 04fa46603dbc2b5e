"""Classify texts with an on-device client, as an app would. Runs in the client's own venv.

    python classify_texts.py CLIENT JOB.json  ->  prints one JSON object on stdout

CLIENT is ``mediapipe`` (MediaPipe Tasks' ``TextClassifier``) or ``tflite_support`` (the TFLite
Task Library's ``BertNLClassifier``). JOB is ``{"models": {name: path}, "texts": [...]}``. The
client tokenizes each text itself with the vocabulary in the model's metadata. Per model the output has either
``top1`` (the first category's name per text), ``names`` and ``version``, or ``error`` (the
client's refusal, one line).
"""

from __future__ import annotations

import json
import sys
from typing import Any


def open_classifier(client: str, path: str) -> Any:
    if client == "mediapipe":
        from mediapipe.tasks.python import BaseOptions, text

        return text.TextClassifier.create_from_options(text.TextClassifierOptions(base_options=BaseOptions(model_asset_path=path)))
    from tflite_support.task import text as task_text

    return task_text.BertNLClassifier.create_from_file(path)


def main() -> None:
    client = sys.argv[1]
    with open(sys.argv[2], encoding="utf-8") as f:
        job = json.load(f)
    if client == "mediapipe":
        import mediapipe

        version = f"mediapipe {mediapipe.__version__}"
    else:
        from importlib.metadata import version as dist_version

        version = f"tflite-support {dist_version('tflite-support')}"
    results: dict[str, Any] = {}
    for name, path in job["models"].items():
        try:
            classifier = open_classifier(client, path)
        except Exception as exc:  # the client's refusal is the result
            results[name] = {"error": f"{type(exc).__name__}: {exc}".replace("\n", " ")[:800]}
            continue
        top1, names = [], set()
        for sentence in job["texts"]:
            categories = sorted(classifier.classify(sentence).classifications[0].categories, key=lambda c: -c.score)
            top1.append(categories[0].category_name if categories else None)
            names.update(c.category_name for c in categories)
        if hasattr(classifier, "close"):
            classifier.close()  # before interpreter exit: MediaPipe's __del__ fails at shutdown
        results[name] = {"top1": top1, "names": sorted(names), "version": version}
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
