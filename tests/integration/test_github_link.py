"""Chained GitHub, end to end and offline: a CILogon user links a (mock) GitHub account,
and git in their lab clones and pushes to a git server standing in for github.com, with
no token anywhere in the lab; unlinking, or GitHub revoking the token, stops the push at
once; one GitHub account links to one hub user."""

from __future__ import annotations

import contextlib
import json
import textwrap
from pathlib import Path

import docker
import pytest
import requests

from devlab.client.login import LoginError
from devlab.config import load_config
from devlab.platform import DEFAULT_CONFIG
from devlab.polling import poll_until
from devlab.stack import engine
from devlab.stack.envfile import read_env_file, spawn_image

GIT_HOST = "git.devlab.test"
GIT_URL = f"http://{GIT_HOST}:8080/"
SERVER_SCRIPT = Path(__file__).with_name("git_server.py")
REPO = "alice/demo"
CREDENTIAL_URL = "http://hub:8095/services/github-link/api/credential"
# git in a lab must answer well within this, link or no link: a hang fails the test.
GIT_TIMEOUT = 60


def with_link(config: dict) -> None:
    config["auth"].update(provider="cilogon-mock", github_link={"git_url": GIT_URL})


@pytest.fixture(scope="module")
def linking(devlab, tmp_path_factory):
    """The session's stack with CILogon logins and the link service."""
    with devlab.reconfigured(with_link, tmp_path_factory.mktemp("github-link")) as stack:
        yield stack


@pytest.fixture(scope="module")
def git_server(linking):
    """The stand-in for github.com, from the lab image, on the stack network (where it
    asks the mock GitHub about tokens); `lab_for(user)` starts a lab that reaches it."""
    client = docker.from_env()
    image = spawn_image(read_env_file(linking.settings.env_file) or {})
    container = client.containers.run(
        image,
        [
            *("python3", "/opt/git_server.py", "--root", "/srv/git", "--listen", "0.0.0.0"),
            *("--port", "8080", "--github-api", "http://oauth:8090", "--repo", REPO),
        ],
        name=f"{linking.name}-github",
        detach=True,
        user="65534:65534",
        read_only=True,
        init=True,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        tmpfs={"/srv/git": "uid=65534,gid=65534,mode=0700", "/tmp": ""},
        volumes={str(SERVER_SCRIPT): {"bind": "/opt/git_server.py", "mode": "ro"}},
        network=f"{linking.name}_default",
        labels={"devlab.test": "git-server"},
    )
    try:

        def healthy() -> bool:
            code, _ = container.exec_run(
                [
                    "python3",
                    "-c",
                    "import urllib.request as u; "
                    "u.urlopen('http://127.0.0.1:8080/healthz', timeout=3)",
                ]
            )
            return code == 0

        poll_until(healthy, "the git server", timeout=60)

        @contextlib.contextmanager
        def lab_for(user):
            """`user`'s lab, with the git server on its network while it runs (off it
            before the lab stops, or the hub could not remove the lab's network)."""
            lab = user.spawn()
            try:
                (running,) = engine.lab_containers(client, linking.name, user.name)
                (name,) = running.attrs["NetworkSettings"]["Networks"]
                network = client.networks.get(name)
                network.connect(container, aliases=[GIT_HOST])
                try:
                    yield lab
                finally:
                    network.disconnect(container)
            finally:
                lab.stop()

        yield lab_for
    finally:
        container.remove(force=True)


def git(lab, script: str) -> dict:
    """Run a shell script in the lab (by the user's own kernel); its exit code and output."""
    code = textwrap.dedent(
        f"""
        import json, subprocess
        try:
            done = subprocess.run(["bash", "-ec", {script!r}], capture_output=True,
                                  text=True, timeout={GIT_TIMEOUT}, cwd="/tmp")
            print(json.dumps({{"code": done.returncode, "out": done.stdout,
                              "err": done.stderr}}))
        except subprocess.TimeoutExpired:
            print(json.dumps({{"code": "hung", "out": "", "err": ""}}))
        """
    )
    return json.loads(lab.execute(code).stdout)


CLONE_COMMIT_PUSH = """
rm -rf demo
git clone -q https://github.com/alice/demo.git demo
cd demo
echo "from $(id -un)" >> README.md
git commit -qam "a change from the lab"
git push -q origin HEAD:main
git log -1 --format='%an <%ae>'
"""


