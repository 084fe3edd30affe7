"""The Docker engine, through the docker SDK: images, a stack's containers, labs by label."""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from devlab.hub.labs import LABEL_STACK, LABEL_USER
from devlab.hub.networks import (
    COMPOSE_PROJECT,
    COMPOSE_SERVICE,
    LAB_PEERS,
    lab_network_prefix,
    service_filter,
)
from devlab.storage.engine import archive_text


class EngineError(RuntimeError):
    """The Docker engine cannot be used; the message says how to fix it."""


@dataclass(frozen=True)
class ServiceState:
    state: str  # running, exited, ...
    health: str | None  # healthy, unhealthy, starting, or None without a healthcheck


def connect() -> docker.DockerClient:
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except DockerException as exc:
        raise EngineError(
            f"cannot reach the Docker engine ({exc}): start Docker (e.g. `sudo systemctl "
            "start docker`) or set DOCKER_HOST"
        ) from exc
    return client


def image_exists(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
    except ImageNotFound:
        return False
    return True


def compose_containers(client: docker.DockerClient, stack: str) -> list:
    return client.containers.list(all=True, filters={"label": service_filter(stack)})


def service_states(client: docker.DockerClient, stack: str) -> dict[str, ServiceState]:
    states: dict[str, ServiceState] = {}
    for container in compose_containers(client, stack):
        service = container.labels.get(COMPOSE_SERVICE, container.name)
        info = container.attrs.get("State", {})
        health = (info.get("Health") or {}).get("Status")
        states[service] = ServiceState(state=info.get("Status", "unknown"), health=health)
    return states


def service_containers(client: docker.DockerClient, stack: str, service: str) -> list:
    """The containers Compose made for one service of the stack, running or not."""
    return client.containers.list(all=True, filters={"label": service_filter(stack, service)})


def lab_containers(client: docker.DockerClient, stack: str, user: str | None = None) -> list:
    """The stack's labs (one user's, given `user`), running or not."""
    labels = [f"{LABEL_STACK}={stack}"] + ([f"{LABEL_USER}={user}"] if user else [])
    return client.containers.list(all=True, filters={"label": labels})


def remove_labs(client: docker.DockerClient, stack: str, timeout: int = 10) -> int:
    """Stop and remove every lab of `stack`, in parallel; returns how many there were."""
    labs = lab_containers(client, stack)

    def remove(container) -> None:  # noqa: ANN001 - docker SDK Container
        try:
            container.stop(timeout=timeout)
            container.remove(force=True, v=True)
        except NotFound:
            pass  # auto-removed while we were at it
        except APIError as exc:
            if exc.status_code != 409:  # 409: removal already in progress
                raise

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(remove, labs))
    return len(labs)


def lab_networks(client: docker.DockerClient, stack: str) -> list:
    """The networks the hub made for the stack's labs (one per lab)."""
    return [
        network
        for network in client.networks.list(filters={"label": f"{LABEL_STACK}={stack}"})
        if network.name.startswith(lab_network_prefix(stack))
    ]


def remove_lab_networks(client: docker.DockerClient, stack: str) -> int:
    """Remove the stack's lab networks, disconnecting the hub and proxy from them first."""
    networks = lab_networks(client, stack)
    for network in networks:
        # NotFound: the hub removed it meanwhile, after its lab stopped.
        with contextlib.suppress(NotFound):
            network.reload()
            for container in network.containers:
                with contextlib.suppress(NotFound, APIError):
                    network.disconnect(container, force=True)
            network.remove()
    return len(networks)


def join_lab_networks(client: docker.DockerClient, stack: str) -> int:
    """Connect the stack's hub and proxy to every lab network they are missing from.

    A restarted hub or proxy keeps its networks, but Compose recreates a service whose
    image or settings changed, and the new container would not reach running labs.
    """
    joined = 0
    for network in lab_networks(client, stack):
        try:
            network.reload()
        except NotFound:  # the hub removed it meanwhile, after its lab stopped
            continue
        present = {c.id for c in network.containers}
        for service, aliases in LAB_PEERS.items():
            for container in service_containers(client, stack, service):
                if container.id not in present and container.status == "running":
                    network.connect(container, aliases=list(aliases))
                    joined += 1
    return joined


def leftovers(client: docker.DockerClient, stack: str) -> list[str]:
    """Containers and networks of `stack` still present, described for a person."""
    found = [f"container {c.name}" for c in lab_containers(client, stack)]
    found += [f"container {c.name}" for c in compose_containers(client, stack)]
    # The engine's name filter matches substrings; keep exact matches only.
    network = f"{stack}_default"
    found += [
        f"network {n.name}" for n in client.networks.list(names=[network]) if n.name == network
    ]
    found += [f"network {n.name}" for n in lab_networks(client, stack)]
    return found


def purge(client: docker.DockerClient, stack: str) -> None:
    """Remove everything of `stack` without its env file: for runs that crashed midway."""
    remove_labs(client, stack, timeout=2)
    for container in client.containers.list(
        all=True, filters={"label": f"{COMPOSE_PROJECT}={stack}"}
    ):
        container.remove(force=True, v=True)
    remove_lab_networks(client, stack)
    for network in client.networks.list(names=[f"{stack}_default"]):
        if network.name == f"{stack}_default":
            network.remove()
    remove_volumes(client, stack)


def remove_volumes(client: docker.DockerClient, stack: str) -> list[str]:
    """Volumes of `stack`: Compose's, and the NFS-backed ones the hub made for labs."""
    volumes = client.volumes.list(filters={"label": f"{COMPOSE_PROJECT}={stack}"})
    volumes += client.volumes.list(filters={"label": f"{LABEL_STACK}={stack}"})
    for volume in volumes:
        volume.remove(force=True)
    return [v.name for v in volumes]


def read_service_file(
    client: docker.DockerClient, stack: str, service: str, path: str
) -> str | None:
    """A small text file from a service's container (running or not), or None."""
    for container in service_containers(client, stack, service):
        try:
            stream, _ = container.get_archive(path)
        except NotFound:
            continue
        text = archive_text(stream)
        if text is not None:
            return text
    return None
