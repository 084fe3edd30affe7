"""One devlab stack for a test session: brought up, used, and torn down without leftovers."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from testcontainers.compose import DockerCompose

from devlab.hubapi import HubAPI
from devlab.stack import engine, lifecycle
from devlab.stack.settings import StackSettings, resolve_settings
from devlab.testing.login import firstuse_login, github_mock_login
from devlab.testing.user import User

TEST_STACK_PREFIX = "devlab-pytest-"
_OWNED = re.compile(rf"^{TEST_STACK_PREFIX}(\d+)-[0-9a-f]+$")


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


class DevlabSession:
    """A stack named `devlab-pytest-<pid>-<id>` (or an existing one, when reused).

    The owner's pid is part of the name, so a later run can tell a crashed run's
    leftovers (owner gone) from a run still going on beside it.
    """

    def __init__(
        self,
        *,
        state_dir: Path,
        config: str | None = None,
        project_dir: str | None = None,
        reuse: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        base = dict(os.environ if env is None else env)
        self.reused = reuse is not None
        self.name = reuse or f"{TEST_STACK_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        if not self.reused:
            base.update(
                DEVLAB_STATE_DIR=str(state_dir),
                DEVLAB_HTTP_PORT=str(free_port()),
                DEVLAB_OAUTH_PORT=str(free_port()),
                DEVLAB_NFS_PORT=str(free_port()),
                DEVLAB_REGISTRY_PORT=str(free_port()),
            )
        base["DEVLAB_STACK"] = self.name
        if config:
            base["DEVLAB_CONFIG"] = str(Path(config).resolve())
        if project_dir:
            base["DEVLAB_PROJECT_DIR"] = str(Path(project_dir).resolve())
        self.env = base
        self.settings: StackSettings = resolve_settings(env=base)
        if self.reused:
            self.settings = lifecycle.as_brought_up(self.settings)
        self.users: dict[str, User] = {}
        self._admin: HubAPI | None = None

    # The stack's whole life.

    def start(self) -> None:
        purge_crashed_runs()
        if self.reused and self._healthy():
            return
        lifecycle.up(self.settings, say=lambda line: print(f"[devlab] {line}", file=sys.stderr))

    def up(self, config: str | Path | None = None, profile: str | None = None) -> None:
        """Bring the stack up again with another config file or profile, or its own."""
        settings = replace(self.settings, profile=profile)
        if config is not None:
            settings = replace(settings, config_path=Path(config).resolve())
        lifecycle.up(settings, say=lambda line: print(f"[devlab] {line}", file=sys.stderr))
        self._admin = None

    def stop(self) -> None:
        if self.reused:
            self.stop_all_servers()
            return
        lifecycle.down(self.settings, volumes=True, say=lambda line: None)

    def _healthy(self) -> bool:
        try:
            services = lifecycle.status(self.settings)["services"]
        except Exception:
            return False
        return all(
            s["health"] in ("healthy", None) and s["state"] == "running" for s in services.values()
        )

    # What tests use.

    @property
    def hub_url(self) -> str:
        return self.settings.hub_url

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

    def status(self) -> dict[str, Any]:
        return lifecycle.status(self.settings)

    def login(
        self, name: str, password: str | None = None, new_password: str | None = None
    ) -> User:
        """Log in through the provider in use: mock GitHub, or FirstUse with `password`
        (at an imported user's first login: the one-time password from `devlab users
        import`, with the `new_password` they choose)."""
        if password is None:
            browser = github_mock_login(self.hub_url, name)
        else:
            browser = firstuse_login(self.hub_url, name, password, new_password)
        user = User(self, name, browser)
        self.users[name] = user
        return user

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

    def compose(self) -> DockerCompose:
        return DockerCompose(
            context=str(self.settings.project_dir),
            compose_file_name=str(self.settings.compose_file),
            env_file=str(self.settings.env_file),
            profiles=["*"],
        )

    def logs(self, service: str, tail: int = 200) -> str:
        stdout, stderr = self.compose().get_logs(service)
        lines = (stdout + stderr).splitlines()
        return "\n".join(lines[-tail:])

    def lab_logs(self, user: str, tail: int = 200) -> str:
        client = engine.connect()
        labs = engine.lab_containers(client, self.name, user)
        return "\n".join(c.logs(tail=tail).decode(errors="replace") for c in labs)

    def spawn_log(self, user: str) -> str:
        hub = [line for line in self.logs("hub", tail=2000).splitlines() if user in line]
        return "\n".join([*hub[-40:], "--- lab ---", self.lab_logs(user, tail=60)])


def purge_crashed_runs() -> list[str]:
    """Remove every devlab-pytest stack whose owning process is gone; return their names."""
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
    for name in sorted(stacks):
        match = _OWNED.match(name)
        if match and not _alive(int(match.group(1))):
            engine.purge(client, name)
            crashed.append(name)
    return crashed
