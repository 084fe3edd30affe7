"""devlab's own integration tests run on its pytest plugin: one real stack per session."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from devlab.testing.stack import DevlabStack


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True, scope="module")
def _fresh_servers(devlab: DevlabStack) -> Iterator[None]:
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
def nfs_stack(devlab: DevlabStack) -> NfsStack:
    return NfsStack(devlab.name, devlab.nfs_port, devlab.status().hub_image)


REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class InstalledDevlab:
    """devlab as its users get it: a wheel built from this checkout, installed with its
    `test` extra into a fresh virtualenv outside the checkout, run from another folder."""

    venv: Path
    wheel: Path
    workdir: Path  # a folder outside the checkout, to run commands from

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def environ(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The caller's environment, minus anything that could lead back to the checkout."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env.pop("DEVLAB_PROJECT_DIR", None)
        return {**env, **(extra or {})}

    def run(
        self,
        *args: str,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 900,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args),
            cwd=cwd or self.workdir,
            env=self.environ(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture(scope="session")
def installed_devlab(tmp_path_factory: pytest.TempPathFactory) -> InstalledDevlab:
    root = tmp_path_factory.mktemp("installed")
    assert not root.is_relative_to(REPO)
    dist = root / "dist"
    # The wheel is built from the sdist, so both are shown to carry the whole stack.
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--outdir", str(dist), str(REPO)],
        check=True,
        capture_output=True,
        text=True,
    )
    (sdist,) = dist.glob("devlab-*.tar.gz")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(sdist)],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = dist.glob("devlab-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"{wheel}[test]",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    workdir = root / "elsewhere"
    workdir.mkdir()
    installed = InstalledDevlab(venv, wheel, workdir)
    where = installed.run(
        str(installed.bin / "python"),
        "-c",
        "import devlab, json, sys; print(json.dumps([devlab.__file__, sys.path]))",
    )
    assert where.returncode == 0, where.stderr
    assert str(REPO) not in where.stdout, f"the checkout is reachable: {where.stdout}"
    assert str(venv) in where.stdout
    return installed
