"""The measurements of `devlab bench`: thin I/O around the hub's REST API and the engine.

Every hub figure has a floor measured in the same run, on the same machine, with the
same image, user, groups, mounts, limits and hardening, started straight through the
engine: the machine is shared and noisy, so only ratios against that floor compare
across runs. Hub and floor cycles are interleaved for the same reason.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import docker
import requests
import yaml
from docker.errors import APIError, NotFound

from devlab.bench.report import (
    BenchReport,
    ConcurrencySection,
    FootprintSection,
    LoginSection,
    SpawnSection,
)
from devlab.bench.timeline import FLOOR_MARKS, HUB_MARKS, first_match, group_samples, phases
from devlab.catalog import size_host_config
from devlab.config import DevlabConfig, load_config
from devlab.hub.labs import LAB_HOST_CONFIG as FLOOR_HARDENING
from devlab.hub.labs import READ_ONLY_ROOT
from devlab.hubapi import HubAPI, HubAPIError
from devlab.identity import Identity
from devlab.identity.github import identity_from_github
from devlab.stack import engine, lifecycle
from devlab.stack.settings import StackSettings

Say = Callable[[str], None]

SEQUENTIAL_USER = "alice"  # config/devlab.yaml's first mock user: 7000001, two orgs
LOGIN_USER = "bob"
BENCH_USER = "bench-user-{:02d}"
BENCH_UID_BASE = 7100000
FLOOR_USER_LABEL = "bench-floor-{}"
LABEL_BENCH = "devlab.bench"
LISTENING = r"Jupyter Server .* is running at"
START_TIMEOUT = 180.0
POLL = 0.05  # the bench's own poll interval: it adds ~25 ms on average to the floor
POLLS_PER_SECOND = 20  # in total across concurrent floor starts, so polling stays cheap


class BenchError(RuntimeError):
    """The bench cannot run against this stack; the message says why and what to do."""


QUICK = {"cycles": 3, "users": 3}


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

    The stack must have no running labs: the bench stops and restarts the stack to time
    a warm `up`, and its users' cycles must not compete with real users for the CPU.
    `quick` caps cycles and users at 3 each, for a run of a few minutes on 2 cores.
    """
    if quick:
        cycles, users = min(cycles, QUICK["cycles"]), min(users, QUICK["users"])
    if cycles < 1 or not 1 <= users <= 99:
        raise BenchError("cycles must be at least 1 and users between 1 and 99")
    started = time.time()
    client = engine.connect()
    before = lifecycle.status(settings)
    if before["labs"]:
        running = ", ".join(str(lab["user"]) for lab in before["labs"])
        raise BenchError(
            f"stack {settings.name!r} has labs running ({running}): the bench restarts the "
            "stack and needs the CPU to itself; stop them, or bench another --stack"
        )
    was_up = before["services"].get("hub", {}).get("state") == "running"
    base_config = load_config(settings.config_path)
    bench_settings, config = _bench_settings(settings, users)
    size = _default_size(config)
    footprint = FootprintSection()
    say(f"bench: bringing stack {settings.name!r} up with the bench config")
    lifecycle.up(bench_settings, say=say)
    if measure_up:
        say("bench: timing a warm `down` and `up`")
        tic = time.time()
        lifecycle.down(bench_settings, volumes=False, say=lambda _line: None)
        footprint.down_s = time.time() - tic
        tic = time.time()
        lifecycle.up(bench_settings, say=say)
        footprint.up_warm_s = time.time() - tic
    lab_image = str(lifecycle.status(bench_settings)["lab_image"])
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
    bench = _Bench(bench_settings, client, config, lab_image, size_host_config(size), say)
    try:
        with bench.events.running():
            time.sleep(5)  # let the services settle after `up` before measuring idle memory
            footprint.services_mib = bench.service_memory()
            report.spawn = bench.sequential(cycles, footprint)
            report.concurrency = bench.concurrent(users)
            report.login = bench.login_to_kernel(LOGIN_USER)
    finally:
        bench.cleanup(users)
        if was_up:
            say("bench: bringing the stack back up with its own config")
            lifecycle.up(settings, say=say)
        else:
            say("bench: stopping the stack again (volumes kept)")
            lifecycle.down(settings, volumes=False, say=lambda _line: None)
    if config.mock_github != base_config.mock_github:
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


