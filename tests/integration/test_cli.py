"""The CLI a person meets: checks before starting, clear refusals, workshops end to end."""

from __future__ import annotations

import json
import re
import socket
import uuid
from pathlib import Path

import docker
import pytest
import urllib3
import yaml

from devlab.platform import DEFAULT_CONFIG
from devlab.polling import poll_until
from devlab.testing.login import LoginError, firstuse_login, open_lab

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


def other_stack() -> str:
    return f"devlab-clitest-{uuid.uuid4().hex[:8]}"


def nothing_of(stack: str) -> bool:
    client = docker.from_env()
    return not client.containers.list(
        all=True, filters={"label": f"com.docker.compose.project={stack}"}
    ) and not client.networks.list(names=[f"{stack}_default"])


def test_up_refuses_a_taken_port_naming_it_and_starts_nothing(devlab):
    stack = other_stack()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = devlab.cli("up", "--port", str(port), "--stack", stack, check=False)
    assert result.returncode == 1
    assert f"port {port}" in result.stderr
    assert "--port" in result.stderr
    assert nothing_of(stack)


def test_bind_beyond_loopback_without_tls_is_refused(devlab):
    stack = other_stack()
    result = devlab.cli("up", "--bind", "0.0.0.0", "--stack", stack, check=False)
    assert result.returncode == 1
    assert "TLS" in result.stderr
    assert "--tls-self-signed" in result.stderr
    assert nothing_of(stack)


def test_a_broken_config_names_its_line_and_starts_nothing(devlab, tmp_path):
    stack = other_stack()
    bad = tmp_path / "bad.yaml"
    bad.write_text("auth:\n  provider: gitlab\n")
    result = devlab.cli("up", "--config", str(bad), "--stack", stack, check=False)
    assert result.returncode == 1
    assert f"{bad}:2: auth.provider" in result.stderr
    assert nothing_of(stack)


def free_ports(count: int) -> list[str]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [str(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def test_bind_beyond_loopback_with_the_mock_github_starts_nothing(devlab):
    stack = other_stack()
    hub, oauth, nfs, registry = free_ports(4)
    ports = ["--port", hub, "--oauth-port", oauth, "--nfs-port", nfs, "--registry-port", registry]
    result = devlab.cli(
        "up", "--bind", "0.0.0.0", "--tls-self-signed", *ports, "--stack", stack, check=False
    )
    assert result.returncode == 1
    assert "any mock GitHub user" in result.stderr
    assert "--profile workshop" in result.stderr  # the fix
    assert nothing_of(stack)
    assert not (devlab.settings.state_dir.parent / stack / "secrets").exists()


def test_doctor_on_a_healthy_machine_exits_zero(devlab):
    result = devlab.cli("doctor", check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_status_logs_and_config_show(devlab):
    shown = devlab.cli("status").stdout
    assert re.search(r"^  hub +running +healthy$", shown, re.MULTILINE), shown
    info = json.loads(devlab.cli("status", "--json").stdout)
    assert Path(info["compose_file"]).is_file()
    assert info["config"] == str(devlab.settings.config_path)
    assert "JupyterHub" in devlab.cli("logs", "hub", "--tail", "50").stdout
    shown = yaml.safe_load(devlab.cli("config", "show", "--profile", "workshop").stdout)
    assert shown["auth"]["provider"] == "firstuse"
    assert shown["hub"]["idle_culler"]["enabled"] is True


@pytest.fixture
def workshop(devlab, tmp_path):
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    culler = config["profiles"]["workshop"]["hub"]["idle_culler"]
    culler.update(timeout=10, every=5)  # short, so the test sees a lab culled
    path = tmp_path / "workshop.yaml"
    path.write_text(yaml.safe_dump(config))
    devlab.up(config=path, profile="workshop")
    yield devlab
    devlab.up()  # the session's own config for later tests


def test_workshop_imported_users_log_in_and_idle_labs_are_culled(workshop, tmp_path):
    roster = tmp_path / "room.csv"
    roster.write_text("username,admin,group\norganiser,yes,staff\nann,,room-a\nben,no,room-a\n")
    imported = workshop.cli("users", "import", str(roster)).stdout
    assert "3 users" in imported
    one_time = dict(
        line.split() for line in imported.splitlines() if line.startswith(("organiser ", "ann "))
    )
    listing = workshop.cli("users", "list").stdout
    assert "ann" in listing
    assert "room-a" in listing

    session = firstuse_login(workshop.hub_url, "ann", one_time["ann"], "a good password")
    firstuse_login(workshop.hub_url, "ann", "a good password")
    with pytest.raises(LoginError):
        firstuse_login(workshop.hub_url, "ann", "not her password")
    with pytest.raises(LoginError):
        firstuse_login(workshop.hub_url, "stranger", "a good password")  # not imported

    open_lab(session, workshop.hub_url, "ann")
    api = workshop.admin
    poll_until(
        lambda: api.server("ann") is None, "ann's idle lab to be culled", timeout=90, interval=2
    )
