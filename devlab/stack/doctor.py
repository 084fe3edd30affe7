"""`devlab doctor`: what would make `devlab up` fail here, each with the fix, before trying.

`gather` does all the I/O once and returns plain `Facts`; the evaluators turn facts into
checks without touching the machine, so every verdict and message is unit-tested with
hand-made facts, and `gather` stays a thin list of look-ups.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import docker
from docker.errors import DockerException

from devlab.config import ConfigError, DevlabConfig, LabBuildPaths, lab_build_paths, load_config
from devlab.stack import engine, ports
from devlab.stack.disk import measure as measure_disk
from devlab.stack.images import BUILT_IMAGES, HUB, LAB, BuiltImage, image_tag, project_lab_tag
from devlab.stack.lifecycle import profiles_for
from devlab.stack.settings import StackSettings
from devlab.storage import engine as storage_engine
from devlab.storage.modes import StorageMode
from devlab.storage.usage import (
    DEFAULT_THRESHOLDS,
    DiskReport,
    Filesystem,
    StorageUsage,
    describe_filesystem,
    describe_homes,
    size,
)

Status = Literal["ok", "warn", "fail"]
GIB = 1024**3
WARN_FREE = 5 * GIB  # a hub and a lab image build need a few GiB
FAIL_FREE = 1 * GIB
MIN_ENGINE = (20, 10)
TESTED_COMPOSE = "2.40.3"  # with engine 20.10; newer Compose may need a newer engine API
# Engines from 23.0 on are recent enough for any Compose v2; 20.10 is only tested with
# TESTED_COMPOSE.
MODERN_ENGINE = (23, 0)
ENGINE_FIX = "start Docker (e.g. `sudo systemctl start docker`) or set DOCKER_HOST"
COMPOSE_FIX = (
    f"install the docker-compose-plugin package (Compose {TESTED_COMPOSE} is tested) or "
    "Docker Desktop, then check with `docker compose version`"
)
_COLORS = {"ok": "\033[32m", "warn": "\033[33m", "fail": "\033[31m"}
_RESET = "\033[0m"
LOCAL_ENGINE_URLS = ("http+docker://localhost", "http+docker://localunixsocket")


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str | None = None


@dataclass(frozen=True)
class DoctorReport:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """Whether `devlab up` should get past its own checks: warnings do not stop it."""
        return not any(check.status == "fail" for check in self.checks)

    def to_json(self) -> str:
        return json.dumps(
            {"ok": self.ok, "checks": [asdict(check) for check in self.checks]}, indent=2
        )


@dataclass(frozen=True)
class DiskFact:
    label: str  # "state dir", "Docker root"
    path: str
    free_bytes: int | None  # None: not measured, see `unknown`
    unknown: str | None = None


@dataclass(frozen=True)
class Facts:
    """Everything the checks look at, gathered once by `gather` (or made by a test)."""

    engine_version: str | None = None
    engine_error: str | None = None  # why the engine could not be reached
    compose_version: str | None = None
    compose_error: str | None = None
    config_path: str = "devlab.yaml"
    config_source: str = "packaged default"  # which of --config, DEVLAB_CONFIG, ... chose it
    config_error: str | None = None  # ConfigError's text
    storage_setting: str = "auto"  # storage.mode from the config
    storage_detected: tuple[StorageMode, str] | None = None  # (mode, reason) from the kernel
    storage_unknown: str | None = None  # why it was not detected
    disks: tuple[DiskFact, ...] = ()
    bind: str = "127.0.0.1"
    wanted_ports: Mapping[str, int] = field(default_factory=dict)  # "hub (--port)" -> 8000
    port_holders: Mapping[int, str] = field(default_factory=dict)
    port_alternatives: Mapping[int, int] = field(default_factory=dict)
    ca_bundle: str | None = None  # DEVLAB_CA_BUNDLE, resolved
    ca_bundle_text: str | None = None
    ca_bundle_error: str | None = None
    images: Mapping[str, bool] | None = None  # tag -> present; None: engine unreachable
    stack_disk: DiskReport | None = None  # the running stack's volumes; None: it is not up


# --- pure evaluators ----------------------------------------------------------------------


def parse_version(text: str) -> tuple[int, ...] | None:
    """(20, 10, 24) from "20.10.24+dfsg1" or "v2.40.3"; None when there is no number."""
    numbers = re.match(r"^v?(\d+(?:\.\d+)*)", text.strip())
    return tuple(int(part) for part in numbers[1].split(".")) if numbers else None


def check_engine(facts: Facts) -> Check:
    if facts.engine_error is not None or facts.engine_version is None:
        reason = facts.engine_error or "no version reported"
        return Check("engine", "fail", f"cannot reach the Docker engine ({reason})", ENGINE_FIX)
    version = parse_version(facts.engine_version)
    if version is not None and version[:2] < MIN_ENGINE:
        return Check(
            "engine",
            "warn",
            f"Docker {facts.engine_version} is older than 20.10, the oldest devlab is tested with",
            "upgrade Docker Engine to 20.10 or newer",
        )
    return Check("engine", "ok", f"Docker {facts.engine_version}")


def check_compose(facts: Facts) -> Check:
    version = facts.compose_version
    if version is None:
        reason = facts.compose_error or "`docker compose version` failed"
        return Check(
            "compose", "fail", f"Docker Compose v2 is not available ({reason})", COMPOSE_FIX
        )
    parsed = parse_version(version)
    if parsed is None or parsed[0] != 2:
        return Check("compose", "fail", f"Compose {version} is not Compose v2", COMPOSE_FIX)
    engine_version = parse_version(facts.engine_version or "")
    tested = parse_version(TESTED_COMPOSE) or ()
    if engine_version is not None and engine_version[:2] < MODERN_ENGINE and parsed > tested:
        return Check(
            "compose",
            "warn",
            f"Compose {version} with engine {facts.engine_version} is untested: "
            f"{TESTED_COMPOSE} is what devlab is tested with on engine 20.10",
            f"if `devlab up` fails with an API version error, install Compose {TESTED_COMPOSE} "
            "or upgrade Docker Engine",
        )
    return Check(
        "compose", "ok", f"Compose {version} ({TESTED_COMPOSE} is tested with engine 20.10)"
    )


def check_config(facts: Facts) -> Check:
    if facts.config_error is None:
        return Check("config", "ok", f"{facts.config_path} is valid (from {facts.config_source})")
    lines = facts.config_error.strip().splitlines()
    if len(lines) > 1 and lines[-1].startswith("Fix "):
        lines = lines[:-1]  # ConfigError's own advice; `fix` says it once
    return Check(
        "config",
        "fail",
        "\n".join(lines),
        f"fix {facts.config_path} (or pass another with --config)",
    )


def check_images(facts: Facts) -> Check:
    if facts.images is None:
        return Check("images", "warn", "not checked: the Docker engine is unreachable")
    missing = [tag for tag, present in facts.images.items() if not present]
    if not missing:
        return Check("images", "ok", f"all built: {', '.join(facts.images)}")
    return Check(
        "images",
        "warn",
        f"missing {', '.join(missing)}: `devlab up` will build them (a few minutes)",
        "nothing to do; behind an HTTPS-intercepting proxy set DEVLAB_CA_BUNDLE before `devlab up`",
    )


def check_storage(facts: Facts) -> Check:
    if facts.storage_setting != "auto":
        return Check("storage", "ok", f"{facts.storage_setting}: set by storage.mode in the config")
    if facts.storage_detected is not None:
        mode, reason = facts.storage_detected
        return Check("storage", "ok", f"{mode}: {reason}")
    if facts.engine_error is not None:
        return Check("storage", "warn", "not checked: the Docker engine is unreachable")
    return Check(
        "storage",
        "ok",
        f"unknown until images exist ({facts.storage_unknown or 'the hub image is missing'}); "
        "`devlab up` decides between nfs and volume after building them",
    )


def check_disks(facts: Facts) -> list[Check]:
    checks = []
    for disk in facts.disks:
        name = f"disk ({disk.label})"
        if disk.free_bytes is None:
            checks.append(Check(name, "ok", f"not checked: {disk.unknown or 'unknown'}"))
            continue
        free = f"{disk.free_bytes / GIB:.1f} GiB free at {disk.path}"
        fix = f"free space on the filesystem of {disk.path} (e.g. `docker system prune`)"
        if disk.free_bytes < FAIL_FREE:
            checks.append(Check(name, "fail", f"{free}: builds and volumes need more", fix))
        elif disk.free_bytes < WARN_FREE:
            checks.append(Check(name, "warn", f"{free}: building the images may run out", fix))
        else:
            checks.append(Check(name, "ok", free))
    return checks


def check_stack_disk(facts: Facts) -> list[Check]:
    """Free space under a running stack's homes and hub database, and the biggest homes:
    a home filling the disk is named while the hub can still write its database."""
    found = facts.stack_disk
    if found is None:
        return []
    if found.usage is None:
        return [Check("disk (homes)", "warn", f"not measured: {found.unknown}")]
    checks = []
    for fs in found.usage.filesystems:
        name = f"disk ({fs.holds[0]})"
        detail = describe_filesystem(fs)
        if "homes" in fs.holds:
            detail += f"; {describe_homes(found.usage)}"
        level = fs.level()
        if level == "ok":
            checks.append(Check(name, "ok", detail))
            continue
        status: Status = "fail" if level == "critical" else "warn"
        fix = _free_up(fs, found.usage)
        checks.append(Check(name, status, f"{detail}\n{_starving(fs, level)}", fix))
    return checks


def _starving(fs: Filesystem, level: str) -> str:
    limits = DEFAULT_THRESHOLDS
    if level == "critical":
        below = size(limits.critical_below(fs.total_bytes))
        return f"below {below} free: labs will soon fail to save and the hub database to write"
    below = size(limits.warn_below(fs.total_bytes))
    return f"below {below} free: when it is full, labs cannot save and the hub database stops"


def _free_up(fs: Filesystem, usage: StorageUsage) -> str:
    steps = []
    biggest = usage.biggest(1)
    if "homes" in fs.holds and biggest:
        user = biggest[0].user
        steps.append(
            f"ask {user} (home {size(biggest[0].bytes)}) to delete files; "
            f"`devlab export-homes {user}.tar.gz --user {user}` keeps a copy first"
        )
    steps.append("`docker system prune` removes unused images and build cache")
    steps.append(f"or grow the filesystem of {fs.path}")
    return "; ".join(steps)


def check_ports(facts: Facts) -> list[Check]:
    found = ports.conflicts(facts.wanted_ports, facts.port_holders, facts.port_alternatives)
    if not found:
        listed = ", ".join(str(port) for port in facts.wanted_ports.values())
        return [Check("ports", "ok", f"{listed} free on {facts.bind}")]
    checks = []
    for conflict in found:
        text = ports.describe(conflict)
        detail, _, fix = text.partition("; ")
        checks.append(Check(f"port {conflict.port}", "fail", detail, fix or None))
    return checks


def check_ca_bundle(facts: Facts) -> Check:
    if facts.ca_bundle is None:
        return Check("CA bundle", "ok", "none needed unless builds fail with certificate errors")
    fix = "point DEVLAB_CA_BUNDLE at a PEM file of your proxy's CA certificates, or unset it"
    if facts.ca_bundle_error is not None or facts.ca_bundle_text is None:
        reason = facts.ca_bundle_error or "unreadable"
        return Check("CA bundle", "fail", f"cannot read {facts.ca_bundle} ({reason})", fix)
    count = facts.ca_bundle_text.count("BEGIN CERTIFICATE")
    if count == 0:
        return Check("CA bundle", "fail", f"{facts.ca_bundle} holds no PEM certificate", fix)
    return Check("CA bundle", "ok", f"{facts.ca_bundle}: {count} certificate(s)")


def evaluate(facts: Facts) -> DoctorReport:
    return DoctorReport(
        (
            check_engine(facts),
            check_compose(facts),
            check_config(facts),
            check_images(facts),
            check_storage(facts),
            *check_disks(facts),
            *check_stack_disk(facts),
            *check_ports(facts),
            check_ca_bundle(facts),
        )
    )


def render(report: DoctorReport, color: bool = False) -> str:
    """An aligned table, fixes under their check, and whether `devlab up` would fail."""
    width = max((len(check.name) for check in report.checks), default=0)
    pad = " " * (4 + 2 + width + 2)
    lines = []
    for check in report.checks:
        status = f"{check.status:<4}"
        if color:
            status = f"{_COLORS[check.status]}{status}{_RESET}"
        first, *rest = check.detail.splitlines() or [""]
        lines.append(f"{status}  {check.name:<{width}}  {first}")
        lines.extend(pad + line for line in rest)
        if check.fix and check.status != "ok":
            lines.append(f"{pad}fix: {check.fix}")
    failed = sum(check.status == "fail" for check in report.checks)
    warned = sum(check.status == "warn" for check in report.checks)
    if failed:
        lines.append(f"`devlab up` would fail: {failed} problem(s) above; fix them and run again.")
    else:
        lines.append(f"`devlab up` should work ({warned} warning(s)).")
    return "\n".join(lines)


# --- adapter ------------------------------------------------------------------------------


def run_doctor(settings: StackSettings) -> DoctorReport:
    return evaluate(gather(settings))


def gather(settings: StackSettings) -> Facts:
    """Look at this machine and its engine; never changes anything but a throwaway container."""
    found = _engine()
    client = found.client
    compose_version, compose_error = _compose()
    config: DevlabConfig | None = None
    config_error = None
    project_lab: LabBuildPaths | None = None
    try:
        config = load_config(settings.config_path, settings.profile)
        project_lab = lab_build_paths(config, settings.config_path, settings.profile)
    except ConfigError as exc:
        config_error = str(exc)

    tags = [image_tag(i, settings.base_image, settings.project_dir.parent) for i in _images(config)]
    if project_lab is not None:
        lab_tag = image_tag(LAB, settings.base_image, settings.project_dir.parent)
        tags.append(project_lab_tag(project_lab, lab_tag))
    hub_tag = image_tag(HUB, settings.base_image, settings.project_dir.parent)
    images = None if client is None else {tag: engine.image_exists(client, tag) for tag in tags}

    storage_setting = config.storage.mode if config is not None else "auto"
    detected, unknown = None, None
    if client is not None and storage_setting == "auto":
        detected, unknown = _storage(client, hub_tag, bool(images and images.get(hub_tag)))

    wanted = ports.stack_ports(settings, _profiles(config))
    holders, alternatives = ports.survey(settings, wanted, client)

    ca_text, ca_error = None, None
    if settings.ca_bundle is not None:
        try:
            ca_text = settings.ca_bundle.read_text(errors="replace")
        except OSError as exc:
            ca_error = exc.strerror or str(exc)

    stack_disk = None if client is None else measure_disk(client, settings.name)
    if client is not None:
        client.close()
    return Facts(
        engine_version=found.version,
        engine_error=found.error,
        compose_version=compose_version,
        compose_error=compose_error,
        config_path=str(settings.config_path),
        config_source=settings.config_source,
        config_error=config_error,
        storage_setting=storage_setting,
        storage_detected=detected,
        storage_unknown=unknown,
        disks=_disks(settings, found),
        bind=settings.bind,
        wanted_ports=wanted,
        port_holders=holders,
        port_alternatives=alternatives,
        ca_bundle=str(settings.ca_bundle) if settings.ca_bundle else None,
        ca_bundle_text=ca_text,
        ca_bundle_error=ca_error,
        images=images,
        stack_disk=stack_disk,
    )


@dataclass
class _Engine:
    client: docker.DockerClient | None = None
    version: str | None = None
    error: str | None = None
    root_dir: str | None = None
    # Where the engine listens decides whether its disk is this machine's disk.
    local: bool = False


def _engine() -> _Engine:
    try:
        client = docker.from_env(timeout=20)
        version = client.version().get("Version")
        info = client.info()
    except DockerException as exc:
        return _Engine(error=str(exc))
    local = client.api.base_url in LOCAL_ENGINE_URLS and "Docker Desktop" not in str(
        info.get("OperatingSystem", "")
    )
    return _Engine(client, version, None, info.get("DockerRootDir"), local)


def _compose() -> tuple[str | None, str | None]:
    if shutil.which("docker") is None:
        return None, "the docker command is not installed"
    try:
        result = subprocess.run(
            ["docker", "compose", "version", "--short"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, str(exc)
    if result.returncode != 0:
        return None, result.stderr.strip() or f"`docker compose version` exited {result.returncode}"
    return result.stdout.strip().lstrip("v"), None


def _profiles(config: DevlabConfig | None) -> tuple[str, ...]:
    """The optional services `devlab up` runs: all of them when the config is unreadable."""
    return ("mock-github", "registry") if config is None else profiles_for(config)


def _images(config: DevlabConfig | None) -> tuple[BuiltImage, ...]:
    """The images `devlab up` builds for this config, the hub first."""
    profiles = _profiles(config)
    return tuple(i for i in BUILT_IMAGES if i.profile is None or i.profile in profiles)


def _storage(
    client: docker.DockerClient, hub_tag: str, hub_present: bool
) -> tuple[tuple[StorageMode, str] | None, str | None]:
    if not hub_present:
        return None, f"{hub_tag} is not built yet"
    try:
        return storage_engine.detect_mode(client, hub_tag), None
    except DockerException as exc:
        return None, f"could not read /proc/filesystems in {hub_tag}: {exc}"


def _disks(settings: StackSettings, found: _Engine) -> tuple[DiskFact, ...]:
    disks = [_disk("state dir", settings.state_dir)]
    root = found.root_dir
    if found.client is None:
        return tuple(disks)
    if not root:
        disks.append(DiskFact("Docker root", "?", None, "the engine does not report it"))
    elif not found.local:
        disks.append(DiskFact("Docker root", root, None, "it is on the engine's machine or VM"))
    elif not os.access(root, os.R_OK):
        disks.append(DiskFact("Docker root", root, None, "not readable by this user"))
    else:
        disks.append(_disk("Docker root", Path(root)))
    return tuple(disks)


def _disk(label: str, path: Path) -> DiskFact:
    """Free space where `path` is, or will be once created: its nearest existing ancestor."""
    existing = next((p for p in (path, *path.parents) if p.exists()), Path("/"))
    try:
        return DiskFact(label, str(path), shutil.disk_usage(existing).free)
    except OSError as exc:
        return DiskFact(label, str(path), None, exc.strerror or str(exc))
