"""The prepuller: keeps the menu's images on this machine, so choosing one starts a lab fast.

Split in two: `plan` and `records_for` decide what to do from plain data (tested without
an engine), and `Prepuller` does the I/O. A bad reference or an unreachable registry is
recorded in the state file and the round goes on; nothing it meets stops the loop.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import docker
import docker.errors
import requests

from devlab.catalog.menu import FALLBACK_DISPLAY_NAME
from devlab.catalog.models import CatalogConfig, ImageSource, is_local_alias
from devlab.catalog.registry import (
    LocalRegistry,
    RegistryClient,
    RegistryError,
    split_repository,
)
from devlab.catalog.state import CatalogState, ImageRecord, Problem, now, read_state, write_state
from devlab.catalog.tags import (
    Role,
    canonical_reference,
    reference_display_name,
    select_tags,
    split_reference,
)
from devlab.config import ConfigError, load_config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Desired:
    """An image the menu should offer, as resolved this round; refs are unique in a round."""

    ref: str
    display_name: str
    role: Role
    source: str | None = None  # the configured repository it came from
    digest: str | None = None  # the registry's digest for the tag; None when unknown
    error: str | None = None  # why it cannot be checked now: it is then neither pulled nor removed
    pullable: bool = True  # False for the locally built fallback, which no registry has


@dataclass(frozen=True)
class LocalImage:
    """An image in the engine, as `GET /images/json` lists it."""

    id: str
    tags: tuple[str, ...] = ()
    repo_digests: tuple[str, ...] = ()
    size: int = 0

    def names(self) -> set[str]:
        return {canonical_reference(n) for n in (*self.tags, *self.repo_digests)}


@dataclass(frozen=True)
class Action:
    ref: str
    reason: str


@dataclass(frozen=True)
class Plan:
    pull: tuple[Action, ...] = ()
    remove: tuple[Action, ...] = ()
    keep: tuple[Action, ...] = ()  # out of the menu but kept, with why


def _by_name(local: Iterable[LocalImage]) -> dict[str, LocalImage]:
    return {name: image for image in local for name in image.names()}


def local_digest(image: LocalImage, ref: str) -> str | None:
    """The digest `image` was pulled by from `ref`'s repository, if it was pulled at all."""
    repository = canonical_reference(ref).rpartition(":")[0]
    for name in image.repo_digests:
        repo, _, digest = canonical_reference(name).partition("@")
        if repo == repository:
            return digest
    return None


def plan(
    desired: Sequence[Desired],
    local: Sequence[LocalImage],
    running_refs: set[str],
    previous_state: CatalogState | None,
    *,
    remove_unlisted: bool = True,
) -> Plan:
    """What to pull and remove this round.

    Pull a desired image that is missing, or whose registry digest is not among its local
    RepoDigests (the tag moved). Remove only images the prepuller itself pulled (the
    previous state remembers which: no labels, since pulled images cannot be labelled)
    that left the menu, unless a running container uses them. `running_refs` holds the
    image references and image ids of running containers.
    """
    by_name = _by_name(local)
    pull: list[Action] = []
    for item in desired:
        if item.error or not item.pullable:
            continue
        image = by_name.get(canonical_reference(item.ref))
        if image is None:
            pull.append(Action(item.ref, "not on this machine"))
        elif item.digest and item.digest != local_digest(image, item.ref):
            pull.append(Action(item.ref, f"the tag moved to {item.digest}"))
    wanted = {canonical_reference(d.ref) for d in desired}
    running = {canonical_reference(r) for r in running_refs} | running_refs
    remove: list[Action] = []
    keep: list[Action] = []
    for record in previous_state.images if previous_state else ():
        name = canonical_reference(record.ref)
        image = by_name.get(name)
        if not record.owned or name in wanted or image is None:
            continue
        if name in running or image.id in running:
            keep.append(Action(record.ref, "no longer offered, but a running lab uses it"))
        elif not remove_unlisted:
            keep.append(Action(record.ref, "no longer offered (removal is turned off)"))
        else:
            remove.append(Action(record.ref, "no longer offered"))
    return Plan(tuple(pull), tuple(remove), tuple(keep))


