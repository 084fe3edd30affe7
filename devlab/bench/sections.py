"""The bench's three measurements, each against its floor where it has one: spawn latency
(sequential cycles), concurrency (many users at once), and one user's login to kernel.

Hub and floor cycles are interleaved: the machine is shared and noisy, so only ratios
of figures taken side by side compare across runs.
"""

from __future__ import annotations

import contextlib
import time

import requests
from docker.errors import APIError

from devlab.bench.config import BENCH_USER, identity_of
from devlab.bench.errors import BenchError
from devlab.bench.floor import FLOOR_USER_LABEL, Floor, remove
from devlab.bench.harness import at_once
from devlab.bench.hub import Hub
from devlab.bench.memory import idle_memory_mib
from devlab.bench.report import ConcurrencySection, FootprintSection, LoginSection, SpawnSection
from devlab.bench.started import POLL, Started
from devlab.bench.timeline import FLOOR_MARKS, HUB_MARKS, group_samples, phases
from devlab.client.lab import LabClient
from devlab.client.login import github_mock_login
from devlab.config import DevlabConfig
from devlab.hubapi import HubAPI, HubAPIError
from devlab.stack.lifecycle import Say

SEQUENTIAL_USER = "alice"  # config/devlab.yaml's first mock user: 7000001, two orgs
LOGIN_USER = "bob"
POLLS_PER_SECOND = 20  # in total across concurrent floor starts, so polling stays cheap


def spawn_latency(
    hub: Hub,
    floor: Floor,
    config: DevlabConfig,
    cycles: int,
    footprint: FootprintSection,
    say: Say,
) -> SpawnSection:
    """Warm-up, then `cycles` hub start/stop cycles interleaved with floor starts; the
    last cycle also measures an idle lab's memory, and the floor's."""
    name = SEQUENTIAL_USER
    identity = identity_of(config, name)
    label = FLOOR_USER_LABEL.format(name)
    api = hub.admin()
    api.ensure_user(name)
    section = SpawnSection()
    hub_runs: list[dict[str, float]] = []
    floor_runs: list[dict[str, float]] = []
    say(f"bench: spawn latency, {cycles} cycles of {name} (plus one warm-up)")
    for cycle in range(cycles + 1):
        warmup, last = cycle == 0, cycle == cycles
        since = time.time()
        hub_s = floor_s = None
        try:
            started = hub.start(api, name)
            started.marks["routed"] = hub.routed(api, name)
            marks = hub.marks(started, name)
            if last:
                footprint.idle_lab_mib = idle_memory_mib(hub.lab_container(name))
            stop = hub.stop(api, name)
            hub_s = started.duration
            if warmup:
                section.first_hub_s = hub_s
            else:
                section.hub.append(hub_s)
                section.stop.append(stop)
                hub_runs.append(phases(marks, HUB_MARKS))
        except (HubAPIError, requests.RequestException) as exc:
            section.failures.append(f"hub cycle {cycle}: {exc}{hub.errors(since)}")
            with contextlib.suppress(HubAPIError, requests.RequestException):
                hub.stop(api, name)
        try:
            floor_started = floor.start(identity)
            try:
                fmarks = floor.marks(floor_started, label)
                if last:
                    footprint.idle_floor_mib = idle_memory_mib(floor_started.container)
            finally:
                remove(floor_started.container)
            floor_s = floor_started.duration
            if warmup:
                section.first_floor_s = floor_s
            else:
                section.floor.append(floor_s)
                floor_runs.append(phases(fmarks, FLOOR_MARKS))
        except (BenchError, APIError, requests.RequestException) as exc:
            section.failures.append(f"floor cycle {cycle}: {exc}")
        say(
            f"  cycle {cycle}{' (warm-up)' if warmup else ''}: hub {_fmt(hub_s)}, "
            f"floor {_fmt(floor_s)}"
        )
    section.hub_phases = group_samples(hub_runs)
    section.floor_phases = group_samples(floor_runs)
    return section


