"""Storage operations that need the Docker engine: mode detection, NFS volumes, export."""

from __future__ import annotations

import gzip
import io
import shutil
import tarfile
from collections.abc import Iterable
from pathlib import Path

import docker
from docker.errors import NotFound

from devlab.storage.modes import StorageMode, mode_from_filesystems, nfs_volume_options


def archive_text(stream: Iterable[bytes]) -> str | None:
    """The text of the single file in an engine archive (`get_archive` of one path)."""
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.next()
        handle = tar.extractfile(member) if member else None
        return handle.read().decode() if handle else None


def detect_mode(client: docker.DockerClient, image: str) -> tuple[StorageMode, str]:
    """Read the engine kernel's filesystems from a throwaway container (not this host's:
    Docker Desktop's kernel is a VM's)."""
    output = client.containers.run(
        image, ["cat", "/proc/filesystems"], remove=True, network_mode="none", entrypoint=[]
    )
    return mode_from_filesystems(output.decode())


def ensure_nfs_volume(
    api: docker.APIClient, name: str, host: str, port: int, export: str, labels: dict[str, str]
) -> None:
    """Create the lab's NFS-backed volume once; the engine mounts it when a lab starts.

    Takes the low-level client because that is what DockerSpawner holds, and the labels
    by which `devlab down --volumes` finds the volume.
    """
    try:
        api.inspect_volume(name)
    except NotFound:
        api.create_volume(
            name,
            driver="local",
            driver_opts=nfs_volume_options(host, port, export),
            labels=labels,
        )


def export_tree(client: docker.DockerClient, volume: str, path: str, image: str, out: Path) -> None:
    """Write `path` inside `volume` to a gzipped tar at `out`, numeric owners and modes kept.

    The engine's archive API copies from a created, never started container, so nothing
    runs and nothing can change the files while they are read.
    """
    container = client.containers.create(
        image, ["true"], volumes={volume: {"bind": "/export", "mode": "ro"}}, entrypoint=[]
    )
    try:
        stream, _ = container.get_archive(f"/export/{path}")
        tmp = out.with_name(out.name + ".part")
        with gzip.open(tmp, "wb") as target:
            for chunk in stream:
                target.write(chunk)
        shutil.move(tmp, out)
    finally:
        container.remove(force=True)
