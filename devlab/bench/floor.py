"""The floor: the hub's lab started straight through the engine, without the hub.

Same image, uid, groups, mounts, size limits and hardening as a spawned lab, running
`jupyter server`, polled on a port published on 127.0.0.1. What a start through the hub
costs above this is what devlab and JupyterHub add.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import docker
import requests
from docker.errors import APIError, NotFound

from devlab.bench.errors import BenchError
from devlab.bench.events import EventRecorder
from devlab.bench.started import LISTENING, POLL, START_TIMEOUT, Started
from devlab.bench.timeline import first_match
from devlab.hub.labs import LAB_HOST_CONFIG, READ_ONLY_ROOT
from devlab.identity import Identity
from devlab.polling import PollTimeout, poll_until
from devlab.stack import engine
from devlab.stack.settings import StackSettings

FLOOR_USER_LABEL = "bench-floor-{}"
LABEL_BENCH = "devlab.bench"


def floor_create_kwargs(
    identity: Identity,
    *,
    stack: str,
    image: str,
    network: str,
    size_config: dict[str, int],
) -> dict[str, Any]:
    """docker SDK `containers.create` kwargs of `identity`'s floor lab."""
    label = FLOOR_USER_LABEL.format(identity.username)
    return {
        "image": image,
        "command": [
            "jupyter",
            "server",
            "--ServerApp.ip=0.0.0.0",
            "--ServerApp.port=8888",
            "--IdentityProvider.token=",
            "--ServerApp.base_url=/",
            f"--ServerApp.root_dir={identity.home}",
            "--ServerApp.open_browser=False",
        ],
        "name": f"{stack}-{label}",
        "user": f"{identity.uid}:{identity.gid}",
        "group_add": [str(gid) for gid in identity.supplementary_gids],
        "working_dir": identity.home,
        "environment": {
            "HOME": identity.home,
            "USER": identity.username,
            "LOGNAME": identity.username,
        },
        "volumes": {
            f"{stack}_homes": {"bind": "/home", "mode": "rw"},
            f"{stack}_project": {"bind": "/project", "mode": "rw"},
        },
        "network": network,
        "ports": {"8888/tcp": ("127.0.0.1", None)},
        # Labelled like a lab so `devlab down` removes it if the bench dies midway.
        "labels": {engine.LABEL_STACK: stack, engine.LABEL_USER: label, LABEL_BENCH: "floor"},
        **LAB_HOST_CONFIG,
        **READ_ONLY_ROOT,  # devlab's lab image declares it can run so, as spawned labs do
        **size_config,
    }


class Floor:
    """Floor labs of one stack: started, timed, and removed."""

    def __init__(
        self,
        client: docker.DockerClient,
        settings: StackSettings,
        lab_image: str,
        size_config: dict[str, int],
        events: EventRecorder,
    ) -> None:
        self.client, self.settings, self.events = client, settings, events
        self.lab_image, self.size_config = lab_image, size_config

    def start(self, identity: Identity, poll: float = POLL) -> Started:
        """Create and start `identity`'s floor lab, and wait until its /api answers.

        Every poll goes through docker-proxy to a port not yet listening, which costs CPU
        on a 2-core machine: concurrent starts poll less often (see `concurrency`).
        """
        marks = {"request": time.time()}
        container = self.client.containers.create(
            **floor_create_kwargs(
                identity,
                stack=self.settings.name,
                image=self.lab_image,
                network=self.settings.network,
                size_config=self.size_config,
            )
        )
        try:
            container.start()
            container.reload()
            port = container.attrs["NetworkSettings"]["Ports"]["8888/tcp"][0]["HostPort"]
            url = f"http://127.0.0.1:{port}/api"

            def answered() -> float | None:
                with contextlib.suppress(requests.RequestException):
                    if requests.get(url, timeout=5).status_code == 200:
                        return time.time()
                if time.time() - marks["request"] > 10:  # a dead lab fails fast, with its log
                    container.reload()
                    if container.status != "running":
                        raise PollTimeout(f"{url} (the lab exited)", START_TIMEOUT)
                return None

            try:
                marks["api"] = poll_until(answered, url, timeout=START_TIMEOUT, interval=poll)
            except PollTimeout as exc:
                container.reload()
                tail = container.logs(tail=8).decode(errors="replace").strip()
                raise BenchError(
                    f"the floor lab of {identity.username} ({container.status}) never answered "
                    f"on {url}; its log ends:\n{tail}"
                ) from exc
            return Started(marks, container)
        except BaseException:
            remove(container)
            raise

    def marks(self, started: Started, label: str) -> dict[str, float]:
        """Add the engine's and the lab log's view of one floor start to its marks."""
        marks = dict(started.marks)
        after = marks["request"] - 0.5
        for action in ("create", "start"):
            stamp = self.events.first(label, action, after, marks["api"] + 0.5)
            if stamp is not None:
                marks[action] = stamp
        lines = started.container.logs(timestamps=True).decode(errors="replace").splitlines()
        listening = first_match(lines, LISTENING, after)
        if listening is not None:
            marks["listening"] = listening
        return marks

    def remove_all(self) -> None:
        """Remove every floor lab of this stack (left over if a cycle failed midway)."""
        for container in self.client.containers.list(
            all=True, filters={"label": [f"{LABEL_BENCH}=floor"]}
        ):
            if container.labels.get(engine.LABEL_STACK) == self.settings.name:
                remove(container)


def remove(container: Any) -> None:
    """Remove a floor lab, whatever state it is in (volumes kept: they are the stack's)."""
    with contextlib.suppress(NotFound, APIError):
        container.remove(force=True, v=False)
