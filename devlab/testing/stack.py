"""DevlabStack: one throwaway devlab stack for tests, in testcontainers' shape.

    with DevlabStack(config="devlab.yaml") as stack:
        lab = stack.login("alice").spawn()

The pytest plugin's `devlab` fixture is the same class. devlab prepares the stack (config,
secrets, image tags, builds, ports) and cleans up what Compose does not know (labs and
their networks, by label); testcontainers' DockerCompose runs the Compose part: `up
--wait` until every service is healthy, a wait for the hub's URL from this host, `down
--volumes`, and the service logs.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import requests
import yaml
from testcontainers.compose import DockerCompose

from devlab.client.login import (
    LoginError,
    cilogon_mock_login,
    firstuse_login,
    github_mock_login,
)
from devlab.config import DevlabConfig, load_config
from devlab.hubapi import HubAPI
from devlab.stack import engine, lifecycle
from devlab.stack.compose import compose_command, compose_environment
from devlab.stack.settings import StackSettings, resolve_settings
from devlab.stack.status import StackStatus
from devlab.testing.user import User

if TYPE_CHECKING:  # the notebooks extra (nbconvert) loads only when notebooks run
    from devlab.notebooks.report import CaseResult

TEST_STACK_PREFIX = "devlab-pytest-"
# devlab-pytest-<pid>-<pid namespace>-<id>.
_OWNED = re.compile(rf"^{TEST_STACK_PREFIX}(\d+)-([0-9a-f]+)-[0-9a-f]{{8}}$")


def pid_namespace() -> str:
    """This process's PID namespace, as a short tag. A pid means something only in its
    own namespace: two CI jobs (or containers) sharing one engine each see the other's
    pids as gone, and must not take the other's stack for a crashed run."""
    try:
        return format(os.stat("/proc/self/ns/pid").st_ino, "x")
    except OSError:  # no procfs: one namespace as far as we can tell
        return "0"


def new_stack_name() -> str:
    """A test stack's name, which says whose it is: `purge_crashed_runs` reads it."""
    return f"{TEST_STACK_PREFIX}{os.getpid()}-{pid_namespace()}-{uuid.uuid4().hex[:8]}"


def crashed_run(name: str, namespace: str, alive: Callable[[int], bool]) -> bool:
    """Whether the stack `name` belongs to a run that is gone: made in this PID namespace
    (`namespace`) by a process that is no longer `alive`. A name that does not say its
    namespace (an older devlab's, on a shared engine) is never taken for ours."""
    match = _OWNED.match(name)
    if match is None:
        return False
    pid, made_in = int(match.group(1)), match.group(2)
    return made_in == namespace and not alive(pid)


