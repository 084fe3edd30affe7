"""Measure a running stack's disk usage (devlab.storage.usage) from inside its services.

The hub mounts the homes, project and hub database volumes, so one exec into it sees
all three filesystems as the labs and the database do, on whatever machine the engine
runs (Docker Desktop's VM included). When the hub is down (a full disk is one reason),
the nfs service, which mounts homes and project, answers instead. The scan runs beside
the services, never in a spawn, and `timeout` bounds it.
"""

from __future__ import annotations

import time

import docker
from docker.errors import APIError, NotFound

from devlab.stack import engine
from devlab.storage import usage
from devlab.storage.usage import DiskReport

# Volume (by its name after the stack's) -> what it holds, for people.
VOLUMES = {"homes": "homes", "project": "project", "hub-data": "hub database"}
SERVICES = ("hub", "nfs")  # in order of preference


def measure(client: docker.DockerClient, stack: str) -> DiskReport | None:
    """Scan from the first running service of SERVICES that mounts the homes volume;
    None when none runs (the stack is down)."""
    for service in SERVICES:
        for container in engine.service_containers(client, stack, service):
            if container.status != "running":
                continue
            paths, sources = _mounts(container, stack)
            if "homes" not in paths:
                continue
            command = usage.scan_script(paths, paths["homes"])
            started = time.monotonic()
            try:
                result = container.exec_run(command)
            except (APIError, NotFound):
                continue  # stopped meanwhile: try the next one
            took = time.monotonic() - started
            output = result.output.decode(errors="replace")
            try:
                return DiskReport(usage.parse_scan(output, sources, service, took))
            except usage.ScanError as exc:
                return DiskReport(None, f"{service}: {exc}")
    return None


def report(stack: str) -> DiskReport:
    """For `devlab status`: the usage, or that there is nothing running to measure from."""
    found = measure(engine.connect(), stack)
    return found or DiskReport(None, f"neither {' nor '.join(SERVICES)} of {stack!r} is running")


def _mounts(container, stack: str) -> tuple[dict[str, str], dict[str, str]]:  # noqa: ANN001
    """(label -> path in the container, label -> directory on the engine's machine)."""
    mounts = {mount.get("Name"): mount for mount in container.attrs.get("Mounts", [])}
    paths, sources = {}, {}
    for volume, label in VOLUMES.items():  # homes first: it names a shared filesystem
        mount = mounts.get(f"{stack}_{volume}")
        if mount is not None:
            paths[label] = mount["Destination"]
            sources[label] = mount.get("Source") or mount["Destination"]
    return paths, sources
