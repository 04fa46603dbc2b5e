"""Detect objects with MediaPipe Tasks' ``ObjectDetector``, as an app would. Runs in the client's venv.

    python detect_objects.py JOB.json  ->  prints one JSON object on stdout

JOB is ``{"models": {name: path}, "images": [path, ...], "score_threshold": S}``. MediaPipe decodes
each image file itself and reads normalization, labels and the output layout from the model's
metadata only. For each model the output has either ``detections`` (per image, a list of
``{"label", "index", "score", "box": [x0, y0, x1, y1]}`` in pixels of the image) and ``version``,
or ``error`` (MediaPipe's refusal, one line).
"""

from __future__ import annotations

import json
import sys
from typing import Any


def main() -> None:
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    with open(sys.argv[1], encoding="utf-8") as f:
        job = json.load(f)
    results: dict[str, Any] = {}
    for name, path in job["models"].items():
        try:
            options = vision.ObjectDetectorOptions(base_options=BaseOptions(model_asset_path=path),
                                                   score_threshold=job["score_threshold"], max_results=-1)
            detector = vision.ObjectDetector.create_from_options(options)
        except Exception as exc:  # the client's refusal is the result
            results[name] = {"error": f"{type(exc).__name__}: {exc}".replace("\n", " ")[:500]}
            continue
        per_image = []
        for image in job["images"]:
            found = []
            for d in detector.detect(mp.Image.create_from_file(image)).detections:
                box, best = d.bounding_box, d.categories[0]
                found.append({"label": best.category_name, "index": best.index, "score": best.score,
                              "box": [box.origin_x, box.origin_y, box.origin_x + box.width, box.origin_y + box.height]})
            per_image.append(found)
        detector.close()  # before interpreter exit: MediaPipe's __del__ fails at shutdown
        results[name] = {"detections": per_image, "version": f"mediapipe {mp.__version__}"}
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
