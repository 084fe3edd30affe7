"""A small client for JupyterHub's REST API, through the proxy like any other client."""

from __future__ import annotations

from typing import Any

import requests

from devlab.polling import PollTimeout, poll_until


class HubAPIError(RuntimeError):
    """The hub answered with an error, or a server did not reach the wanted state in time."""


class HubAPI:
    def __init__(
        self, hub_url: str, token: str, timeout: float = 30, verify: bool | str = True
    ) -> None:
        self.base = hub_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"
        self.timeout = timeout
        # requests' `verify`: True for the system's CAs, or the path of the one
        # certificate to trust (a workshop's self-signed one, see stack.tls.hub_verify).
        # Given per request: REQUESTS_CA_BUNDLE overrides a session's own `verify`.
        self.verify = verify

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("verify", self.verify)
        return self.session.request(method, f"{self.base}{path}", timeout=self.timeout, **kwargs)

    def _api(self, method: str, path: str, ok: tuple[int, ...], **kwargs: Any) -> requests.Response:
        response = self.request(method, f"/hub/api{path}", **kwargs)
        if response.status_code not in ok:
            raise HubAPIError(
                f"{method} /hub/api{path} answered {response.status_code}: {response.text[:500]}"
            )
        return response

    def ensure_user(self, name: str) -> dict[str, Any]:
        response = self._api("POST", f"/users/{name}", ok=(201, 409))
        if response.status_code == 409:
            return self.user(name)
        return response.json()

    def user(self, name: str) -> dict[str, Any]:
        return self._api("GET", f"/users/{name}", ok=(200,)).json()

    def start_server(self, name: str, options: dict[str, Any] | None = None) -> None:
        # Always explicit: with no user_options JupyterHub reuses the user's last choice,
        # which may have left the menu since.
        self._api(
            "POST", f"/users/{name}/server", ok=(201, 202), json={"user_options": options or {}}
        )

    def stop_server(self, name: str) -> None:
        self._api("DELETE", f"/users/{name}/server", ok=(202, 204))

    def server(self, name: str) -> dict[str, Any] | None:
        return self.user(name).get("servers", {}).get("")

    def wait_ready(self, name: str, timeout: float = 120) -> dict[str, Any]:
        """The user's server once ready; HubAPIError at once if it stops while starting."""

        def ready() -> dict[str, Any] | None:
            server = self.server(name)
            if server is None:
                raise HubAPIError(f"{name}'s server stopped while starting; see the hub log")
            return server if server.get("ready") else None

        try:
            return poll_until(ready, f"{name}'s server ready", timeout=timeout, interval=0.2)
        except PollTimeout as exc:
            raise HubAPIError(f"{name}'s server was not ready after {timeout:.0f} s") from exc

    def wait_stopped(self, name: str, timeout: float = 60) -> None:
        try:
            poll_until(
                lambda: self.server(name) is None,
                f"{name}'s server stopped",
                timeout=timeout,
                interval=0.2,
            )
        except PollTimeout as exc:
            raise HubAPIError(f"{name}'s server was still up after {timeout:.0f} s") from exc
