"""Which standard metadata (``TFLITE_METADATA``) a TFLite export carries.

A task may describe its model for on-device clients itself: its ``export_model`` hook puts
``metadata["tflite_metadata"] = {"spec": SPEC, "files": {name: text}}`` in the export metadata
(SPEC as in :mod:`zooft_tflite.metadata`; ``files`` holds every associated file the spec names
except ``labels.txt``, which the exporter writes from the run's labels). Fields the task leaves
out (name, description, version, author, license) are filled from the run.

Without it, a model with one image input (raw RGB pixels, 0-255, preprocessing inside the
graph) gets the image-classifier description MediaPipe Tasks and the TFLite Task Library read:
image properties (RGB, the size), NormalizationOptions mean 0 / std 1 (the graph normalizes;
these clients refuse a float input without them and ignore them for uint8 input), stats
0-255, and ``labels.txt`` as the ``TENSOR_AXIS_LABELS`` of every output whose last axis has one
entry per class. Any other model (e.g. token ids without a task spec) gets none.
"""

from __future__ import annotations

from typing import Any

SPEC_KEY = "tflite_metadata"  # the export-metadata key a task fills
LABELS_FILE = "labels.txt"


def _labels_text(classes: list[str]) -> str:
    return "".join(f"{c}\n" for c in classes)


def _model_fields(metadata: dict[str, Any], classes: list[str]) -> dict[str, Any]:
    """name, description, version, author and license from the run's export metadata."""
    source = metadata.get("source_model") or "a backbone"
    about = (metadata.get("source_description") or "").strip()
    description = f"{metadata.get('task', 'model')} model ({len(classes)} classes) fine-tuned with zooft from {source}"
    return {
        "name": str(metadata.get("run") or "zooft model"),
        "description": description + (f": {about}" if about else ""),
        "version": str(metadata.get("created") or metadata.get("zooft_version") or ""),
        "author": str(metadata.get("author") or f"zooft {metadata.get('zooft_version', '')}".strip()),
        "license": str(metadata.get("license") or "see the backbone's license"),
    }


def image_spec(metadata: dict[str, Any], classes: list[str], tensors: dict[str, Any]) -> dict[str, Any] | None:
    """The default spec for a single-image-input model, or None when the model is not one.

    ``tensors`` is :func:`zooft_tflite.exporter.describe_io` of the converted model (names,
    dtypes, shapes); outputs are matched by their signature names.
    """
    inputs = tensors.get("inputs") or {}
    size = metadata.get("input_size")
    if len(inputs) != 1 or not size or metadata.get("input_range") != [0, 255]:
        return None
    (in_name, in_info), = inputs.items()
    if len(in_info.get("shape") or []) != 4 or in_info["shape"][-1] != 3:
        return None
    height, width = int(size[0]), int(size[1])
    image = {
        "name": "image",
        "signature_key": in_name,
        "description": f"RGB image {width}x{height}, pixel values 0-255 (scaling happens inside the model)",
        "content": {"kind": "image", "color_space": "RGB", "width": width, "height": height},
        "process_units": [{"normalization": {"mean": [0.0], "std": [1.0]}}],
        "stats": {"min": [0.0], "max": [255.0]},
    }
    outputs = []
    for name, info in (tensors.get("outputs") or {}).items():
        shape = info.get("shape") or []
        labelled = bool(classes) and len(shape) >= 2 and shape[-1] == len(classes)
        out: dict[str, Any] = {"name": "probability" if labelled and len(tensors["outputs"]) == 1 else name,
                               "signature_key": name, "description": f"model output {name!r}",
                               "content": {"kind": "feature"}}
        if labelled:
            out["description"] = f"{name}: one score per class, in the order of {LABELS_FILE}"
            out["stats"] = {"min": [0.0], "max": [1.0]}
            out["associated_files"] = [{"name": LABELS_FILE, "description": "class labels",
                                        "type": "TENSOR_AXIS_LABELS"}]
        outputs.append(out)
    return {**_model_fields(metadata, classes), "inputs": [image], "outputs": outputs}


def standard_metadata(metadata: dict[str, Any], classes: list[str], tensors: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]] | None:
    """``(spec, files)`` for the export, or None. Pops the task's ``tflite_metadata`` entry from
    ``metadata`` (it may hold a whole vocabulary, which zooft's own JSON need not repeat)."""
    given = metadata.pop(SPEC_KEY, None)
    if given is not None:
        spec = {**_model_fields(metadata, classes), **dict(given.get("spec") or {})}
        files = dict(given.get("files") or {})
    else:
        spec, files = image_spec(metadata, classes, tensors), {}
        if spec is None:
            return None
    if _names_file(spec, LABELS_FILE) and LABELS_FILE not in files:
        files[LABELS_FILE] = _labels_text(classes)
    return spec, files


def _names_file(spec: dict[str, Any], name: str) -> bool:
    from .metadata import associated_files

    return any(f.get("name") == name for f in associated_files(spec))
