"""devlab's own tutorials: the notebooks shipped, and the git repository the hub makes of them.

The repository is checked with real git (the client labs run): fsck, clone, and a fetch
after an update fast-forwards, as nbgitpuller in an existing home needs.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import nbformat
import pytest

from devlab.config import load_config
from devlab.platform import DEFAULT_CONFIG
from devlab.tutorials import BUILTIN_DIR
from devlab.tutorials.repository import commit_on, publish, read_head, snapshot


def git(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        ["git", *map(str, args)],
        cwd=cwd,
        env=None if env is None else {**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def folder(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(exist_ok=True)
    for name, text in files.items():
        (path / name).write_text(text)
    return path


def test_the_commit_is_the_one_git_makes_of_the_same_files(tmp_path):
    """The ids are git's, and a repository git made with them needs no new commit."""
    source = folder(tmp_path / "source", {"b.ipynb": "[]\n", "a.ipynb": "{}\n"})
    work = tmp_path / "work"
    git("init", "--quiet", work)
    folder(work, {"b.ipynb": "[]\n", "a.ipynb": "{}\n"})
    git("add", ".", cwd=work)
    who = {"GIT_AUTHOR_NAME": "devlab", "GIT_AUTHOR_EMAIL": "devlab@localhost"}
    who |= {"GIT_COMMITTER_NAME": "devlab", "GIT_COMMITTER_EMAIL": "devlab@localhost"}
    who |= {"GIT_AUTHOR_DATE": "946684800 +0000", "GIT_COMMITTER_DATE": "946684800 +0000"}
    tree = git("write-tree", cwd=work)
    by_git = git("commit-tree", tree, "-m", "The tutorials devlab ships", cwd=work, env=who)
    assert publish(source, tmp_path / "ours.git", "main") == by_git

    theirs = tmp_path / "theirs.git"
    git("init", "--quiet", "--bare", theirs)
    git("push", "--quiet", theirs, f"{by_git}:refs/heads/main", cwd=work)
    assert publish(source, theirs, "main") is None
    assert read_head(theirs, "main") == by_git


def test_the_same_files_in_any_order_give_the_same_commit():
    files = {"b.ipynb": b"{}", "a.ipynb": b"[]"}
    ours, again = snapshot(files)[1], snapshot(dict(reversed(files.items())))[1]
    assert commit_on(ours, None).id == commit_on(again, None).id


@pytest.mark.parametrize("name", ["", "sub/a.ipynb", ".git", ".."])
def test_only_plain_file_names_are_committed(name):
    with pytest.raises(ValueError, match="plain file name"):
        snapshot({name: b""})


def test_publish_makes_a_repository_git_clones_and_updates_fast_forward(tmp_path):
    source, repo = folder(tmp_path / "source", {"a.ipynb": "one\n"}), tmp_path / "tutorials.git"
    assert read_head(repo, "main") is None
    first = publish(source, repo, "main")
    assert first is not None
    assert publish(source, repo, "main") is None  # unchanged: no new commit
    git("fsck", "--strict", cwd=repo)
    clone = tmp_path / "clone"
    git("clone", "--quiet", repo, clone)
    assert (clone / "a.ipynb").read_text() == "one\n"

    folder(source, {"a.ipynb": "two\n", "b.ipynb": "new\n"})
    second = publish(source, repo, "main")
    assert second is not None
    assert read_head(repo, "main") == second
    git("fsck", "--strict", cwd=repo)
    git("fetch", "--quiet", cwd=clone)
    assert git("rev-parse", "origin/main^", cwd=clone) == first  # one commit on top
    git("merge", "--quiet", "--ff-only", "origin/main", cwd=clone)
    assert (clone / "b.ipynb").read_text() == "new\n"
    # Labs read the repository as their users: everything world-readable, nothing writable.
    modes = {p.stat().st_mode & 0o7777 for p in [repo, *repo.rglob("*")]}
    assert modes <= {0o644, 0o755}


def test_the_shipped_tutorials_are_notebooks_without_outputs():
    notebooks = sorted(BUILTIN_DIR.glob("*.ipynb"))
    assert len(notebooks) == 4
    readme = (BUILTIN_DIR / "README.md").read_text()
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        assert notebook.cells[0].source.startswith("# "), f"{path.name} starts with its title"
        for cell in notebook.cells:
            assert not cell.get("outputs"), path.name
            assert cell.get("execution_count") is None, path.name
        assert path.name in readme


def test_the_packaged_config_turns_the_builtin_tutorials_on_and_null_turns_them_off(tmp_path):
    tutorials = load_config(DEFAULT_CONFIG).lab.tutorials
    assert tutorials is not None
    assert tutorials.is_builtin
    assert not tutorials.is_local
    own = tmp_path / "devlab.yaml"
    own.write_text("lab:\n  tutorials: null\n")
    assert load_config(own).lab.tutorials is None
