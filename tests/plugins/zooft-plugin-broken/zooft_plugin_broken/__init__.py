"""Plugins that fail on purpose; zooft must contain each failure to its plugin."""
