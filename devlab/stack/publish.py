"""The lab build in the stack's local registry, and nudging the prepuller to look.

`devlab up` publishes the lab image it built as today's build (recommended, this week's
weekly, today's daily) when the menu follows `local/devlab/lab`, so the first spawn form
already offers what a site's registry would; `devlab images push` does the same by
hand. Which tags need a push is decided from digests (`tags_to_push`, pure): a tag whose
registry digest is one this image was pushed as is left alone, so a warm `up` pushes
nothing. After a push the prepuller is nudged, and the menu follows within seconds
instead of at its next round.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence

import docker
import docker.errors
import requests

from devlab.catalog.prepull_main import NUDGE
from devlab.catalog.registry import (
    LOCAL_REGISTRY_USER,
    Credentials,
    NotFound,
    RegistryClient,
    RegistryError,
    default_api_url,
)
from devlab.catalog.tags import tags_for_day
from devlab.config import DevlabConfig
from devlab.config.catalog import LOCAL_ALIAS
from devlab.stack import engine

BUILD_REPOSITORY = "devlab/lab"  # where the lab build goes in the local registry
BUILD_SOURCE = f"{LOCAL_ALIAS}/{BUILD_REPOSITORY}"  # the catalog source that follows it
# Run inside the prepuller's container (the shell's builtin: the image has no kill
# binary): tini, PID 1 there (compose's `init: true`), passes the signal on to the
# prepuller. See devlab.catalog.prepull_main.NUDGE for why not `docker kill --signal`.
NUDGE_COMMAND = ["sh", "-c", f"kill -{NUDGE.name.removeprefix('SIG')} 1"]


class PublishError(RuntimeError):
    """A push to the local registry failed; the message says which and why."""


def follows_build(config: DevlabConfig) -> bool:
    """Whether the menu offers the lab build from the local registry, so `up` publishes it."""
    return config.local_registry and any(
        source.repository == BUILD_SOURCE for source in config.catalog.sources
    )


def tags_to_push(
    tags: Sequence[str], registry_digests: Mapping[str, str | None], pushed_as: set[str]
) -> list[str]:
    """The tags the registry lacks or has on another image.

    `registry_digests` maps each tag to its manifest digest in the registry (None: no such
    tag); `pushed_as` holds the digests this image was pushed to that repository as (its
    RepoDigests there).
    """
    return [tag for tag in tags if registry_digests.get(tag) not in pushed_as]


def pushed_digests(repo_digests: Iterable[str], repository: str) -> set[str]:
    """The digests in an image's RepoDigests (`repo@sha256:...`) that are in `repository`."""
    return {
        digest
        for repo, _, digest in (name.partition("@") for name in repo_digests)
        if repo == repository and digest
    }


def registry_digests(
    host: str, path: str, tags: Sequence[str], credentials: Credentials
) -> dict[str, str | None]:
    """Each tag's manifest digest in the registry at `host` (None when it lacks the tag)."""
    client = RegistryClient(default_api_url(host), credentials=credentials)
    digests: dict[str, str | None] = {}
    for tag in tags:
        try:
            digests[tag] = client.manifest_digest(path, tag)
        except NotFound:
            digests[tag] = None
        except RegistryError as exc:
            raise PublishError(f"cannot read the local registry: {exc}") from exc
    return digests


def push(
    client: docker.DockerClient,
    image_ref: str,
    host: str,
    tags: Sequence[str],
    password: str,
    *,
    only_missing: bool = False,
) -> list[str]:
    """Tag `image_ref` as host/BUILD_REPOSITORY:TAG for each tag and push; returns the refs.

    With `only_missing`, tags the registry already has on this very image are skipped.
    The password goes with each push only, so it is never stored in a Docker config file.
    """
    credentials = Credentials(LOCAL_REGISTRY_USER, password)
    repository = f"{host}/{BUILD_REPOSITORY}"
    try:
        image = client.images.get(image_ref)
        if only_missing:
            digests = registry_digests(host, BUILD_REPOSITORY, tags, credentials)
            pushed_as = pushed_digests(image.attrs.get("RepoDigests") or (), repository)
            tags = tags_to_push(tags, digests, pushed_as)
        pushed = []
        for tag in tags:
            image.tag(repository, tag)
            for line in client.images.push(
                repository, tag, stream=True, decode=True, auth_config=credentials.auth_config()
            ):
                if "error" in line:
                    raise PublishError(f"pushing {repository}:{tag} failed: {line['error']}")
            pushed.append(f"{repository}:{tag}")
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise PublishError(f"pushing {image_ref} to {repository} failed: {exc}") from exc
    return pushed


def publish_build(
    client: docker.DockerClient,
    image_ref: str,
    host: str,
    password: str,
    day: datetime.date | None = None,
) -> list[str]:
    """Push `image_ref` as `day`'s build (today's by default) where the registry lacks it."""
    tags = tags_for_day(day or datetime.date.today())
    return push(client, image_ref, host, tags, password, only_missing=True)


def nudge_prepuller(client: docker.DockerClient, stack: str) -> bool:
    """Have the stack's prepuller start a round now; False when no prepuller runs."""
    for container in engine.service_containers(client, stack, "prepuller"):
        if container.status != "running":
            continue
        try:
            result = container.exec_run(NUDGE_COMMAND)
        except docker.errors.NotFound:
            continue  # removed between the listing and the exec
        except docker.errors.APIError as exc:
            raise PublishError(f"cannot nudge the prepuller: {exc.explanation or exc}") from exc
        if result.exit_code != 0:
            output = result.output.decode(errors="replace").strip()
            raise PublishError(f"nudging the prepuller failed ({result.exit_code}): {output}")
        return True
    return False


def forget_tags(client: docker.DockerClient, host: str) -> list[str]:
    """Remove this engine's tags of host/BUILD_REPOSITORY (after the registry's volume went).

    Each push leaves a tag naming the image; once the registry is gone they only keep an
    old lab build from being removed. Without force, an image a container uses stays.
    """
    repository = f"{host}/{BUILD_REPOSITORY}"
    removed = []
    for image in client.images.list(name=repository):
        for tag in image.tags:
            if tag.rpartition(":")[0] != repository:
                continue
            try:
                client.images.remove(tag)
                removed.append(tag)
            except docker.errors.APIError:
                pass  # in use by a container: kept
    return removed
