"""Fails at import: a dependency that is not installed."""

import zooft_dependency_that_is_not_installed  # noqa: F401
