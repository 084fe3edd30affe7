"""What must exist on shared storage before a user's lab starts, computed without touching it."""

from __future__ import annotations

from dataclasses import dataclass

from devlab.identity import Identity

HOME_MODE = 0o700


@dataclass(frozen=True)
class Directory:
    """A directory relative to a storage root, with the owner and mode it must have."""

    root: str  # which volume: "homes" or "project"
    path: str  # relative to that root
    uid: int
    gid: int
    mode: int


@dataclass(frozen=True)
class ProvisioningPlan:
    directories: tuple[Directory, ...]


def plan_for(identity: Identity) -> ProvisioningPlan:
    """The directories `identity` needs: a private home owned by the user and their group."""
    home = Directory("homes", identity.username, identity.uid, identity.gid, HOME_MODE)
    return ProvisioningPlan((home,))