def records_for(
    desired: Sequence[Desired],
    local: Sequence[LocalImage],
    previous_state: CatalogState | None,
    todo: Plan,
    at: datetime.datetime,
) -> list[ImageRecord]:
    """The state's image records at the start of a round, before any pull or removal."""
    by_name = _by_name(local)
    previous = {r.ref: r for r in previous_state.images} if previous_state else {}
    records: list[ImageRecord] = []
    for item in desired:
        image = by_name.get(canonical_reference(item.ref))
        before = previous.get(item.ref)
        if image is not None:
            status, reason = "pulled", item.error
        elif item.error:
            status, reason = "failed", item.error
        elif not item.pullable:
            status, reason = "missing", "built by `devlab up`; the prepuller does not pull it"
        else:
            status, reason = "missing", None
        record = ImageRecord(
            ref=item.ref,
            display_name=item.display_name,
            role=item.role,
            source=item.source,
            desired=True,
            status=status,
            reason=reason,
            digest=item.digest or (image and local_digest(image, item.ref)),
            image_id=image.id if image else None,
            size_bytes=image.size if image else None,
            owned=bool(before and before.owned and image),
            changed_at=at,
        )
        records.append(_keep_time(record, before))
    for action in (*todo.keep, *todo.remove):
        before = previous[action.ref]
        record = before.model_copy(update={"desired": False, "reason": action.reason})
        records.append(_keep_time(record.model_copy(update={"changed_at": at}), before))
    return records


def _keep_time(record: ImageRecord, before: ImageRecord | None) -> ImageRecord:
    """Keep `changed_at` when nothing else changed, so the state says when things happened."""
    if before and before.model_copy(update={"changed_at": record.changed_at}) == record:
        return before
    return record


def carried_forward(
    previous_state: CatalogState | None, repository: str, reason: str
) -> list[Desired]:
    """Last round's images of a repository the registry cannot list now.

    Offering nothing from it instead would make every image pulled from it look unwanted
    and be removed whenever the registry is down.
    """
    return [
        Desired(r.ref, r.display_name, r.role, r.source, r.digest, error=reason)
        for r in (previous_state.images if previous_state else ())
        if r.desired and r.source == repository
    ]


class PullError(Exception):
    """The engine reported an error while pulling."""


