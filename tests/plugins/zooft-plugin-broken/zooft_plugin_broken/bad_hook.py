"""A hook with an argument zooft does not pass."""

from __future__ import annotations

from typing import Any

import zooft


@zooft.hookimpl
def zooft_register_tasks(register: Any, surprise: Any) -> None:
    """Wrong signature: ``surprise`` is not a hook argument."""
