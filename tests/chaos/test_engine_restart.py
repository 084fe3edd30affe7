"""The Docker engine restarted with labs running (`systemctl restart docker`, a reboot).

The engine stops every container on its way down. Afterwards the stack's services come
back by themselves (their restart policy), and the labs, which have none, are shown as
stopped and start again: no server the hub still believes in, no lab container, lab
network or route left behind, and nothing lost from homes.

Restarting an engine stops everything else on it too, so the test asks how:
DEVLAB_ENGINE_RESTART_COMMAND (CI: `bash .ci/engine.sh restart`; a laptop with
systemd: `sudo systemctl restart docker`). Without it the test is skipped, and CI, which
fails on any skip, always sets it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time

import docker
import pytest
import requests

from devlab.polling import poll_until
from devlab.stack import engine

RESTART_COMMAND = "DEVLAB_ENGINE_RESTART_COMMAND"
PAYLOAD = os.urandom(1 << 20).hex()  # 2 MiB of text, a fresh checksum every run


def _engine_answers() -> bool:
    try:
        return docker.from_env().ping()
    except (docker.errors.DockerException, requests.RequestException):
        return False


def test_after_an_engine_restart_services_return_and_labs_are_cleanly_stopped(devlab, chaos_report):
    command = os.environ.get(RESTART_COMMAND)
    if not command:
        pytest.skip(
            f"set {RESTART_COMMAND} to the command that restarts this machine's Docker "
            "engine (e.g. 'sudo systemctl restart docker'): it stops every container on it"
        )
    users = ("alice", "bob")
    labs = [devlab.login(name).spawn() for name in users]
    labs[0].write_file("engine-restart.txt", PAYLOAD)
    digest = hashlib.sha256(PAYLOAD.encode()).hexdigest()

    started = time.monotonic()
    subprocess.run(command, shell=True, check=True, timeout=180)
    poll_until(_engine_answers, "the Docker engine to answer after its restart", timeout=120)
    engine_back = time.monotonic() - started

    # Right after the restart, status tells the truth: no lab is reported running while
    # its container is down, whatever the hub (maybe still starting) believes.
    status = devlab.status()
    client = docker.from_env()
    for reported in status.labs:
        (container,) = [
            c for c in engine.lab_containers(client, devlab.name) if c.name == reported.container
        ]
        assert reported.state == container.status, status.labs
        assert reported.state != "running", (
            "labs have no restart policy: the engine left them stopped"
        )

    poll_until(devlab.hub_answers, "the hub to answer after the engine restart", timeout=180)
    hub_back = time.monotonic() - started

    poll_until(lambda: devlab.status().healthy, "every service to run again, healthy", timeout=120)

    # The hub learnt, at its start, that the labs had stopped: no ghost servers, and
    # nothing of theirs left on the engine or in the proxy.
    api = devlab.api()
    for name in users:
        poll_until(
            lambda name=name: api.server(name) is None, f"{name}'s server shown stopped", timeout=60
        )
    poll_until(
        lambda: not engine.lab_containers(client, devlab.name),
        "the stopped labs' containers to be removed",
        timeout=60,
    )
    poll_until(
        lambda: not engine.lab_networks(client, devlab.name),
        "the stopped labs' networks to be removed",
        timeout=60,
    )
    routes = api.request("GET", "/hub/api/proxy").json()
    assert [spec for spec, route in routes.items() if "user" in (route.get("data") or {})] == []

    chaos_report.record("engine restart: seconds until the engine answers", engine_back, "s", "-")
    chaos_report.record("engine restart: seconds until the hub answers", hub_back, "s", "-")

    # Startable again, with the home intact.
    again = devlab.login("alice").spawn()
    assert hashlib.sha256(again.read_file("engine-restart.txt").encode()).hexdigest() == digest
    assert again.execute("print(6 * 7)").stdout.strip() == "42"
    assert devlab.status().labs[0].state == "running"
