"""devlab as an installed tool: the wheel alone, in a fresh virtualenv, from another folder.

Nothing of the checkout is reachable here (the fixture asserts it): what passes is what a
user who ran `pipx install devlab` gets.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import docker
import requests

from devlab.hubapi import HubAPI
from devlab.platform import PACKAGE_DIR
from devlab.stack.envfile import read_env_file
from devlab.stack.images import BUILT_IMAGES, image_tag
from devlab.testing.stack import free_port, new_stack_name


def stack_env(name: str, state: Path) -> dict[str, str]:
    """A stack of its own, beside the session's: its name, state and free ports."""
    return {
        "DEVLAB_STACK": name,
        "DEVLAB_STATE_DIR": str(state),
        "DEVLAB_HTTP_PORT": str(free_port()),
        "DEVLAB_OAUTH_PORT": str(free_port()),
        "DEVLAB_CILOGON_PORT": str(free_port()),
        "DEVLAB_NFS_PORT": str(free_port()),
        "DEVLAB_REGISTRY_PORT": str(free_port()),
    }


def test_the_installed_wheel_carries_the_whole_stack(installed_devlab):
    listing = installed_devlab.run(
        str(installed_devlab.bin / "python"),
        "-c",
        "import json, devlab.platform as p; "
        "print(json.dumps(sorted(str(f.relative_to(p.PACKAGE_DIR)) "
        "for f in p.PACKAGE_DIR.rglob('*') if f.is_file() and '__pycache__' not in f.parts)))",
    )
    assert listing.returncode == 0, listing.stderr
    installed = set(json.loads(listing.stdout))
    for needed in (
        "platform/compose.yaml",
        "platform/config/devlab.yaml",
        "platform/config/jupyterhub_config.py",
        "platform/images/hub/Dockerfile",
        "platform/images/lab/Dockerfile",
        "platform/images/lab/labextension/src/index.ts",
        "platform/images/nfs/seccomp.json",
        ".dockerignore",
        "platform/.dockerignore",
    ):
        assert needed in installed, needed


def test_up_spawn_and_down_from_a_project_folder_with_only_the_wheel(installed_devlab, devlab):
    """`devlab init`, `up` (building nothing: the checkout's tags), a spawn, the shipped
    tutorials through `devlab notebooks run`, `down`."""
    project = installed_devlab.workdir / "my-project"
    project.mkdir()
    init = installed_devlab.run("devlab", "init", cwd=project)
    assert init.returncode == 0, init.stderr
    shown = installed_devlab.run("devlab", "config", "show", cwd=project)
    assert shown.stdout.splitlines()[0] == f"# {project / 'devlab.yaml'} (from ./devlab.yaml)"

    name = new_stack_name()
    state = installed_devlab.workdir / "state"
    env = stack_env(name, state)
    up = installed_devlab.run("devlab", "up", cwd=project, env=env)
    hub_url = f"http://127.0.0.1:{env['DEVLAB_HTTP_PORT']}/"
    try:
        assert up.returncode == 0, f"stdout:\n{up.stdout}\nstderr:\n{up.stderr}"
        values = read_env_file(state / name / "compose.env")
        assert values is not None
        assert values["DEVLAB_CONFIG"] == str(project / "devlab.yaml")
        # The same version builds the same tags installed or checked out: nothing rebuilt.
        base = values["DEVLAB_BASE_IMAGE"]
        for image in BUILT_IMAGES:
            key = f"DEVLAB_{image.service.upper()}_IMAGE"
            if key in values:
                assert values[key] == image_tag(image, base, PACKAGE_DIR), key
        assert "Building" not in up.stderr

        token = installed_devlab.run("devlab", "token", cwd=project, env=env)
        assert token.returncode == 0, token.stderr
        hub = HubAPI(hub_url, token.stdout.strip())
        hub.ensure_user("alice")
        hub.start_server("alice")
        server = hub.wait_ready("alice")
        reply = requests.get(
            f"{hub_url.rstrip('/')}{server['url']}api/status",
            headers={"Authorization": f"token {token.stdout.strip()}"},
            timeout=10,
        )
        assert reply.status_code == 200, reply.text
        # The tutorials shipped in the wheel, run in a lab as bob (alice's server runs).
        junit = installed_devlab.workdir / "tutorials.xml"
        notebooks = installed_devlab.run(
            *("devlab", "notebooks", "run", "tutorials", "--user", "bob", "--junit", str(junit)),
            cwd=project,
            env=env,
        )
        assert notebooks.returncode == 0, f"stdout:\n{notebooks.stdout}\n{notebooks.stderr}"
        suites = ET.parse(junit).getroot()
        assert (suites.get("tests"), suites.get("failures")) == ("4", "0")
    finally:
        down = installed_devlab.run("devlab", "down", "--volumes", "--yes", cwd=project, env=env)
    assert down.returncode == 0, down.stderr
    client = docker.from_env()
    assert client.containers.list(all=True, filters={"label": f"devlab.stack={name}"}) == []
    # Nothing of this stack is left on the engine, its homes included.
    assert client.volumes.list(filters={"label": f"com.docker.compose.project={name}"}) == []


def test_the_bench_runs_from_the_installed_wheel_and_puts_the_stack_back(installed_devlab):
    """`devlab bench --quick` on a stack that was down: every section measured against
    the floor, no start failed, and the stack left down with nothing running. What the
    figures are is the bench's business (no timing asserted here)."""
    name = new_stack_name()
    env = stack_env(name, installed_devlab.workdir / "bench-state")
    folder = installed_devlab.workdir / "bench-project"
    folder.mkdir()
    client = docker.from_env()
    try:
        bench = installed_devlab.run(
            "devlab", "bench", "--quick", "--json", cwd=folder, env=env, timeout=1800
        )
        assert bench.returncode == 0, f"stdout:\n{bench.stdout}\nstderr:\n{bench.stderr}"
        report = json.loads(bench.stdout)
        spawn, together = report["spawn"], report["concurrency"]
        assert spawn["failures"] == []
        assert len(spawn["hub"]["samples"]) == len(spawn["floor"]["samples"]) == 3
        assert together["users"] == 3
        assert together["hub"]["errors"] == []
        assert together["floor"]["errors"] == []
        for ratio in (spawn["p50_ratio"], together["wall_ratio"]):
            assert math.isfinite(ratio), report
            assert ratio > 0, report
        assert report["login_to_kernel"] is not None
        running = client.containers.list(filters={"label": f"com.docker.compose.project={name}"})
        assert running == [], "the bench found the stack down and must leave it down"
        assert client.containers.list(all=True, filters={"label": f"devlab.stack={name}"}) == []
    finally:
        installed_devlab.run("devlab", "down", "--volumes", "--yes", cwd=folder, env=env)
    assert client.volumes.list(filters={"label": f"com.docker.compose.project={name}"}) == []