def test_a_linked_user_pushes_from_the_lab_with_no_token_in_sight(linking, git_server):
    ada = linking.login("ada")
    ada.link_github("alice")
    with git_server(ada) as lab:
        pushed = git(lab, CLONE_COMMIT_PUSH)
        assert pushed["code"] == 0, pushed
        mock_alice = load_config(DEFAULT_CONFIG).mock_github.user("alice")
        assert pushed["out"].strip() == f"{mock_alice.name} <{mock_alice.email}>"
        server = docker.from_env().containers.get(f"{linking.name}-github")
        landed = server.exec_run(
            ["git", "--git-dir", f"/srv/git/{REPO}.git", "log", "-1", "--format=%an|%s", "main"]
        )
        assert landed.output.decode().strip() == f"{mock_alice.name}|a change from the lab"
        # The token is in no variable, no file the user can read, no container setting.
        looked = git(
            lab,
            "env | grep -c gho_ || true; grep -rl gho_ ~ /tmp /etc/devlab 2>/dev/null | wc -l",
        )
        assert looked["out"].split() == ["0", "0"], looked
        (container,) = engine.lab_containers(docker.from_env(), linking.name, "ada")
        assert "gho_" not in json.dumps(container.attrs)
    message = ada.unlink_github()
    assert "revoked its token" in message
    with git_server(ada) as lab:
        refused = git(lab, CLONE_COMMIT_PUSH)
    assert refused["code"] not in (0, "hung"), refused
    assert "no GitHub account is linked" in refused["err"], refused


def test_a_token_github_revoked_stops_git_at_once(linking, git_server):
    ada = linking.login("ada")
    ada.link_github("alice")
    try:
        with git_server(ada) as lab:
            assert git(lab, CLONE_COMMIT_PUSH)["code"] == 0
            # alice revokes the app on GitHub's settings page, behind the service's back.
            revoked = requests.post(
                f"{linking.status().oauth_url}/settings/connections/applications/"
                "devlab-github-link",
                data={"login": "alice"},
                timeout=10,
            )
            assert revoked.status_code == 204, revoked.text
            refused = git(lab, "cd demo && git push origin HEAD:main")
    finally:
        ada.unlink_github()
    assert refused["code"] not in (0, "hung"), refused
    assert "no longer accepts the linked token" in refused["err"], refused


def test_one_github_account_links_one_hub_user(linking):
    ada = linking.login("ada")
    ada.link_github("alice")
    try:
        grace = linking.login("grace")
        with pytest.raises(LoginError, match="already linked to another user"):
            grace.link_github("alice")
        grace.link_github("bob")  # another account is fine
        grace.unlink_github()
    finally:
        ada.unlink_github()


def test_a_callback_with_a_forged_state_links_nothing(linking):
    grace = linking.login("grace")
    page = grace.browser.get(f"{linking.hub_url}services/github-link/", timeout=30)
    assert page.status_code == 200
    forged = grace.browser.get(
        f"{linking.hub_url}services/github-link/callback?code=abc&state=forged", timeout=30
    )
    assert forged.status_code == 400
    assert "unknown or was already used" in forged.text
    assert 'id="github-link"' in grace.browser.get(page.url, timeout=30).text  # not linked


def test_the_credential_service_answers_a_lab_only_for_its_own_user(linking, git_server):
    """Probed from grace's lab as she would: without a token, with a made-up one, with
    her own (no link: nothing, though ada is linked), and for a host that is not GitHub."""
    ada = linking.login("ada")
    ada.link_github("alice")
    grace = linking.login("grace")
    lab = grace.spawn()
    try:
        code = textwrap.dedent(
            f"""
            import json, os, urllib.request, urllib.error
            def ask(token, host):
                headers = {{"Content-Type": "application/json"}}
                if token:
                    headers["Authorization"] = "token " + token
                body = json.dumps({{"protocol": "https", "host": host}}).encode()
                request = urllib.request.Request({CREDENTIAL_URL!r}, body, headers)
                try:
                    with urllib.request.urlopen(request, timeout=10) as reply:
                        return [reply.status, json.load(reply)]
                except urllib.error.HTTPError as exc:
                    return [exc.code, json.load(exc)]
            own = os.environ["JUPYTERHUB_API_TOKEN"]
            print(json.dumps([ask(None, "github.com"), ask("made-up", "github.com"),
                              ask(own, "github.com"), ask(own, "example.org")]))
            """
        )
        anonymous, made_up, own, elsewhere = json.loads(lab.execute(code).stdout)
    finally:
        lab.stop()
        ada.unlink_github()
    assert anonymous[0] == 403
    assert made_up[0] == 403
    assert own[0] == 404
    assert "no GitHub account is linked" in own[1]["message"]
    assert elsewhere == [200, {}]
