"""Waiting for something another process does: a server starting, an engine coming back.

One loop for every such wait in devlab, so each one ends the same way: with the value it
waited for, or an error naming what never happened, never by falling through at its
deadline as if it had.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class PollTimeout(TimeoutError):
    """What was waited for did not happen in time; `last` is the predicate's last value."""

    def __init__(self, what: str, timeout: float, last: object = None) -> None:
        super().__init__(f"not within {timeout:g} s: {what}")
        self.what = what
        self.timeout = timeout
        self.last = last


def poll_until(
    predicate: Callable[[], T | None],
    what: str,
    *,
    timeout: float,
    interval: float = 1.0,
) -> T:
    """The first truthy value of `predicate`, called every `interval` seconds.

    The predicate is called at least once, and once more at the deadline, so a slow
    predicate cannot make a wait fail that it would have seen succeed. What it raises
    propagates: a wait that learns it can never succeed (a server that stopped while
    starting) says so at once instead of waiting out its timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise PollTimeout(what, timeout, value)
        time.sleep(min(interval, remaining))
