"""zooft's first-party text plugin: the ``text-classify`` task and the text data formats.

:mod:`.plugin` (the entry point) registers them without importing TensorFlow. Data formats:
:mod:`.tabular` (CSV/TSV/JSONL) and :mod:`.folders` (``DIR/<label>/*.txt``), both checked by
:mod:`.check`; the task lives in :mod:`.task` with its metrics in :mod:`.metrics` and its
export hooks in :mod:`.export`.
"""
