"""The tutorials devlab ships, kept as a git repository that labs refresh from.

Labs refresh their standard notebooks with nbgitpuller, which needs a git repository.
For `lab.tutorials.repository: builtin` the hub writes one from the notebooks in this
package into the stack's tutorials volume (mounted read-only into labs) when it starts.
It writes git's loose objects itself: the hub image has no git, and a fixed author and
date make the commit a function of the files and the previous commit, so an unchanged
package adds no commit. A changed package adds one on top of the last, so nbgitpuller
in existing homes merges it as it would any upstream change.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from devlab.platform import PLATFORM_DIR

BUILTIN = "builtin"  # lab.tutorials.repository naming the tutorials below
BUILTIN_DIR = PLATFORM_DIR / "tutorials"
# Who and when every commit says: fixed, so the same files give the same commit id.
SIGNATURE = b"devlab <devlab@localhost> 946684800 +0000"
MESSAGE = b"The tutorials devlab ships\n"


def volume(stack: str) -> str:
    """The Docker volume holding the builtin tutorials repository (compose.yaml names it)."""
    return f"{stack}_tutorials"


@dataclass(frozen=True)
class Head:
    """The branch's commit and that commit's tree, as found in the repository."""

    commit: str
    tree: str


@dataclass(frozen=True)
class Update:
    """The objects to add (id -> git's uncompressed object) and the branch's new commit."""

    objects: dict[str, bytes]
    commit: str


def _object(kind: bytes, body: bytes) -> tuple[str, bytes]:
    data = kind + b" %d\0" % len(body) + body
    return hashlib.sha1(data).hexdigest(), data  # git names objects by SHA-1


def plan_update(files: Mapping[str, bytes], head: Head | None) -> Update | None:
    """What to write so the branch holds exactly `files` (name -> content); None when it
    already does. Files are one flat folder, committed as regular 0644 files."""
    for name in files:
        if not name or "/" in name or "\0" in name or name in (".", "..", ".git"):
            raise ValueError(f"{name!r} is not a plain file name for the tutorials repository")
    objects: dict[str, bytes] = {}
    entries = b""
    for name in sorted(files, key=str.encode):
        blob, data = _object(b"blob", files[name])
        objects[blob] = data
        entries += b"100644 " + name.encode() + b"\0" + bytes.fromhex(blob)
    tree, data = _object(b"tree", entries)
    if head is not None and head.tree == tree:
        return None
    objects[tree] = data
    lines = [b"tree " + tree.encode()]
    lines += [] if head is None else [b"parent " + head.commit.encode()]
    lines += [b"author " + SIGNATURE, b"committer " + SIGNATURE, b"", MESSAGE]
    body = b"\n".join(lines)
    commit, data = _object(b"commit", body)
    objects[commit] = data
    return Update(objects, commit)


def read_head(repo: Path, branch: str) -> Head | None:
    """The branch's commit and tree in a repository `publish` wrote; None when it has none."""
    try:
        commit = (repo / "refs" / "heads" / branch).read_text().strip()
        raw = zlib.decompress((repo / "objects" / commit[:2] / commit[2:]).read_bytes())
    except (FileNotFoundError, zlib.error):
        return None
    first_line = raw.split(b"\0", 1)[1].split(b"\n", 1)[0]
    return Head(commit, first_line.removeprefix(b"tree ").decode())


def publish(source: Path, repo: Path, branch: str) -> str | None:
    """Make the bare repository `repo`'s `branch` hold the files of the folder `source`.

    Returns the new commit, or None when the branch already held them. Everything is
    world-readable: labs read it as their users' uids.
    """
    files = {p.name: p.read_bytes() for p in sorted(source.iterdir()) if p.is_file()}
    update = plan_update(files, read_head(repo, branch))
    if update is None:
        return None
    for path in (repo / "objects", repo / "refs" / "heads"):
        path.mkdir(parents=True, exist_ok=True)
    _write(repo / "HEAD", f"ref: refs/heads/{branch}\n".encode())
    _write(repo / "config", b"[core]\n\trepositoryformatversion = 0\n\tbare = true\n")
    for object_id, data in update.objects.items():
        path = repo / "objects" / object_id[:2] / object_id[2:]
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            _write(path, zlib.compress(data))
    # The branch moves last, when every object it needs is in place.
    _write(repo / "refs" / "heads" / branch, update.commit.encode() + b"\n")
    for directory, _, _ in os.walk(repo):
        Path(directory).chmod(0o755)
    return update.commit


def _write(path: Path, data: bytes) -> None:
    """Replace `path` at once: a lab cloning meanwhile sees the old file or the new one."""
    partial = path.with_name(path.name + ".tmp")
    partial.write_bytes(data)
    partial.chmod(0o644)
    partial.replace(path)
