"""tests/integration/git_server.py on this host: real git against the real mock GitHub.

The mock GitHub runs in a thread on 127.0.0.1 and hands out tokens through its store; the
git server runs as a subprocess, as it will in its container; git runs with a throwaway
HOME, its credentials from a helper given on the command line and no terminal prompt.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from devlab.config import load_config
from devlab.oauth_mock import MockGitHubStore, RegisteredClient, make_app
from devlab.platform import DEFAULT_CONFIG as CONFIG

SCRIPT = Path(__file__).parents[1] / "integration" / "git_server.py"
REDIRECT = "http://127.0.0.1:1/hub/oauth_callback"
REPO = "alice/demo"
# Generous bounds for a process to start or git to finish; a hang fails, it does not stall.
STARTUP = 30.0
GIT_TIMEOUT = 60

pytestmark = pytest.mark.skipif(
    shutil.which("git") is None or not Path("/usr/lib/git-core/git-http-backend").exists(),
    reason="needs git with git-http-backend",
)


@dataclass
class MockGitHub:
    store: MockGitHubStore
    app: RegisteredClient
    url: str

    def token(self, login: str = "alice") -> str:
        """A token for `login`, from the same authorize-and-exchange the hub goes through."""
        request = self.store.validate_authorization(
            client_id="devlab-hub", redirect_uri=REDIRECT, scope="repo"
        )
        code = self.store.approve(request, login)
        return self.store.exchange_code(
            code=code, client_id="devlab-hub", client_secret="s3cret", redirect_uri=REDIRECT
        ).token


@pytest.fixture(scope="module")
def github() -> Iterator[MockGitHub]:
    app = RegisteredClient("devlab-hub", "s3cret", REDIRECT)
    store = MockGitHubStore(load_config(CONFIG).mock_github, app)
    sockets = bind_sockets(0, "127.0.0.1")
    port = sockets[0].getsockname()[1]
    loop = asyncio.new_event_loop()
    stopped = asyncio.Event()

    async def serve() -> None:
        server = HTTPServer(make_app(store))
        server.add_sockets(sockets)
        await stopped.wait()
        server.stop()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    yield MockGitHub(store, app, f"http://127.0.0.1:{port}")
    loop.call_soon_threadsafe(stopped.set)
    thread.join(10)
    loop.close()


@dataclass
class GitServer:
    process: subprocess.Popen[bytes]
    url: str
    root: Path
    log: Path

    def bare(self, slug: str = REPO) -> Path:
        return self.root / f"{slug}.git"

    def log_text(self) -> str:
        return self.log.read_text()


def start_server(tmp_path: Path, api: str, *args: str) -> GitServer:
    """The git server on a free port, once it says where it listens."""
    root = tmp_path / "srv"
    log = tmp_path / f"git-server-{len(list(tmp_path.glob('git-server-*')))}.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, SCRIPT, "--root", root, "--port", "0", "--github-api", api, *args],
            stderr=stderr,
        )
    deadline = time.monotonic() + STARTUP
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if line.startswith("git_server: serving"):
                url = line.split(" on ", 1)[1].split()[0]
                return GitServer(process, url, root, log)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"the git server did not start:\n{log.read_text()}")


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[GitServer]]:
    started: list[GitServer] = []
    yield started
    for server in started:
        server.process.terminate()
        server.process.wait(10)


@pytest.fixture
def server(tmp_path: Path, github: MockGitHub, servers: list[GitServer]) -> GitServer:
    started = start_server(tmp_path, github.url, "--repo", REPO)
    servers.append(started)
    return started


@pytest.fixture
def git_env(tmp_path: Path) -> dict[str, str]:
    """git with no user or system config, no prompt and no proxy."""
    home = tmp_path / "home"
    home.mkdir()
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Alice Liddell",
        "GIT_AUTHOR_EMAIL": "alice@example.org",
        "GIT_COMMITTER_NAME": "Alice Liddell",
        "GIT_COMMITTER_EMAIL": "alice@example.org",
    }


def git(
    env: dict[str, str], *args: str, token: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run git; `token` is what its credential helper answers, as the lab's helper would."""
    helper = ["-c", "credential.helper="]  # none but this one
    if token is not None:
        helper += [
            "-c",
            f'credential.helper=!f() {{ test "$1" = get || exit 0; '
            f"echo username=x-access-token; echo password={token}; }}; f",
        ]
    return subprocess.run(
        ["git", *helper, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT,
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def head_subject(bare: Path, env: dict[str, str]) -> str:
    return ok(git(env, "--git-dir", str(bare), "log", "-1", "--format=%s", "main")).strip()


def clone(server: GitServer, env: dict[str, str], token: str, dest: Path) -> Path:
    ok(git(env, "clone", f"{server.url}{REPO}.git", str(dest), token=token))
    return dest


def commit(work: Path, env: dict[str, str], message: str, name: str = "notes.txt") -> None:
    (work / name).write_text(message + "\n")
    ok(git(env, "add", name, cwd=work))
    ok(git(env, "commit", "-q", "-m", message, cwd=work))


def get(url: str, password: str | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url)
    if password is not None:
        basic = base64.b64encode(f"x-access-token:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {basic}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=GIT_TIMEOUT) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


# -- clone, commit, push -----------------------------------------------------------------


def test_clone_commit_and_push_with_a_valid_token(server, github, git_env, tmp_path):
    token = github.token("alice")
    work = clone(server, git_env, token, tmp_path / "work")
    assert (work / "README.md").read_text().startswith(f"# {REPO}")
    commit(work, git_env, "Alice's first change")

    ok(git(git_env, "push", "origin", "main", token=token, cwd=work))

    assert head_subject(server.bare(), git_env) == "Alice's first change"
    log = server.log_text()
    assert f"POST /{REPO}.git/git-receive-pack alice 200" in log
    assert token not in log


def test_clone_without_the_git_suffix_like_github(server, github, git_env, tmp_path):
    token = github.token("alice")
    dest = tmp_path / "work"
    ok(git(git_env, "clone", f"{server.url}{REPO}", str(dest), token=token))
    assert (dest / "README.md").exists()


def test_a_push_larger_than_git_post_buffer_arrives_chunked(server, github, git_env, tmp_path):
    token = github.token("alice")
    work = clone(server, git_env, token, tmp_path / "work")
    (work / "data.bin").write_bytes(os.urandom(3 * 1024 * 1024))  # incompressible
    ok(git(git_env, "add", "data.bin", cwd=work))
    ok(git(git_env, "commit", "-q", "-m", "Three random MiB", cwd=work))
    trace = tmp_path / "curl.trace"

    env = {**git_env, "GIT_TRACE_CURL": str(trace), "GIT_TRACE_CURL_NO_DATA": "1"}
    ok(git(env, "push", "origin", "main", token=token, cwd=work))

    assert "Transfer-Encoding: chunked" in trace.read_text()  # else this tests nothing new
    assert head_subject(server.bare(), git_env) == "Three random MiB"
    blob = ok(git(git_env, "--git-dir", str(server.bare()), "cat-file", "-s", "main:data.bin"))
    assert int(blob) == 3 * 1024 * 1024


def test_an_existing_repository_keeps_its_history_when_the_server_restarts(
    server, github, git_env, tmp_path, servers
):
    token = github.token("alice")
    work = clone(server, git_env, token, tmp_path / "work")
    commit(work, git_env, "Kept across restarts")
    ok(git(git_env, "push", "origin", "main", token=token, cwd=work))
    server.process.terminate()
    assert server.process.wait(10) == 0  # SIGTERM ends it cleanly

    again = start_server(tmp_path, github.url, "--repo", REPO)
    servers.append(again)

    assert head_subject(again.bare(), git_env) == "Kept across restarts"


# -- refusals ----------------------------------------------------------------------------


def test_a_wrong_token_cannot_push(server, github, git_env, tmp_path):
    work = clone(server, git_env, github.token("alice"), tmp_path / "work")
    commit(work, git_env, "Never arrives")

    done = git(git_env, "push", "origin", "main", token="gho_" + "x" * 36, cwd=work)

    assert done.returncode != 0
    assert "Authentication failed" in done.stderr
    assert head_subject(server.bare(), git_env) == "Initial commit"
    assert f"GET /{REPO}.git/info/refs?service=git-receive-pack refused 401" in server.log_text()


def test_a_token_revoked_after_the_clone_cannot_push(server, github, git_env, tmp_path):
    token = github.token("alice")
    work = clone(server, git_env, token, tmp_path / "work")
    commit(work, git_env, "Pushed after unlinking")
    assert github.store.delete_app_token(github.app, token)  # what unlinking does

    done = git(git_env, "push", "origin", "main", token=token, cwd=work)

    assert done.returncode != 0
    assert "Authentication failed" in done.stderr
    assert head_subject(server.bare(), git_env) == "Initial commit"


def test_no_credentials_get_a_basic_challenge(server):
    status, headers, _ = get(f"{server.url}{REPO}.git/info/refs?service=git-upload-pack")
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Basic realm="GitHub"'


@pytest.mark.parametrize("password", ["", "line\nbreak", "tökén"])
def test_passwords_that_cannot_be_tokens_are_refused(server, password):
    status, headers, _ = get(f"{server.url}{REPO}.git/info/refs?service=git-upload-pack", password)
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Basic realm="GitHub"'


def test_healthz_needs_no_credentials(server):
    status, _, body = get(f"{server.url}healthz")
    assert (status, body) == (200, b"ok\n")


# -- the API down or silent --------------------------------------------------------------


def test_an_api_that_refuses_connections_gives_502(tmp_path, servers):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    server = start_server(tmp_path, f"http://127.0.0.1:{closed}")
    servers.append(server)

    status, _, body = get(f"{server.url}{REPO}.git/info/refs?service=git-upload-pack", "t")

    assert status == 502
    assert b"cannot check the token" in body


def test_an_api_that_never_answers_gives_502_after_the_timeout(tmp_path, servers):
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        api = f"http://127.0.0.1:{silent.getsockname()[1]}"
        server = start_server(tmp_path, api, "--api-timeout", "0.5")
        servers.append(server)

        status, _, body = get(f"{server.url}{REPO}.git/info/refs?service=git-upload-pack", "t")

    assert status == 502
    assert b"timed out" in body


# -- arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["alice", "alice/demo.git", "../etc", "alice/..", "a/b/c"])
def test_a_repo_that_is_not_owner_slash_name_is_refused(tmp_path, slug):
    done = subprocess.run(
        [sys.executable, SCRIPT, "--root", tmp_path / "srv", "--github-api", "-", "--repo", slug],
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT,
    )
    assert done.returncode == 2
    assert "give OWNER/NAME" in done.stderr
    assert not (tmp_path / "srv").exists()
