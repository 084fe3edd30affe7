"""Waiting for something a stack does in the background (a prepuller round, a cull)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], what: str, timeout: float = 120) -> T:
    """The first truthy value of `predicate`, polled every second; AssertionError naming
    `what` after `timeout` seconds, so a test says what never happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"not within {timeout} s: {what}")
