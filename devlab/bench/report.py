"""The bench's report: raw samples in, a JSON document for machines and a table for people.

Sections hold raw samples, not summaries, so that the statistics are computed in one
place (stats.py) and a JSON reader can recompute anything from `samples`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from devlab.bench.stats import Summary, added, ratio, rounded, summarize
from devlab.bench.timeline import PHASE_LABELS

JSON_VERSION = 1
LOGIN_STEPS = ("login", "server_ready", "kernel_started", "code_executed", "server_stopped")


@dataclass
class SpawnSection:
    """N sequential start/stop cycles through the hub, and N raw starts (the floor)."""

    hub: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    stop: list[float] = field(default_factory=list)
    first_hub_s: float | None = None  # the warm-up start, which provisions the home
    first_floor_s: float | None = None
    hub_phases: dict[str, list[float]] = field(default_factory=dict)
    floor_phases: dict[str, list[float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        hub, floor = summarize(self.hub), summarize(self.floor)
        return {
            "hub": _with_samples(hub, self.hub),
            "floor": _with_samples(floor, self.floor),
            "p50_ratio": rounded(ratio(hub.p50, floor.p50)),
            "p95_ratio": rounded(ratio(hub.p95, floor.p95)),
            "p50_added_s": rounded(added(hub.p50, floor.p50)),
            "p95_added_s": rounded(added(hub.p95, floor.p95)),
            "stop": _with_samples(summarize(self.stop), self.stop),
            "first_hub_s": rounded(self.first_hub_s),
            "first_floor_s": rounded(self.first_floor_s),
            "hub_phases": {k: summarize(v).to_json() for k, v in self.hub_phases.items()},
            "floor_phases": {k: summarize(v).to_json() for k, v in self.floor_phases.items()},
            "failures": list(self.failures),
        }


@dataclass
class ConcurrencySection:
    """K users starting at once through the hub, and K raw starts at once."""

    users: int
    hub_wall_s: float | None = None
    hub_per_user: list[float] = field(default_factory=list)
    hub_failures: list[str] = field(default_factory=list)
    floor_wall_s: float | None = None
    floor_per_user: list[float] = field(default_factory=list)
    floor_failures: list[str] = field(default_factory=list)
    stop_wall_s: float | None = None  # all K servers stopped at once, through the hub
    hub_phases: dict[str, list[float]] = field(default_factory=dict)  # one sample per user

    def to_json(self) -> dict[str, Any]:
        hub, floor = summarize(self.hub_per_user), summarize(self.floor_per_user)
        return {
            "users": self.users,
            "hub": {
                "wall_s": rounded(self.hub_wall_s),
                "per_user": _with_samples(hub, self.hub_per_user),
                "failures": len(self.hub_failures),
                "errors": list(self.hub_failures),
            },
            "floor": {
                "wall_s": rounded(self.floor_wall_s),
                "per_user": _with_samples(floor, self.floor_per_user),
                "failures": len(self.floor_failures),
                "errors": list(self.floor_failures),
            },
            "wall_ratio": rounded(ratio(self.hub_wall_s, self.floor_wall_s)),
            "p50_ratio": rounded(ratio(hub.p50, floor.p50)),
            "p95_ratio": rounded(ratio(hub.p95, floor.p95)),
            "stop_wall_s": rounded(self.stop_wall_s),
            "hub_phases": {k: summarize(v).to_json() for k, v in self.hub_phases.items()},
        }


@dataclass
class LoginSection:
    """Login to kernel for one user, step by step (each step's own duration)."""

    user: str
    steps: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "steps": {name: rounded(self.steps.get(name)) for name in LOGIN_STEPS},
            "total_s": rounded(sum(self.steps.values())) if self.steps else None,
            "error": self.error,
        }


@dataclass
class FootprintSection:
    """Idle memory (cgroup usage without page cache) and warm `up` time."""

    services_mib: dict[str, float] = field(default_factory=dict)
    idle_lab_mib: float | None = None  # a lab spawned by the hub, idle
    idle_floor_mib: float | None = None  # the same image started raw, idle
    up_warm_s: float | None = None  # `up` after `down`, images present
    down_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "services_mib": {k: rounded(v, 1) for k, v in sorted(self.services_mib.items())},
            "stack_total_mib": rounded(sum(self.services_mib.values()), 1)
            if self.services_mib
            else None,
            "idle_lab_mib": rounded(self.idle_lab_mib, 1),
            "idle_floor_mib": rounded(self.idle_floor_mib, 1),
            "up_warm_s": rounded(self.up_warm_s),
            "down_s": rounded(self.down_s),
        }


@dataclass
class BenchReport:
    """Everything one `devlab bench` run measured, with what it ran against."""

    stack: str
    lab_image: str
    cycles: int
    users: int
    quick: bool
    cpus: int
    lab_size: str
    started_at: str
    duration_s: float | None = None
    spawn: SpawnSection | None = None
    concurrency: ConcurrencySection | None = None
    login: LoginSection | None = None
    footprint: FootprintSection | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": JSON_VERSION,
            "meta": {
                "stack": self.stack,
                "lab_image": self.lab_image,
                "cycles": self.cycles,
                "users": self.users,
                "quick": self.quick,
                "cpus": self.cpus,
                "lab_size": self.lab_size,
                "started_at": self.started_at,
                "duration_s": rounded(self.duration_s),
            },
            "spawn": self.spawn.to_json() if self.spawn else None,
            "concurrency": self.concurrency.to_json() if self.concurrency else None,
            "login_to_kernel": self.login.to_json() if self.login else None,
            "footprint": self.footprint.to_json() if self.footprint else None,
            "notes": list(self.notes),
        }


