"""The walking skeleton: up, spawn a real lab through the hub, survive a hub restart, down."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import docker
import requests

from devlab.polling import poll_until
from devlab.stack.engine import lab_containers, leftovers, service_containers
from devlab.stack.status import ServiceStatus


def test_up_is_healthy_and_prints_the_hub_url(devlab):
    status = devlab.status()
    assert status.hub_url == devlab.hub_url
    for service in ("hub", "proxy"):
        assert status.service(service) == ServiceStatus(state="running", health="healthy")
    assert requests.get(f"{devlab.hub_url}hub/api/", timeout=10).status_code == 200


def test_up_again_changes_nothing(devlab):
    client = docker.from_env()
    before = {
        c.name: c.id
        for c in client.containers.list(
            filters={"label": f"com.docker.compose.project={devlab.name}"}
        )
    }
    result = devlab.cli("up", "--port", str(devlab.port))
    after = {
        c.name: c.id
        for c in client.containers.list(
            filters={"label": f"com.docker.compose.project={devlab.name}"}
        )
    }
    assert after == before
    assert "Building" not in result.stdout  # how long it takes: `devlab bench`


def test_secrets_are_private_and_never_printed(devlab):
    state = devlab.status().state_dir
    result = devlab.cli("up", "--port", str(devlab.port))
    token = devlab.cli("token").stdout.strip()
    assert token not in result.stdout + result.stderr
    for path in (Path(state) / "secrets").iterdir():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path


def test_hub_and_lab_start_without_jsonschemas_slow_iri_checker(devlab):
    # Importing rfc3987-syntax compiles ~35 parsers: 1.3 s of every lab's and the hub's
    # start (images/common/pip-install removes it). Jupyter Server imports jsonschema's
    # format checkers at start, so this is the import a start makes.
    check = [
        "python3",
        "-c",
        "import sys, jupyter_events.validators; sys.exit('rfc3987_syntax' in sys.modules)",
    ]
    client = docker.from_env()
    (hub,) = service_containers(client, devlab.name, "hub")
    assert hub.exec_run(check).exit_code == 0
    client.containers.run(
        devlab.status().lab_image, check, remove=True, network_mode="none", entrypoint=[]
    )


def test_a_lab_spawns_runs_as_its_user_and_survives_a_hub_restart(devlab):
    api = devlab.api()
    api.ensure_user("alice")
    api.start_server("alice")
    api.wait_ready("alice")

    reply = api.request("GET", "/user/alice/api/status")
    assert reply.status_code == 200, reply.text
    assert "last_activity" in reply.json()

    client = docker.from_env()
    (lab,) = lab_containers(client, devlab.name, "alice")
    assert lab.attrs["Config"]["User"] == "7000001:7000001"
    uid = lab.exec_run(["id", "-u"]).output.decode().strip()
    assert uid == "7000001"
    assert devlab.status().labs[0].user == "alice"

    # The hub is down: the lab keeps its route through the proxy and keeps running.
    (hub,) = service_containers(client, devlab.name, "hub")
    hub.stop(timeout=10)
    try:
        while_down = api.request("GET", "/user/alice/api/status")
        assert while_down.status_code == 200, while_down.text
    finally:
        hub.start()

    def hub_healthy() -> bool:
        hub.reload()
        return hub.attrs["State"].get("Health", {}).get("Status") == "healthy"

    poll_until(hub_healthy, "the restarted hub to be healthy", timeout=90)
    assert api.server("alice")["ready"], "the restarted hub forgot alice's running lab"
    lab.reload()
    assert lab.status == "running"

    api.stop_server("alice")
    api.wait_stopped("alice")
    assert not client.containers.list(all=True, filters={"label": f"devlab.stack={devlab.name}"})


def test_down_removes_labs_found_by_label_and_keeps_nothing_behind(devlab):
    api = devlab.api()
    api.ensure_user("bob")
    api.start_server("bob")
    api.wait_ready("bob")

    devlab.cli("down")
    client = docker.from_env()
    assert leftovers(client, devlab.name) == []
    volumes = {
        v.name
        for v in client.volumes.list(filters={"label": f"com.docker.compose.project={devlab.name}"})
    }
    assert f"{devlab.name}_homes" in volumes, "plain down must keep the homes"

    devlab.cli("up", "--port", str(devlab.port))  # the module fixture expects a running devlab


def test_deleting_volumes_needs_confirmation(devlab):
    result = devlab.cli("down", "--volumes", check=False)
    assert result.returncode == 1
    assert "--yes" in result.stderr
    assert devlab.status().service("hub").state == "running"
