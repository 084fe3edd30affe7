"""Host ports `devlab up` publishes: who holds one already, said before Compose fails on it.

Compose's own error ("port is already allocated" or "address already in use") names
neither the holder nor the option that moves devlab elsewhere. The pure half here turns
"purpose -> port" and "port -> holder" into messages; the adapter half finds holders:
a container publishing the port (Docker's port allocator refuses it even when no process
listens), else the local process listening on it, read from /proc.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import socket
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker

from devlab.hub.networks import COMPOSE_ONEOFF, COMPOSE_PROJECT
from devlab.stack.settings import StackSettings

# "hub (--port)" -> ("hub", "--port"): purposes name the option that moves them.
_PURPOSE = re.compile(r"^(?P<what>.*?)\s*\((?P<flag>--[A-Za-z0-9-]+)\)\s*$")
_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's st column
_WILDCARDS = ("", "0.0.0.0", "::")
UNKNOWN_HOLDER = "another process"
# Connections in TIME_WAIT of a socket without SO_REUSEADDR block every new bind.
CLOSING_HOLDER = "connections still closing (TIME_WAIT, gone within a minute)"
PROC = Path("/proc")


@dataclass(frozen=True)
class PortConflict:
    purpose: str  # e.g. "hub (--port)"
    port: int
    holder: str  # e.g. "process python3 (pid 1234)" or "container x (Compose project y)"
    alternative: int | None = None  # a port that was free when checked


@dataclass(frozen=True)
class ContainerHolder:
    name: str
    project: str | None

    def __str__(self) -> str:
        if self.project:
            return f"container {self.name} (Compose project {self.project})"
        return f"container {self.name}"


# --- pure -------------------------------------------------------------------------------


def conflicts(
    wanted: Mapping[str, int],
    holders: Mapping[int, str],
    alternatives: Mapping[int, int] | None = None,
) -> list[PortConflict]:
    """The wanted ports that something else holds, in the order they were wanted."""
    alternatives = alternatives or {}
    return [
        PortConflict(purpose, port, holders[port], alternatives.get(port))
        for purpose, port in wanted.items()
        if port in holders
    ]


def describe(conflict: PortConflict) -> str:
    """One sentence naming the port, its purpose, its holder and the option that moves it."""
    match = _PURPOSE.match(conflict.purpose)
    what, flag = (match["what"], match["flag"]) if match else (conflict.purpose, None)
    label = f"{what}, {flag}" if flag else what
    head = f"port {conflict.port} ({label}) is taken by {conflict.holder}"
    if flag is None:
        return f"{head}; stop it or choose another port"
    choice = f"{flag} {conflict.alternative}" if conflict.alternative else f"{flag} PORT"
    return f"{head}; stop it or choose another with {choice}"


def listening_inodes(proc_net_tcp: str, port: int) -> set[int]:
    """Socket inodes listening on `port` in a /proc/net/tcp or tcp6 table, any address."""
    return {inode for state, inode in _sockets(proc_net_tcp, port) if state == _LISTEN}


def closing_sockets(proc_net_tcp: str, port: int) -> int:
    """How many sockets on local `port` are not listening (connections, TIME_WAIT)."""
    return sum(state != _LISTEN for state, _ in _sockets(proc_net_tcp, port))


def _sockets(proc_net_tcp: str, port: int) -> Iterable[tuple[str, int]]:
    """(state, inode) of the sockets whose local port is `port`."""
    for line in proc_net_tcp.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        _, _, hex_port = fields[1].rpartition(":")
        try:
            if int(hex_port, 16) == port:
                yield fields[3], int(fields[9])
        except ValueError:
            continue


def describe_process(pid: int, comm: str) -> str:
    """How a process holding a port is named; docker-proxy stands in for a container."""
    if comm == "docker-proxy":
        return f"a Docker container (through docker-proxy, pid {pid}; see `docker ps`)"
    return f"process {comm} (pid {pid})"


def published_by(attrs: Mapping[str, Any], bind: str, port: int) -> bool:
    """Whether a container (inspect or list attrs) publishes TCP `port` where `bind` needs it.

    List results (sparse) carry "Ports" as a list; inspect results carry NetworkSettings.Ports
    or, for a stopped container, HostConfig.PortBindings, as {"8000/tcp": [{HostIp, HostPort}]}.
    """
    return any(_overlaps(ip, bind) for ip, published in _published(attrs) if published == port)


def container_holder(attrs: Mapping[str, Any]) -> ContainerHolder:
    """Name and Compose project of a container, from inspect or list attrs."""
    name = attrs.get("Name") or next(iter(attrs.get("Names") or []), "") or attrs.get("Id", "")
    labels = attrs.get("Labels") or (attrs.get("Config") or {}).get("Labels") or {}
    # Images Compose built carry its project label too; only its containers carry oneoff.
    project = labels.get(COMPOSE_PROJECT) if COMPOSE_ONEOFF in labels else None
    return ContainerHolder(name=str(name).lstrip("/"), project=project)


def _published(attrs: Mapping[str, Any]) -> Iterable[tuple[str, int]]:
    ports = attrs.get("Ports")
    if isinstance(ports, list):
        for entry in ports:
            if entry.get("Type", "tcp") == "tcp" and entry.get("PublicPort"):
                yield str(entry.get("IP", "")), int(entry["PublicPort"])
        return
    bindings = (attrs.get("NetworkSettings") or {}).get("Ports") or (
        attrs.get("HostConfig") or {}
    ).get("PortBindings")
    for key, hosts in (bindings or {}).items():
        if not key.endswith("/tcp"):
            continue
        for host in hosts or []:
            with contextlib.suppress(ValueError, TypeError):
                yield str(host.get("HostIp", "")), int(host.get("HostPort"))


def _overlaps(published_ip: str, bind: str) -> bool:
    return published_ip in _WILDCARDS or bind in _WILDCARDS or published_ip == bind


# --- adapter ----------------------------------------------------------------------------


def find_holder(
    bind: str,
    port: int,
    client: docker.DockerClient | None,
    *,
    ignore_project: str | None = None,
) -> str | None:
    """Who holds `port` on `bind`, for a person; None when `devlab up` can publish it.

    A container publishing the port is named first: its docker-proxy is the process that
    listens, but the container is what to stop. Containers of `ignore_project` (the stack
    itself, already running) are not in the way.
    """
    if client is not None:
        for attrs in _container_attrs(client):
            if published_by(attrs, bind, port):
                holder = container_holder(attrs)
                if ignore_project is not None and holder.project == ignore_project:
                    return None
                return str(holder)
    if _can_bind(bind, port, reuse=False):
        return None
    # Connections still closing (TIME_WAIT) block a plain bind but not Docker's, which
    # sets SO_REUSEADDR like every Go listener; only a listener really holds the port.
    if _can_bind(bind, port, reuse=True):
        return None
    return process_holder(port) or UNKNOWN_HOLDER


def process_holder(port: int, proc: Path = PROC) -> str | None:
    """The local process listening on TCP `port`, or None when /proc cannot say."""
    inodes: set[int] = set()
    closing = 0
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            text = (proc / "net" / table).read_text()
            inodes |= listening_inodes(text, port)
            closing += closing_sockets(text, port)
    if not inodes:
        return CLOSING_HOLDER if closing else None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for pid_dir in proc.iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            for fd in os.scandir(pid_dir / "fd"):
                if os.readlink(fd.path) in wanted:
                    comm = (pid_dir / "comm").read_text().strip() or "?"
                    return describe_process(int(pid_dir.name), comm)
        except OSError:
            continue  # gone, or not ours to read
    return None


def suggest_free_port(bind: str, start: int, avoid: Collection[int] = ()) -> int:
    """The first port from `start` up that binds on `bind` and is not in `avoid`."""
    for candidate in range(start, 65536):
        if candidate not in avoid and _can_bind(bind, candidate, reuse=False):
            return candidate
    raise OSError(
        errno.EADDRINUSE, f"no free port on {bind} from {start} up: free one, or choose a lower one"
    )


def _can_bind(bind: str, port: int, *, reuse: bool) -> bool:
    """Whether a TCP socket binds to (bind, port); only "address in use" means taken."""
    try:
        infos = socket.getaddrinfo(bind or None, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return True  # an unusable address is a settings problem, not a holder
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1 if reuse else 0)
        try:
            sock.bind(address)
        except OSError as exc:
            # EACCES (a low port for a non-root user) or EADDRNOTAVAIL do not mean that
            # someone holds the port; the engine binds as root.
            return exc.errno != errno.EADDRINUSE
    return True


def _container_attrs(client: docker.DockerClient) -> list[Mapping[str, Any]]:
    """Running containers as list attrs: one API call, whatever the number of ports."""
    return [c.attrs for c in client.containers.list(sparse=True)]


# --- for a stack ------------------------------------------------------------------------


def stack_ports(settings: StackSettings, profiles: Collection[str]) -> dict[str, int]:
    """The host ports a stack publishes (compose.yaml's `ports:`), by purpose and option."""
    wanted = {"hub (--port)": settings.http_port}
    if "mock-github" in profiles:
        wanted["mock OAuth (--oauth-port)"] = settings.oauth_port
    wanted["NFS (--nfs-port)"] = settings.nfs_port
    if "registry" in profiles:
        wanted["registry (--registry-port)"] = settings.registry_port
    return wanted


def survey(
    settings: StackSettings, wanted: Mapping[str, int], client: docker.DockerClient | None
) -> tuple[dict[int, str], dict[int, int]]:
    """Holders of the wanted ports (the stack's own containers are not in the way), and a
    free alternative for each taken one."""
    holders: dict[int, str] = {}
    alternatives: dict[int, int] = {}
    for port in wanted.values():
        # Only the hub's port follows --bind; the others are always published on loopback.
        address = settings.bind if port == settings.http_port else "127.0.0.1"
        holder = find_holder(address, port, client, ignore_project=settings.name)
        if holder is None:
            continue
        holders[port] = holder
        with contextlib.suppress(OSError):  # no free port above: no suggestion
            alternatives[port] = suggest_free_port(address, port + 1, avoid=set(wanted.values()))
    return holders, alternatives


def stack_conflicts(
    settings: StackSettings, profiles: Collection[str], client: docker.DockerClient | None
) -> list[PortConflict]:
    wanted = stack_ports(settings, profiles)
    return conflicts(wanted, *survey(settings, wanted, client))
