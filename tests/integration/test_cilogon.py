"""Login through the mock CILogon with CILogon's own authenticator: the claims' uid and
groups in the lab, the id_token checked, and the mock out of the labs' reach."""

from __future__ import annotations

import textwrap

import docker
import pytest
import requests
import yaml

from devlab.platform import DEFAULT_CONFIG
from devlab.stack import engine


@pytest.fixture(scope="module")
def cilogon(devlab, tmp_path_factory):
    """The session's stack, on the packaged config with auth.provider: cilogon-mock."""
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["auth"]["provider"] = "cilogon-mock"
    path = tmp_path_factory.mktemp("cilogon") / "devlab.yaml"
    path.write_text(yaml.safe_dump(config))
    devlab.up(config=path)
    yield devlab
    devlab.up()  # the session's own config for later modules


def test_the_mock_runs_on_loopback_and_signs_for_its_public_url(cilogon):
    status = cilogon.status()
    assert status.service("cilogon").ok, status.services
    assert status.cilogon_url is not None
    assert status.oauth_url is None  # one provider at a time
    discovery = requests.get(
        f"{status.cilogon_url}/.well-known/openid-configuration", timeout=10
    ).json()
    assert discovery["issuer"] == status.cilogon_url
    assert discovery["id_token_signing_alg_values_supported"] == ["RS256"]
    (container,) = engine.service_containers(docker.from_env(), cilogon.name, "cilogon")
    bindings = container.attrs["NetworkSettings"]["Ports"]["8091/tcp"]
    assert {b["HostIp"] for b in bindings} == {"127.0.0.1"}


def test_a_cilogon_login_gives_the_lab_the_claims_uid_and_groups(cilogon):
    alice = cilogon.login("alice")
    model = alice.api.user("alice")
    assert {"astro", "pipelines"} <= set(model["groups"])  # manage_groups from isMemberOf
    lab = alice.spawn()
    try:
        shown = lab.execute("import os; print(os.popen('id').read())")
        assert shown.stdout.strip() == (
            "uid=3000001(alice) gid=3000001(alice) "
            "groups=3000001(alice),2000101(astro),2000102(pipelines)"
        )
        home = lab.execute("import os; print(os.path.expanduser('~'))")
        assert home.stdout.strip() == "/home/alice"
    finally:
        lab.stop()


def test_a_lab_cannot_reach_the_mock(cilogon):
    """Anyone who reaches the mock signs in as anyone: labs must not, by name or address."""
    (container,) = engine.service_containers(docker.from_env(), cilogon.name, "cilogon")
    address = next(
        net["IPAddress"] for net in container.attrs["NetworkSettings"]["Networks"].values()
    )
    lab = cilogon.login("bob").spawn()
    try:
        code = textwrap.dedent(
            f"""
            import socket
            try:
                socket.getaddrinfo("cilogon", 8091)
                print("resolved")
            except OSError:
                print("unresolved")
            try:
                socket.create_connection(({address!r}, 8091), timeout=3).close()
                print("open")
            except OSError as exc:
                print(type(exc).__name__)
            """
        )
        by_name, by_address = lab.execute(code).stdout.split()
    finally:
        lab.stop()
    assert by_name == "unresolved"
    assert by_address in ("TimeoutError", "OSError", "timeout"), by_address
