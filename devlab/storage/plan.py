"""What must exist on shared storage before a user's lab starts, computed without touching it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from devlab.identity import Identity

HOME_MODE = 0o700
# setgid so files created inside belong to the org's group; no access for others.
PROJECT_MODE = 0o2770
SKELETON = Path(__file__).parent / "skel"


@dataclass(frozen=True)
class Directory:
    """A directory relative to a storage root, with the owner and mode it must have.

    `seed` names a skeleton directory copied in (owned by uid:gid) when it is created.
    """

    root: str  # which volume: "homes" or "project"
    path: str  # relative to that root
    uid: int
    gid: int
    mode: int
    seed: Path | None = None


@dataclass(frozen=True)
class ProvisioningPlan:
    directories: tuple[Directory, ...]


def plan_for(identity: Identity, skeleton: Path | None = SKELETON) -> ProvisioningPlan:
    """A private home seeded from the skeleton, and a shared directory per org."""
    home = Directory("homes", identity.username, identity.uid, identity.gid, HOME_MODE, skeleton)
    projects = tuple(
        Directory("project", group.name, 0, group.gid, PROJECT_MODE) for group in identity.groups
    )
    return ProvisioningPlan((home, *projects))