def _with_samples(summary: Summary, samples: list[float]) -> dict[str, Any]:
    return {**summary.to_json(), "samples": [rounded(s) for s in samples]}


def _s(value: float | None, unit: str = "s") -> str:
    return "-" if value is None else f"{value:.2f}{unit}"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(
        c.ljust(w) if i == 0 else c.rjust(w)
        for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    ).rstrip()


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [_row(header, widths), *(_row(r, widths) for r in rows)]


def render_table(report: BenchReport) -> str:
    """The report as plain text: one block per section, ratios against the floor."""
    out = [
        f"devlab bench: stack {report.stack}, {report.cpus} CPU(s), lab image {report.lab_image}"
        f" (size {report.lab_size}), {report.cycles} cycles, {report.users} users"
        + (" [quick]" if report.quick else ""),
    ]
    if report.spawn:
        sp = report.spawn
        hub, floor = summarize(sp.hub), summarize(sp.floor)
        out += ["", "Spawn latency (sequential, request to ready)"]
        out += _table(
            ["", "n", "p50", "p95", "min", "max"],
            [
                ["hub", str(hub.n), _s(hub.p50), _s(hub.p95), _s(hub.min), _s(hub.max)],
                [
                    "floor (raw docker)",
                    str(floor.n),
                    _s(floor.p50),
                    _s(floor.p95),
                    _s(floor.min),
                    _s(floor.max),
                ],
                *(
                    [label, "", cell(op(hub.p50, floor.p50)), cell(op(hub.p95, floor.p95)), "", ""]
                    for label, op, cell in (
                        ("ratio hub/floor", ratio, _x),
                        ("added by devlab", added, _s),
                    )
                ),
            ],
        )
        stop = summarize(sp.stop)
        out.append(
            f"first start (provisions the home): hub {_s(sp.first_hub_s)}, floor "
            f"{_s(sp.first_floor_s)}; stop through the hub p50 {_s(stop.p50)}"
        )
        if sp.hub_phases or sp.floor_phases:
            out += ["", "Where spawn time goes (p50 per phase)"]
            rows = []
            for source, grouped in (("hub", sp.hub_phases), ("floor", sp.floor_phases)):
                for name, samples in grouped.items():
                    s = summarize(samples)
                    label = PHASE_LABELS.get(name, name)
                    rows.append([f"{source} {name}", _s(s.p50), _s(s.p95), label])
            out += _table(["phase", "p50", "p95", "what"], rows)
        for failure in sp.failures:
            out.append(f"  failure: {failure}")
    if report.concurrency:
        c = report.concurrency
        hub, floor = summarize(c.hub_per_user), summarize(c.floor_per_user)
        out += ["", f"Concurrency ({c.users} users at once)"]
        out += _table(
            ["", "wall", "p50", "p95", "failures"],
            [
                ["hub", _s(c.hub_wall_s), _s(hub.p50), _s(hub.p95), str(len(c.hub_failures))],
                [
                    "floor (raw docker)",
                    _s(c.floor_wall_s),
                    _s(floor.p50),
                    _s(floor.p95),
                    str(len(c.floor_failures)),
                ],
                [
                    "ratio hub/floor",
                    _x(ratio(c.hub_wall_s, c.floor_wall_s)),
                    _x(ratio(hub.p50, floor.p50)),
                    _x(ratio(hub.p95, floor.p95)),
                    "",
                ],
            ],
        )
        out.append(f"all {c.users} stopped at once through the hub: {_s(c.stop_wall_s)}")
        if c.hub_phases:
            rows = []
            for name, samples in c.hub_phases.items():
                s = summarize(samples)
                rows.append([f"hub {name}", _s(s.p50), _s(s.p95), PHASE_LABELS.get(name, name)])
            out += _table(["phase (per user)", "p50", "p95", "what"], rows)
        for failure in [*c.hub_failures, *c.floor_failures]:
            out.append(f"  failure: {failure}")
    if report.login:
        lg = report.login
        out += ["", f"Login to kernel ({lg.user})"]
        out += _table(["step", "time"], [[s, _s(lg.steps.get(s))] for s in LOGIN_STEPS])
        if lg.error:
            out.append(f"  error: {lg.error}")
    if report.footprint:
        fp = report.footprint
        out += ["", "Footprint (idle memory, cgroup usage without page cache)"]
        rows = [[name, _s(mib, " MiB")] for name, mib in sorted(fp.services_mib.items())]
        rows.append(["idle lab (hub)", _s(fp.idle_lab_mib, " MiB")])
        rows.append(["idle lab (raw)", _s(fp.idle_floor_mib, " MiB")])
        out += _table(["container", "memory"], rows)
        out.append(
            f"warm `up` (after `down`, images present): {_s(fp.up_warm_s)}; down {_s(fp.down_s)}"
        )
    if report.notes:
        out += ["", "Notes"] + [f"- {n}" for n in report.notes]
    if report.duration_s is not None:
        out += ["", f"bench took {report.duration_s:.0f}s"]
    return "\n".join(out)
