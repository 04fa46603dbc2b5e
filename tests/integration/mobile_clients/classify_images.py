"""Classify images with an on-device client library, as an app would. Runs in the client's own venv.

    python classify_images.py CLIENT JOB.json  ->  prints one JSON object on stdout

CLIENT is ``mediapipe`` (MediaPipe Tasks ``ImageClassifier``) or ``tflite_support`` (the TFLite
Task Library's ``ImageClassifier``). JOB is ``{"models": {name: path}, "images": [path, ...],
"max_results": N}``. The client decodes each image file itself and reads normalization and
labels from the model's metadata only. For each model the output has either ``top1`` (the
first category's name per image), ``names`` (all category names seen) and ``version``, or
``error`` (the client's refusal, one line).
"""

from __future__ import annotations

import json
import sys
from typing import Any


def mediapipe_classifier(path: str, max_results: int) -> tuple[Any, Any]:
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=path), max_results=max_results)
    classifier = vision.ImageClassifier.create_from_options(options)

    def classify(image_path: str) -> list[str]:
        result = classifier.classify(mp.Image.create_from_file(image_path))
        return [c.category_name for c in result.classifications[0].categories]

    return classifier, classify


def task_library_classifier(path: str, max_results: int) -> tuple[Any, Any]:
    from tflite_support.task import core, processor, vision

    options = vision.ImageClassifierOptions(base_options=core.BaseOptions(file_name=path),
                                            classification_options=processor.ClassificationOptions(max_results=max_results))
    classifier = vision.ImageClassifier.create_from_options(options)

    def classify(image_path: str) -> list[str]:
        result = classifier.classify(vision.TensorImage.create_from_file(image_path))
        return [c.category_name for c in result.classifications[0].categories]

    return classifier, classify


def main() -> None:
    client, job_path = sys.argv[1], sys.argv[2]
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    if client == "mediapipe":
        import mediapipe

        factory, version = mediapipe_classifier, f"mediapipe {mediapipe.__version__}"
    else:
        from importlib.metadata import version as dist_version

        factory, version = task_library_classifier, f"tflite-support {dist_version('tflite-support')}"
    results: dict[str, Any] = {}
    for name, path in job["models"].items():
        try:
            classifier, classify = factory(path, job["max_results"])
        except Exception as exc:  # the client's refusal is the result
            results[name] = {"error": f"{type(exc).__name__}: {exc}".replace("\n", " ")[:500]}
            continue
        top1, names = [], set()
        for image in job["images"]:
            categories = classify(image)
            top1.append(categories[0] if categories else None)
            names.update(categories)
        if hasattr(classifier, "close"):
            classifier.close()  # before interpreter exit: MediaPipe's __del__ fails at shutdown
        results[name] = {"top1": top1, "names": sorted(names), "version": version}
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
