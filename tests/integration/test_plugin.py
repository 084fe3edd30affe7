"""The pytest plugin's API and DevlabStack against the session's real stack."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import docker
import nbformat
import pytest

from devlab.stack import engine
from devlab.testing import DevlabStack
from devlab.testing.lab import NotebookError
from devlab.testing.stack import pid_namespace, purge_crashed_runs
from devlab.testing.user import SpawnError


def test_two_users_work_in_parallel(devlab):
    def session(name: str) -> tuple[str, str]:
        lab = devlab.login(name).spawn()
        lab.write_file("hello.txt", f"hello from {name}\n")
        result = lab.execute("import os; print(os.getuid(), open('hello.txt').read().strip())")
        assert result.ok, result.error
        lab.stop()
        return name, result.stdout.strip()

    with ThreadPoolExecutor(2) as pool:
        outcomes = dict(pool.map(session, ["alice", "bob"]))
    assert outcomes == {
        "alice": "7000001 hello from alice",
        "bob": "7000002 hello from bob",
    }


def test_execute_reports_results_streams_and_errors(devlab):
    lab = devlab.login("alice").spawn()
    ok = lab.execute("import sys; print('out'); print('err', file=sys.stderr); 1 + 1")
    assert (ok.stdout, ok.stderr, ok.result, ok.error) == ("out\n", "err\n", "2", None)
    failed = lab.execute("1 / 0")
    assert failed.error["ename"] == "ZeroDivisionError"
    assert any("1 / 0" in line for line in failed.error["traceback"])
    lab.write_file("bytes.bin", b"\x00\x01devlab")
    assert lab.read_file("bytes.bin", binary=True) == b"\x00\x01devlab"
    lab.stop()


def test_a_failing_notebook_names_its_cell(devlab):
    lab = devlab.login("bob").spawn()
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("x = 1"),
            nbformat.v4.new_code_cell("raise ValueError('boom')"),
        ]
    )
    with pytest.raises(NotebookError) as info:
        lab.run_notebook(notebook)
    assert info.value.cell_index == 1
    assert "raise ValueError('boom')" in info.value.source
    assert "ValueError" in info.value.traceback
    lab.stop()


def test_a_lab_that_cannot_start_fails_fast_with_the_reason(devlab):
    user = devlab.login("carol")
    with pytest.raises(SpawnError) as info:
        user.spawn(image="devlab/no-such-image:never")
    # Fast: the hub refuses the request itself (no start to wait out), saying why.
    assert "the hub refused: 400" in str(info.value)
    assert "no-such-image" in str(info.value)
    # This stack's carol only: other stacks on a shared engine have their own carol.
    assert engine.lab_containers(docker.from_env(), devlab.name, "carol") == []
    # The refused choice is not kept as carol's default: a plain start works.
    user.spawn().stop()


def test_crashed_runs_are_cleaned_at_the_next_start(devlab):
    client = docker.from_env()
    ghost = f"devlab-pytest-999999999-{pid_namespace()}-deadbeef"  # no such pid, here
    # A stack whose name does not say its namespace may be another job's: kept.
    stranger = "devlab-pytest-999999998-deadbeef"
    strangers_network = client.networks.create(f"{stranger}_default")
    network = client.networks.create(f"{ghost}_default")
    image = devlab.status().hub_image
    container = client.containers.create(
        image, ["true"], labels={"com.docker.compose.project": ghost}, network=network.name
    )
    try:
        purged = purge_crashed_runs()
        assert ghost in purged
        assert stranger not in purged
        strangers_network.reload()
    finally:
        strangers_network.remove()
    assert engine.leftovers(client, ghost) == []
    with pytest.raises(docker.errors.NotFound):
        container.reload()


def test_a_failure_inside_devlab_stack_carries_the_stacks_logs(devlab):
    """The context manager's shape, on the session's stack (reused, so not torn down)."""

    def script() -> None:
        with DevlabStack(reuse=devlab.name, env=devlab.env) as stack:
            assert stack.hub_url == devlab.hub_url
            stack.login("alice").spawn()
            raise AssertionError("on purpose")

    with pytest.raises(AssertionError, match="on purpose") as info:
        script()
    notes = "\n".join(info.value.__notes__)
    for section in ("devlab hub log", "devlab proxy log", "devlab lab log (alice)"):
        assert section in notes
    assert "alice" in notes.split("devlab lab log (alice)")[1]  # the lab's own output
    assert devlab.admin.server("alice") is None  # stopped on the way out
