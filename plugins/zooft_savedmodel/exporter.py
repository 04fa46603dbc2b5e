"""Write a Keras 3 model as a SavedModel with raw-image serving signatures, and verify it.

The serving functions come from the host (:func:`zooft.write_saved_model`,
:func:`zooft.serving_function`), which the TFLite and ONNX exporters convert too, so every
format has the same input name and the same named outputs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

import zooft

# Same runtime (TensorFlow), same kernels: anything beyond float noise is a bug.
GATES: dict[str, float] = {"max_abs": 1e-5, "uint8_max_abs": 1e-5}


class SavedModelExporter:
    """The ``savedmodel`` format: ``exports/savedmodel/saved_model/`` plus sidecars."""

    def export(self, context: zooft.ExportContext, out_dir: Path) -> Path:
        """Write ``out_dir/saved_model`` with metadata in its ``assets.extra/`` (TF Serving's place)."""
        target = zooft.write_saved_model(context.model, out_dir / zooft.SAVEDMODEL_DIR)
        signatures = ["serving_default"] + (["serving_uint8"] if zooft.is_image_model(context.model) else [])
        context.metadata.update(format="savedmodel", signatures=signatures, outputs=zooft.output_names(context.model))
        extra = target / "assets.extra"
        extra.mkdir(exist_ok=True)
        (extra / zooft.ARTIFACT_METADATA_FILE).write_text(json.dumps(context.metadata, indent=2, default=str) + "\n", encoding="utf-8")
        if context.classes:  # tasks without classes (regression) ship no empty labels.txt
            (extra / "labels.txt").write_text("".join(f"{c}\n" for c in context.classes), encoding="utf-8")
        return target

    def verify(self, context: zooft.ExportContext, artifact: Path) -> zooft.ParityReport:
        """Reload with ``tf.saved_model.load`` and compare both signatures with the Keras model."""
        reference = zooft.reference_outputs(context.model, context.samples)
        loaded = zooft.load_artifact(artifact)
        candidate = loaded.outputs(context.samples)
        extra: dict[str, Any] = {"runtime": loaded.runtime, "signature": "serving_default"}
        if zooft.is_image_model(context.model):
            # uint8 inputs are the float samples rounded: decoded pixels are integers already, so
            # this compares the same images unless a sample was resized to fractional values
            pixels = np.clip(np.round(np.asarray(context.samples, dtype=np.float32)), 0, 255)
            ref8 = reference if np.array_equal(pixels, context.samples) else zooft.reference_outputs(context.model, pixels)
            cand8 = zooft.load_artifact(artifact, signature="serving_uint8").outputs(pixels)
            extra["uint8_max_abs"] = zooft.numeric_parity(ref8, cand8)["max_abs"]
        return zooft.build_parity_report(
            "savedmodel",
            reference,
            candidate,
            task=context.parity_task,
            gates=GATES,
            labels=context.sample_labels,
            targets=context.sample_targets,
            classes=context.classes,
            tolerance=context.tolerance,
            extra=extra,
        )
