"""A logged-in user: their browser session, their API token, their server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests

from devlab.client.login import link_github_mock, unlink_github
from devlab.hubapi import HubAPI, HubAPIError
from devlab.testing.lab import Lab

if TYPE_CHECKING:
    from devlab.testing.stack import DevlabStack


class SpawnError(RuntimeError):
    """A lab did not start; the message carries the hub's spawn log for that user."""


class User:
    def __init__(self, devlab: DevlabStack, name: str, browser: requests.Session) -> None:
        self.devlab = devlab
        self.name = name
        self.browser = browser  # holds the hub's login cookie, as a browser would
        token = devlab.admin.request(
            "POST",
            f"/hub/api/users/{name}/tokens",
            json={"note": "devlab pytest plugin", "expires_in": 24 * 3600},
        )
        if token.status_code != 201:
            raise HubAPIError(f"could not make a token for {name}: {token.text[:300]}")
        self.token_id = token.json()["id"]
        # The user's own token: what it may do is what the user may do.
        self.api = HubAPI(devlab.hub_url, token.json()["token"])

    def spawn(self, image: str | None = None, size: str | None = None, timeout: float = 180) -> Lab:
        """Start this user's server with the choices the spawn form offers, and wait for it."""
        options: dict[str, Any] = {}
        if image is not None:
            options["image"] = image
        if size is not None:
            options["size"] = size
        # Always explicit, as the form posts its preselected defaults: an empty body would
        # make JupyterHub reuse this user's last choice, which may have left the menu.
        reply = self.api.request(
            "POST", f"/hub/api/users/{self.name}/server", json={"user_options": options}
        )
        if reply.status_code not in (201, 202):
            raise SpawnError(self._explain(f"the hub refused: {reply.status_code} {reply.text}"))
        try:
            self.api.wait_ready(self.name, timeout)
        except HubAPIError as exc:
            raise SpawnError(self._explain(str(exc))) from exc
        token = self.api.session.headers["Authorization"].split()[-1]
        return Lab(self.devlab.hub_url, self.name, token, stop=self.stop_server)

    def link_github(self, login: str) -> None:
        """Link mock GitHub user `login` (auth.github_link), as the hub's link page does."""
        link_github_mock(self.browser, self.devlab.hub_url, login)

    def unlink_github(self) -> str:
        """Unlink (and revoke) this user's GitHub account; the page's message."""
        return unlink_github(self.browser, self.devlab.hub_url)

    def stop_server(self) -> None:
        self.api.stop_server(self.name)
        self.api.wait_stopped(self.name)

    def logout(self) -> None:
        """End the browser session and revoke the API token."""
        self.browser.get(f"{self.devlab.hub_url}hub/logout", timeout=30)
        self.devlab.admin.request("DELETE", f"/hub/api/users/{self.name}/tokens/{self.token_id}")

    def _explain(self, what: str) -> str:
        log = self.devlab.spawn_log(self.name)
        return f"{self.name}'s lab did not start: {what}\n--- spawn log ---\n{log}"
