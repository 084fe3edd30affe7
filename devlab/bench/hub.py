"""Starts and stops through the hub's REST API, and what the engine and the logs saw of
them: the hub side of every measurement."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import docker
import requests

from devlab.bench.config import BENCH_USER
from devlab.bench.events import EventRecorder
from devlab.bench.progress import until_ready
from devlab.bench.started import LISTENING, POLL, START_TIMEOUT, Started
from devlab.bench.timeline import first_match
from devlab.hubapi import HubAPI, HubAPIError
from devlab.polling import PollTimeout, poll_until
from devlab.stack import engine, lifecycle
from devlab.stack.settings import StackSettings


class Hub:
    """The stack's hub, reached as an admin (or a user) through the proxy."""

    def __init__(
        self, client: docker.DockerClient, settings: StackSettings, events: EventRecorder
    ) -> None:
        self.client, self.settings, self.events = client, settings, events
        self.url = settings.hub_url.rstrip("/")
        self.token = lifecycle.admin_token(settings)

    def admin(self) -> HubAPI:
        """A fresh client per thread: requests.Session is not meant to be shared."""
        return HubAPI(self.settings.hub_url, self.token, timeout=60)

    def start(self, api: HubAPI, name: str) -> Started:
        """Request a server and wait for ready: POST blocks up to the hub's
        slow_spawn_timeout (10 s) and answers 201 once ready, else 202 and the progress
        event stream says when."""
        marks = {"request": time.time()}
        reply = api.request("POST", f"/hub/api/users/{name}/server", json={})
        if reply.status_code == 201:
            marks["ready"] = time.time()
        elif reply.status_code == 202:
            with api.session.get(
                f"{self.url}/hub/api/users/{name}/server/progress",
                stream=True,
                timeout=START_TIMEOUT,
            ) as stream:
                until_ready(stream.iter_lines(decode_unicode=True), name)
                marks["ready"] = time.time()  # before closing the stream, as it arrived
        else:
            raise HubAPIError(f"start of {name} answered {reply.status_code}: {reply.text[:300]}")
        return Started(marks)

    def routed(self, api: HubAPI, name: str) -> float:
        """When the user's server answers through the proxy (its /api, as the hub polls)."""

        def answered() -> float | None:
            with contextlib.suppress(requests.RequestException):
                if api.request("GET", f"/user/{name}/api").status_code == 200:
                    return time.time()
            return None

        try:
            return poll_until(answered, f"/user/{name}/api", timeout=30, interval=POLL)
        except PollTimeout as exc:
            raise HubAPIError(f"/user/{name}/api did not answer 200 through the proxy") from exc

    def stop(self, api: HubAPI, name: str) -> float:
        """Stop the user's server; how long until the hub said it was stopped."""
        tic = time.time()
        api.stop_server(name)
        api.wait_stopped(name, timeout=120)
        return time.time() - tic

    def marks(self, started: Started, name: str) -> dict[str, float]:
        """Add the engine's and the logs' view of one hub start to its marks."""
        marks = dict(started.marks)
        after, until = marks["request"] - 0.5, marks["ready"] + 0.5
        for mark, action in (
            ("create", "create"),
            ("inject", "extract-to-dir"),
            ("start", "start"),
        ):
            stamp = self.events.first(name, action, after, until)
            if stamp is not None:
                marks[mark] = stamp
        lab = self.lab_container(name)
        if lab is not None:
            lines = lab.logs(timestamps=True).decode(errors="replace").splitlines()
            listening = first_match(lines, LISTENING, after)
            if listening is not None:
                marks["listening"] = listening
        proxy_add = first_match(self._log(since=after), rf"Adding user {name} to proxy", after)
        if proxy_add is not None:
            marks["proxy_add"] = proxy_add
        return marks

    def lab_container(self, user: str) -> Any:
        labs = engine.lab_containers(self.client, self.settings.name, user)
        return labs[0] if labs else None

    def errors(self, since: float) -> str:
        """The hub's error lines since `since`, to explain a failed start in the report."""
        lines = [line for line in self._log(since) if " [E " in line or "Error" in line]
        return ("\n    hub log: " + "\n    hub log: ".join(lines[-6:])) if lines else ""

    def _log(self, since: float) -> list[str]:
        hubs = engine.service_containers(self.client, self.settings.name, "hub")
        if not hubs:
            return []
        raw = hubs[0].logs(timestamps=True, since=int(since) - 1, stdout=True, stderr=True)
        return raw.decode(errors="replace").splitlines()

    def remove_bench_users(self, users: int) -> None:
        """Delete the bench's hub users (their homes are kept)."""
        admin = self.admin()
        for index in range(1, users + 1):
            with contextlib.suppress(requests.RequestException):
                admin.request("DELETE", f"/hub/api/users/{BENCH_USER.format(index)}")
