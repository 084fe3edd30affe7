"""The registry client against a real HTTP server on 127.0.0.1 answering like distribution 2.8."""

import hashlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from devlab.catalog.models import ImageSource
from devlab.catalog.registry import (
    NotFound,
    RegistryClient,
    RegistryError,
    RegistryUnreachable,
    default_api_url,
    split_repository,
)
from devlab.catalog.tags import select_tags

V2 = "application/vnd.docker.distribution.manifest.v2+json"
GOOD = "sha256:" + "a" * 64
SCHEMA1 = "sha256:" + "1" * 64  # what distribution answers a HEAD without Accept types
BODY = b'{"schemaVersion": 2}'
PAGES = {
    None: (["recommended", "w_2026_46", "junk"], "w_2026_46"),
    "w_2026_46": (["w_2026_47", "r29_0"], None),
}


class FakeRegistry(BaseHTTPRequestHandler):
    accepts: ClassVar[list[str]] = []

    def do_GET(self):
        self._answer(with_body=True)

    def do_HEAD(self):
        self._answer(with_body=False)

    def _answer(self, with_body):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        self.accepts.append(self.headers.get("Accept", ""))
        if url.path == "/v2/devlab/lab/tags/list":
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

    def _json(self, status, data, with_body, link=None, digest=None):
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
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
        (lambda c: c.list_tags("private/lab"), RegistryError, "wants authentication"),
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
