"""The registry client against a real HTTP server on 127.0.0.1 answering like distribution 2.8.

The same server plays a Basic (htpasswd) registry, a Bearer registry with its token
service (tokens per scope, revocable, with the lifetime a test sets), and registries
whose next-page link loops or leaves the host.
"""

import base64
import hashlib
import itertools
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from devlab.catalog.registry import (
    LOCAL_REGISTRY_USER,
    Challenge,
    Credentials,
    LocalRegistry,
    NotFound,
    RegistryClient,
    RegistryError,
    RegistryUnreachable,
    default_api_url,
    parse_challenge,
    split_repository,
)
from devlab.catalog.tags import select_tags
from devlab.config.catalog import ImageSource

V2 = "application/vnd.docker.distribution.manifest.v2+json"
GOOD = "sha256:" + "a" * 64
SCHEMA1 = "sha256:" + "1" * 64  # what distribution answers a HEAD without Accept types
BODY = b'{"schemaVersion": 2}'
PAGES = {
    None: (["recommended", "w_2026_46", "junk"], "w_2026_46"),
    "w_2026_46": (["w_2026_47", "r29_0"], None),
}
PASSWORD = "s3cret"
BASIC = "Basic " + base64.b64encode(f"devlab:{PASSWORD}".encode()).decode()
# Repositories behind a token, and the scope each one's challenge names.
BEARER_SCOPES = {
    "bearer": "repository:bearer/lab:pull",
    "bearer2": "repository:bearer2/lab:pull",
    "far": "repository:far/lab:pull",
    "refused": "repository:refused/lab:pull",
    # Spelled its own way: more actions than a read needs.
    "spelled": "repository:spelled/lab:pull,push",
}


class FakeRegistry(BaseHTTPRequestHandler):
    accepts: ClassVar[list[str]] = []
    # (path, Authorization header or "") of every request, in order.
    seen: ClassVar[list[tuple[str, str]]] = []
    # Query parameters of every token request.
    token_queries: ClassVar[list[dict[str, list[str]]]] = []
    # Live tokens and the scope each grants; clear() revokes them all.
    tokens: ClassVar[dict[str, str]] = {}
    # The token response's expires_in; None leaves it out.
    expires_in: ClassVar[object] = 300
    serial = itertools.count(1)

    def do_GET(self):
        self._answer(with_body=True)

    def do_HEAD(self):
        self._answer(with_body=False)

    def _answer(self, with_body):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        self.accepts.append(self.headers.get("Accept", ""))
        authorization = self.headers.get("Authorization", "")
        self.seen.append((url.path, authorization))
        port = self.server.server_address[1]
        name = url.path.split("/")[2] if url.path.startswith("/v2/") else ""
        if url.path == "/token":
            self.token_queries.append(query)
            token = f"tok-{next(self.serial)}"
            self.tokens[token] = query["scope"][0]
            body = {"token": token}
            if self.expires_in is not None:
                body["expires_in"] = self.expires_in
            self._json(200, body, with_body)
        elif url.path.startswith("/v2/basic/") and authorization != BASIC:
            challenge = 'Basic realm="devlab-registry"'
            self._json(401, {"errors": [{"code": "UNAUTHORIZED"}]}, with_body, auth=challenge)
        elif name in BEARER_SCOPES and (
            self.tokens.get(authorization.removeprefix("Bearer ")) != BEARER_SCOPES[name]
            or name == "refused"
        ):
            host = "localhost" if name == "far" else "127.0.0.1"
            challenge = (
                f'Bearer realm="http://{host}:{port}/token",service="fake",'
                f'scope="{BEARER_SCOPES[name]}"'
            )
            self._json(401, {"errors": [{"code": "UNAUTHORIZED"}]}, with_body, auth=challenge)
        elif url.path.startswith("/v2/odd/"):
            self._json(401, {"errors": [{"code": "UNAUTHORIZED"}]}, with_body, auth="Negotiate")
        elif url.path == f"/v2/{name}/lab/tags/list" and (name == "basic" or name in BEARER_SCOPES):
            self._json(200, {"tags": ["r1_0"]}, with_body)
        elif url.path == "/v2/loop/lab/tags/list":
            link = '</v2/loop/lab/tags/list?last=a&n=1>; rel="next"'
            self._json(200, {"tags": ["a"]}, with_body, link=link)
        elif url.path == "/v2/cycle/lab/tags/list":
            last = "b" if query.get("last") == ["a"] else "a"
            link = f'</v2/cycle/lab/tags/list?last={last}&n=1>; rel="next"'
            self._json(200, {"tags": [last]}, with_body, link=link)
        elif url.path == "/v2/leaves/lab/tags/list":
            link = f'<http://localhost:{port}/v2/elsewhere/lab/tags/list?last=a>; rel="next"'
            self._json(200, {"tags": ["a"]}, with_body, link=link)
        elif url.path == "/v2/devlab/lab/tags/list":
            tags, last = PAGES[query.get("last", [None])[0]]
            link = f'</v2/devlab/lab/tags/list?last={last}&n=2>; rel="next"' if last else None
            self._json(200, {"name": "devlab/lab", "tags": tags}, with_body, link=link)
        elif url.path == "/v2/emptied/tags/list":
            self._json(200, {"name": "emptied", "tags": None}, with_body)
        elif url.path == "/v2/devlab/lab/manifests/w_2026_47":
            digest = GOOD if V2 in self.headers.get("Accept", "") else SCHEMA1
            self._json(200, {}, with_body, digest=digest)
        elif url.path == "/v2/plain/manifests/1":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            if with_body:
                self.wfile.write(BODY)
        elif url.path.startswith("/v2/private/"):
            self._json(401, {"errors": [{"code": "UNAUTHORIZED"}]}, with_body)
        elif url.path.startswith("/v2/broken/"):
            self._json(500, {"errors": [{"message": "storage driver failed"}]}, with_body)
        elif url.path.startswith("/v2/slow/"):
            time.sleep(1.0)
            self._json(200, {"tags": []}, with_body)
        else:
            self._json(404, {"errors": [{"code": "NAME_UNKNOWN"}]}, with_body)

    def _json(self, status, data, with_body, link=None, digest=None, auth=None):
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if auth:
            self.send_header("WWW-Authenticate", auth)
        if link:
            self.send_header("Link", link)
        if digest:
            self.send_header("Docker-Content-Digest", digest)
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def registry():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def fresh_registry_state():
    """Each test starts with no requests seen, no live tokens and 300 s token lifetimes."""
    FakeRegistry.seen.clear()
    FakeRegistry.token_queries.clear()
    FakeRegistry.tokens.clear()
    FakeRegistry.expires_in = 300
    FakeRegistry.serial = itertools.count(1)


