"""An outside zooft plugin written against the public API only (the project's own test of it)."""