def _bench_settings(settings: StackSettings, users: int) -> tuple[StackSettings, DevlabConfig]:
    """A copy of the stack's config, on the mock provider, with `users` bench users added.

    The concurrency part needs that many identities; the mock provider serves them, and
    the spawner resolves admin-created users from the same list.
    """
    raw = yaml.safe_load(settings.config_path.read_text(encoding="utf-8")) or {}
    raw.setdefault("auth", {})["provider"] = "github-mock"
    mock = raw.setdefault("mock_github", {})
    orgs = mock.setdefault("orgs", [])
    existing = {u["login"] for u in mock.setdefault("users", [])}
    for index in range(1, users + 1):
        login = BENCH_USER.format(index)
        if login not in existing:
            mock["users"].append(
                {
                    "login": login,
                    "id": BENCH_UID_BASE + index,
                    "name": f"Bench user {index}",
                    "email": f"{login}@example.org",
                    "orgs": [orgs[0]["login"]] if orgs else [],
                }
            )
    path = settings.state_dir / "bench" / "devlab-bench.yaml"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    bench_settings = dataclasses.replace(settings, config_path=path)
    return bench_settings, load_config(path)


def _default_size(config: DevlabConfig) -> Any:
    name = config.catalog.default_size_name
    return next(s for s in config.catalog.sizes if s.name == name)


def identity_of(config: DevlabConfig, login: str) -> Identity:
    """The identity the spawner gives `login` (devlab.hub.wiring.mock_identity_lookup)."""
    user = config.mock_github.user(login)
    if user is None:
        raise BenchError(f"{login!r} is not a mock_github user of the bench config")
    orgs = [o for o in (config.mock_github.org(name) for name in user.orgs) if o is not None]
    return identity_from_github(
        {"login": user.login, "id": user.id, "name": user.name},
        [{"login": o.login, "id": o.id} for o in orgs],
    )