class Clock:
    """The client's monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_lists_tags_across_pages(registry):
    tags = RegistryClient(registry).list_tags("devlab/lab")
    assert tags == ["recommended", "w_2026_46", "junk", "w_2026_47", "r29_0"]


def test_null_tags_means_none(registry):
    assert RegistryClient(registry).list_tags("emptied") == []


def test_digest_head_sends_every_manifest_type(registry):
    FakeRegistry.accepts.clear()
    assert RegistryClient(registry).manifest_digest("devlab/lab", "w_2026_47") == GOOD
    accept = FakeRegistry.accepts[-1]
    for media_type in (
        V2,
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
    ):
        assert media_type in accept


def test_digest_without_header_is_the_body_digest(registry):
    expected = "sha256:" + hashlib.sha256(BODY).hexdigest()
    assert RegistryClient(registry).manifest_digest("plain", "1") == expected


def test_policy_over_a_listed_repository(registry):
    client = RegistryClient(registry)
    source = ImageSource(repository="127.0.0.1:5000/devlab/lab", weeklies=1)
    chosen = [c.name for c in select_tags(client.list_tags("devlab/lab"), source).chosen]
    assert chosen == ["recommended", "r29_0", "w_2026_47"]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda c: c.list_tags("nope/lab"), NotFound, "tags of nope/lab: not found"),
        (lambda c: c.manifest_digest("devlab/lab", "gone"), NotFound, "manifest devlab/lab:gone"),
        (lambda c: c.list_tags("private/lab"), RegistryError, "no challenge sent"),
        (lambda c: c.list_tags("basic/lab"), RegistryError, "wants a password"),
        (lambda c: c.list_tags("odd/lab"), RegistryError, "does not support \\(Negotiate\\)"),
        (
            lambda c: c.list_tags("refused/lab"),
            RegistryError,
            "refused the anonymous token its token service issued for "
            "repository:refused/lab:pull .*private or does not exist",
        ),
        (lambda c: c.list_tags("loop/lab"), RegistryError, "leads back to a page already read"),
        (lambda c: c.list_tags("cycle/lab"), RegistryError, "leads back to a page already read"),
        (lambda c: c.list_tags("leaves/lab"), RegistryError, "leads to another host"),
        (lambda c: c.list_tags("broken/lab"), RegistryError, "HTTP 500 storage driver failed"),
        (lambda c: c.list_tags("slow/lab"), RegistryUnreachable, "no answer within 0.3s"),
    ],
)
def test_failures_are_registry_errors_naming_what_failed(registry, call, error, message):
    with pytest.raises(error, match=message):
        call(RegistryClient(registry, timeout=0.3))


def test_refused_connection_is_unreachable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RegistryUnreachable, match="unreachable"):
        RegistryClient(f"http://127.0.0.1:{port}", timeout=2).list_tags("devlab/lab")


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("127.0.0.2:5000", "http://127.0.0.2:5000"),
        ("localhost:5000", "http://localhost:5000"),
        ("[::1]:5000", "http://[::1]:5000"),
        ("registry.example.org", "https://registry.example.org"),
        ("10.0.0.5:5000", "https://10.0.0.5:5000"),
    ],
)
def test_plain_http_only_for_loopback_registries(host, url):
    assert default_api_url(host) == url


def test_for_repository_uses_the_configured_api_url():
    assert split_repository("127.0.0.1:5000/devlab/lab") == ("127.0.0.1:5000", "devlab/lab")
    client = RegistryClient.for_repository("127.0.0.1:5000/devlab/lab", "http://registry:5000/")
    assert client.base_url == "http://registry:5000"


def test_basic_credentials_answer_the_challenge_and_are_reused(registry):
    client = RegistryClient(registry, credentials=Credentials("devlab", PASSWORD))
    assert client.list_tags("basic/lab") == ["r1_0"]
    assert client.list_tags("basic/lab") == ["r1_0"]
    # Asked once, then sent with every request: one 401 in all.
    assert FakeRegistry.seen == [
        ("/v2/basic/lab/tags/list", ""),
        ("/v2/basic/lab/tags/list", BASIC),
        ("/v2/basic/lab/tags/list", BASIC),
    ]


def test_a_wrong_password_is_refused_by_name(registry):
    client = RegistryClient(registry, credentials=Credentials("devlab", "wrong"))
    with pytest.raises(RegistryError, match="refused the local registry password"):
        client.list_tags("basic/lab")


def test_a_repeated_next_link_is_read_once_then_stops(registry):
    with pytest.raises(RegistryError, match=r"already read \(.*last=a&n=1\)"):
        RegistryClient(registry).list_tags("loop/lab")
    assert [path for path, _ in FakeRegistry.seen] == ["/v2/loop/lab/tags/list"] * 2


def test_a_next_link_to_another_host_is_not_followed(registry):
    client = RegistryClient(registry, credentials=Credentials("devlab", PASSWORD))
    with pytest.raises(RegistryError, match="another host"):
        client.list_tags("leaves/lab")
    assert [path for path, _ in FakeRegistry.seen] == ["/v2/leaves/lab/tags/list"]


def test_bearer_challenge_fetches_a_token_for_its_service_and_scope(registry):
    client = RegistryClient(registry)
    assert client.list_tags("bearer/lab") == ["r1_0"]
    assert client.list_tags("bearer/lab") == ["r1_0"]
    assert FakeRegistry.token_queries == [
        {"service": ["fake"], "scope": ["repository:bearer/lab:pull"]}
    ]
    assert FakeRegistry.seen == [
        ("/v2/bearer/lab/tags/list", ""),
        ("/token", ""),  # anonymous: this client holds no credentials
        ("/v2/bearer/lab/tags/list", "Bearer tok-1"),
        ("/v2/bearer/lab/tags/list", "Bearer tok-1"),
    ]


def test_tokens_are_cached_per_scope(registry):
    client = RegistryClient(registry)
    for _ in range(2):
        assert client.list_tags("bearer/lab") == ["r1_0"]
        assert client.list_tags("bearer2/lab") == ["r1_0"]
    # One token per scope, each asked for once and sent only in its own scope.
    assert [q["scope"] for q in FakeRegistry.token_queries] == [
        ["repository:bearer/lab:pull"],
        ["repository:bearer2/lab:pull"],
    ]
    bearer, bearer2 = (f"Bearer {t}" for t in FakeRegistry.tokens)
    assert [s for s in FakeRegistry.seen if s[0] != "/token"] == [
        ("/v2/bearer/lab/tags/list", ""),
        ("/v2/bearer/lab/tags/list", bearer),
        ("/v2/bearer2/lab/tags/list", ""),
        ("/v2/bearer2/lab/tags/list", bearer2),
        ("/v2/bearer/lab/tags/list", bearer),
        ("/v2/bearer2/lab/tags/list", bearer2),
    ]


def test_a_scope_spelled_the_registrys_way_is_answered_without_a_second_challenge(registry):
    client = RegistryClient(registry)
    for _ in range(3):
        assert client.list_tags("spelled/lab") == ["r1_0"]
    assert [q["scope"] for q in FakeRegistry.token_queries] == [
        ["repository:spelled/lab:pull,push"]
    ]
    assert [auth for path, auth in FakeRegistry.seen if path != "/token"] == [
        "",
        "Bearer tok-1",
        "Bearer tok-1",
        "Bearer tok-1",
    ]


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [
        (300, 300),
        (1.5, 1.5),
        # The spec's default when the response gives none, and for what is no lifetime.
        (None, 60),
        (0, 60),
        (-5, 60),
        ("300", 60),
        (True, 60),
    ],
)
def test_a_token_is_reused_until_its_expires_in_then_replaced_before_use(
    registry, expires_in, lifetime
):
    FakeRegistry.expires_in = expires_in
    clock = Clock()
    client = RegistryClient(registry, clock=clock)
    assert client.list_tags("bearer/lab") == ["r1_0"]
    clock.now += lifetime - 0.01
    assert client.list_tags("bearer/lab") == ["r1_0"]
    assert len(FakeRegistry.token_queries) == 1
    clock.now += 0.01
    FakeRegistry.seen.clear()
    assert client.list_tags("bearer/lab") == ["r1_0"]
    # The expired token is not sent at all: the request goes without, is challenged, and
    # the new token answers it.
    assert FakeRegistry.seen == [
        ("/v2/bearer/lab/tags/list", ""),
        ("/token", ""),
        ("/v2/bearer/lab/tags/list", "Bearer tok-2"),
    ]


def test_a_refused_cached_token_is_replaced_once(registry):
    client = RegistryClient(registry)
    assert client.list_tags("bearer/lab") == ["r1_0"]
    FakeRegistry.tokens.clear()  # the token service revokes it (or it expired early)
    FakeRegistry.seen.clear()
    assert client.list_tags("bearer/lab") == ["r1_0"]
    assert FakeRegistry.seen == [
        ("/v2/bearer/lab/tags/list", "Bearer tok-1"),
        ("/token", ""),
        ("/v2/bearer/lab/tags/list", "Bearer tok-2"),
    ]


def test_credentials_go_to_a_token_realm_only_on_the_registry_itself(registry):
    credentials = Credentials("devlab", PASSWORD)
    assert RegistryClient(registry, credentials=credentials).list_tags("bearer/lab") == ["r1_0"]
    assert ("/token", BASIC) in FakeRegistry.seen
    FakeRegistry.seen.clear()
    # Same port, another host name: another origin, so it is asked anonymously.
    assert RegistryClient(registry, credentials=credentials).list_tags("far/lab") == ["r1_0"]
    assert ("/token", "") in FakeRegistry.seen
    assert all(auth != BASIC for _, auth in FakeRegistry.seen)
    with pytest.raises(
        RegistryError,
        match=r"to the local registry login \(UNAUTHORIZED\); that login does not grant it",
    ):
        RegistryClient(registry, credentials=credentials).list_tags("refused/lab")


@pytest.mark.parametrize(
    ("header", "challenge"),
    [
        (
            'Bearer realm="https://auth.example.org/token",service="registry.example.org",'
            'scope="repository:devlab/lab:pull"',
            Challenge(
                "bearer",
                {
                    "realm": "https://auth.example.org/token",
                    "service": "registry.example.org",
                    "scope": "repository:devlab/lab:pull",
                },
            ),
        ),
        ('Basic realm="devlab-registry"', Challenge("basic", {"realm": "devlab-registry"})),
        (
            "Bearer realm=https://a/t, scope=x",
            Challenge("bearer", {"realm": "https://a/t", "scope": "x"}),
        ),
        ('Bearer realm="a \\"b\\""', Challenge("bearer", {"realm": 'a "b"'})),
        ("", None),
        ('realm="x"', None),
    ],
)
def test_parse_challenge(header, challenge):
    assert parse_challenge(header) == challenge


LOCAL = LocalRegistry("127.0.0.1:5000", Credentials(LOCAL_REGISTRY_USER, PASSWORD))


@pytest.mark.parametrize(
    ("repository", "api_url", "gets_credentials"),
    [
        ("127.0.0.1:5000/devlab/lab", None, True),
        ("127.0.0.1:5000/devlab/lab", "http://registry:5000", True),
        ("127.0.0.1:5000/devlab/lab", "http://registry:5000/", True),
        ("127.0.0.1:5000/devlab/lab", "http://127.0.0.1:5000", True),
        # The right host but the API elsewhere: the password would leave the stack.
        ("127.0.0.1:5000/devlab/lab", "https://registry.example.org", False),
        ("127.0.0.1:5000/devlab/lab", "http://registry:5001", False),
        ("127.0.0.1:5001/devlab/lab", None, False),
        ("127.0.0.1:5001/devlab/lab", "http://registry:5000", False),
        ("localhost:5000/devlab/lab", None, False),
        ("registry.example.org/devlab/lab", None, False),
    ],
)
def test_the_local_password_goes_only_to_the_local_registry(repository, api_url, gets_credentials):
    client = RegistryClient.for_repository(repository, api_url, LOCAL)
    assert (client.credentials is not None) is gets_credentials
    assert RegistryClient.for_repository(repository, api_url).credentials is None


@pytest.mark.parametrize(
    ("ref", "gets_credentials"),
    [
        ("127.0.0.1:5000/devlab/lab:recommended", True),
        ("127.0.0.1:5000/devlab/lab@sha256:" + "a" * 64, True),
        ("127.0.0.1:5001/devlab/lab:recommended", False),
        ("registry.example.org/devlab/lab:1", False),
        ("jupyter/base-notebook:latest", False),
    ],
)
def test_engine_pulls_get_the_login_only_for_local_references(ref, gets_credentials):
    assert (LOCAL.for_reference(ref) is not None) is gets_credentials


def test_local_registry_password_file(tmp_path):
    path = tmp_path / "registry_password"
    path.write_text(PASSWORD + "\n")
    local = LocalRegistry.from_password_file("127.0.0.1:5000", path)
    assert local.credentials.auth_config() == {"username": "devlab", "password": PASSWORD}
    assert PASSWORD not in repr(local)
    path.write_text("\n")
    with pytest.raises(ValueError, match="empty"):
        LocalRegistry.from_password_file("127.0.0.1:5000", path)


@pytest.mark.parametrize(
    ("repository", "api_url", "located", "gets_credentials"),
    [
        # The alias follows the port the stack's registry was published on, and is listed
        # through the compose service unless told otherwise.
        (
            "local/devlab/lab",
            None,
            ("127.0.0.1:5000/devlab/lab", "http://registry:5000"),
            True,
        ),
        (
            "local/team/lab",
            "http://127.0.0.1:5000",
            ("127.0.0.1:5000/team/lab", "http://127.0.0.1:5000"),
            True,
        ),
        ("registry.example.org/lab", None, ("registry.example.org/lab", None), False),
        ("127.0.0.1:5001/devlab/lab", None, ("127.0.0.1:5001/devlab/lab", None), False),
    ],
)
def test_the_local_alias_names_the_stacks_own_registry(
    repository, api_url, located, gets_credentials
):
    assert LOCAL.locate(repository, api_url) == located
    client = RegistryClient.for_repository(*located, LOCAL)
    assert (client.credentials is not None) is gets_credentials
