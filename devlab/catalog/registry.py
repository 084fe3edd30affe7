"""A minimal Docker Registry HTTP API v2 client: list a repository's tags, resolve a digest.

Only what the prepuller needs. It answers a registry's 401 challenge: Basic with
credentials when it holds some (only ever the stack's own local registry, see
`LocalRegistry`), Bearer as the distribution token authentication specification says
(docs/spec/auth/token.md): a token from the challenge's realm for its service and scope,
anonymous unless the realm is the registry itself and credentials are held, cached per
scope until its `expires_in` runs out. That covers Docker Hub, GHCR, Harbor and
distribution with token auth. Every failure is a RegistryError whose message names the
registry and what went wrong, because the prepuller reports it in its state instead of
crashing.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from devlab.config.catalog import is_local_alias

# Without these Accept types distribution 2.8 answers a schema1 manifest, whose digest
# never matches the engine's RepoDigests; lists and indexes cover multi-platform images.
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)
DEFAULT_TIMEOUT = 10.0
PAGE_SIZE = 1000
# The token spec's lifetime of a token whose response gives no (usable) expires_in.
DEFAULT_TOKEN_LIFETIME = 60.0
# The htpasswd user of devlab's local registry; its password is the stack's
# registry_password secret.
LOCAL_REGISTRY_USER = "devlab"
# How containers on the stack's network reach the local registry (its compose service).
LOCAL_REGISTRY_API_URL = "http://registry:5000"


class RegistryError(Exception):
    """The registry could not answer the question; str() says which and why."""


class RegistryUnreachable(RegistryError):
    """No HTTP answer at all: connection refused, DNS, TLS or a timeout."""


class NotFound(RegistryError):
    """The repository or tag does not exist (HTTP 404)."""


def split_repository(repository: str) -> tuple[str, str]:
    """(registry host[:port], repository path) of `127.0.0.1:5000/devlab/lab`."""
    host, _, path = repository.partition("/")
    return host, path


def default_api_url(host: str) -> str:
    """http:// for loopback registries (Docker treats 127.0.0.0/8 as insecure), else https://."""
    name = host[1 : host.find("]")] if host.startswith("[") else host.split(":")[0]
    try:
        loopback = ipaddress.ip_address(name).is_loopback
    except ValueError:
        loopback = name == "localhost"
    return f"{'http' if loopback else 'https'}://{host}"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)

    def auth_config(self) -> dict[str, str]:
        """The engine's form (docker-py `auth_config`) for a pull or push."""
        return {"username": self.username, "password": self.password}

    def basic(self) -> str:
        pair = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")


@dataclass(frozen=True)
class LocalRegistry:
    """The stack's own registry (`host` as the engine names it, e.g. 127.0.0.1:5000).

    The only registry devlab holds credentials for, so it decides where they may go: to
    the engine for references on exactly that host, and to the registry API only when a
    source on that host is reached at its default URL or at the compose service's URL. A
    source naming the local host but another api_url gets nothing.
    """

    host: str
    credentials: Credentials

    @classmethod
    def from_password_file(cls, host: str, path: Path) -> LocalRegistry:
        """Raises OSError when unreadable and ValueError when empty."""
        password = path.read_text(encoding="utf-8").strip()
        if not password:
            raise ValueError(f"{path} is empty")
        return cls(host, Credentials(LOCAL_REGISTRY_USER, password))

    def locate(self, repository: str, api_url: str | None) -> tuple[str, str | None]:
        """A source's repository as the engine names it, and the API URL to list it at.

        `local/PATH` becomes this registry's PATH, listed through the compose service (the
        prepuller's way in); any other repository is returned as it is.
        """
        if not is_local_alias(repository):
            return repository, api_url
        path = split_repository(repository)[1]
        return f"{self.host}/{path}", api_url or LOCAL_REGISTRY_API_URL

    def for_reference(self, ref: str) -> Credentials | None:
        return self.credentials if split_repository(ref)[0] == self.host else None

    def for_source(self, repository: str, api_url: str | None) -> Credentials | None:
        if split_repository(repository)[0] != self.host:
            return None
        url = (api_url or default_api_url(self.host)).rstrip("/")
        return (
            self.credentials
            if url in (default_api_url(self.host), LOCAL_REGISTRY_API_URL)
            else None
        )


@dataclass(frozen=True)
class Challenge:
    """A parsed `WWW-Authenticate` header: its scheme (lower case) and parameters."""

    scheme: str
    params: dict[str, str]


_CHALLENGE_PARAM = re.compile(r'([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))')


def parse_challenge(header: str) -> Challenge | None:
    """The first challenge of a header like `Bearer realm="...",service="...",scope="..."`."""
    scheme, _, rest = header.strip().partition(" ")
    if not scheme or "=" in scheme:
        return None
    params = {
        key.lower(): re.sub(r"\\(.)", r"\1", quoted) if quoted or not bare else bare
        for key, quoted, bare in _CHALLENGE_PARAM.findall(rest)
    }
    return Challenge(scheme.lower(), params)


