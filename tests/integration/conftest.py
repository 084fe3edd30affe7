"""A real devlab stack per test module, driven through the `devlab` command."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from devlab.stack.engine import leftovers
from devlab.testing.hub_api import HubAPI

REPO = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.integration)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    name: str
    port: int
    oauth_port: int
    nfs_port: int
    env: dict[str, str]

    def cli(
        self, *args: str, check: bool = True, timeout: float = 900
    ) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "devlab.cli", *args, "--stack", self.name],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"devlab {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def status(self) -> dict:
        return json.loads(self.cli("status", "--json").stdout)

    @property
    def hub_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def api(self) -> HubAPI:
        return HubAPI(self.hub_url, self.cli("token").stdout.strip())


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    name = f"devlab-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DEVLAB_STATE_DIR": str(tmp_path_factory.mktemp("state")),
        "DEVLAB_HTTP_PORT": str(free_port()),
        "DEVLAB_OAUTH_PORT": str(free_port()),
        "DEVLAB_NFS_PORT": str(free_port()),
    }
    stack = Stack(
        name=name,
        port=int(env["DEVLAB_HTTP_PORT"]),
        oauth_port=int(env["DEVLAB_OAUTH_PORT"]),
        nfs_port=int(env["DEVLAB_NFS_PORT"]),
        env=env,
    )
    stack.cli("up", "--port", str(stack.port))
    try:
        yield stack
    finally:
        stack.cli("down", "--volumes", "--yes")
    client = docker.from_env()
    assert leftovers(client, name) == []
    volumes = client.volumes.list(filters={"label": f"com.docker.compose.project={name}"})
    assert not volumes, f"down --volumes left {[v.name for v in volumes]}"