@dataclass
class Prepuller:
    """Pulls what the catalog offers, removes what it pulled and no longer offers.

    The state file is rewritten after every change, so the spawn form shows an image as
    soon as it is here.
    """

    config: CatalogConfig
    state_path: Path
    fallback_image: str | None = None
    docker_client: Any = None  # docker.DockerClient; from the environment by default
    # The stack's own registry and its password; no other registry gets credentials.
    local_registry: LocalRegistry | None = None
    _records: dict[str, ImageRecord] = field(default_factory=dict, init=False)
    _problems: list[Problem] = field(default_factory=list, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)

    @property
    def docker(self) -> Any:
        if self.docker_client is None:
            self.docker_client = docker.from_env()
        return self.docker_client

    def run_forever(
        self, interval: float | None = None, wait: Callable[[float], object] | None = None
    ) -> None:
        """Run rounds until `stop()`; a failed round (engine down, disk full) is logged.

        `wait(seconds)` sleeps between rounds; `main` passes `wait_for_nudge`, which also
        returns at SIGHUP, so a push is on the menu in seconds rather than an interval.
        """
        interval = interval or self.config.prepull.interval_seconds
        wait = wait or self._stop.wait
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("Prepull round failed; next try in %ss", interval)
            wait(interval)

    def stop(self) -> None:
        self._stop.set()

    def run_once(self) -> CatalogState:
        previous = read_state(self.state_path)
        desired, self._problems = self.resolve(previous)
        local = self.local_images()
        todo = plan(
            desired,
            local,
            self.running_refs(),
            previous,
            remove_unlisted=self.config.prepull.remove_unlisted,
        )
        self._records = {r.ref: r for r in records_for(desired, local, previous, todo, now())}
        for action in todo.keep:
            log.info("Keeping %s: %s", action.ref, action.reason)
        self._publish()
        for action in todo.pull:
            self._pull(action)
        for action in todo.remove:
            self._remove(action)
        state = self._publish()
        log.info(
            "Round done: %d offered, %d here, %d problem(s)",
            sum(r.desired for r in state.images),
            sum(r.desired and r.pulled for r in state.images),
            len(state.problems) + sum(r.status == "failed" for r in state.images),
        )
        return state

    # Resolving the desired set ----------------------------------------------------------

    def resolve(self, previous: CatalogState | None) -> tuple[list[Desired], list[Problem]]:
        """Everything the menu should offer now, and what could not be resolved."""
        desired: list[Desired] = []
        problems: list[Problem] = []
        for source in self.config.sources:
            try:
                found, missing = self._resolve_source(source)
            except RegistryError as exc:
                log.warning("Cannot list %s: %s", source.repository, exc)
                problems.append(Problem(subject=source.repository, reason=str(exc)))
                desired += carried_forward(previous, source.repository, str(exc))
                continue
            desired += found
            problems += missing
        for image in self.config.images:
            label = image.display_name or reference_display_name(image.ref)
            desired.append(Desired(image.ref, label, Role.IMAGE, digest=self._digest(image.ref)))
        if self.fallback_image:
            desired.append(
                Desired(self.fallback_image, FALLBACK_DISPLAY_NAME, Role.FALLBACK, pullable=False)
            )
        # A ref both listed and chosen from a source is offered once, as the first says.
        unique = {canonical_reference(d.ref): d for d in reversed(desired)}
        return [d for d in desired if unique[canonical_reference(d.ref)] is d], problems

    def _resolve_source(self, source: ImageSource) -> tuple[list[Desired], list[Problem]]:
        repository, api_url = source.repository, source.api_url
        if is_local_alias(repository):
            if self.local_registry is None:
                raise RegistryError(
                    f"{repository}: the stack's own registry is not running "
                    "(local_registry: true starts it)"
                )
            repository, api_url = self.local_registry.locate(repository, api_url)
        client = RegistryClient.for_repository(repository, api_url, self.local_registry)
        _, path = split_repository(repository)
        selection = select_tags(client.list_tags(path), source)
        digests: dict[str, str] = {}
        errors: dict[str, str] = {}
        for choice in selection.chosen:
            try:
                digests[choice.name] = client.manifest_digest(path, choice.name)
            except RegistryError as exc:
                errors[choice.name] = str(exc)
        names = selection.display_names(digests)
        found = [
            Desired(
                ref=f"{repository}:{c.name}",
                display_name=names[c.name],
                role=c.role,
                source=source.repository,
                digest=digests.get(c.name),
                error=errors.get(c.name),
            )
            for c in selection.chosen
        ]
        missing = [
            Problem(subject=f"{repository}:{tag}", reason="configured, but not in the registry")
            for tag in selection.missing
        ]
        return found, missing

    def _digest(self, ref: str) -> str | None:
        """The registry's digest for a ref, asked through the engine with the login it needs."""
        auth = self._auth_config(ref)
        try:
            found = self.docker.api.inspect_distribution(ref, auth_config=auth)
            return found["Descriptor"]["digest"]
        except (docker.errors.DockerException, requests.RequestException, KeyError) as exc:
            log.info("No registry digest for %s (%s); pulling only if missing", ref, _message(exc))
            return None

    # The engine ---------------------------------------------------------------------------

    def _auth_config(self, ref: str) -> dict[str, str] | None:
        """The local registry's login for its own references; None (anonymous) otherwise."""
        credentials = self.local_registry.for_reference(ref) if self.local_registry else None
        return credentials.auth_config() if credentials else None

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
        containers = self.docker.api.containers()  # running ones only
        return {c["Image"] for c in containers} | {c["ImageID"] for c in containers}

    def _pull(self, action: Action) -> None:
        before = self._records[action.ref]
        log.info("Pulling %s (%s)", action.ref, action.reason)
        self._update(action.ref, status="pulling", reason=None)
        repository, tag, digest = split_reference(action.ref)
        try:
            for message in self.docker.api.pull(
                repository,
                tag=digest or tag or "latest",
                stream=True,
                decode=True,
                auth_config=self._auth_config(action.ref),
            ):
                if "error" in message:
                    raise PullError(message["error"])
            image = self.docker.images.get(action.ref)
        except (PullError, docker.errors.DockerException, requests.RequestException) as exc:
            log.warning("Pulling %s failed: %s", action.ref, _message(exc))
            self._update(action.ref, status="failed", reason=_message(exc))
            return
        pulled = LocalImage(image.id, repo_digests=tuple(image.attrs.get("RepoDigests") or ()))
        self._update(
            action.ref,
            status="pulled",
            image_id=image.id,
            size_bytes=image.attrs.get("Size"),
            digest=local_digest(pulled, action.ref) or before.digest,
            owned=True,
        )
        log.info("Pulled %s (%s)", action.ref, image.id)
        if before.owned and before.image_id and before.image_id != image.id:
            self._remove_superseded(before.image_id, action.ref)

    def _remove_superseded(self, image_id: str, ref: str) -> None:
        """Remove the image a moved tag used to name, now untagged and otherwise dangling.

        Without force the engine refuses while a container or another tag still uses it,
        which is exactly when it must stay.
        """
        try:
            self.docker.images.remove(image_id)
            log.info("Removed %s, the previous image of %s", image_id, ref)
        except docker.errors.DockerException as exc:
            log.info("Kept %s, the previous image of %s: %s", image_id, ref, _message(exc))

    def _remove(self, action: Action) -> None:
        log.info("Removing %s (%s)", action.ref, action.reason)
        try:
            self.docker.images.remove(action.ref)
        except docker.errors.NotFound:
            pass
        except docker.errors.DockerException as exc:
            log.warning("Cannot remove %s: %s", action.ref, _message(exc))
            self._update(action.ref, reason=f"no longer offered; cannot remove: {_message(exc)}")
            return
        del self._records[action.ref]
        self._publish()

    # The state file -----------------------------------------------------------------------

    def _update(self, ref: str, **changes: Any) -> None:
        record = self._records[ref].model_copy(update={**changes, "changed_at": now()})
        self._records[ref] = record
        self._publish()

    def _publish(self) -> CatalogState:
        state = CatalogState(images=tuple(self._records.values()), problems=tuple(self._problems))
        write_state(self.state_path, state)
        return state


