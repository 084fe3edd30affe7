"""Link flows under way: the OAuth state and PKCE verifier, bound to the hub user.

The state is what GitHub echoes to the callback; binding it to the hub user who started
the flow means a callback URL handed to someone else links nobody (login CSRF). The
verifier never leaves the service, so an intercepted code is worthless (PKCE S256).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from devlab.oauth2.core import pkce_s256

# Seconds a flow may take from the link button to GitHub's callback.
FLOW_TTL = 600.0


class FlowError(Exception):
    """A callback that does not finish a flow this user started; str() says why."""


@dataclass(frozen=True)
class Flow:
    state: str
    verifier: str
    hub_user: str
    expires_at: float

    @property
    def challenge(self) -> str:
        return pkce_s256(self.verifier)


class PendingFlows:
    def __init__(self, clock: Callable[[], float] = time.monotonic, ttl: float = FLOW_TTL) -> None:
        self._clock = clock
        self._ttl = ttl
        self._flows: dict[str, Flow] = {}

    def begin(self, hub_user: str) -> Flow:
        now = self._clock()
        for state in [s for s, f in self._flows.items() if now >= f.expires_at]:
            del self._flows[state]
        flow = Flow(
            state=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(48),  # 64 characters: RFC 7636 wants 43 to 128
            hub_user=hub_user,
            expires_at=now + self._ttl,
        )
        self._flows[flow.state] = flow
        return flow

    def finish(self, state: str | None, hub_user: str) -> Flow:
        """The flow `state` names, once: for its own hub user, before it expires."""
        flow = self._flows.pop(state or "", None)
        if flow is None:
            raise FlowError(
                "this link request is unknown or was already used; start again from the "
                "Link GitHub button"
            )
        if flow.hub_user != hub_user:
            raise FlowError(
                "this link request was started by another hub user; start again from the "
                "Link GitHub button while logged in as yourself"
            )
        if self._clock() >= flow.expires_at:
            raise FlowError("this link request expired; start again from the Link GitHub button")
        return flow
