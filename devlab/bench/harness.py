"""The concurrency harness: the same work for many users, released at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def at_once(names: list[str], work: Callable[[str], Any]) -> dict[str, Any]:
    """Run `work(name)` for every name in its own thread, released together by a barrier.

    Returns each name's result, or the exception it raised.
    """
    barrier = threading.Barrier(len(names))
    results: dict[str, Any] = {}

    def one(name: str) -> None:
        barrier.wait()
        try:
            results[name] = work(name)
        except Exception as exc:
            results[name] = exc

    threads = [threading.Thread(target=one, args=(n,), name=f"bench-{n}") for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
