"""`devlab down` / `devlab up`, CYCLES times, with labs running at every `down`.

Every cycle writes a file into each user's home just before `down` (and the files of the
cycles before must still be there, byte for byte, after each `up`); spawns the labs that
`down` removed (the hub must show them stopped, not as a ghost still "running"); and
counts what the engine holds for the stack: containers, networks (the stack's and each
lab's `<stack>_lab-<user>`), volumes (named ones, and the anonymous ones of every
container the stack ever ran), and the proxy's routes. After the first cycle that count is
the baseline; anything more after the last cycle is a leak.
"""

from __future__ import annotations

import hashlib
import os
import re
import statistics
import time
from collections import Counter

import docker
import pytest
from docker.errors import NotFound

from devlab.hub.labs import LABEL_STACK
from devlab.stack import engine
from devlab.testing.lab import Lab, LabError
from devlab.testing.user import User

CYCLES = 5  # about 20 s each here (down 1.5 s, warm up 10 s, two spawns, checks)
USERS = ("alice", "bob")
FILE_SIZE = 256 * 1024
ANONYMOUS = re.compile("[0-9a-f]{64}")  # the names the engine gives unnamed volumes


def engine_objects(client: docker.DockerClient, stack: str) -> Counter[str]:
    """What the engine holds for `stack`, by kind and name (networks can share a name)."""
    held: Counter[str] = Counter()
    containers = client.containers.list(all=True, filters={"label": f"{LABEL_STACK}={stack}"})
    containers += engine.compose_containers(client, stack)
    held.update(f"container {c.name}" for c in {c.id: c for c in containers}.values())
    held.update(
        f"network {n.name}"
        for n in client.networks.list()
        if n.name == f"{stack}_default" or n.name.startswith(f"{stack}_")
    )
    named = client.volumes.list(filters={"label": f"{engine.COMPOSE_PROJECT}={stack}"})
    named += client.volumes.list(filters={"label": f"{LABEL_STACK}={stack}"})
    named += [v for v in client.volumes.list() if v.name.startswith(f"{stack}_")]
    held.update(f"volume {name}" for name in {v.name for v in named})
    return held


def anonymous_volumes(client: docker.DockerClient, stack: str) -> set[str]:
    """The unnamed volumes the stack's containers (services and labs) mount now."""
    containers = client.containers.list(all=True, filters={"label": f"{LABEL_STACK}={stack}"})
    containers += engine.compose_containers(client, stack)
    return {
        mount["Name"]
        for container in containers
        for mount in container.attrs.get("Mounts", [])
        if mount.get("Type") == "volume" and ANONYMOUS.fullmatch(mount.get("Name", ""))
    }


def still_there(client: docker.DockerClient, volumes: set[str]) -> set[str]:
    present = set()
    for name in volumes:
        try:
            client.volumes.get(name)
        except NotFound:
            continue
        present.add(name)
    return present


def routes(devlab) -> Counter[str]:
    reply = devlab.admin.request("GET", "/hub/api/proxy")
    assert reply.status_code == 200, reply.text
    return Counter(f"route {path}" for path in reply.json())


def lost_bytes(lab: Lab, files: dict[str, bytes]) -> int:
    """Bytes of `files` (path in the home -> content) that do not read back the same."""
    lost = 0
    for path, data in files.items():
        try:
            back = lab.read_file(path, binary=True)
        except LabError:
            back = b""
        if hashlib.sha256(back).digest() != hashlib.sha256(data).digest():
            lost += len(data)
    return lost


def ghost(devlab, user: str) -> bool:
    """The hub still shows a server for `user` whose lab `down` removed."""
    return devlab.admin.server(user) is not None


@pytest.fixture
def users(devlab) -> dict[str, User]:
    return {name: devlab.login(name) for name in USERS}


def test_down_up_cycles_lose_no_bytes_and_leak_nothing(devlab, users, chaos_report):
    client = docker.from_env()
    labs = {name: user.spawn() for name, user in users.items()}
    written: dict[str, dict[str, bytes]] = {name: {} for name in USERS}
    up_seconds, down_seconds = [], []
    lost, ghosts = 0, []
    anonymous: set[str] = set()
    baseline: Counter[str] | None = None
    for cycle in range(1, CYCLES + 1):
        for name, lab in labs.items():
            path = f"chaos-cycle-{cycle}.bin"
            written[name][path] = os.urandom(FILE_SIZE)
            lab.write_file(path, written[name][path])
        anonymous |= anonymous_volumes(client, devlab.name)

        started = time.monotonic()
        devlab.cli("down")  # fails itself if containers or networks remain
        down_seconds.append(time.monotonic() - started)
        started = time.monotonic()
        devlab.cli("up", "--port", str(devlab.port))  # every service healthy
        up_seconds.append(time.monotonic() - started)

        ghosts += [f"cycle {cycle}: {name}" for name in USERS if ghost(devlab, name)]
        labs = {name: user.spawn() for name, user in users.items()}
        for name, lab in labs.items():
            lost += lost_bytes(lab, written[name])
            assert lab.execute("print(6 * 7)").stdout.strip() == "42"
        anonymous |= anonymous_volumes(client, devlab.name)
        held = engine_objects(client, devlab.name) + routes(devlab)
        if baseline is None:
            baseline = held
            print(f"held after the first cycle: {sorted(baseline)}; anonymous: {anonymous}")
        print(f"cycle {cycle}: up {up_seconds[-1]:.1f} s, down {down_seconds[-1]:.1f} s")

    assert baseline is not None
    leaked = held - baseline  # more of a kind and name than the first cycle left
    # Anonymous volumes of containers that are gone: nothing mounts them any more.
    orphans = still_there(client, anonymous - anonymous_volumes(client, devlab.name))
    leaks = sum(leaked.values()) + len(orphans)
    print(f"leaked beyond the first cycle: {dict(leaked)}; orphaned volumes: {orphans}")
    chaos_report.record(f"down/up x {CYCLES}: leaked objects", leaks, "objects", "0")
    chaos_report.record(f"down/up x {CYCLES}: bytes lost", lost, "bytes", "0")
    chaos_report.record(f"down/up x {CYCLES}: ghost servers after up", len(ghosts), "servers", "0")
    chaos_report.record(
        f"down/up x {CYCLES}: warm up, median", statistics.median(up_seconds), "s", "-"
    )
    chaos_report.record(
        f"down/up x {CYCLES}: down, median", statistics.median(down_seconds), "s", "-"
    )
    assert lost == 0
    assert ghosts == []
    assert leaks == 0, f"leaked: {dict(leaked)}, orphaned anonymous volumes: {orphans}"
