"""Whether a lab request failed only because the hub is unreachable, and what to answer.

A lab asks the hub who a token belongs to the first time it sees the token (JupyterHub's
HubAuth then caches the answer for five minutes). When the hub is down, HubAuth
(jupyterhub/services/auth.py, `_api_request`, JupyterHub 6.1) turns any failure to reach
it into HTTPError(500, "Failed to connect to Hub API ..."), raised inside its `except`
clause, so the connection error is the HTTPError's `__context__`: aiohttp's
ClientConnectorError for a refused connection (a hub restarting), ClientConnectorDNSError
for a name that no longer resolves (the hub's container stopped), ServerDisconnectedError
for a hub gone mid-request, a TimeoutError for one that does not answer. That is a
temporary state the user can wait out, so the lab answers 503 with a retry hint instead.

A hub that answers with an error of its own (HubAuth's 502, or its 500s for a refused
or expired token) is not down: those errors are left as they are.

This module needs only tornado and aiohttp (both in the hub's and the lab's Python), so
the unit tests import it without a Jupyter server.
"""

from __future__ import annotations

from aiohttp import ClientConnectionError
from tornado.web import HTTPError

# A hub killed by a crash answers again within about 5 s (its container restarts in ~1 s).
RETRY_AFTER_SECONDS = 5
MESSAGE = (
    "The hub is not answering (it may be restarting), and this request needs it to check "
    f"your login. Your work is safe: retry in {RETRY_AFTER_SECONDS} seconds."
)


def hub_unreachable(error: BaseException) -> bool:
    """True for HubAuth's error when it could not reach the hub at all."""
    return (
        isinstance(error, HTTPError)
        and error.status_code == 500
        # OSError covers refused connections, failed name lookups and timeouts.
        and isinstance(error.__context__, ClientConnectionError | OSError)
    )
