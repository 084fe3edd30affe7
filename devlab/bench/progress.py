"""Reading JupyterHub's spawn progress stream (server-sent events) until ready: pure, so
it is unit-tested on recorded lines."""

from __future__ import annotations

import json
from collections.abc import Iterable

from devlab.hubapi import HubAPIError


def until_ready(lines: Iterable[str], name: str) -> None:
    """Consume the lines of /hub/api/users/NAME/server/progress until its ready event.

    Returns as the ready event arrives, so the caller's clock marks ready. Raises
    HubAPIError with the hub's message on a failed event, or if the stream ends first.
    """
    for line in lines:
        if line and line.startswith("data:"):
            event = json.loads(line[5:])
            if event.get("ready"):
                return
            if event.get("failed"):
                raise HubAPIError(f"{name}'s spawn failed: {event.get('message')}")
    raise HubAPIError(f"{name}'s progress stream ended before ready")
