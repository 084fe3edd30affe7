"""The prepuller's published state: one JSON file the hub's spawn form and `devlab status` read.

The file is the only channel between the prepuller and its readers, so it is replaced
atomically (readers never see half a file) and a missing or damaged file reads as "no
state yet" rather than breaking the spawn page.
"""

from __future__ import annotations

import datetime
import logging
import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from devlab.catalog.tags import Role

log = logging.getLogger(__name__)

Status = Literal["missing", "pulling", "pulled", "failed"]


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class _Record(BaseModel):
    # Unknown keys are ignored (not forbidden) so an older hub can read a newer prepuller's file.
    model_config = ConfigDict(extra="ignore", frozen=True)


class ImageRecord(_Record):
    """One image the prepuller knows about: wanted by the menu, or pulled by it and kept."""

    ref: str = Field(description="The reference the menu offers and the spawner runs.")
    display_name: str
    role: Role
    source: str | None = Field(
        default=None, description="The configured repository it came from; None for refs."
    )
    desired: bool = Field(description="Whether the menu currently offers it.")
    status: Status = Field(description="missing (not on this machine), pulling, pulled, failed.")
    reason: str | None = Field(default=None, description="Why it failed or is kept.")
    digest: str | None = Field(default=None, description="Registry manifest digest, if known.")
    image_id: str | None = Field(default=None, description="Local image id when pulled.")
    size_bytes: int | None = None
    owned: bool = Field(
        default=False,
        description="Pulled by the prepuller, so it may remove it; images others put here "
        "are never removed.",
    )
    changed_at: datetime.datetime = Field(default_factory=now)

    @property
    def pulled(self) -> bool:
        return self.status == "pulled"


class Problem(_Record):
    """Something the prepuller could not do this round, e.g. an unreachable registry."""

    subject: str
    reason: str


class CatalogState(_Record):
    version: Literal[1] = 1
    updated_at: datetime.datetime = Field(default_factory=now)
    images: tuple[ImageRecord, ...] = ()
    problems: tuple[Problem, ...] = ()

    def record(self, ref: str) -> ImageRecord | None:
        return next((r for r in self.images if r.ref == ref), None)


def read_state(path: str | Path) -> CatalogState | None:
    """The state at `path`, or None when there is none yet or it cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("Cannot read catalog state %s: %s", path, exc)
        return None
    return parse_state(text, str(path))


def parse_state(text: str, source: str = "catalog state") -> CatalogState | None:
    """Parse state text; damaged state reads as none, so a half-written file never crashes."""
    try:
        return CatalogState.model_validate_json(text)
    except ValidationError as exc:
        log.warning("Ignoring damaged catalog state %s: %s", source, exc.errors()[0]["msg"])
        return None


def write_state(path: str | Path, state: CatalogState) -> None:
    """Replace the file at `path` atomically, world-readable (the hub runs as another user)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(state.model_dump_json(indent=2))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
