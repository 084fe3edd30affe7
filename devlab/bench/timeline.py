"""Turning observed moments of one spawn into phases: pure, so it is unit-tested.

A spawn is seen from several clocks that are all the host's: the bench's own
time.time(), the engine's event timestamps and the engine's log timestamps (the hub's
and the lab's stdout). Each observation is a named mark; a phase is the time between
two consecutive marks that were both seen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from itertools import pairwise

# The moments of a spawn through the hub, in the order they happen.
HUB_MARKS = (
    "request",  # the bench sends POST /hub/api/users/{name}/server
    "create",  # engine event: the lab container is created
    "inject",  # engine event extract-to-dir: the spawner's put_archive of passwd and group
    "start",  # engine event: the lab container is started
    "listening",  # the lab's log: "Jupyter Server ... is running at"
    "proxy_add",  # the hub's log: "Adding user {name} to proxy"
    "ready",  # the hub says ready (POST answers 201, or the progress stream's ready event)
    "routed",  # GET /user/{name}/api through the proxy answers 200
)
# The same container started straight through the engine, without the hub.
FLOOR_MARKS = ("request", "create", "start", "listening", "api")

PHASE_LABELS = {
    "request>create": "request to container created",
    "create>inject": "hub: created to passwd/group written (put_archive; image files cached)",
    "inject>start": "hub: passwd/group written to container started",
    "create>start": "created to started (the engine's start call)",
    "start>listening": "lab boot: started to Jupyter listening",
    "listening>proxy_add": "hub: listening to proxy route added (connect probe)",
    "proxy_add>ready": "hub: route added to ready",
    "ready>routed": "proxy: ready to /user/NAME/api answering",
    "listening>api": "floor: listening to /api answering (bench poll)",
}

# `docker logs --timestamps`: RFC 3339 with nanoseconds, then the line.
_DOCKER_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)\s(.*)$")


def phases(marks: Mapping[str, float], order: Sequence[str]) -> dict[str, float]:
    """Durations between consecutive marks of `order` that were observed.

    A missing mark joins its neighbours into one phase ("a>c") instead of dropping the
    time, so the phases of one spawn always add up to its last mark minus its first.
    """
    seen = [name for name in order if name in marks]
    return {f"{a}>{b}": marks[b] - marks[a] for a, b in pairwise(seen)}


def parse_log_line(line: str) -> tuple[float, str] | None:
    """(epoch seconds, text) of a `docker logs --timestamps` line, or None."""
    match = _DOCKER_TS.match(line)
    if match is None:
        return None
    whole, fraction, zone, text = match.groups()
    zone = "+00:00" if zone == "Z" else zone
    stamp = datetime.fromisoformat(f"{whole}{zone}").timestamp()
    if fraction:
        stamp += int(fraction) / 10 ** len(fraction)
    return stamp, text


def first_match(
    lines: Iterable[str], pattern: str | re.Pattern[str], after: float = 0.0
) -> float | None:
    """Time of the first timestamped log line at or after `after` matching `pattern`."""
    compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
    for line in lines:
        parsed = parse_log_line(line)
        if parsed and parsed[0] >= after and compiled.search(parsed[1]):
            return parsed[0]
    return None


def group_samples(runs: Iterable[Mapping[str, float]]) -> dict[str, list[float]]:
    """Per phase name, its value in each run that has it (order of first appearance)."""
    grouped: dict[str, list[float]] = {}
    for run in runs:
        for name, value in run.items():
            grouped.setdefault(name, []).append(value)
    return grouped
