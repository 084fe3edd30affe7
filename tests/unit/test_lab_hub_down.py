"""A lab's answer while the hub is down: which failures are "hub unreachable" (a 503 to
retry) and which are the hub's own errors (left as JupyterHub raises them).

The unreachable cases are produced by JupyterHub's real HubAuth pointed at a hub that
is not there, so a JupyterHub that reported them differently would fail here.
"""

from __future__ import annotations

import asyncio
import importlib.util
import socket
from collections.abc import Iterator
from types import ModuleType

import pytest
from aiohttp import ServerDisconnectedError
from jupyterhub.services.auth import HubAuth
from tornado.web import HTTPError

from devlab.platform import PLATFORM_DIR


def _load_hub_down() -> ModuleType:
    # The module ships in the lab image's build context, not in the devlab package's
    # import path: loaded from its file, as the image has it.
    path = PLATFORM_DIR / "images" / "lab" / "devlab_singleuser" / "hub_down.py"
    spec = importlib.util.spec_from_file_location("devlab_singleuser_hub_down", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hub_down = _load_hub_down()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but not listening: connections to it are refused, like a hub
    whose process is restarting."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def _raised_while_handling(cause: BaseException, error: HTTPError) -> HTTPError:
    """`error` as raised inside an `except` clause that caught `cause`."""
    try:
        raise cause
    except BaseException:
        try:
            raise error  # its __context__ is `cause`, as in HubAuth
        except HTTPError as raised:
            return raised


def _hub_auth_error(api_url: str) -> HTTPError:
    auth = HubAuth(api_url=api_url, api_token="devlab-test-token")

    async def ask() -> None:
        await auth.user_for_token("a-token-the-lab-never-saw", use_cache=False, sync=False)

    with pytest.raises(HTTPError) as raised:
        asyncio.run(ask())
    return raised.value


def test_a_refused_connection_to_the_hub_is_the_hub_being_unreachable(closed_port):
    error = _hub_auth_error(f"http://127.0.0.1:{closed_port}/hub/api")
    assert error.status_code == 500  # what a lab answers without devlab's provider
    assert hub_down.hub_unreachable(error)


def test_a_hub_name_that_no_longer_resolves_is_the_hub_being_unreachable():
    # A stopped hub container leaves the network, and its name with it.
    error = _hub_auth_error("http://hub.invalid:8081/hub/api")
    assert error.status_code == 500
    assert hub_down.hub_unreachable(error)


def test_a_hub_gone_mid_request_is_the_hub_being_unreachable():
    # HubAuth raises its 500 inside the `except` that caught aiohttp's error.
    error = _raised_while_handling(
        ServerDisconnectedError(), HTTPError(500, "Failed to connect to Hub API")
    )
    assert hub_down.hub_unreachable(error)


@pytest.mark.parametrize(
    "error",
    [
        # The hub answered, with an error of its own (HubAuth's 502 for the hub's 5xx).
        HTTPError(502, "Failed to check authorization (upstream problem)"),
        # HubAuth's 500s for a hub that refused the lab's own token.
        HTTPError(500, "Permission failure checking authorization, I may need a new token"),
        # A 500 raised while handling something other than a connection failure.
        _raised_while_handling(KeyError("name"), HTTPError(500, "bug")),
        # A connection failure that is not HubAuth's error.
        ConnectionRefusedError(),
        # A 503 from elsewhere is already what it is.
        _raised_while_handling(ConnectionRefusedError(), HTTPError(503)),
    ],
    ids=["hub-5xx", "token-refused", "other-context", "bare-oserror", "already-503"],
)
def test_errors_from_a_hub_that_answered_are_left_alone(error):
    assert not hub_down.hub_unreachable(error)
