"""zooft's first-party ``hub`` backbone plugin: TF Hub / Kaggle SavedModels that fine-tune under Keras 3.

The entry point is :mod:`zooft_hub.plugin`. Nothing imported here loads TensorFlow: the Keras
layer lives in :mod:`zooft_hub.layer`, imported by the factory when a model is built.
"""

from __future__ import annotations

from .fetch import fetch_module, module_dir

__all__ = ["fetch_module", "module_dir"]
