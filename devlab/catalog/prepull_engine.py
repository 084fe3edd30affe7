"""The prepuller's Docker engine I/O: list, pull, inspect and remove images; nothing else.

A thin adapter over the docker SDK, so the round (`devlab.catalog.prepuller`) imports no
docker and its decisions stay in the pure `devlab.catalog.prepull_plan`. It makes
exactly the calls docker-proxy's prepuller policy allows (`PREPULLER_RULES` in
devlab.dockerproxy.policy): a new call here needs a rule there. A pull, a removal or a
registry lookup that fails raises `EngineError` in the engine's own words; listing
errors (engine down) propagate, since a round cannot plan without the lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests

from devlab.catalog.prepull_plan import LocalImage
from devlab.catalog.registry import LocalRegistry
from devlab.catalog.tags import split_reference


class EngineError(Exception):
    """The engine, or the registry behind it, failed a request; the message says why."""


class ImageGone(EngineError):
    """The image to remove is not in the engine (any more)."""


@dataclass
class ImageEngine:
    """The engine as the prepuller sees it, with the one registry login it may send."""

    client: Any = None  # docker.DockerClient; from the environment on first use
    # The stack's own registry and its password; no other registry gets credentials.
    local_registry: LocalRegistry | None = None

    @property
    def docker(self) -> Any:
        if self.client is None:
            self.client = docker.from_env()
        return self.client

    def _auth_config(self, ref: str) -> dict[str, str] | None:
        """The local registry's login for its own references; None (anonymous) otherwise."""
        credentials = self.local_registry.for_reference(ref) if self.local_registry else None
        return credentials.auth_config() if credentials else None

    def registry_digest(self, ref: str) -> str:
        """The registry's digest for a ref, asked through the engine with the login it needs."""
        try:
            found = self.docker.api.inspect_distribution(ref, auth_config=self._auth_config(ref))
            return found["Descriptor"]["digest"]
        except (docker.errors.DockerException, requests.RequestException, KeyError) as exc:
            raise EngineError(_message(exc)) from exc

    def local_images(self) -> list[LocalImage]:
        return [
            LocalImage(
                id=i["Id"],
                tags=tuple(t for t in i.get("RepoTags") or () if t != "<none>:<none>"),
                repo_digests=tuple(d for d in i.get("RepoDigests") or () if "<none>" not in d),
                size=i.get("Size") or 0,
            )
            for i in self.docker.api.images()
        ]

    def running_refs(self) -> set[str]:
        """The image references and image ids of running containers."""
        containers = self.docker.api.containers()  # running ones only
        return {c["Image"] for c in containers} | {c["ImageID"] for c in containers}

    def pull(self, ref: str) -> LocalImage:
        """Pull `ref` (a tag or a digest) and return the image it now names."""
        repository, tag, digest = split_reference(ref)
        try:
            for message in self.docker.api.pull(
                repository,
                tag=digest or tag or "latest",
                stream=True,
                decode=True,
                auth_config=self._auth_config(ref),
            ):
                if "error" in message:
                    raise EngineError(message["error"])
            image = self.docker.images.get(ref)
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise EngineError(_message(exc)) from exc
        return LocalImage(
            image.id,
            repo_digests=tuple(image.attrs.get("RepoDigests") or ()),
            size=image.attrs.get("Size") or 0,
        )

    def remove(self, image: str) -> None:
        """Remove an image by ref or id, without force: the engine refuses while a
        container or (for an id) another tag still uses it."""
        try:
            self.docker.images.remove(image)
        except docker.errors.NotFound as exc:
            raise ImageGone(_message(exc)) from exc
        except docker.errors.DockerException as exc:
            raise EngineError(_message(exc)) from exc


def _message(exc: Exception) -> str:
    """The engine's own words for an API error, without the request URL docker-py adds."""
    return str(getattr(exc, "explanation", None) or exc)
