"""`devlab bench` from start to end: the stack brought up with the bench's config, the
measurements, and the stack put back as found.

Every hub figure has a floor measured in the same run, on the same machine, with the
same image, user, groups, mounts, limits and hardening, started straight through the
engine (devlab.bench.floor): only ratios against it compare across runs and machines.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

from devlab.bench import sections
from devlab.bench.config import BENCH_UID_BASE, BENCH_USER, default_size
from devlab.bench.errors import BenchError
from devlab.bench.events import EventRecorder
from devlab.bench.floor import Floor
from devlab.bench.hub import Hub
from devlab.bench.memory import service_memory_mib
from devlab.bench.report import BenchReport, FootprintSection
from devlab.bench.stack import BenchStack
from devlab.catalog import size_host_config
from devlab.stack import engine
from devlab.stack.lifecycle import Say
from devlab.stack.settings import StackSettings

QUICK = {"cycles": 3, "users": 3}
SETTLE_S = 5  # after `up`, before measuring the services' idle memory


def run_bench(
    settings: StackSettings,
    *,
    cycles: int = 10,
    users: int = 10,
    quick: bool = False,
    measure_up: bool = True,
    say: Say = print,
) -> BenchReport:
    """Bring the stack up with a bench config, measure, and put the stack back as found.

    The stack must have no running labs (see BenchStack.prepare). `quick` caps cycles
    and users at 3 each, for a run of a few minutes on 2 cores.
    """
    if quick:
        cycles, users = min(cycles, QUICK["cycles"]), min(users, QUICK["users"])
    if cycles < 1 or not 1 <= users <= 99:
        raise BenchError("cycles must be at least 1 and users between 1 and 99")
    started = time.time()
    client = engine.connect()
    stack = BenchStack.prepare(settings, users)
    size = default_size(stack.config)
    footprint = FootprintSection()
    stack.up(footprint, measure_up, say)
    lab_image = stack.lab_image()
    report = BenchReport(
        stack=settings.name,
        lab_image=lab_image,
        cycles=cycles,
        users=users,
        quick=quick,
        cpus=os.cpu_count() or 0,
        lab_size=f"{size.name} ({size.cpu_limit:g} CPU, {size.mem_limit // 2**20} MiB)",
        started_at=datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        footprint=footprint,
    )
    events = EventRecorder(client, settings.name)
    hub = Hub(client, stack.settings, events)
    floor = Floor(client, stack.settings, lab_image, size_host_config(size), events)
    try:
        with events.running():
            time.sleep(SETTLE_S)
            footprint.services_mib = service_memory_mib(client, settings.name)
            report.spawn = sections.spawn_latency(hub, floor, stack.config, cycles, footprint, say)
            report.concurrency = sections.concurrency(hub, floor, stack.config, users, say)
            report.login = sections.login_to_kernel(hub, sections.LOGIN_USER, say)
    finally:
        floor.remove_all()
        hub.remove_bench_users(users)
        stack.put_back(say)
    if stack.added_users():
        report.notes.append(
            f"ran with a copy of {settings.config_path.name} adding mock users "
            f"{BENCH_USER.format(1)}..{BENCH_USER.format(users)} (uids {BENCH_UID_BASE + 1}..)"
        )
    report.notes.append(
        "floor: the same image, uid, groups, mounts, size limits and hardening, started "
        "with `docker create/start` running `jupyter server` (no hub), polled on a port "
        "published on 127.0.0.1"
    )
    report.duration_s = time.time() - started
    return report
