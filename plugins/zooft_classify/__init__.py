"""zooft's first-party ``classify`` task plugin: single-label image classification.

The plugin module (:mod:`.plugin`) registers the task; :mod:`.task` holds the head, loss,
targets, evaluation and post-processing, and :mod:`.metrics` the numpy metrics. Nothing here
imports TensorFlow at import time.
"""
