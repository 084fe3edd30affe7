"""A minimal Docker Registry HTTP API v2 client: list a repository's tags, resolve a digest.

Only what the prepuller needs, without authentication. Every failure is a RegistryError
whose message names the registry and what went wrong, because the prepuller reports it
in its state instead of crashing.
"""

from __future__ import annotations

import hashlib
import ipaddress
from urllib.parse import urljoin

import requests

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


class RegistryClient:
    """One registry's API at `base_url` (scheme and host, e.g. http://127.0.0.1:5000)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()

    @classmethod
    def for_repository(cls, repository: str, api_url: str | None = None) -> RegistryClient:
        host, _ = split_repository(repository)
        return cls(api_url or default_api_url(host))

    def list_tags(self, name: str) -> list[str]:
        """Every tag of repository `name` (its path), following pagination.

        distribution answers `"tags": null` once the last tag is deleted; that is no tags.
        """
        tags: list[str] = []
        url: str | None = f"{self.base_url}/v2/{name}/tags/list?n={PAGE_SIZE}"
        while url:
            response = self._request("GET", url, f"tags of {name}")
            try:
                tags += response.json().get("tags") or []
            except (ValueError, AttributeError) as exc:
                raise RegistryError(f"{self.base_url}: tags of {name}: not a tag list") from exc
            following = response.links.get("next", {}).get("url")
            url = urljoin(url, following) if following else None
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
        try:
            response = self.session.request(method, url, headers=headers, timeout=self.timeout)
        except requests.Timeout as exc:
            raise RegistryUnreachable(
                f"{self.base_url}: {what}: no answer within {self.timeout:g}s"
            ) from exc
        except requests.RequestException as exc:
            raise RegistryUnreachable(
                f"{self.base_url}: {what}: unreachable ({_root_cause(exc)})"
            ) from exc
        if response.status_code == 404:
            raise NotFound(f"{self.base_url}: {what}: not found")
        if response.status_code == 401:
            raise RegistryError(
                f"{self.base_url}: {what}: the registry wants authentication, which devlab's "
                "prepuller does not support; list its images under catalog.images instead"
            )
        if not response.ok:
            raise RegistryError(
                f"{self.base_url}: {what}: HTTP {response.status_code} {_detail(response)}"
            )
        return response


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
