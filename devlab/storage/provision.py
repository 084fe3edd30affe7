"""Apply a ProvisioningPlan to storage roots mounted in this process's filesystem.

The hub mounts the same volumes the labs and the NFS server use, so provisioning is a
few local syscalls rather than a helper container per spawn.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from devlab.storage.plan import Directory, ProvisioningPlan


class OwnershipConflict(RuntimeError):
    """An existing directory belongs to someone else; devlab reports it instead of chowning."""


def apply_plan(plan: ProvisioningPlan, roots: Mapping[str, Path]) -> list[Path]:
    """Create what is missing; return the directories created.

    Existing directories keep their contents and are never re-owned: a mismatch usually
    means two identities map to one name, and silently handing the files over would leak
    one person's data to another.
    """
    created: list[Path] = []
    for directory in plan.directories:
        target = roots[directory.root] / directory.path
        if _ensure(directory, target):
            created.append(target)
    return created


def _ensure(directory: Directory, target: Path) -> bool:
    try:
        # Created private, then seeded, then given its final owner and mode, so nobody
        # sees a half-made directory with the final permissions.
        target.mkdir(mode=0o700)
    except FileExistsError:
        info = target.lstat()
        if (info.st_uid, info.st_gid) != (directory.uid, directory.gid):
            raise OwnershipConflict(
                f"{target} exists but belongs to {info.st_uid}:{info.st_gid}, not "
                f"{directory.uid}:{directory.gid}; check which identity owns it, then fix "
                f"it by hand (chown) or remove it"
            ) from None
        return False
    if directory.seed is not None and directory.seed.is_dir():
        _seed(directory.seed, target, directory.uid, directory.gid)
    os.chown(target, directory.uid, directory.gid)
    os.chmod(target, directory.mode)
    return True


def _seed(skeleton: Path, target: Path, uid: int, gid: int) -> None:
    shutil.copytree(skeleton, target, dirs_exist_ok=True)
    for path in [*target.rglob("*")]:
        os.lchown(path, uid, gid)
