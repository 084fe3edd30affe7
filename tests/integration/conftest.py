"""devlab's own integration tests run on its pytest plugin: one real stack per session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from devlab.testing.session import DevlabSession


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True, scope="module")
def _fresh_servers(devlab: DevlabSession) -> Iterator[None]:
    """Each module starts and ends with no lab running, whatever the last one left."""
    devlab.stop_all_servers()
    yield
    devlab.stop_all_servers()


@dataclass
class NfsStack:
    """What the NFS server tests need: the published port and a way to make directories."""

    name: str
    nfs_port: int
    image: str

    def provision(self, path_in_volume: str, uid: int, gid: int, mode: int, volume: str) -> None:
        docker.from_env().containers.run(
            self.image,
            [
                "sh",
                "-c",
                f"mkdir -p /v/{path_in_volume} && chown {uid}:{gid} /v/{path_in_volume}"
                f" && chmod {mode:o} /v/{path_in_volume}",
            ],
            volumes={f"{self.name}_{volume}": {"bind": "/v", "mode": "rw"}},
            entrypoint=[],
            remove=True,
        )


@pytest.fixture(scope="module")
def nfs_stack(devlab: DevlabSession) -> NfsStack:
    return NfsStack(devlab.name, devlab.nfs_port, devlab.status()["hub_image"])
