"""The tutorials devlab ships, written as a git repository that labs refresh from.

Labs refresh their standard notebooks with nbgitpuller, which needs a git repository.
For `lab.tutorials.repository: builtin` the hub writes one from the notebooks in this
package into the stack's tutorials volume (mounted read-only into labs) when it starts.
It writes it with dulwich, as the hub image has no git. A fixed author and date make
the commit a function of the files and the previous commit, so an unchanged package
adds no commit. A changed package adds one on top of the last, so nbgitpuller in
existing homes merges it as it would any upstream change.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dulwich.errors import NotGitRepository
from dulwich.objects import Blob, Commit, ObjectID, Tree
from dulwich.objectspec import parse_commit
from dulwich.refs import Ref
from dulwich.repo import Repo

# Who and when every commit says: fixed, so the same files give the same commit id.
AUTHOR = b"devlab <devlab@localhost>"
DATE = 946684800  # 2000-01-01 00:00:00 UTC
MESSAGE = b"The tutorials devlab ships\n"


def snapshot(files: Mapping[str, bytes]) -> tuple[list[Blob], Tree]:
    """The blobs and the tree holding exactly `files` (name -> content): one flat
    folder of regular 0644 files."""
    blobs, tree = [], Tree()
    for name, content in files.items():
        if not name or "/" in name or "\0" in name or name in (".", "..", ".git"):
            raise ValueError(f"{name!r} is not a plain file name for the tutorials repository")
        blob = Blob.from_string(content)
        tree.add(name.encode(), 0o100644, blob.id)
        blobs.append(blob)
    return blobs, tree


def commit_on(tree: Tree, parent: ObjectID | None) -> Commit:
    """The commit of `tree` on top of `parent` (None: the first), by the fixed author."""
    commit = Commit()
    commit.tree = tree.id
    commit.parents = [] if parent is None else [parent]
    commit.author = commit.committer = AUTHOR
    commit.author_time = commit.commit_time = DATE
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = MESSAGE
    return commit


def read_head(repo: Path, branch: str) -> str | None:
    """The branch's commit in the repository `repo`; None when it has none."""
    try:
        with Repo(repo) as git:
            return git.refs[_branch_ref(branch)].decode()
    except (NotGitRepository, KeyError):
        return None


def publish(source: Path, repo: Path, branch: str) -> str | None:
    """Make the bare repository `repo`'s `branch` hold the files of the folder `source`.

    Returns the new commit, or None when the branch already held them. Everything is
    world-readable: labs read it as their users' uids.
    """
    blobs, tree = snapshot({p.name: p.read_bytes() for p in source.iterdir() if p.is_file()})
    ref = _branch_ref(branch)
    repo.mkdir(parents=True, exist_ok=True)
    try:
        git = Repo(repo)
    except NotGitRepository:  # a new or empty folder, as a fresh volume is
        git = Repo.init_bare(repo, default_branch=branch.encode())
    with git:
        _, parent = git.refs.follow(ref)
        if parent is not None and parse_commit(git, parent).tree == tree.id:
            return None
        commit = commit_on(tree, parent)
        for obj in (*blobs, tree, commit):
            git.object_store.add_object(obj)
        # The branch moves last, when every object it needs is in place.
        git.refs[ref] = commit.id
        git.refs.set_symbolic_ref(Ref(b"HEAD"), ref)
    # dulwich leaves modes to the umask (and objects read-only): labs need to read all.
    for directory, _, names in os.walk(repo):
        Path(directory).chmod(0o755)
        for name in names:
            Path(directory, name).chmod(0o644)
    return commit.id.decode()


def _branch_ref(branch: str) -> Ref:
    return Ref(f"refs/heads/{branch}".encode())
