"""Detect objects with an on-device client library, as an app would. Runs in the client's own venv.

    python detect_objects.py CLIENT JOB.json  ->  prints one JSON object on stdout

CLIENT is ``mediapipe`` (MediaPipe Tasks ``ObjectDetector``) or ``tflite_support`` (the TFLite
Task Library's ``ObjectDetector``). JOB is ``{"models": {name: path}, "images": [path, ...],
"score_threshold": S}``. The client decodes each image file itself and reads normalization,
labels and the output layout from the model's metadata only. For each model the output has
either ``detections`` (per image, a list of ``{"label", "score", "box": [x0, y0, x1, y1]}`` in
pixels of the image) and ``version``, or ``error`` (the client's refusal, one line).
"""

from __future__ import annotations

import json
import sys
from typing import Any


def mediapipe_detector(path: str, threshold: float) -> tuple[Any, Any]:
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.ObjectDetectorOptions(base_options=BaseOptions(model_asset_path=path), score_threshold=threshold,
                                           max_results=-1)
    detector = vision.ObjectDetector.create_from_options(options)
    return detector, lambda image: detector.detect(mp.Image.create_from_file(image)).detections


def task_library_detector(path: str, threshold: float) -> tuple[Any, Any]:
    from tflite_support.task import core, processor, vision

    options = vision.ObjectDetectorOptions(base_options=core.BaseOptions(file_name=path),
                                           detection_options=processor.DetectionOptions(score_threshold=threshold))
    detector = vision.ObjectDetector.create_from_options(options)
    return detector, lambda image: detector.detect(vision.TensorImage.create_from_file(image)).detections


def main() -> None:
    client, job_path = sys.argv[1], sys.argv[2]
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    if client == "mediapipe":
        import mediapipe

        factory, version = mediapipe_detector, f"mediapipe {mediapipe.__version__}"
    else:
        from importlib.metadata import version as dist_version

        factory, version = task_library_detector, f"tflite-support {dist_version('tflite-support')}"
    results: dict[str, Any] = {}
    for name, path in job["models"].items():
        try:
            detector, detect = factory(path, job["score_threshold"])
        except Exception as exc:  # the client's refusal is the result
            results[name] = {"error": f"{type(exc).__name__}: {exc}".replace("\n", " ")[:500]}
            continue
        per_image = []
        for image in job["images"]:
            found = []
            for d in detect(image):
                box, best = d.bounding_box, d.categories[0]
                found.append({"label": best.category_name, "score": best.score,
                              "box": [box.origin_x, box.origin_y, box.origin_x + box.width, box.origin_y + box.height]})
            per_image.append(found)
        if hasattr(detector, "close"):
            detector.close()  # before interpreter exit: MediaPipe's __del__ fails at shutdown
        results[name] = {"detections": per_image, "version": version}
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
