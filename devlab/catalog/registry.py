"""A minimal Docker Registry HTTP API v2 client: list a repository's tags, resolve a digest.

Only what the prepuller needs. It answers a registry's 401 challenge: Basic with
credentials when it holds some (only ever the stack's own local registry, see
`LocalRegistry`), Bearer by fetching a token from the challenge's realm (anonymous
unless the realm is the registry itself and credentials are held). Every failure is a
RegistryError whose message names the registry and what went wrong, because the
prepuller reports it in its state instead of crashing.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from devlab.catalog.models import is_local_alias

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


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


class RegistryClient:
    """One registry's API at `base_url` (scheme and host, e.g. http://127.0.0.1:5000)."""

    def __init__(
        self,
        base_url: str,
        *,
        credentials: Credentials | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.timeout = timeout
        self.session = session or requests.Session()
        # The Authorization that last worked, sent first on later requests; a Bearer
        # token for another scope just earns a new challenge.
        self._authorization: str | None = None

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
        """Every tag of repository `name` (its path), following pagination.

        distribution answers `"tags": null` once the last tag is deleted; that is no tags.
        """
        tags: list[str] = []
        url: str | None = f"{self.base_url}/v2/{name}/tags/list?n={PAGE_SIZE}"
        seen: set[str] = set()
        while url:
            seen.add(url)
            response = self._request("GET", url, f"tags of {name}")
            try:
                tags += response.json().get("tags") or []
            except (ValueError, AttributeError) as exc:
                raise RegistryError(f"{self.base_url}: tags of {name}: not a tag list") from exc
            following = response.links.get("next", {}).get("url")
            url = urljoin(url, following) if following else None
            if url in seen:
                raise RegistryError(
                    f"{self.base_url}: tags of {name}: the registry's next-page link leads "
                    f"back to a page already read ({url}); stopped rather than loop"
                )
        return tags

    def manifest_digest(self, name: str, reference: str) -> str:
        """The digest the engine records in RepoDigests when it pulls `name:reference`."""
        what = f"manifest {name}:{reference}"
        url = f"{self.base_url}/v2/{name}/manifests/{reference}"
        headers = {"Accept": ", ".join(MANIFEST_TYPES)}
        response = self._request("HEAD", url, what, headers)
        digest = response.headers.get("Docker-Content-Digest")
        if not digest:
            # The header is optional in the spec: the digest is then that of the body.
            body = self._request("GET", url, what, headers).content
            digest = "sha256:" + hashlib.sha256(body).hexdigest()
        return digest

    def _request(
        self, method: str, url: str, what: str, headers: dict[str, str] | None = None
    ) -> requests.Response:
        headers = dict(headers or {})
        response = self._send(method, url, what, headers, self._authorization)
        if response.status_code == 401:
            self._authorization = self._answer(response, what)
            response = self._send(method, url, what, headers, self._authorization)
            if response.status_code == 401:
                given = "the token it asked for" if self._bearer else "the local registry password"
                raise RegistryError(
                    f"{self.base_url}: {what}: the registry refused {given} "
                    f"({_detail(response)}); if the password changed, `devlab up` restarts it"
                )
        if response.status_code == 404:
            raise NotFound(f"{self.base_url}: {what}: not found")
        if not response.ok:
            raise RegistryError(
                f"{self.base_url}: {what}: HTTP {response.status_code} {_detail(response)}"
            )
        return response

    @property
    def _bearer(self) -> bool:
        return bool(self._authorization and self._authorization.startswith("Bearer "))

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

    def _answer(self, response: requests.Response, what: str) -> str:
        """The Authorization header that answers a 401's challenge, or a RegistryError."""
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if challenge and challenge.scheme == "basic" and self.credentials:
            return self.credentials.basic()
        if challenge and challenge.scheme == "basic":
            raise RegistryError(
                f"{self.base_url}: {what}: the registry wants a password, and devlab holds one "
                "only for its own local registry (local_registry: true, reached at its default "
                f"URL or {LOCAL_REGISTRY_API_URL})"
            )
        if challenge and challenge.scheme == "bearer" and challenge.params.get("realm"):
            return "Bearer " + self._token(challenge.params, what)
        raise RegistryError(
            f"{self.base_url}: {what}: the registry wants authentication devlab does not "
            f"support ({response.headers.get('WWW-Authenticate') or 'no challenge sent'})"
        )

    def _token(self, challenge: dict[str, str], what: str) -> str:
        """A token from the challenge's realm, for its service and scope.

        Credentials go to the realm only when it is the registry's own origin: a realm
        elsewhere is asked anonymously, so a password never leaves the registry it is for.
        """
        realm = challenge["realm"]
        own = self.credentials and _origin(realm) == _origin(self.base_url)
        params = {k: challenge[k] for k in ("service", "scope") if challenge.get(k)}
        response = self._send(
            "GET", realm, what, {}, self.credentials.basic() if own else None, params
        )
        if not response.ok:
            raise RegistryError(
                f"{self.base_url}: {what}: the token service {realm} answered HTTP "
                f"{response.status_code} {_detail(response)}"
            )
        try:
            body = response.json()
            token = body.get("token") or body.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{self.base_url}: {what}: the token service {realm} sent no token")
        return token


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
