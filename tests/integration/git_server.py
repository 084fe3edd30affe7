r"""A git server standing in for github.com in tests: Smart HTTP with GitHub's token check.

Issue 17's "push works end to end offline" needs somewhere for a lab's `git push
https://github.com/...` to go when there is no GitHub. This serves clone, fetch and push
for the bare repositories under --root by running `git http-backend` as a CGI, and
lets a request in only when its HTTP Basic password is a token the GitHub API accepts
(`GET {--github-api}/user` with `Authorization: token <password>`), as github.com does.
Pointed at devlab's mock GitHub, a token the link service handed out works, and one
revoked there is refused at the very next request: nothing is cached. A refusal is a
401 with a Basic challenge, so git asks its credential helper and then fails at once
("Authentication failed"); an API that is down or silent gives a 502 within
--api-timeout seconds, never a hang. `GET /healthz` answers 200 without credentials
and is not logged (a healthcheck would flood the log); every other request logs one
line to stderr: method, path, the GitHub login or "refused", status. Never the token.

It is one standard-library file with no devlab imports because it runs in a container
made from the stack's lab image (Python 3.11 and git, with git-http-backend), next to
a stack. How the integration tests should run it (STACK is the stack's name, LAB_IMAGE
is DEVLAB_LAB_IMAGE from the stack's compose.env, REPO the checkout):

    docker run -d --name STACK-github --label devlab.test=git-server \
        --network STACK_default --network-alias github \
        --user 65534:65534 --read-only --init --cap-drop ALL \
        --security-opt no-new-privileges \
        --tmpfs /srv/git:uid=65534,gid=65534,mode=0700 --tmpfs /tmp \
        -v REPO/tests/integration/git_server.py:/opt/git_server.py:ro \
        --health-cmd 'python3 -c "import urllib.request as u; u.urlopen(
            \"http://127.0.0.1:8080/healthz\", timeout=3)"' \
        --health-interval 1s --health-retries 30 \
        LAB_IMAGE python3 /opt/git_server.py --root /srv/git --listen 0.0.0.0 \
            --port 8080 --github-api http://oauth:8090 --repo alice/demo

    # once the user's lab runs (its network exists only then):
    docker network connect --alias github STACK_lab-ESCAPED_USER STACK-github

- STACK_default is where the mock GitHub (`oauth`, profile mock-github) listens, so the
  server reaches http://oauth:8090. A lab is on its own network STACK_lab-<user> only
  (devlab.hub.networks), hence the second connect; in the lab, then,
  `git config --global url.http://github:8080/.insteadOf https://github.com/` sends
  https://github.com/alice/demo.git here. git then asks its credential helper about the
  rewritten URL (protocol=http, host=github:8080), not about github.com. The hub
  disconnects every container from a lab's network before removing it, so a stopped
  lab's network does not linger.
- Not root: uid 65534 owns the tmpfs, the repositories and every git process (git
  refuses repositories that another uid owns). Nothing is published on the host.
- Not the label devlab.stack: devlab takes every container with it for a lab. Remove
  it (`docker rm -f STACK-github`) before `devlab down` removes STACK_default.

Run `python3 git_server.py --help` for the options.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import BinaryIO, cast
from urllib.parse import unquote, urlsplit

REALM = 'Basic realm="GitHub"'
HEALTH_PATH = "/healthz"
BLOCK = 64 * 1024
# owner/name as GitHub allows them; no component may start with a dot, so no `..`.
REPO_SLUG = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*/[A-Za-z0-9_-][A-Za-z0-9_.-]*")
# Request headers a CGI does not get as HTTP_*: the credentials (git-http-backend needs
# only REMOTE_USER, and the token must not reach another process), those given as
# CONTENT_* already, and the framing this server has undone.
UNFORWARDED = {"authorization", "content-type", "content-length", "transfer-encoding"}
# Who made each repository's first commit; set explicitly because the server's user
# (uid 65534 in a container) has no git config and no name in /etc/passwd.
IDENTITY = {
    "GIT_AUTHOR_NAME": "devlab git server",
    "GIT_AUTHOR_EMAIL": "git-server@devlab.invalid",
    "GIT_COMMITTER_NAME": "devlab git server",
    "GIT_COMMITTER_EMAIL": "git-server@devlab.invalid",
}


class TokenRefused(Exception):
    """The GitHub API says the token is not valid (401)."""


class ApiUnavailable(Exception):
    """The GitHub API could not say whether the token is valid; str() says why."""


def github_login(api: str, token: str, timeout: float) -> str:
    """The login of the GitHub user `token` belongs to, asked of the API every time.

    No cache: a token revoked a moment ago must be refused now. Proxies from the
    environment are ignored, as the API is a service next to this one.
    """
    request = urllib.request.Request(
        f"{api.rstrip('/')}/user",
        headers={
            "Authorization": f"token {token}",
            "Accept": "application/vnd.github+json",
            "User-Agent": "devlab-git-server",
        },
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            body = json.load(response)
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise TokenRefused from None
        raise ApiUnavailable(f"GET {api}/user answered {exc.code}") from None
    except ValueError as exc:
        # A password that cannot be a header value (a newline, non-Latin-1 text) is
        # refused by http.client before sending: no token looks like that.
        if isinstance(exc, json.JSONDecodeError):
            raise ApiUnavailable(f"GET {api}/user answered something other than JSON") from None
        raise TokenRefused from None
    except (OSError, urllib.error.URLError) as exc:  # refused, unreachable, timed out
        raise ApiUnavailable(f"GET {api}/user failed: {exc}") from None
    login = body.get("login") if isinstance(body, dict) else None
    if not isinstance(login, str) or not login:
        raise ApiUnavailable(f"GET {api}/user answered without a login")
    return login


def basic_password(header: str | None) -> str | None:
    """The password of an HTTP Basic Authorization header; None when there is none."""
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, colon, password = decoded.partition(":")
    return password if colon and password else None


def chunked_body(stream: BinaryIO) -> Iterator[bytes]:
    """The decoded body of a `Transfer-Encoding: chunked` request (git's large pushes)."""
    while True:
        size_line = stream.readline(1024)
        if not size_line.endswith(b"\n"):
            raise ValueError("chunked body: truncated chunk size line")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while stream.readline(8192) not in (b"\r\n", b"\n", b""):
                pass  # trailers: nothing here uses them
            return
        while size:
            data = stream.read(min(size, BLOCK))
            if not data:
                raise ValueError("chunked body: the connection closed inside a chunk")
            size -= len(data)
            yield data
        stream.readline(8)  # the CRLF ending the chunk


def sized_body(stream: BinaryIO, length: int) -> Iterator[bytes]:
    """The `Content-Length` bytes of a request body."""
    while length:
        data = stream.read(min(length, BLOCK))
        if not data:
            raise ValueError("request body: the connection closed before Content-Length bytes")
        length -= len(data)
        yield data


def ensure_repository(root: Path, slug: str) -> Path:
    """The bare repository `slug`.git under `root`, made with one commit on main if missing.

    The first commit (a README) gives a clone something to check out, and a push a
    history to add to. An existing repository keeps its history. Push is enabled by
    config, not left to git-http-backend's default, which depends on REMOTE_USER.
    """
    path = root / f"{slug}.git"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **IDENTITY}

    def git(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            ["git", "--git-dir", str(path), *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        return done.stdout.strip()

    if not (path / "HEAD").is_file():
        path.mkdir(parents=True, exist_ok=True)
        git("init", "--bare", "--quiet", "--initial-branch=main")
        blob = git("hash-object", "-w", "--stdin", stdin=f"# {slug}\n\nServed by devlab's tests.\n")
        tree = git("mktree", stdin=f"100644 blob {blob}\tREADME.md\n")
        commit = git("commit-tree", tree, "-m", "Initial commit")
        git("update-ref", "refs/heads/main", commit)
    git("config", "http.receivepack", "true")
    return path


class GitServer(ThreadingHTTPServer):
    """The listening server and what its handlers need to know."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], root: Path, api: str, timeout: float) -> None:
        super().__init__(address, GitRequestHandler)
        self.root = root
        self.api = api
        self.api_timeout = timeout


class GitRequestHandler(BaseHTTPRequestHandler):
    """One connection: checks each request's token, then hands it to git-http-backend."""

    # HTTP/1.1 so that git keeps its connection, sends large pushes chunked and gets
    # 100 Continue when it asks; responses of unknown length are sent chunked.
    protocol_version = "HTTP/1.1"
    server: GitServer

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: `_handle` logs its own line, which names the GitHub login."""

    def _log(self, who: str, status: int) -> None:
        sys.stderr.write(f"git_server: {self.command} {self.path} {who} {status}\n")

    def _handle(self) -> None:
        url = urlsplit(self.path)
        if url.path == HEALTH_PATH:
            self._answer(200, "ok\n")
            return
        password = basic_password(self.headers.get("Authorization"))
        if password is None:
            self._answer(401, "credentials required\n", {"WWW-Authenticate": REALM})
            self._log("refused (no credentials)", 401)
            return
        try:
            login = github_login(self.server.api, password, self.server.api_timeout)
        except TokenRefused:
            self._answer(401, "bad credentials\n", {"WWW-Authenticate": REALM})
            self._log("refused", 401)
            return
        except ApiUnavailable as exc:
            self._answer(502, f"cannot check the token: {exc}\n")
            self._log(f"refused ({exc})", 502)
            return
        path_info = unquote(url.path)
        if ".." in path_info.split("/"):
            self._answer(404, "not found\n")
            self._log(login, 404)
            return
        self._log(login, self._run_backend(path_info, url.query, login))

    def _answer(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        """A short plain-text answer that closes the connection.

        Closing, because a body the client may still be sending was not read.
        """
        body = text.encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def _request_body(self) -> tuple[Iterator[bytes], str | None]:
        """The body's decoded bytes and the CONTENT_LENGTH to announce (None: read to EOF)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return chunked_body(self.rfile), None
        length = int(self.headers.get("Content-Length") or 0)
        return sized_body(self.rfile, length), str(length)

    def _cgi_environment(self, path_info: str, query: str, login: str) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": self.request_version,
            "SERVER_SOFTWARE": self.version_string(),
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path_info,
            "QUERY_STRING": query,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_USER": login,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
        }
        # Git-Protocol (protocol v2) and Content-Encoding (gzip) reach git this way.
        for name, value in self.headers.items():
            if name.lower() not in UNFORWARDED:
                key = "HTTP_" + name.upper().replace("-", "_")
                env[key] = f"{env[key]}, {value}" if key in env else value
        return env

    def _run_backend(self, path_info: str, query: str, login: str) -> int:
        """Serve the request with git-http-backend; the status sent."""
        try:
            body, length = self._request_body()
        except ValueError:
            self._answer(400, "bad Content-Length\n")
            return 400
        env = self._cgi_environment(path_info, query, login)
        if length is not None:
            env["CONTENT_LENGTH"] = length
        backend = subprocess.Popen(
            ["git", "http-backend"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        fed = threading.Event()
        # Fed from another thread: git-http-backend may answer before it has read all
        # of the body, and a pipe written and read by one thread can deadlock.
        feeder = threading.Thread(
            target=_feed, args=(body, cast(BinaryIO, backend.stdin), fed), daemon=True
        )
        feeder.start()
        try:
            status = self._relay(cast(io.BufferedReader, backend.stdout))
        finally:
            cast(io.BufferedReader, backend.stdout).close()
            backend.wait()
            feeder.join()
        if not fed.is_set():
            self.close_connection = True  # the rest of the body is still on the socket
        return status

    def _relay(self, output: io.BufferedReader) -> int:
        """Send the CGI's answer: its headers (Status: as the status line), then its body."""
        status, reason = 200, "OK"
        headers: list[tuple[str, str]] = []
        while True:
            line = output.readline(8192)
            if not line:
                self._answer(502, "git http-backend ended without an answer\n")
                return 502
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "status":
                code, _, reason = value.strip().partition(" ")
                status = int(code)
            else:
                headers.append((name.strip(), value.strip()))
        self.send_response(status, reason or None)
        sized = any(name.lower() == "content-length" for name, _ in headers)
        for name, value in headers:
            self.send_header(name, value)
        if not sized:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        while data := output.read1(BLOCK):
            self.wfile.write(data if sized else b"%x\r\n%s\r\n" % (len(data), data))
        if not sized:
            self.wfile.write(b"0\r\n\r\n")
        return status


def _feed(body: Iterator[bytes], stdin: BinaryIO, fed: threading.Event) -> None:
    """Write the request body to the CGI's stdin; `fed` is set once all of it was read."""
    try:
        for data in body:
            stdin.write(data)
        fed.set()
    except (ValueError, OSError):
        pass  # the backend stopped reading, or the client went away: it has answered
    finally:
        with contextlib.suppress(BrokenPipeError):
            stdin.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="git_server.py",
        description="Git Smart HTTP for tests, standing in for github.com: each request's "
        "Basic password must be a token the GitHub API accepts.",
    )
    parser.add_argument("--root", type=Path, required=True, help="directory of bare repositories")
    parser.add_argument("--listen", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind; 0 picks one (8080)")
    parser.add_argument(
        "--github-api",
        required=True,
        help="GitHub API base URL that checks tokens with GET /user, e.g. http://oauth:8090",
    )
    parser.add_argument(
        "--api-timeout",
        type=float,
        default=5.0,
        help="seconds to wait for the API before answering 502 (5)",
    )
    parser.add_argument(
        "--repo",
        action="append",
        default=[],
        metavar="OWNER/NAME",
        help="make the bare repository OWNER/NAME.git with a first commit on main if it "
        "is missing; may be repeated",
    )
    return parser


def _stop(signum: int, frame: FrameType | None) -> None:
    """SIGTERM ends the server; without a handler a container's PID 1 would ignore it."""
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    for slug in args.repo:
        if not REPO_SLUG.fullmatch(slug) or slug.endswith(".git"):
            parser.error(f"--repo {slug!r}: give OWNER/NAME, e.g. alice/demo (no .git, no ..)")
    if shutil.which("git") is None:
        print("git_server.py: git is not on PATH; install git", file=sys.stderr)
        return 2
    root: Path = args.root.resolve()
    try:
        root.mkdir(parents=True, exist_ok=True)
        for slug in args.repo:
            ensure_repository(root, slug)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        print(f"git_server.py: cannot prepare {root}: {exc} {detail}".strip(), file=sys.stderr)
        return 1
    try:
        server = GitServer((args.listen, args.port), root, args.github_api, args.api_timeout)
    except OSError as exc:
        print(f"git_server.py: cannot listen on {args.listen}:{args.port}: {exc}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, _stop)
    host, port = server.server_address[:2]
    print(
        f"git_server: serving {root} on http://{host}:{port}/ "
        f"(tokens checked with GET {args.github_api.rstrip('/')}/user)",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
