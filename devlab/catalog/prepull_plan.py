"""The prepuller's decisions, from plain data: what to pull, keep and remove, and the state.

Pure (no engine, no registry, no clock): the round in `devlab.catalog.prepuller` gathers
what the menu wants (`Desired`), what the engine holds (`LocalImage`) and which images
running containers use, and these functions say what to do and what the state file says
before anything is done. Tested without an engine in tests/unit/test_catalog_prepull_plan.py.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from devlab.catalog.state import CatalogState, ImageRecord
from devlab.catalog.tags import Role, canonical_reference


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


def first_of_each(desired: Sequence[Desired]) -> list[Desired]:
    """Each ref once, as the first entry naming it says (refs compared canonically).

    A ref both listed in `images:` and chosen from a source would otherwise be offered,
    pulled and recorded twice; the resolver puts sources first, so their labels win.
    """
    unique = {canonical_reference(d.ref): d for d in reversed(desired)}
    return [d for d in desired if unique[canonical_reference(d.ref)] is d]


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
