"""zooft's first-party ``bert`` backbone source: BERT encoders from keras-hub presets.

:mod:`.plugin` (the entry point) registers the source and ships ``models.yaml``; it never
imports TensorFlow. :mod:`.backbone` builds the Keras model, :mod:`.layers` holds the in-graph
tokenizer layer and :mod:`.presets` writes tiny offline presets (tests, docs).
"""
