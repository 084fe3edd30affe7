"""`devlab check isolation`: what a lab can reach of the platform, probed from inside a lab.

A lab may reach the hub's API and the proxy's public port (its own route) and nothing
else: not the stack's internal services by name or by address, not CHP's routing API,
not another user's lab. The plan of what to probe and the verdict are pure; one function
runs the probe in a lab through the engine.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from devlab.hub.labs import LABEL_USER
from devlab.stack import engine, probe
from devlab.stack.settings import StackSettings

# The ports each service listens on inside the stack; services without one are probed on
# an arbitrary port, where a refusal still shows their host answered.
SERVICE_PORTS: Mapping[str, tuple[int, ...]] = {
    "hub": (8081,),
    "proxy": (8000, 8001),
    "oauth": (8090,),
    "nfs": (2049,),
    "registry": (5000,),
    "prepuller": (),
    "docker-proxy": (),
}
ANY_PORT = 80
LAB_PORT = 8888  # where a lab's Jupyter server listens (DockerSpawner's default port)
# Reached by labs on purpose: the hub's API and the proxy's public port.
ALLOWED = (("hub", 8081), ("proxy", 8000))

Expect = Literal["reach", "blocked"]


@dataclass(frozen=True)
class Target:
    name: str  # what it is, for people: "nfs by name", "bob's lab" ...
    host: str
    port: int
    expect: Expect


@dataclass(frozen=True)
class Result:
    target: Target
    verdict: str  # probe.verdict's words

    @property
    def port_open(self) -> bool:
        return self.verdict == "open"

    @property
    def host_reached(self) -> bool:
        return self.verdict in probe.HOST_REACHED

    @property
    def ok(self) -> bool:
        if self.target.expect == "reach":
            return self.port_open
        if (self.target.host, self.target.port) == ("proxy", 8001):
            return not self.port_open  # the proxy is a peer; only its API port is closed
        return not self.host_reached


def plan(services: Mapping[str, str], other_labs: Mapping[str, str]) -> list[Target]:
    """Targets for a lab: `services` maps each running service to its internal address,
    `other_labs` each other user to their lab's address."""
    targets = [Target(f"{name}:{port} by name", name, port, "reach") for name, port in ALLOWED]
    targets.append(
        Target("CHP routing API by the lab's name for the proxy", "proxy", 8001, "blocked")
    )
    targets.append(Target("CHP routing API by its internal name", "proxy-api", 8001, "blocked"))
    for service in sorted(services):
        ports = SERVICE_PORTS.get(service) or (ANY_PORT,)
        if service not in dict(ALLOWED):
            targets += [Target(f"{service} by name", service, p, "blocked") for p in ports]
        targets += [
            Target(f"{service} by internal address", services[service], p, "blocked") for p in ports
        ]
    targets += [
        Target(f"{user}'s lab", address, LAB_PORT, "blocked")
        for user, address in sorted(other_labs.items())
    ]
    return targets


@dataclass(frozen=True)
class IsolationReport:
    user: str
    results: list[Result]

    @property
    def internal_ports_reached(self) -> int:
        """The measure: ports of the platform's insides (or other labs) a lab can open."""
        return sum(r.port_open for r in self.results if r.target.expect == "blocked")

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def to_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "internal_ports_reached": self.internal_ports_reached,
            "ok": self.ok,
            "probes": [
                {
                    "name": r.target.name,
                    "host": r.target.host,
                    "port": r.target.port,
                    "expect": r.target.expect,
                    "verdict": r.verdict,
                    "ok": r.ok,
                }
                for r in self.results
            ],
        }

    def render(self) -> str:
        rows = [("TARGET", "ADDRESS", "EXPECT", "SEEN", "")]
        rows += [
            (
                r.target.name,
                f"{r.target.host}:{r.target.port}",
                r.target.expect,
                r.verdict,
                "ok" if r.ok else "FAIL",
            )
            for r in self.results
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(row[:4], widths, strict=False)) + "  " + row[4]
            for row in rows
        ]
        lines.append(
            f"From {self.user}'s lab, internal ports reachable: {self.internal_ports_reached} "
            f"(goal 0); {'isolation holds' if self.ok else 'ISOLATION BROKEN'}"
        )
        return "\n".join(lines)


def _address(container: Any, network: str) -> str | None:
    networks = container.attrs["NetworkSettings"]["Networks"]
    return (networks.get(network) or {}).get("IPAddress") or None


def run_check(settings: StackSettings, user: str, timeout: float = 2.0) -> IsolationReport:
    """Probe from `user`'s running lab, as that user, everything the plan names."""
    client = engine.connect()
    labs = [c for c in engine.lab_containers(client, settings.name) if c.status == "running"]
    mine = [c for c in labs if c.labels.get(LABEL_USER) == user]
    if not mine:
        raise engine.EngineError(
            f"{user} has no running lab in stack {settings.name!r}: start one (log in, or "
            "`devlab check isolation --user NAME` with a user whose lab runs)"
        )
    services = {
        container.labels[engine.COMPOSE_SERVICE]: address
        for container in engine.compose_containers(client, settings.name)
        if container.status == "running"
        and (address := _address(container, settings.network)) is not None
    }
    others = {}
    for lab in labs:
        if lab.labels.get(LABEL_USER) != user:
            for network in lab.attrs["NetworkSettings"]["Networks"].values():
                if network.get("IPAddress"):
                    others[lab.labels.get(LABEL_USER, lab.name)] = network["IPAddress"]
    targets = plan(services, others)
    source = Path(probe.__file__).read_text(encoding="utf-8")
    payload = json.dumps([{"host": t.host, "port": t.port} for t in targets])
    # The lab's own user: the container's configured uid, no privileges added.
    exit_code, output = mine[0].exec_run(["python3", "-c", source, payload, str(timeout)])
    if exit_code != 0:
        raise engine.EngineError(f"the probe failed in {user}'s lab: {output.decode()[-500:]}")
    seen = json.loads(output.decode())
    return IsolationReport(
        user, [Result(t, s["verdict"]) for t, s in zip(targets, seen, strict=True)]
    )
