"""Disk usage of a stack's storage: free space, the biggest homes, and when to worry (pure).

Homes, project space and the hub's database are local volumes on the engine's data root
(/var/lib/docker by default), usually one filesystem. One lab that fills its home fills
that filesystem, and then the hub's SQLite database can no longer write. devlab has no
per-user quota to stop it (see README, "Disk space and quotas"), so `devlab status` and
`devlab doctor` report free space and the biggest homes while there is time to act.

The measurement is one shell script run inside a service container that already mounts
the volumes (devlab.stack.disk): `stat` for free space, `du` for the homes, bounded by
`timeout`. This module writes that script and reads its output, so both are tested
without Docker.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Level = Literal["ok", "warning", "critical"]
MIB = 1024**2
GIB = 1024**3
BIGGEST = 5  # homes named by status and doctor
SCAN_SECONDS = 10  # du stops here; free space is measured anyway
# timeout's exit status when it stopped the command (TERM, then KILL a second later).
TIMED_OUT = (124, 137)


@dataclass(frozen=True)
class Thresholds:
    """Free space below which a filesystem is a warning or critical.

    A share of the filesystem, like kubelet's default eviction at 10 % free, bounded both
    ways: a floor so a small disk is not "ok" with almost nothing left, and a cap so a
    large one does not warn with tens of GiB to spare. Defaults: warning below 10 % (at
    least 2 GiB, at most 50 GiB), critical below 3 % (at least 512 MiB, at most 10 GiB).
    The hub's database needs little, but a lab writing at disk speed fills gigabytes a
    minute, so the margin is for the person who has to act.
    """

    warn_share: float = 0.10
    warn_floor: int = 2 * GIB
    warn_cap: int = 50 * GIB
    critical_share: float = 0.03
    critical_floor: int = 512 * MIB
    critical_cap: int = 10 * GIB

    def warn_below(self, total: int) -> int:
        return _bounded(total * self.warn_share, self.warn_floor, self.warn_cap)

    def critical_below(self, total: int) -> int:
        return _bounded(total * self.critical_share, self.critical_floor, self.critical_cap)


def _bounded(value: float, floor: int, cap: int) -> int:
    return int(max(floor, min(value, cap)))


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Filesystem:
    """One filesystem under the stack's volumes, and which of them it holds."""

    holds: tuple[str, ...]  # "homes", "project", "hub database"
    path: str  # the first volume's directory on the engine's machine
    total_bytes: int
    free_bytes: int  # available to users (df's "Avail"): what a lab can still write

    def level(self, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> Level:
        if self.free_bytes < thresholds.critical_below(self.total_bytes):
            return "critical"
        if self.free_bytes < thresholds.warn_below(self.total_bytes):
            return "warning"
        return "ok"

    @property
    def free_share(self) -> float:
        return self.free_bytes / self.total_bytes if self.total_bytes else 0.0


@dataclass(frozen=True)
class HomeUsage:
    user: str
    bytes: int  # allocated on disk (du), so sparse files count for what they take


@dataclass(frozen=True)
class StorageUsage:
    filesystems: tuple[Filesystem, ...]
    homes: tuple[HomeUsage, ...]  # every home measured, biggest first
    homes_bytes: int | None  # all of the homes volume; None when du did not finish
    complete: bool  # du finished within SCAN_SECONDS
    measured_in: str  # the service whose container ran the scan
    scan_seconds: float

    def level(self, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> Level:
        """The worst of the filesystems."""
        levels = [fs.level(thresholds) for fs in self.filesystems]
        return next((lv for lv in ("critical", "warning") if lv in levels), "ok")

    def biggest(self, count: int = BIGGEST) -> tuple[HomeUsage, ...]:
        return self.homes[:count]


# --- the scan: a script for a container that mounts the volumes, and its output --------


def scan_script(paths: Mapping[str, str], homes: str, seconds: int = SCAN_SECONDS) -> list[str]:
    """The command to exec: `fs` lines (label, device, block size, blocks, available
    blocks) per mounted volume, then `du` of each home (NUL-separated, unbuffered, so a
    scan cut short still yields the homes it finished), then du's exit status."""
    stats = "".join(
        f"printf 'fs\\t%s\\t%s\\t%s\\n' {shlex.quote(label)} "
        f'"$(stat -c %d {shlex.quote(path)})" "$(stat -f -c \'%S %b %a\' {shlex.quote(path)})"; '
        for label, path in paths.items()
    )
    du = (
        f"cd {shlex.quote(homes)} && timeout -k 1 {seconds} stdbuf -o0 "
        "du -0 -x -B1 -d1 . 2>/dev/null"
    )
    return ["sh", "-c", f"{stats}printf 'du\\n'; {du}; printf '\\nend %s\\n' \"$?\""]


class ScanError(ValueError):
    """The scan's output is not what scan_script prints."""


def parse_scan(
    output: str,
    volume_paths: Mapping[str, str],
    measured_in: str,
    scan_seconds: float,
) -> StorageUsage:
    """Read scan_script's output. `volume_paths` maps each label to its volume's directory
    on the engine's machine, which names the filesystem for a person."""
    head, marker, tail = output.partition("du\n")
    body, end, status = tail.rpartition("\nend ")
    if not marker or not end:
        raise ScanError(f"unexpected output from the disk scan: {output[:200]!r}")
    devices: dict[str, tuple[list[str], int, int]] = {}
    for line in head.splitlines():
        fields = line.split("\t")
        if len(fields) != 4 or fields[0] != "fs":
            raise ScanError(f"unexpected line from the disk scan: {line!r}")
        _, label, device, stats = fields
        block, blocks, available = (int(n) for n in stats.split())
        held = devices.setdefault(device, ([], block * blocks, block * available))
        held[0].append(label)
    filesystems = tuple(
        Filesystem(tuple(labels), volume_paths.get(labels[0], labels[0]), total, free)
        for labels, total, free in devices.values()
    )
    homes, total = [], None
    # du ends every entry with NUL; whatever follows the last one was cut short.
    for entry in body.split("\0")[:-1]:
        size, _, path = entry.partition("\t")
        if path == ".":
            total = int(size)
        elif path.startswith("./"):
            homes.append(HomeUsage(path[2:], int(size)))
    homes.sort(key=lambda home: (-home.bytes, home.user))
    return StorageUsage(
        filesystems=filesystems,
        homes=tuple(homes),
        homes_bytes=total,
        complete=int(status.split()[0]) not in TIMED_OUT,
        measured_in=measured_in,
        scan_seconds=scan_seconds,
    )


# --- for people and for --json -----------------------------------------------------------


def size(n: int) -> str:
    """1536 -> "1.5 KiB": binary units, as df -h and du -h print them."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def describe_filesystem(fs: Filesystem) -> str:
    return (
        f"{size(fs.free_bytes)} of {size(fs.total_bytes)} free ({fs.free_share:.0%}) for "
        f"{', '.join(fs.holds)} ({fs.path})"
    )


def describe_homes(usage: StorageUsage, count: int = BIGGEST) -> str:
    if not usage.homes:
        return "no homes yet" if usage.complete else _cut_short(usage)
    listed = ", ".join(f"{home.user} {size(home.bytes)}" for home in usage.biggest(count))
    more = "" if usage.complete else f" ({_cut_short(usage)})"
    return f"biggest homes: {listed}{more}"


def _cut_short(usage: StorageUsage) -> str:
    return (
        f"home sizes are partial: the scan stopped after {SCAN_SECONDS} s with "
        f"{len(usage.homes)} home(s) measured"
    )


@dataclass(frozen=True)
class DiskReport:
    """What `devlab status` and `devlab doctor` show: the usage, or why there is none."""

    usage: StorageUsage | None
    unknown: str | None = None

    def render(self) -> list[str]:
        if self.usage is None:
            return [f"disk: not measured ({self.unknown})"]
        lines = [f"disk: {describe_filesystem(fs)} [{fs.level()}]" for fs in self.usage.filesystems]
        return [*lines, f"  {describe_homes(self.usage)}"]

    def to_json(self) -> dict:
        if self.usage is None:
            return {"level": "unknown", "unknown": self.unknown}
        return to_json(self.usage)


def to_json(usage: StorageUsage, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> dict:
    return {
        "level": usage.level(thresholds),
        "filesystems": [
            {
                "holds": list(fs.holds),
                "path": fs.path,
                "total_bytes": fs.total_bytes,
                "free_bytes": fs.free_bytes,
                "level": fs.level(thresholds),
                "warning_below_bytes": thresholds.warn_below(fs.total_bytes),
                "critical_below_bytes": thresholds.critical_below(fs.total_bytes),
            }
            for fs in usage.filesystems
        ],
        "biggest_homes": [{"user": h.user, "bytes": h.bytes} for h in usage.biggest()],
        "homes_measured": len(usage.homes),
        "homes_bytes": usage.homes_bytes,
        "complete": usage.complete,
        "measured_in": usage.measured_in,
        "scan_seconds": round(usage.scan_seconds, 3),
    }
