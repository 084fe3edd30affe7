"""One prepull round: resolve what the menu offers, plan, pull and remove, publish the state.

The round glues three parts: the registries (`devlab.catalog.registry`, which tags a
source holds and their digests), the pure planner (`devlab.catalog.prepull_plan`) and
the engine (`devlab.catalog.prepull_engine`). A bad reference or an unreachable registry
is recorded in the state file and the round goes on. The loop, the nudge and the command
line are in `devlab.catalog.prepull_main`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devlab.catalog.menu import FALLBACK_DISPLAY_NAME
from devlab.catalog.prepull_engine import EngineError, ImageEngine, ImageGone
from devlab.catalog.prepull_plan import (
    Action,
    Desired,
    carried_forward,
    first_of_each,
    local_digest,
    plan,
    records_for,
)
from devlab.catalog.registry import (
    LocalRegistry,
    RegistryClient,
    RegistryError,
    split_repository,
)
from devlab.catalog.state import CatalogState, ImageRecord, Problem, now, read_state, write_state
from devlab.catalog.tags import Role, reference_display_name, select_tags
from devlab.config.catalog import CatalogConfig, ImageSource, is_local_alias

log = logging.getLogger(__name__)


@dataclass
class Prepuller:
    """Pulls what the catalog offers, removes what it pulled and no longer offers.

    The state file is rewritten after every change, so the spawn form shows an image as
    soon as it is here.
    """

    config: CatalogConfig
    state_path: Path
    fallback_image: str | None = None
    # The stack's own registry and its password; no other registry gets credentials.
    local_registry: LocalRegistry | None = None
    engine: ImageEngine = field(init=False)  # with the same registry's login
    _records: dict[str, ImageRecord] = field(default_factory=dict, init=False)
    _problems: list[Problem] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.engine = ImageEngine(local_registry=self.local_registry)

    def run_once(self) -> CatalogState:
        previous = read_state(self.state_path)
        desired, self._problems = self.resolve(previous)
        local = self.engine.local_images()
        todo = plan(
            desired,
            local,
            self.engine.running_refs(),
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
        return first_of_each(desired), problems

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
        """The registry's digest for an `images:` ref; None (pull only if missing) when unknown."""
        try:
            return self.engine.registry_digest(ref)
        except EngineError as exc:
            log.info("No registry digest for %s (%s); pulling only if missing", ref, exc)
            return None

    # Acting on the plan -------------------------------------------------------------------

    def _pull(self, action: Action) -> None:
        before = self._records[action.ref]
        log.info("Pulling %s (%s)", action.ref, action.reason)
        self._update(action.ref, status="pulling", reason=None)
        try:
            pulled = self.engine.pull(action.ref)
        except EngineError as exc:
            log.warning("Pulling %s failed: %s", action.ref, exc)
            self._update(action.ref, status="failed", reason=str(exc))
            return
        self._update(
            action.ref,
            status="pulled",
            image_id=pulled.id,
            size_bytes=pulled.size,
            digest=local_digest(pulled, action.ref) or before.digest,
            owned=True,
        )
        log.info("Pulled %s (%s)", action.ref, pulled.id)
        if before.owned and before.image_id and before.image_id != pulled.id:
            self._remove_superseded(before.image_id, action.ref)

    def _remove_superseded(self, image_id: str, ref: str) -> None:
        """Remove the image a moved tag used to name, now untagged and otherwise dangling.

        Without force the engine refuses while a container or another tag still uses it,
        which is exactly when it must stay.
        """
        try:
            self.engine.remove(image_id)
            log.info("Removed %s, the previous image of %s", image_id, ref)
        except EngineError as exc:
            log.info("Kept %s, the previous image of %s: %s", image_id, ref, exc)

    def _remove(self, action: Action) -> None:
        log.info("Removing %s (%s)", action.ref, action.reason)
        try:
            self.engine.remove(action.ref)
        except ImageGone:
            pass
        except EngineError as exc:
            log.warning("Cannot remove %s: %s", action.ref, exc)
            self._update(action.ref, reason=f"no longer offered; cannot remove: {exc}")
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
