"""Memory of the stack's services and of one lab, as `docker stats` shows it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import docker

from devlab.stack import engine


def memory_mib(stats: Mapping[str, Any]) -> float:
    """Memory usage without inactive page cache, from one engine stats reading (cgroup
    v1 names it total_inactive_file, v2 inactive_file), as `docker stats` shows it."""
    memory = stats.get("memory_stats", {})
    detail = memory.get("stats", {})
    inactive = detail.get("total_inactive_file", detail.get("inactive_file", 0))
    usage = memory.get("usage", 0)
    return (usage - inactive if inactive < usage else usage) / 2**20


def container_memory_mib(container: Any) -> float:
    return memory_mib(container.stats(stream=False, one_shot=True))


def idle_memory_mib(container: Any) -> float | None:
    """Memory of a lab after a few idle seconds (start-up garbage collected)."""
    if container is None:
        return None
    time.sleep(3)
    return container_memory_mib(container)


def service_memory_mib(client: docker.DockerClient, stack: str) -> dict[str, float]:
    """Each running service of the stack: its memory."""
    found = {}
    for container in engine.compose_containers(client, stack):
        service = container.labels.get(engine.COMPOSE_SERVICE, container.name)
        if container.status == "running":
            found[service] = container_memory_mib(container)
    return found
