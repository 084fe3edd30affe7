"""Recording the engine's container events of a stack's labs, for the timeline's marks.

The engine stamps events with its own clock, the host's, in nanoseconds: the only way
to see when the hub's create and start calls actually reached the engine.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import docker

from devlab.polling import PollTimeout, poll_until
from devlab.stack import engine


def first_event(
    events: Iterable[Mapping[str, Any]], user: str, action: str, after: float, until: float
) -> float | None:
    """Engine time (seconds) of the first `action` on `user`'s container in [after, until]."""
    for event in events:
        attrs = event.get("Actor", {}).get("Attributes", {})
        stamp = event.get("timeNano", 0) / 1e9
        if (
            event.get("Action") == action
            and attrs.get(engine.LABEL_USER) == user
            and after <= stamp <= until
        ):
            return stamp
    return None


class EventRecorder:
    """Every container event of the stack's labs, read by one thread for the whole bench."""

    def __init__(self, client: docker.DockerClient, stack: str) -> None:
        self.client, self.stack = client, stack
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def running(self) -> Iterator[EventRecorder]:
        stream = self.client.events(
            decode=True,
            filters={"type": "container", "label": f"{engine.LABEL_STACK}={self.stack}"},
        )

        def read() -> None:
            with contextlib.suppress(Exception):  # the stream raises when closed
                for event in stream:
                    with self._lock:
                        self.events.append(event)

        thread = threading.Thread(target=read, name="bench-events", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stream.close()
            thread.join(timeout=5)

    def first(self, user: str, action: str, after: float, until: float = 1e12) -> float | None:
        """Engine time of the first `action` on `user`'s container in [after, until]."""

        def seen() -> float | None:
            with self._lock:
                return first_event(self.events, user, action, after, until)

        try:  # events arrive slightly after the API call returns
            return poll_until(seen, f"{action} of {user}", timeout=2, interval=0.05)
        except PollTimeout:
            return None