def _origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port of `url`, the port spelled out when it is the default."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port


def pull_scope(name: str) -> str:
    """The token scope a read of repository `name` needs (docs/spec/auth/scope.md)."""
    return f"repository:{name}:pull"


@dataclass(frozen=True)
class _Grant:
    """An Authorization header the client sends, until `expires` on the client's clock.

    `name` and `hint` are how an error names it when the registry refuses it anyway.
    """

    header: str
    expires: float
    name: str
    hint: str


class RegistryClient:
    """One registry's API at `base_url` (scheme and host, e.g. http://127.0.0.1:5000).

    What a challenge earned is kept for the client's life, so one client per round
    answers each challenge once: the Basic password for every later request, a Bearer
    token for later requests in the same scope until it expires. `clock` (monotonic
    seconds) times the tokens.
    """

    def __init__(
        self,
        base_url: str,
        *,
        credentials: Credentials | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.timeout = timeout
        self.session = session or requests.Session()
        self.clock = clock
        # Set once the registry asked for Basic: it then wants the password everywhere.
        self._basic: _Grant | None = None
        # Bearer tokens by scope. The realm and service are the registry's own, so
        # the scope alone tells the tokens of one client apart.
        self._tokens: dict[str, _Grant] = {}

    @classmethod
    def for_repository(
        cls,
        repository: str,
        api_url: str | None = None,
        local: LocalRegistry | None = None,
    ) -> RegistryClient:
        host, _ = split_repository(repository)
        credentials = local.for_source(repository, api_url) if local else None
        return cls(api_url or default_api_url(host), credentials=credentials)

    def list_tags(self, name: str) -> list[str]:
        """Every tag of repository `name` (its path), following the `Link: rel="next"` pages.

        A next link back to a page already read (the same link again, or a cycle) raises
        a RegistryError rather than looping or returning what was read so far: a
        registry that paginates wrongly may also have skipped tags, and the tag policy
        picking the newest weeklies from a partial list would pick wrong without a word.
        A next link to another host raises too: the request would carry this registry's
        Authorization there. distribution answers `"tags": null` once the last tag is
        deleted; that is no tags.
        """
        what = f"tags of {name}"
        tags: list[str] = []
        url: str | None = f"{self.base_url}/v2/{name}/tags/list?n={PAGE_SIZE}"
        seen: set[str] = set()
        while url:
            seen.add(url)
            response = self._request("GET", url, what, pull_scope(name))
            try:
                tags += response.json().get("tags") or []
            except (ValueError, AttributeError) as exc:
                raise RegistryError(f"{self.base_url}: {what}: not a tag list") from exc
            following = response.links.get("next", {}).get("url")
            url = urljoin(url, following) if following else None
            if url in seen:
                raise RegistryError(
                    f"{self.base_url}: {what}: the registry's next-page link leads "
                    f"back to a page already read ({url}); stopped rather than loop"
                )
            if url and _origin(url) != _origin(self.base_url):
                raise RegistryError(
                    f"{self.base_url}: {what}: the registry's next-page link leads to "
                    f"another host ({url}); not followed, so no credential leaves it"
                )
        return tags

    def manifest_digest(self, name: str, reference: str) -> str:
        """The digest the engine records in RepoDigests when it pulls `name:reference`."""
        what = f"manifest {name}:{reference}"
        url = f"{self.base_url}/v2/{name}/manifests/{reference}"
        headers = {"Accept": ", ".join(MANIFEST_TYPES)}
        response = self._request("HEAD", url, what, pull_scope(name), headers)
        digest = response.headers.get("Docker-Content-Digest")
        if not digest:
            # The header is optional in the spec: the digest is then that of the body.
            body = self._request("GET", url, what, pull_scope(name), headers).content
            digest = "sha256:" + hashlib.sha256(body).hexdigest()
        return digest

    def _request(
        self,
        method: str,
        url: str,
        what: str,
        scope: str,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """`method url`, answering one 401 challenge; `scope` is the token scope it needs."""
        headers = dict(headers or {})
        sent = self._basic or self._fresh(scope)
        response = self._send(method, url, what, headers, sent.header if sent else None)
        if response.status_code == 401:
            grant = self._answer(response, what, scope, sent)
            response = self._send(method, url, what, headers, grant.header)
            if response.status_code == 401:
                raise RegistryError(
                    f"{self.base_url}: {what}: the registry refused {grant.name} "
                    f"({_detail(response)}); {grant.hint}"
                )
        if response.status_code == 404:
            raise NotFound(f"{self.base_url}: {what}: not found")
        if not response.ok:
            raise RegistryError(
                f"{self.base_url}: {what}: HTTP {response.status_code} {_detail(response)}"
            )
        return response

    def _fresh(self, scope: str) -> _Grant | None:
        """The cached token for `scope` while it lives; an expired one is forgotten."""
        token = self._tokens.get(scope)
        if token and self.clock() >= token.expires:
            del self._tokens[scope]
            return None
        return token

    def _send(
        self,
        method: str,
        url: str,
        what: str,
        headers: dict[str, str],
        authorization: str | None,
        params: dict[str, str] | None = None,
    ) -> requests.Response:
        if authorization:
            headers = {**headers, "Authorization": authorization}
        try:
            return self.session.request(
                method, url, headers=headers, params=params, timeout=self.timeout
            )
        except requests.Timeout as exc:
            raise RegistryUnreachable(
                f"{self.base_url}: {what}: no answer within {self.timeout:g}s"
            ) from exc
        except requests.RequestException as exc:
            raise RegistryUnreachable(
                f"{self.base_url}: {what}: unreachable ({_root_cause(exc)})"
            ) from exc

    def _answer(
        self, response: requests.Response, what: str, scope: str, refused: _Grant | None
    ) -> _Grant:
        """What answers a 401's challenge, or a RegistryError; `refused` was sent with it.

        A Bearer challenge names the scope it wants; a token cached for it that was not
        the one just refused is reused, otherwise a new one is fetched (a token revoked or
        expired early is refused with a fresh challenge). The token is cached under that
        scope and under `scope`, the one this client predicts, so the next request in it
        sends the token without a 401 first even if the registry spells scopes its own way.
        """
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if challenge and challenge.scheme == "basic" and self.credentials:
            self._basic = _Grant(
                self.credentials.basic(),
                math.inf,
                "the local registry password",
                "if the password changed, `devlab up` restarts it",
            )
            return self._basic
        if challenge and challenge.scheme == "basic":
            raise RegistryError(
                f"{self.base_url}: {what}: the registry wants a password, and devlab holds one "
                "only for its own local registry (local_registry: true, reached at its default "
                f"URL or {LOCAL_REGISTRY_API_URL})"
            )
        if challenge and challenge.scheme == "bearer" and challenge.params.get("realm"):
            wanted = challenge.params.get("scope") or scope
            token = self._fresh(wanted)
            if token is None or token == refused:
                token = self._token(challenge.params, what)
            self._tokens[wanted] = self._tokens[scope] = token
            return token
        raise RegistryError(
            f"{self.base_url}: {what}: the registry wants authentication devlab does not "
            f"support ({response.headers.get('WWW-Authenticate') or 'no challenge sent'})"
        )

    def _token(self, challenge: dict[str, str], what: str) -> _Grant:
        """A token from the challenge's realm, for its service and scope.

        Credentials go to the realm only when it is the registry's own origin: a realm
        elsewhere is asked anonymously, so a password never leaves the registry it is for
        (devlab holds one only for its own registry, which uses Basic anyway). The token
        lives `expires_in` seconds (60 when absent), counted from when it was asked for
        on the client's own clock rather than from `issued_at` on the token service's.
        """
        realm = challenge["realm"]
        scope = challenge.get("scope", "this registry")
        basic = None
        if self.credentials and _origin(realm) == _origin(self.base_url):
            basic = self.credentials.basic()
        params = {k: challenge[k] for k in ("service", "scope") if challenge.get(k)}
        asked = self.clock()
        response = self._send("GET", realm, what, {}, basic, params)
        if not response.ok:
            raise RegistryError(
                f"{self.base_url}: {what}: the token service {realm} answered HTTP "
                f"{response.status_code} {_detail(response)}"
            )
        try:
            body = response.json()
            token = body.get("token") or body.get("access_token")
            lifetime = body.get("expires_in")
        except (ValueError, AttributeError):
            token = lifetime = None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{self.base_url}: {what}: the token service {realm} sent no token")
        if basic:
            name = f"the token its token service issued for {scope} to the local registry login"
            hint = "that login does not grant it"
        else:
            name = f"the anonymous token its token service issued for {scope}"
            hint = (
                "the repository is private or does not exist (registries answer both "
                "alike), and devlab holds credentials only for its own local registry"
            )
        return _Grant(f"Bearer {token}", asked + _lifetime(lifetime), name, hint)


def _lifetime(expires_in: object) -> float:
    """A token response's `expires_in` in seconds: the spec's 60 when absent or nonsense."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
        return DEFAULT_TOKEN_LIFETIME
    # The comparison also turns away NaN and Infinity, which Python's json accepts.
    return float(expires_in) if 0 < expires_in < math.inf else DEFAULT_TOKEN_LIFETIME


def _detail(response: requests.Response) -> str:
    """The registry's own error message (`{"errors": [{"message": ...}]}`) when it sent one."""
    try:
        errors = response.json().get("errors") or []
        return "; ".join(str(e.get("message") or e.get("code")) for e in errors) or response.reason
    except (ValueError, AttributeError):
        return response.reason or ""


def _root_cause(exc: BaseException) -> str:
    """ "Connection refused" rather than requests' three nested wrappers around it."""
    current: BaseException | None = exc
    for _ in range(10):
        if current is None:
            break
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        current = current.__cause__ or current.__context__ or getattr(current, "reason", None)
        if current is not None and not isinstance(current, BaseException):
            break
    return str(exc)
