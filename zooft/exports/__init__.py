"""Everything about exported models, one module per concern (none imports TensorFlow at import):

- :mod:`.protocol`: what an exporter plugin implements (``Exporter``) and gets and returns
  (``ExportContext``, ``ParityReport``);
- :mod:`.run`: the host side of ``zooft export``: options, context, atomic placement, the verdict;
- :mod:`.parity`: the comparison maths and gates every exporter's ``verify`` step uses;
- :mod:`.serving`: serving functions and reference outputs the converters start from;
- :mod:`.artifacts`: loading an artifact in its own runtime (``predict``, ``bench``, ``verify``).

Plugins reach these through the public names in :mod:`zooft` (docs/plugins.md), never here.
The package is ``exports`` (not ``export``) because ``zooft.export`` is the public function.
"""
