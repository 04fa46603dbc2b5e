"""The ``images`` plugin: registers the ``image-folder`` and ``csv`` data formats.

Only metadata and functions are registered; nothing here imports TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable

import zooft

from . import csvfile, folders


@zooft.hookimpl
def zooft_register_datasets(register: Callable[[zooft.DatasetFormat], None]) -> None:
    """Register ``image-folder`` (``DIR/<class>/*`` or ``DIR/{train,val,test}/<class>/*``) and ``csv``."""
    register(
        zooft.DatasetFormat(
            name=folders.FORMAT,
            sniff=folders.sniff,
            load=folders.load,
            modalities=("image",),
            tasks=("classify",),
            description="DIR/<class>/*.jpg, optionally under DIR/train, DIR/val, DIR/test",
        )
    )
    register(
        zooft.DatasetFormat(
            name=csvfile.FORMAT,
            sniff=csvfile.sniff,
            load=csvfile.load,
            modalities=("image",),
            tasks=("classify",),
            description="a CSV/TSV file with path,label[,split] columns; paths relative to the file",
        )
    )
