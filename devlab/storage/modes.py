"""How labs reach /home and /project: over NFS from the nfs service, or the volumes directly.

Production mounts homes over NFS. Engines whose kernel has no NFS client (the machines
devlab is developed on among them) mount the same named volumes directly instead; the
ownership and permission semantics are the same because the files are the same.
"""

from __future__ import annotations

from typing import Literal

StorageMode = Literal["nfs", "volume"]
# The NFSv4 pseudo paths the nfs service exports, by storage root.
EXPORTS = {"homes": "/homes", "project": "/project"}
MOUNT_POINTS = {"homes": "/home", "project": "/project"}


def volume_name(stack: str, root: str, mode: StorageMode) -> str:
    """The Docker volume a lab mounts for `root` ("homes" or "project")."""
    base = f"{stack}_{root}"
    return f"{base}_nfs" if mode == "nfs" else base


def nfs_volume_options(host: str, port: int, export: str) -> dict[str, str]:
    """Docker local-driver options for an NFSv4.1 mount, made by the engine's kernel."""
    return {
        "type": "nfs",
        "o": f"addr={host},port={port},nfsvers=4.1,rw,hard,timeo=600",
        "device": f":{export}",
    }


def lab_volumes(stack: str, mode: StorageMode) -> dict[str, str]:
    """DockerSpawner's `volumes`: volume name -> mount point in the lab."""
    return {volume_name(stack, root, mode): path for root, path in MOUNT_POINTS.items()}


def mode_from_filesystems(proc_filesystems: str) -> tuple[StorageMode, str]:
    """Choose the mode from the engine kernel's /proc/filesystems, with the reason."""
    names = {line.split()[-1] for line in proc_filesystems.splitlines() if line.strip()}
    if "nfs4" in names:
        return "nfs", "the engine's kernel has an NFSv4 client"
    return "volume", (
        "the engine's kernel has no NFS client (no nfs4 in /proc/filesystems), so labs mount "
        "the volumes directly; set storage.mode: nfs in config/devlab.yaml to force NFS"
    )
