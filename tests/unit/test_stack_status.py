"""StackStatus: what `devlab status` says, and when it calls a stack healthy."""

from __future__ import annotations

import json

import pytest

from devlab.stack.status import ABSENT, LabStatus, ServiceStatus, StackStatus


def status(**services: ServiceStatus) -> StackStatus:
    return StackStatus(
        stack="s",
        images=None,
        hub_url="http://127.0.0.1:8000/",
        oauth_url=None,
        storage_mode="volume",
        nfs_url=None,
        nfs_access=None,
        state_dir="/state/s",
        compose_file="/p/compose.yaml",
        config="/p/devlab.yaml",
        hub_image="devlab/hub:1",
        lab_image="devlab/lab:1",
        services=services,
        labs=(LabStatus(user="alice", container="s-lab-alice", state="exited"),),
    )


RUNNING = ServiceStatus(state="running", health="healthy")


@pytest.mark.parametrize(
    ("other", "healthy"),
    [
        (ServiceStatus(state="running", health=None), True),  # no healthcheck: running is all
        (ServiceStatus(state="running", health="starting"), False),
        (ServiceStatus(state="running", health="unhealthy"), False),
        (ServiceStatus(state="restarting", health=None), False),
        (ABSENT, False),
    ],
)
def test_healthy_needs_every_service_running_and_healthy(other, healthy) -> None:
    assert status(hub=RUNNING, proxy=other).healthy is healthy


def test_a_service_never_created_reads_as_absent() -> None:
    assert status(hub=RUNNING).service("nfs") == ABSENT


def test_render_names_each_service_and_lab() -> None:
    lines = status(hub=RUNNING, proxy=ServiceStatus(state="exited", health=None)).render()
    assert lines[0] == "stack s: http://127.0.0.1:8000/ (storage volume)"
    assert lines[1].split() == ["hub", "running", "healthy"]
    assert lines[2].split() == ["proxy", "exited", "-"]
    assert lines[3].split() == ["lab", "alice", "exited"]
    assert not any(line.startswith("nfs:") for line in lines)  # no nfs service, no line


def test_json_keeps_the_keys_scripts_read() -> None:
    """The README's recipes read compose_file, nfs_url and oauth_url from --json."""
    data = json.loads(status(hub=RUNNING).model_dump_json())
    assert data["compose_file"] == "/p/compose.yaml"
    assert data["services"]["hub"] == {"state": "running", "health": "healthy"}
    assert data["labs"] == [{"user": "alice", "container": "s-lab-alice", "state": "exited"}]
    assert {"nfs_url", "oauth_url", "disk"} <= data.keys()
