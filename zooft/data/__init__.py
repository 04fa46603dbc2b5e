"""Data sets: TensorFlow-free indexes of examples (:mod:`.records`), format detection
(:mod:`.formats`), checks, and the tf.data pipelines that stream them."""