class EventRecorder:
    """Every container event of the stack's labs, read by one thread for the whole bench.

    The engine stamps events with its own clock, the host's, in nanoseconds: the only
    way to see when the hub's create and start calls actually reached the engine.
    """

    def __init__(self, client: docker.DockerClient, stack: str) -> None:
        self.client, self.stack = client, stack
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def running(self) -> Iterator[EventRecorder]:
        stream = self.client.events(
            decode=True,
            filters={"type": "container", "label": f"{engine.LABEL_STACK}={self.stack}"},
        )

        def read() -> None:
            with contextlib.suppress(Exception):  # the stream raises when closed
                for event in stream:
                    with self._lock:
                        self.events.append(event)

        thread = threading.Thread(target=read, name="bench-events", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stream.close()
            thread.join(timeout=5)

    def first(self, user: str, action: str, after: float, until: float = 1e12) -> float | None:
        """Engine time of the first `action` on `user`'s container in [after, until]."""
        deadline = time.time() + 2  # events arrive slightly after the API call returns
        while True:
            with self._lock:
                for event in self.events:
                    attrs = event.get("Actor", {}).get("Attributes", {})
                    stamp = event.get("timeNano", 0) / 1e9
                    if (
                        event.get("Action") == action
                        and attrs.get(engine.LABEL_USER) == user
                        and after <= stamp <= until
                    ):
                        return stamp
            if time.time() > deadline:
                return None
            time.sleep(0.05)

    def count(self, user: str, action: str, after: float, until: float) -> int:
        with self._lock:
            return sum(
                1
                for e in self.events
                if e.get("Action") == action
                and e.get("Actor", {}).get("Attributes", {}).get(engine.LABEL_USER) == user
                and after <= e.get("timeNano", 0) / 1e9 <= until
            )


@dataclasses.dataclass
class _Started:
    """One start that reached ready, with what was seen on the way."""

    marks: dict[str, float]
    container: Any = None  # floor starts: the docker SDK container

    @property
    def duration(self) -> float:
        end = self.marks.get("ready", self.marks.get("api"))
        assert end is not None
        return end - self.marks["request"]


class _Bench:
    def __init__(
        self,
        settings: StackSettings,
        client: docker.DockerClient,
        config: DevlabConfig,
        lab_image: str,
        size_config: dict[str, int],
        say: Say,
    ) -> None:
        self.settings, self.client, self.config = settings, client, config
        self.lab_image, self.size_config, self.say = lab_image, size_config, say
        self.hub_url = settings.hub_url.rstrip("/")
        self.token = lifecycle.admin_token(settings)
        self.events = EventRecorder(client, settings.name)

    def admin(self) -> HubAPI:
        """A fresh client per thread: requests.Session is not meant to be shared."""
        return HubAPI(self.settings.hub_url, self.token, timeout=60)

    # Through the hub.

    def hub_start(self, api: HubAPI, name: str) -> _Started:
        """Request a server and wait for ready: POST blocks up to the hub's
        slow_spawn_timeout (10 s) and answers 201 once ready, else 202 and the progress
        event stream says when."""
        marks = {"request": time.time()}
        reply = api.request("POST", f"/hub/api/users/{name}/server", json={})
        if reply.status_code == 201:
            marks["ready"] = time.time()
        elif reply.status_code == 202:
            marks["ready"] = self._ready_from_progress(api, name)
        else:
            raise HubAPIError(f"start of {name} answered {reply.status_code}: {reply.text[:300]}")
        return _Started(marks)

    def _ready_from_progress(self, api: HubAPI, name: str) -> float:
        with api.session.get(
            f"{self.hub_url}/hub/api/users/{name}/server/progress",
            stream=True,
            timeout=START_TIMEOUT,
        ) as stream:
            for line in stream.iter_lines(decode_unicode=True):
                if line and line.startswith("data:"):
                    event = yaml.safe_load(line[5:])  # JSON is YAML; avoids a second import
                    if event.get("ready"):
                        return time.time()
                    if event.get("failed"):
                        raise HubAPIError(f"{name}'s spawn failed: {event.get('message')}")
        raise HubAPIError(f"{name}'s progress stream ended before ready")

    def routed(self, api: HubAPI, name: str) -> float:
        """When the user's server answers through the proxy (its /api, as the hub polls)."""
        deadline = time.time() + 30
        while time.time() < deadline:
            with contextlib.suppress(requests.RequestException):
                if api.request("GET", f"/user/{name}/api").status_code == 200:
                    return time.time()
            time.sleep(POLL)
        raise HubAPIError(f"/user/{name}/api did not answer 200 through the proxy")

    def hub_stop(self, api: HubAPI, name: str) -> float:
        tic = time.time()
        api.stop_server(name)
        api.wait_stopped(name, timeout=120)
        return time.time() - tic

    def hub_marks(self, started: _Started, name: str) -> dict[str, float]:
        """Add the engine's and the logs' view of one hub start to its marks."""
        marks = dict(started.marks)
        after, until = marks["request"] - 0.5, marks["ready"] + 0.5
        for mark, action in (
            ("create", "create"),
            ("inject", "extract-to-dir"),
            ("start", "start"),
        ):
            stamp = self.events.first(name, action, after, until)
            if stamp is not None:
                marks[mark] = stamp
        lab = self._lab_container(name)
        if lab is not None:
            lines = lab.logs(timestamps=True).decode(errors="replace").splitlines()
            listening = first_match(lines, LISTENING, after)
            if listening is not None:
                marks["listening"] = listening
        hub_lines = self._hub_log(since=after)
        proxy_add = first_match(hub_lines, rf"Adding user {name} to proxy", after)
        if proxy_add is not None:
            marks["proxy_add"] = proxy_add
        return marks

    def _lab_container(self, user: str) -> Any:
        labs = engine.lab_containers(self.client, self.settings.name, user)
        return labs[0] if labs else None

    def _hub_log(self, since: float) -> list[str]:
        hubs = engine.service_containers(self.client, self.settings.name, "hub")
        if not hubs:
            return []
        raw = hubs[0].logs(timestamps=True, since=int(since) - 1, stdout=True, stderr=True)
        return raw.decode(errors="replace").splitlines()

    def _hub_errors(self, since: float) -> str:
        """The hub's error lines since `since`, to explain a failed start in the report."""
        lines = [line for line in self._hub_log(since) if " [E " in line or "Error" in line]
        return ("\n    hub log: " + "\n    hub log: ".join(lines[-6:])) if lines else ""

    # Straight through the engine: the floor.

    def floor_start(self, identity: Identity, poll: float = POLL) -> _Started:
        """The hub's lab without the hub: same image, identity, mounts, limits, hardening.

        Every poll goes through docker-proxy to a port not yet listening, which costs CPU
        on a 2-core machine: concurrent starts poll less often (see `concurrent`).
        """
        label = FLOOR_USER_LABEL.format(identity.username)
        stack = self.settings.name
        marks = {"request": time.time()}
        container = self.client.containers.create(
            self.lab_image,
            command=[
                "jupyter",
                "server",
                "--ServerApp.ip=0.0.0.0",
                "--ServerApp.port=8888",
                "--IdentityProvider.token=",
                "--ServerApp.base_url=/",
                f"--ServerApp.root_dir={identity.home}",
                "--ServerApp.open_browser=False",
            ],
            name=f"{stack}-{label}",
            user=f"{identity.uid}:{identity.gid}",
            group_add=[str(gid) for gid in identity.supplementary_gids],
            working_dir=identity.home,
            environment={
                "HOME": identity.home,
                "USER": identity.username,
                "LOGNAME": identity.username,
            },
            volumes={
                f"{stack}_homes": {"bind": "/home", "mode": "rw"},
                f"{stack}_project": {"bind": "/project", "mode": "rw"},
            },
            network=self.settings.network,
            ports={"8888/tcp": ("127.0.0.1", None)},
            # Labelled like a lab so `devlab down` removes it if the bench dies midway.
            labels={engine.LABEL_STACK: stack, engine.LABEL_USER: label, LABEL_BENCH: "floor"},
            **FLOOR_HARDENING,
            **READ_ONLY_ROOT,  # devlab's lab image declares it can run so, as spawned labs do
            **self.size_config,
        )
        try:
            container.start()
            container.reload()
            port = container.attrs["NetworkSettings"]["Ports"]["8888/tcp"][0]["HostPort"]
            url = f"http://127.0.0.1:{port}/api"
            deadline = time.time() + START_TIMEOUT
            while time.time() < deadline:
                with contextlib.suppress(requests.RequestException):
                    if requests.get(url, timeout=5).status_code == 200:
                        marks["api"] = time.time()
                        return _Started(marks, container)
                time.sleep(poll)
                if time.time() - marks["request"] > 10:  # a dead lab fails fast, with its log
                    container.reload()
                    if container.status != "running":
                        break
            container.reload()
            tail = container.logs(tail=8).decode(errors="replace").strip()
            raise BenchError(
                f"the floor lab of {identity.username} ({container.status}) never answered on "
                f"{url}; its log ends:\n{tail}"
            )
        except BaseException:
            self._remove(container)
            raise

    def floor_marks(self, started: _Started, label: str) -> dict[str, float]:
        marks = dict(started.marks)
        after = marks["request"] - 0.5
        for action in ("create", "start"):
            stamp = self.events.first(label, action, after, marks["api"] + 0.5)
            if stamp is not None:
                marks[action] = stamp
        lines = started.container.logs(timestamps=True).decode(errors="replace").splitlines()
        listening = first_match(lines, LISTENING, after)
        if listening is not None:
            marks["listening"] = listening
        return marks

    @staticmethod
    def _remove(container: Any) -> None:
        with contextlib.suppress(NotFound, APIError):
            container.remove(force=True, v=False)

    # The sections.

    def sequential(self, cycles: int, footprint: FootprintSection) -> SpawnSection:
        """Warm-up, then `cycles` hub start/stop cycles interleaved with raw starts."""
        name = SEQUENTIAL_USER
        identity = identity_of(self.config, name)
        label = FLOOR_USER_LABEL.format(name)
        api = self.admin()
        api.ensure_user(name)
        section = SpawnSection()
        hub_runs: list[dict[str, float]] = []
        floor_runs: list[dict[str, float]] = []
        self.say(f"bench: spawn latency, {cycles} cycles of {name} (plus one warm-up)")
        for cycle in range(cycles + 1):
            warmup, last = cycle == 0, cycle == cycles
            since = time.time()
            hub_s = floor_s = None
            try:
                started = self.hub_start(api, name)
                started.marks["routed"] = self.routed(api, name)
                marks = self.hub_marks(started, name)
                if last:
                    footprint.idle_lab_mib = self._idle_memory(self._lab_container(name))
                stop = self.hub_stop(api, name)
                hub_s = started.duration
                if warmup:
                    section.first_hub_s = hub_s
                else:
                    section.hub.append(hub_s)
                    section.stop.append(stop)
                    hub_runs.append(phases(marks, HUB_MARKS))
            except (HubAPIError, requests.RequestException) as exc:
                section.failures.append(f"hub cycle {cycle}: {exc}{self._hub_errors(since)}")
                with contextlib.suppress(HubAPIError, requests.RequestException):
                    self.hub_stop(api, name)
            try:
                floor = self.floor_start(identity)
                try:
                    fmarks = self.floor_marks(floor, label)
                    if last:
                        footprint.idle_floor_mib = self._idle_memory(floor.container)
                finally:
                    self._remove(floor.container)
                floor_s = floor.duration
                if warmup:
                    section.first_floor_s = floor_s
                else:
                    section.floor.append(floor_s)
                    floor_runs.append(phases(fmarks, FLOOR_MARKS))
            except (BenchError, APIError, requests.RequestException) as exc:
                section.failures.append(f"floor cycle {cycle}: {exc}")
            self.say(
                f"  cycle {cycle}{' (warm-up)' if warmup else ''}: hub {_fmt(hub_s)}, "
                f"floor {_fmt(floor_s)}"
            )
        section.hub_phases = group_samples(hub_runs)
        section.floor_phases = group_samples(floor_runs)
        return section

    def concurrent(self, users: int) -> ConcurrencySection:
        """`users` hub starts at once, all stopped at once; then as many raw starts at once."""
        names = [BENCH_USER.format(i) for i in range(1, users + 1)]
        admin = self.admin()
        for name in names:
            admin.ensure_user(name)
        section = ConcurrencySection(users=users)
        self.say(f"bench: {users} users starting at once through the hub")
        start = time.time()
        results = _at_once(names, lambda name: self.hub_start(self.admin(), name))
        ok = [r for r in results.values() if isinstance(r, _Started)]
        section.hub_per_user = [r.duration for r in ok]
        section.hub_failures = [
            f"{n}: {r}{self._hub_errors(start)}"
            for n, r in results.items()
            if isinstance(r, Exception)
        ]
        if ok:
            section.hub_wall_s = max(r.marks["ready"] for r in ok) - min(
                r.marks["request"] for r in ok
            )
        section.hub_phases = group_samples(
            phases(self.hub_marks(r, name), HUB_MARKS)
            for name, r in results.items()
            if isinstance(r, _Started)
        )
        self.say(f"  hub: wall {_fmt(section.hub_wall_s)}, {len(section.hub_failures)} failed")
        tic = time.time()
        _at_once(names, lambda name: self.hub_stop(self.admin(), name))
        section.stop_wall_s = time.time() - tic
        self.say(f"bench: {users} raw starts at once (floor)")
        identities = {name: identity_of(self.config, name) for name in names}
        poll = max(POLL, len(names) / POLLS_PER_SECOND)
        floors = _at_once(names, lambda name: self.floor_start(identities[name], poll))
        fok = [r for r in floors.values() if isinstance(r, _Started)]
        for r in fok:
            self._remove(r.container)
        section.floor_per_user = [r.duration for r in fok]
        section.floor_failures = [
            f"{n}: {r}" for n, r in floors.items() if isinstance(r, Exception)
        ]
        if fok:
            section.floor_wall_s = max(r.marks["api"] for r in fok) - min(
                r.marks["request"] for r in fok
            )
        self.say(f"  floor: wall {_fmt(section.floor_wall_s)}")
        return section

    def login_to_kernel(self, name: str) -> LoginSection:
        """One user's path as JupyterHub's load-testing tools time it, step by step."""
        section = LoginSection(user=name)
        self.say(f"bench: login to kernel as {name}")
        admin = self.admin()
        token_id = None
        started_at = time.time()
        try:
            # The test extra (testcontainers, websocket, jupyter_client, nbformat): not
            # needed, nor imported (3 s of jsonschema's format checkers), by other commands.
            from devlab.testing.lab import Lab
            from devlab.testing.login import github_mock_login

            tic = time.time()
            github_mock_login(self.settings.hub_url, name)
            section.steps["login"] = time.time() - tic
            reply = admin.request(
                "POST", f"/hub/api/users/{name}/tokens", json={"note": "devlab bench"}
            )
            if reply.status_code != 201:
                raise HubAPIError(f"no token for {name}: {reply.status_code} {reply.text[:200]}")
            token, token_id = reply.json()["token"], reply.json()["id"]
            api = HubAPI(self.settings.hub_url, token, timeout=60)
            started = self.hub_start(api, name)
            section.steps["server_ready"] = started.duration
            lab = Lab(self.settings.hub_url, name, token, stop=lambda: None)
            tic = time.time()
            kernel_id = lab.api("POST", "kernels", ok=(201,), json={"name": "python3"})["id"]
            section.steps["kernel_started"] = time.time() - tic
            tic = time.time()
            result = lab.run_in_kernel(kernel_id, "print(6 * 7)", timeout=120)
            section.steps["code_executed"] = time.time() - tic
            if result.stdout.strip() != "42":
                raise HubAPIError(f"the kernel printed {result.stdout!r}, not 42")
            lab.api("DELETE", f"kernels/{kernel_id}", ok=(204, 404))
            section.steps["server_stopped"] = self.hub_stop(api, name)
        except Exception as exc:  # a benchmark reports a failed step, it does not abort
            section.error = f"{type(exc).__name__}: {exc}{self._hub_errors(started_at)}"
            with contextlib.suppress(Exception):
                self.hub_stop(admin, name)
        finally:
            if token_id is not None:
                admin.request("DELETE", f"/hub/api/users/{name}/tokens/{token_id}")
        return section

    # Memory.

    def service_memory(self) -> dict[str, float]:
        found = {}
        for container in engine.compose_containers(self.client, self.settings.name):
            service = container.labels.get(engine.COMPOSE_SERVICE, container.name)
            if container.status == "running":
                found[service] = _memory_mib(container)
        return found

    def _idle_memory(self, container: Any) -> float | None:
        """Memory of a lab after a few idle seconds (start-up garbage collected)."""
        if container is None:
            return None
        time.sleep(3)
        return _memory_mib(container)

    def cleanup(self, users: int) -> None:
        """Remove floor containers and the bench's hub users (their homes are kept)."""
        for container in self.client.containers.list(
            all=True, filters={"label": [f"{LABEL_BENCH}=floor"]}
        ):
            if container.labels.get(engine.LABEL_STACK) == self.settings.name:
                self._remove(container)
        admin = self.admin()
        for index in range(1, users + 1):
            with contextlib.suppress(requests.RequestException):
                admin.request("DELETE", f"/hub/api/users/{BENCH_USER.format(index)}")


def _memory_mib(container: Any) -> float:
    """Memory usage without inactive page cache, as `docker stats` shows it."""
    stats = container.stats(stream=False, one_shot=True)
    memory = stats.get("memory_stats", {})
    detail = memory.get("stats", {})
    inactive = detail.get("total_inactive_file", detail.get("inactive_file", 0))
    usage = memory.get("usage", 0)
    return (usage - inactive if inactive < usage else usage) / 2**20


def _at_once(names: list[str], work: Callable[[str], Any]) -> dict[str, Any]:
    """Run `work(name)` for every name in its own thread, released together by a barrier.

    Returns each name's result, or the exception it raised.
    """
    barrier = threading.Barrier(len(names))
    results: dict[str, Any] = {}

    def one(name: str) -> None:
        barrier.wait()
        try:
            results[name] = work(name)
        except Exception as exc:
            results[name] = exc

    threads = [threading.Thread(target=one, args=(n,), name=f"bench-{n}") for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"
