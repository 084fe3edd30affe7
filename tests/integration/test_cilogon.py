"""Login through the mock CILogon with CILogon's own authenticator: the claims' uid and
groups in the lab, the id_token checked, and the mock out of the labs' reach."""

from __future__ import annotations

import textwrap
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import docker
import pytest
import requests
import yaml

from devlab.config import load_config
from devlab.platform import DEFAULT_CONFIG
from devlab.stack import engine
from devlab.testing.login import LoginError, cilogon_mock_login


def cilogon_config(folder: Path, **cilogon: object) -> Path:
    """The packaged config with auth.provider: cilogon-mock (and these auth.cilogon keys)."""
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["auth"]["provider"] = "cilogon-mock"
    if cilogon:
        config["auth"]["cilogon"] = cilogon
    path = folder / "devlab.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def cilogon(devlab, tmp_path_factory):
    """The session's stack with auth.provider: cilogon-mock."""

    def to_cilogon(config: dict) -> None:
        config["auth"]["provider"] = "cilogon-mock"

    with devlab.reconfigured(to_cilogon, tmp_path_factory.mktemp("cilogon")) as stack:
        yield stack


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
    ada = cilogon.login("ada")
    model = ada.api.user("ada")
    assert {"astro", "pipelines"} <= set(model["groups"])  # manage_groups from isMemberOf
    lab = ada.spawn()
    try:
        shown = lab.execute("import os; print(os.popen('id').read())")
        assert shown.stdout.strip() == (
            "uid=3000001(ada) gid=3000001(ada) "
            "groups=3000001(ada),2000101(astro),2000102(pipelines)"
        )
        home = lab.execute("import os; print(os.path.expanduser('~'))")
        assert home.stdout.strip() == "/home/ada"
    finally:
        lab.stop()


def test_a_lab_cannot_reach_the_mock(cilogon):
    """Anyone who reaches the mock signs in as anyone: labs must not, by name or address."""
    (container,) = engine.service_containers(docker.from_env(), cilogon.name, "cilogon")
    address = next(
        net["IPAddress"] for net in container.attrs["NetworkSettings"]["Networks"].values()
    )
    lab = cilogon.login("grace").spawn()
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


def test_an_idp_the_config_does_not_allow_is_refused(cilogon, tmp_path):
    """auth.cilogon.idps allows the institution only. hedy's IdP (CILogon's GitHub) is not
    offered on the provider's page (selected_idp); and when hedy strips selected_idp from
    the URL to pick it anyway, CILogon's own authenticator refuses her with a 403."""
    institution = "https://idp.example.edu/idp/shibboleth"
    derivation = {"username_derivation": {"username_claim": "username"}, "allow_all": True}
    cilogon.up(config=cilogon_config(tmp_path, idps={institution: derivation}))
    config = load_config(DEFAULT_CONFIG)
    hedy = next(u for u in config.mock_cilogon.users if u.username == "hedy")
    assert hedy.idp != institution
    with pytest.raises(LoginError, match="the provider refused"):
        cilogon_mock_login(cilogon.hub_url, hedy.sub)

    session = requests.Session()
    hub = cilogon.hub_url.rstrip("/")
    start = session.get(f"{hub}/hub/oauth_login", allow_redirects=False, timeout=30)
    authorize = urlsplit(start.headers["Location"])
    query = [(k, v) for k, v in parse_qsl(authorize.query) if k != "selected_idp"]
    tampered = urlunsplit(authorize._replace(query=urlencode([*query, ("sub", hedy.sub)])))
    approved = session.get(tampered, allow_redirects=False, timeout=30)
    assert approved.status_code == 302, approved.text[:300]
    callback = session.get(approved.headers["Location"], allow_redirects=False, timeout=30)
    assert callback.status_code == 403, callback.text[:300]
    assert f"Login with identity provider {hedy.idp} is not pre-configured" in cilogon.logs(
        "hub", tail=200
    )
    cilogon.login("ada").logout()


def mock_sub(n: int) -> str:
    return f"http://cilogon.org/serverA/users/{9000 + n}"


def with_users(folder: Path, *users: dict) -> Path:
    """cilogon_config, with these users added to the mock's."""
    path = cilogon_config(folder)
    config = yaml.safe_load(path.read_text())
    institution = "https://idp.example.edu/idp/shibboleth"
    config["mock_cilogon"]["users"] += [
        {"sub": mock_sub(n), "idp": institution, **user} for n, user in enumerate(users)
    ]
    path.write_text(yaml.safe_dump(config))
    return path


BAD_CLAIMS = [
    ({"username": "eve", "uidNumber": 999}, "below 1000"),
    ({"username": "nemo", "uidNumber": 65534}, "reserved (nobody"),
    ({"username": "mallory"}, "uidNumber"),
    ({"username": "trent", "uidNumber": 3000010, "isMemberOf": [{"name": "wheel", "id": 10}]},
     "below 1000"),
    ({"uidNumber": 3000011}, "username"),
]  # fmt: skip


def test_bad_claims_are_refused_with_the_reason_and_nothing_is_created(cilogon, tmp_path):
    """Each login is refused by the hub with the claim and the rule in the page, and no
    hub user (so no home, no lab) is made for it; a group without an id is not an error:
    it stays a hub group and is left out of the lab's groups."""
    peggy = {
        "username": "peggy",
        "uidNumber": 3000012,
        "isMemberOf": [{"name": "astro", "id": 2000101}, {"name": "visitors"}],
    }
    cilogon.up(config=with_users(tmp_path, *(claims for claims, _ in BAD_CLAIMS), peggy))
    for n, (claims, words) in enumerate(BAD_CLAIMS):
        with pytest.raises(LoginError, match="refused") as refused:
            cilogon_mock_login(cilogon.hub_url, mock_sub(n))
        assert words in str(refused.value), (claims, str(refused.value))
        if "username" in claims:
            status = cilogon.admin.request("GET", f"/hub/api/users/{claims['username']}")
            assert status.status_code == 404, claims

    user = cilogon.login("peggy")
    assert {"astro", "visitors"} <= set(user.api.user("peggy")["groups"])
    lab = user.spawn()
    try:
        shown = lab.execute("import os; print(os.popen('id').read())").stdout.strip()
    finally:
        lab.stop()
    assert shown == "uid=3000012(peggy) gid=3000012(peggy) groups=3000012(peggy),2000101(astro)"
