"""examples/downstream as a team has it: its own folder outside the checkout, devlab from
the wheel (installed_devlab), its own pyproject, devlab.yaml and lab image, its own pytest.

A test that fails on purpose joins its suite here, to see the stack's logs attached."""

from __future__ import annotations

import os
import re
import shutil
import textwrap
from pathlib import Path

import docker

from devlab.testing.stack import TEST_STACK_PREFIX, crashed_run, pid_namespace

REPO = Path(__file__).resolve().parents[2]
ON_PURPOSE = textwrap.dedent(
    """
    def test_fails_on_purpose(devlab):
        print("stack", devlab.name)
        lab = devlab.login("ada").spawn()
        assert lab.execute("print('hello')").stdout == "something else", "on purpose"
    """
)
# No devlab variable of the outer run may steer the project's own run.
OWN_RUN = {"DEVLAB_TEST_CONFIG": "", "DEVLAB_TEST_REUSE": "", "DEVLAB_CONFIG": ""}


def _test_stacks(client: docker.DockerClient) -> set[str]:
    """Every devlab-pytest stack with anything left: containers, networks or volumes."""
    names = set()
    for container in client.containers.list(all=True, ignore_removed=True):
        names |= {
            container.labels.get(k, "") for k in ("com.docker.compose.project", "devlab.stack")
        }
    names |= {n.name.split("_", 1)[0] for n in client.networks.list()}
    names |= {v.name.split("_", 1)[0] for v in client.volumes.list()}
    return {n for n in names if n.startswith(TEST_STACK_PREFIX)}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def test_the_downstream_example_runs_from_its_own_folder_with_the_wheel(installed_devlab):
    client = docker.from_env()
    before = _test_stacks(client)
    project = installed_devlab.workdir / "downstream-example"
    shutil.copytree(REPO / "examples" / "downstream", project)
    (project / "tests" / "test_on_purpose.py").write_text(ON_PURPOSE)

    # Its pyproject's test extra is devlab[test]: the wheel already installed satisfies it.
    pip = installed_devlab.bin / "pip"
    install = installed_devlab.run(
        str(pip), "install", "--quiet", "--disable-pip-version-check", ".[test]", cwd=project
    )
    assert install.returncode == 0, install.stderr
    installed = installed_devlab.run(str(pip), "freeze", "--all", cwd=project).stdout
    assert re.search(r"^downstream[-_]example\b", installed, re.MULTILINE | re.IGNORECASE)
    assert f"devlab @ file://{installed_devlab.wheel}" in installed

    run = installed_devlab.run(
        str(installed_devlab.bin / "python"),
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        cwd=project,
        env=OWN_RUN,
        timeout=900,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert re.search(r"\b1 failed, 3 passed\b", output), output
    assert "FAILED tests/test_on_purpose.py::test_fails_on_purpose" in output
    # The failure carries the stack's logs: the hub's, the proxy's, ada's lab's.
    report = output.split("test_fails_on_purpose", 1)[1]
    for section in ("devlab hub log", "devlab proxy log", "devlab lab log (ada)"):
        assert re.search(rf"-+ {re.escape(section)} -+", report), section
    hub_log = report.split("devlab hub log", 1)[1].split("devlab proxy log", 1)[0]
    assert "JupyterHub" in hub_log
    assert "/user/ada/" in report.split("devlab lab log (ada)", 1)[1]

    # The same stack without pytest: DevlabStack as a context manager.
    smoke = installed_devlab.run(
        str(installed_devlab.bin / "python"), "smoke.py", cwd=project, env=OWN_RUN, timeout=600
    )
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    assert "ada's lab computed 600 nm" in smoke.stdout

    # Both stacks are gone, labs, networks and volumes included.
    # Stacks named in this PID namespace (as both of these runs name theirs) whose process
    # is gone. Another CI job's or helper's on the same engine are not this test's to
    # judge: their pids mean nothing here, and names without a namespace (older devlabs)
    # cannot say where they come from.
    ours = pid_namespace()
    made = _test_stacks(client) - before
    left = {s for s in made if f"-{ours}-" in s and crashed_run(s, ours, _alive)}
    assert left == set()
