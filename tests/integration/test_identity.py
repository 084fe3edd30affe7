"""Identity through the real proxy: mock GitHub logins, org allow-lists and FirstUse uids."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest
import yaml

from devlab.hubapi import HubAPIError
from devlab.platform import DEFAULT_CONFIG
from devlab.stack.status import ServiceStatus
from devlab.testing.login import LoginError, firstuse_login, github_mock_login, open_lab


@pytest.fixture(autouse=True, scope="module")
def _default_config_afterwards(devlab):
    """These tests switch the provider; later modules expect the session's own config."""
    yield
    devlab.up()


def lab_exec(devlab, user: str, command: list[str]) -> str:
    client = docker.from_env()
    (lab,) = client.containers.list(
        filters={"label": [f"devlab.stack={devlab.name}", f"devlab.user={user}"]}
    )
    result = lab.exec_run(command)
    assert result.exit_code == 0, result.output
    return result.output.decode().strip()


def variant_config(tmp_path: Path, **auth: object) -> Path:
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["auth"].update(auth)
    path = tmp_path / "devlab.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_status_reports_the_mock_provider(devlab):
    status = devlab.status()
    assert status.oauth_url == f"http://127.0.0.1:{devlab.oauth_port}"
    assert status.service("oauth") == ServiceStatus(state="running", health="healthy")


def test_alice_logs_in_through_the_mock_and_her_lab_has_her_ids(devlab):
    session = github_mock_login(devlab.hub_url, "alice")
    open_lab(session, devlab.hub_url, "alice")
    assert lab_exec(devlab, "alice", ["id"]) == (
        "uid=7000001(alice) gid=7000001(alice) "
        "groups=7000001(alice),8000001(devlab-devs),8000002(rubin-sci)"
    )
    assert lab_exec(devlab, "alice", ["sh", "-c", "echo $HOME"]) == "/home/alice"


def test_bob_sees_only_his_org(devlab):
    session = github_mock_login(devlab.hub_url, "bob")
    open_lab(session, devlab.hub_url, "bob")
    assert lab_exec(devlab, "bob", ["id"]) == (
        "uid=7000002(bob) gid=7000002(bob) groups=7000002(bob),8000002(rubin-sci)"
    )


def test_unknown_user_is_refused_by_the_provider(devlab):
    with pytest.raises(LoginError, match="provider refused"):
        github_mock_login(devlab.hub_url, "mallory")


def test_a_user_with_no_identity_never_gets_a_lab(devlab):
    api = devlab.api()
    api.ensure_user("zed")  # created by an admin, unknown to the provider, never logged in
    reply = api.request("POST", "/hub/api/users/zed/server")
    if reply.status_code in (201, 202):  # the failure may land after the API answered
        with pytest.raises(HubAPIError, match="stopped while starting"):
            api.wait_ready("zed", timeout=30)
    else:
        assert reply.status_code == 403, reply.text
        assert "no identity" in reply.text
    client = docker.from_env()
    assert not client.containers.list(all=True, filters={"label": "devlab.user=zed"})


def test_allowed_organizations_refuse_outsiders(devlab, tmp_path):
    restricted = variant_config(tmp_path, allowed_organizations=["devlab-devs"], admin_users=[])
    devlab.cli("up", "--port", str(devlab.port), "--config", str(restricted))
    with pytest.raises(LoginError, match="hub refused bob"):
        github_mock_login(devlab.hub_url, "bob")
    github_mock_login(devlab.hub_url, "alice")


def test_firstuse_password_and_a_uid_kept_across_restarts(devlab, tmp_path):
    firstuse = variant_config(
        tmp_path, provider="firstuse", admin_users=["alice"], firstuse={"open_signup": True}
    )
    devlab.cli("up", "--port", str(devlab.port), "--config", str(firstuse))

    firstuse_login(devlab.hub_url, "dave", "correct horse battery")
    with pytest.raises(LoginError, match="refused dave"):
        firstuse_login(devlab.hub_url, "dave", "wrong password!")
    session = firstuse_login(devlab.hub_url, "dave", "correct horse battery")
    open_lab(session, devlab.hub_url, "dave")
    first = lab_exec(devlab, "dave", ["id"])
    dave = int(lab_exec(devlab, "dave", ["id", "-u"]))
    # Earlier tests in the session may hold uids of the range already: kept forever.
    assert 4_000_000 <= dave <= 4_099_999
    assert first.startswith(f"uid={dave}(dave) gid={dave}(dave)")
    assert "4100000(workshop)" in first

    api = devlab.api()
    api.stop_server("dave")
    api.wait_stopped("dave")
    firstuse_login(devlab.hub_url, "erin", "another password")  # a uid at her first spawn

    devlab.cli("down")
    devlab.cli("up", "--port", str(devlab.port), "--config", str(firstuse))
    api = devlab.api()
    api.start_server("dave")
    api.wait_ready("dave")
    assert lab_exec(devlab, "dave", ["id", "-u"]) == str(dave)
    api.start_server("erin")
    api.wait_ready("erin")
    erin = int(lab_exec(devlab, "erin", ["id", "-u"]))
    assert erin != dave
    assert 4_000_000 <= erin <= 4_099_999
