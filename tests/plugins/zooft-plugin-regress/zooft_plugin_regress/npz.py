"""The ``npz`` format: the model's Keras config and weights in one ``model.npz``, run by Keras.

``dtype=float16`` stores the weights in half precision (they are computed in float32).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

import zooft

GATES = {"float32": {"max_abs": 1e-5}, "float16": {"max_abs": 5e-3}}


class NpzExporter:
    """Writes ``model.npz`` and checks it against the trained model."""

    def export(self, context: zooft.ExportContext, out_dir: Path) -> Path:
        dtype = context.options.get("dtype", "float32")
        weights = [np.asarray(w, dtype=dtype) for w in context.model.get_weights()]
        path = out_dir / "model.npz"
        context.metadata.update(format="npz", dtype=dtype, outputs=zooft.output_names(context.model))
        np.savez(path, config=json.dumps(context.model.to_json()), metadata=json.dumps(context.metadata),
                 **{f"w{i}": w for i, w in enumerate(weights)})
        return path

    def verify(self, context: zooft.ExportContext, artifact: Path) -> zooft.ParityReport:
        loaded = load(artifact)
        return zooft.build_parity_report(
            "npz", zooft.reference_outputs(context.model, context.samples), loaded.outputs(context.samples),
            task=context.parity_task, gates=GATES[context.options.get("dtype", "float32")],
            labels=context.sample_labels, classes=context.classes, tolerance=context.tolerance,
            extra={"runtime": loaded.runtime},
        )


class NpzArtifact(zooft.Artifact):
    """A ``model.npz`` rebuilt as a Keras model."""

    format = "npz"

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import keras

        with np.load(path) as archive:
            metadata = json.loads(str(archive["metadata"]))
            config = json.loads(str(archive["config"]))
            weights = [archive[f"w{i}"] for i in range(len(archive.files) - 2)]
        super().__init__(path, metadata, threads)
        self._model = keras.models.model_from_json(config)
        self._model.set_weights([w.astype("float32") for w in weights])
        self._names = list(metadata.get("outputs") or zooft.output_names(self._model))
        self.runtime = f"keras {keras.__version__}"
        self._input_shape = tuple(self._model.inputs[0].shape)

    def run_batch(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        return zooft.output_dict(self._model(batch, training=False), self._names)


def load(path: Path) -> NpzArtifact:
    """``ExporterInfo.load``: an ``exports/npz*/`` directory or the ``model.npz`` in it."""
    path = Path(path)
    return NpzArtifact(path / "model.npz" if path.is_dir() else path)
