"""An example third-party zooft plugin: see :mod:`zooft_plugin_example.plugin`."""

__version__ = "0.1.0"