def free_port() -> int:
    """A port free on 127.0.0.1 now: for stacks that must not collide with others."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class StackCompose(DockerCompose):
    """testcontainers' DockerCompose on one devlab stack.

    Its commands are devlab's own (`compose_command`: project folder, compose file, the
    stack's compose.env, and `--profile *` where every service must be reached), run
    without the caller's DEVLAB_*/COMPOSE_* variables: Compose lets the shell override
    the env file, so an exported DEVLAB_STACK would retarget a test at the user's stack.
    """

    command: list[str] = field(default_factory=list)

    @cached_property
    def compose_command_property(self) -> list[str]:
        return self.command

    def _run_command(
        self, cmd: str | list[str], context: str | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            cmd,
            capture_output=True,
            check=True,
            cwd=context or str(self.context),
            env=compose_environment(os.environ),
        )


def stack_compose(settings: StackSettings, *, every_profile: bool = False) -> StackCompose:
    """`every_profile`: for down and logs, which must reach services of inactive profiles
    too; `up` starts the profiles compose.env names (COMPOSE_PROFILES)."""
    profiles = lifecycle.ALL_PROFILES if every_profile else ()
    return StackCompose(
        context=str(settings.project_dir), command=compose_command(settings, *profiles)
    )


class DevlabStack:
    """A stack named `devlab-pytest-<pid>-<id>` on free ports (or an existing one, reused).

    The owner's pid is part of the name, so a later run can tell a crashed run's
    leftovers (owner gone) from a run still going on beside it. `config` is the platform
    config (users, images, lab.build ...); without it devlab's discovery applies from
    `root` (default: the current folder): DEVLAB_CONFIG, then `root`/devlab.yaml, then
    the packaged default. State (secrets, compose.env) goes to `state_dir`, or to a
    temporary folder removed by stop().
    """

    def __init__(
        self,
        config: str | Path | None = None,
        *,
        root: Path | None = None,
        state_dir: Path | None = None,
        project_dir: str | None = None,
        reuse: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        base = dict(os.environ if env is None else env)
        self.reused = reuse is not None
        self.name = reuse or new_stack_name()
        self._own_state: Path | None = None  # a temporary state folder, removed by stop()
        if not self.reused:
            if state_dir is None:
                state_dir = self._own_state = Path(tempfile.mkdtemp(prefix="devlab-stack-"))
            base.update(
                DEVLAB_STATE_DIR=str(state_dir),
                DEVLAB_HTTP_PORT=str(free_port()),
                DEVLAB_OAUTH_PORT=str(free_port()),
                DEVLAB_CILOGON_PORT=str(free_port()),
                DEVLAB_NFS_PORT=str(free_port()),
                DEVLAB_REGISTRY_PORT=str(free_port()),
            )
        base["DEVLAB_STACK"] = self.name
        if project_dir:
            base["DEVLAB_PROJECT_DIR"] = str(Path(project_dir).resolve())
        self.settings: StackSettings = resolve_settings(
            config=str(config) if config else None, env=base, cwd=root
        )
        if self.reused:
            self.settings = lifecycle.as_brought_up(self.settings)
        # `cli()` acts on this stack and its config, whatever folder it runs in.
        base["DEVLAB_CONFIG"] = str(self.settings.config_path)
        self.env = base
        self.users: dict[str, User] = {}
        self._admin: HubAPI | None = None

    # The stack's whole life, as testcontainers' containers have it.

    def __enter__(self) -> DevlabStack:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the stack; a failure inside the block carries the stack's logs with it."""
        try:
            if exc is not None:
                exc.add_note(self.failure_logs_text())
        finally:
            self.stop()

    def start(self) -> None:
        purge_crashed_runs()
        if self.reused and self._healthy():
            return
        self._say(f"config {self.settings.config_path} ({self.settings.config_source})")
        lifecycle.up(self.settings, say=self._say, start_services=self._compose_up)

    def up(self, config: str | Path | None = None, profile: str | None = None) -> None:
        """Bring the stack up again with another config file or profile, or its own."""
        settings = replace(self.settings, profile=profile)
        if config is not None:
            settings = replace(settings, config_path=Path(config).resolve())
        lifecycle.up(settings, say=self._say, start_services=self._compose_up)
        self._admin = None

    def run_notebooks(
        self,
        *sources: str | Path,
        images: str = "recommended",
        user: str | None = None,
        parameters: dict[str, Any] | None = None,
        timeout: float = 600,
        jobs: int = 1,
    ) -> list[CaseResult]:
        """`devlab notebooks run` from a test: every notebook of `sources` (files, folders,
        git URLs or "tutorials") on every image `images` selects, in real labs as `user`.
        `assert_notebooks_pass(results)` fails the test with the table and the tracebacks."""
        from devlab.notebooks.session import run_notebooks

        return run_notebooks(
            self.settings,
            [str(source) for source in sources],
            images=images,
            user=user,
            parameters=parameters,
            timeout=timeout,
            jobs=jobs,
            progress=self._say,
        ).results

    @contextmanager
    def reconfigured(
        self, change: Callable[[dict[str, Any]], None], folder: Path
    ) -> Iterator[DevlabStack]:
        """This stack brought up again on its config as `change` edits it (the mapping of
        the YAML file, written into `folder`), with no lab running before or after; its
        own config is restored on the way out, so the next test finds the stack it knew."""
        self.stop_all_servers()
        config = yaml.safe_load(self.settings.config_path.read_text(encoding="utf-8")) or {}
        change(config)
        path = folder / "devlab.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        self.up(config=path)
        try:
            yield self
        finally:
            self.stop_all_servers()
            self.up()

    def stop(self) -> None:
        if self.reused:
            self.stop_all_servers()
            return
        try:
            if self.settings.env_file.exists():  # absent: start() failed before Compose
                lifecycle.down(
                    self.settings, volumes=True, say=self._say, stop_services=self._compose_down
                )
        finally:
            if self._own_state is not None:
                shutil.rmtree(self._own_state, ignore_errors=True)

    def _compose_up(self, settings: StackSettings) -> str | None:
        """testcontainers' start (`up --wait`: every service healthy), then its wait for
        the hub's URL from this host, through the proxy's published port."""
        compose = stack_compose(settings)
        try:
            compose.start()
            compose.wait_for(f"{settings.hub_url}hub/health")
        except subprocess.CalledProcessError as exc:
            return exc.stderr.decode(errors="replace").strip()
        except TimeoutError as exc:
            return f"{settings.hub_url} did not answer from this host: {exc}"
        return None

    def _compose_down(self, settings: StackSettings, volumes: bool) -> None:
        """testcontainers' stop: `down --volumes` (a test stack keeps nothing)."""
        stack_compose(settings, every_profile=True).stop(down=True)

    def _healthy(self) -> bool:
        try:
            return lifecycle.status(self.settings).healthy
        except Exception:
            return False

    @staticmethod
    def _say(line: str) -> None:
        print(f"[devlab] {line}", file=sys.stderr)

    # What tests use.

    @property
    def hub_url(self) -> str:
        return self.settings.hub_url

    def hub_answers(self) -> bool:
        """Whether the hub answers its health check now, through the proxy (no waiting)."""
        try:
            return requests.get(f"{self.hub_url}hub/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    @property
    def port(self) -> int:
        return self.settings.http_port

    @property
    def oauth_port(self) -> int:
        return self.settings.oauth_port

    @property
    def nfs_port(self) -> int:
        return self.settings.nfs_port

    @property
    def admin(self) -> HubAPI:
        """The hub's REST API with the admin token (`devlab token`)."""
        if self._admin is None:
            self._admin = HubAPI(self.hub_url, lifecycle.admin_token(self.settings))
        return self._admin

    def api(self) -> HubAPI:
        return self.admin

    def status(self) -> StackStatus:
        return lifecycle.status(self.settings)

    def login(
        self, name: str, password: str | None = None, new_password: str | None = None
    ) -> User:
        """Log in through the provider in use: mock GitHub or mock CILogon (`name` is the
        user's login, or their username claim), or FirstUse with `password` (at an
        imported user's first login: the one-time password from `devlab users import`,
        with the `new_password` they choose)."""
        if password is not None:
            browser = firstuse_login(self.hub_url, name, password, new_password)
        elif (config := self._config()).auth.provider == "cilogon-mock":
            mock = config.mock_cilogon
            user = next((u for u in mock.users if u.username == name), None)
            if user is None:
                raise LoginError(f"no mock_cilogon user has {mock.username_claim} {name!r}")
            browser = cilogon_mock_login(self.hub_url, user.sub)
        else:
            browser = github_mock_login(self.hub_url, name)
        user = User(self, name, browser)
        self.users[name] = user
        return user

    def _config(self) -> DevlabConfig:
        """The config the stack runs with now (`up` may have changed it since start)."""
        running = lifecycle.as_brought_up(self.settings)
        return load_config(running.config_path, running.profile)

    def stop_all_servers(self) -> None:
        admin = self.admin
        users = admin.request("GET", "/hub/api/users?state=active").json()
        for user in users:
            if user.get("servers", {}).get(""):
                admin.stop_server(user["name"])
        for user in users:
            admin.wait_stopped(user["name"])

    def cli(
        self, *args: str, check: bool = True, timeout: float = 900
    ) -> subprocess.CompletedProcess:
        """Run the `devlab` command against this stack, as a person would."""
        stack = [] if "--stack" in args else ["--stack", self.name]
        result = subprocess.run(
            [sys.executable, "-m", "devlab.cli", *args, *stack],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.settings.project_dir,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"devlab {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    # Logs, for failure reports and spawn errors.

    def compose(self) -> StackCompose:
        """testcontainers' handle on this stack's services (logs, containers, exec)."""
        return stack_compose(self.settings, every_profile=True)

    def logs(self, service: str, tail: int = 200) -> str:
        stdout, stderr = self.compose().get_logs(service)
        lines = (stdout + stderr).splitlines()
        return "\n".join(lines[-tail:])

    def failure_logs(self) -> list[tuple[str, str]]:
        """(title, text) per section: the hub's and the proxy's logs, and each logged-in
        user's lab. A report must not fail itself: an unreadable log says why instead."""
        sections = [(f"devlab {s} log", _safe(self.logs, s)) for s in ("hub", "proxy")]
        sections += [(f"devlab lab log ({u})", _safe(self.lab_logs, u)) for u in self.users]
        return sections

    def failure_logs_text(self) -> str:
        return "\n".join(
            f"{'-' * 20} {title} {'-' * 20}\n{text}" for title, text in self.failure_logs()
        )

    def lab_logs(self, user: str, tail: int = 200) -> str:
        client = engine.connect()
        labs = engine.lab_containers(client, self.name, user)
        return "\n".join(c.logs(tail=tail).decode(errors="replace") for c in labs)

    def spawn_log(self, user: str) -> str:
        hub = [line for line in self.logs("hub", tail=2000).splitlines() if user in line]
        return "\n".join([*hub[-40:], "--- lab ---", self.lab_logs(user, tail=60)])


def _safe(read: Callable[[str], str], what: str) -> str:
    try:
        return read(what)
    except Exception as exc:
        return f"(could not read: {exc})"


def purge_crashed_runs() -> list[str]:
    """Remove every devlab-pytest stack whose owning process is gone; return their names.

    Stacks made in another PID namespace are left alone: their owner's pid cannot be
    checked from here."""
    client = engine.connect()
    stacks = set()
    for container in client.containers.list(all=True):
        for label in ("com.docker.compose.project", engine.LABEL_STACK):
            name = container.labels.get(label, "")
            if name.startswith(TEST_STACK_PREFIX):
                stacks.add(name)
    for network in client.networks.list():
        if network.name.startswith(TEST_STACK_PREFIX):
            # <stack>_default and the labs' <stack>_lab-<user>; test stacks have no "_".
            stacks.add(network.name.split("_", 1)[0])
    crashed = []
    namespace = pid_namespace()
    for name in sorted(stacks):
        if crashed_run(name, namespace, _alive):
            engine.purge(client, name)
            crashed.append(name)
    return crashed