def concurrency(
    hub: Hub, floor: Floor, config: DevlabConfig, users: int, say: Say
) -> ConcurrencySection:
    """`users` hub starts at once, all stopped at once; then as many floor starts at once."""
    names = [BENCH_USER.format(i) for i in range(1, users + 1)]
    admin = hub.admin()
    for name in names:
        admin.ensure_user(name)
    section = ConcurrencySection(users=users)
    say(f"bench: {users} users starting at once through the hub")
    start = time.time()
    results = at_once(names, lambda name: hub.start(hub.admin(), name))
    ok = [r for r in results.values() if isinstance(r, Started)]
    section.hub_per_user = [r.duration for r in ok]
    section.hub_failures = [
        f"{n}: {r}{hub.errors(start)}" for n, r in results.items() if isinstance(r, Exception)
    ]
    if ok:
        section.hub_wall_s = max(r.marks["ready"] for r in ok) - min(r.marks["request"] for r in ok)
    section.hub_phases = group_samples(
        phases(hub.marks(r, name), HUB_MARKS)
        for name, r in results.items()
        if isinstance(r, Started)
    )
    say(f"  hub: wall {_fmt(section.hub_wall_s)}, {len(section.hub_failures)} failed")
    tic = time.time()
    at_once(names, lambda name: hub.stop(hub.admin(), name))
    section.stop_wall_s = time.time() - tic
    say(f"bench: {users} raw starts at once (floor)")
    identities = {name: identity_of(config, name) for name in names}
    poll = max(POLL, len(names) / POLLS_PER_SECOND)
    floors = at_once(names, lambda name: floor.start(identities[name], poll))
    fok = [r for r in floors.values() if isinstance(r, Started)]
    for r in fok:
        remove(r.container)
    section.floor_per_user = [r.duration for r in fok]
    section.floor_failures = [f"{n}: {r}" for n, r in floors.items() if isinstance(r, Exception)]
    if fok:
        section.floor_wall_s = max(r.marks["api"] for r in fok) - min(
            r.marks["request"] for r in fok
        )
    say(f"  floor: wall {_fmt(section.floor_wall_s)}")
    return section


def login_to_kernel(hub: Hub, name: str, say: Say) -> LoginSection:
    """One user's path as JupyterHub's load-testing tools time it, step by step."""
    section = LoginSection(user=name)
    say(f"bench: login to kernel as {name}")
    admin = hub.admin()
    token_id = None
    started_at = time.time()
    try:
        tic = time.time()
        github_mock_login(hub.settings.hub_url, name)
        section.steps["login"] = time.time() - tic
        reply = admin.request(
            "POST", f"/hub/api/users/{name}/tokens", json={"note": "devlab bench"}
        )
        if reply.status_code != 201:
            raise HubAPIError(f"no token for {name}: {reply.status_code} {reply.text[:200]}")
        token, token_id = reply.json()["token"], reply.json()["id"]
        api = HubAPI(hub.settings.hub_url, token, timeout=60)
        started = hub.start(api, name)
        section.steps["server_ready"] = started.duration
        lab = LabClient(hub.settings.hub_url, name, token)
        tic = time.time()
        kernel_id = lab.start_kernel()
        section.steps["kernel_started"] = time.time() - tic
        tic = time.time()
        result = lab.run_in_kernel(kernel_id, "print(6 * 7)", timeout=120)
        section.steps["code_executed"] = time.time() - tic
        if result.stdout.strip() != "42":
            raise HubAPIError(f"the kernel printed {result.stdout!r}, not 42")
        lab.shutdown_kernel(kernel_id)
        section.steps["server_stopped"] = hub.stop(api, name)
    except Exception as exc:  # a benchmark reports a failed step, it does not abort
        section.error = f"{type(exc).__name__}: {exc}{hub.errors(started_at)}"
        with contextlib.suppress(Exception):
            hub.stop(admin, name)
    finally:
        if token_id is not None:
            admin.request("DELETE", f"/hub/api/users/{name}/tokens/{token_id}")
    return section


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"