def _message(exc: Exception) -> str:
    """The engine's own words for an API error, without the request URL docker-py adds."""
    return str(getattr(exc, "explanation", None) or exc)


# The nudge `devlab images push` and `refresh` send (`kill -HUP 1` run in the container:
# tini passes it on). Not `docker kill --signal`: the engine then counts the container as
# stopped by hand, and `restart: unless-stopped` would no longer restart it after a crash.
NUDGE = signal.SIGHUP


def wait_for_nudge(seconds: float) -> bool:
    """Sleep `seconds`, or less when nudged; True when nudged.

    NUDGE is blocked (see `main`) and taken here with sigtimedwait, so no handler runs in
    the middle of a round, and a nudge that arrives during a round ends the next wait at
    once: the round after it sees what the push added.
    """
    if signal.sigtimedwait({NUDGE}, seconds) is None:
        return False
    log.info("Nudged: checking the registries now")
    return True


def main(argv: Sequence[str] | None = None) -> int:
    # First thing, before any thread exists (all inherit the mask): a nudge that arrives
    # while starting up waits for the first wait instead of killing the process.
    signal.pthread_sigmask(signal.SIG_BLOCK, {NUDGE})
    parser = argparse.ArgumentParser(
        prog="python -m devlab.catalog",
        description="Keep the lab images the spawn menu offers pulled on this machine.",
    )
    parser.add_argument("--config", required=True, help="Platform config (config/devlab.yaml).")
    parser.add_argument("--state", required=True, help="State file the hub and status read.")
    parser.add_argument("--fallback-image", help="The locally built lab image; never pulled.")
    parser.add_argument("--profile", help="Config profile in use (devlab up --profile).")
    parser.add_argument("--interval", type=float, help="Seconds between rounds (config).")
    parser.add_argument(
        "--local-registry",
        help="The stack's registry as the engine names it (127.0.0.1:PORT); empty for none.",
    )
    parser.add_argument(
        "--local-registry-password-file",
        type=Path,
        help="Its password (user devlab), sent to that registry only.",
    )
    parser.add_argument("--once", action="store_true", help="Run one round and exit.")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = load_config(args.config, args.profile or None).catalog
    except ConfigError as exc:
        print(f"prepuller: {exc}", file=sys.stderr)
        return 2
    local = None
    if args.local_registry:
        if args.local_registry_password_file is None:
            print(
                "prepuller: --local-registry needs --local-registry-password-file", file=sys.stderr
            )
            return 2
        try:
            local = LocalRegistry.from_password_file(
                args.local_registry, args.local_registry_password_file
            )
        except (OSError, ValueError) as exc:
            print(
                f"prepuller: cannot read the local registry's password ({exc}): "
                "`devlab up` creates it in the stack's secrets",
                file=sys.stderr,
            )
            return 2
    prepuller = Prepuller(
        config, Path(args.state), fallback_image=args.fallback_image, local_registry=local
    )
    if args.once:
        state = prepuller.run_once()
        return 1 if state.problems or any(r.status == "failed" for r in state.images) else 0

    def _terminate(signum: int, frame: FrameType | None) -> None:
        # As PID 1 in a container a signal without a handler is ignored: compose stop
        # would wait for its timeout and kill. The state file is replaced atomically,
        # so leaving mid-round is safe.
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _terminate)
    prepuller.run_forever(args.interval, wait=wait_for_nudge)
    return 0


if __name__ == "__main__":
    sys.exit(main())
