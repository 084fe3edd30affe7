"""devlab's own tutorials: the notebooks shipped, and the git repository the hub makes of them.

The repository is checked with real git (the client labs run): fsck, clone, and a fetch
after an update fast-forwards, as nbgitpuller in an existing home needs.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
import pytest

from devlab.config import load_config
from devlab.platform import DEFAULT_CONFIG
from devlab.tutorials import BUILTIN_DIR, Head, plan_update, publish, read_head


def git(*args: str | Path, cwd: Path | None = None) -> str:
    return subprocess.run(
        ["git", *map(str, args)], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_object_ids_are_gits():
    update = plan_update({"hello.txt": b"hello\n"}, None)
    assert update is not None
    # `git hash-object` of "hello\n" is ce0136...; the tree and commit ids follow from it.
    assert "ce013625030ba8dba906f756967f9e9ca394464a" in update.objects


def test_the_same_files_give_the_same_commit_and_no_update_when_present():
    files = {"b.ipynb": b"{}", "a.ipynb": b"[]"}
    first, again = plan_update(files, None), plan_update(dict(reversed(files.items())), None)
    assert first is not None
    assert again is not None
    assert first.commit == again.commit
    tree = next(i for i, data in first.objects.items() if data.startswith(b"tree "))
    assert plan_update(files, Head(first.commit, tree)) is None


def test_changed_files_make_a_commit_on_top_of_the_last():
    first = plan_update({"a.ipynb": b"1"}, None)
    assert first is not None
    second = plan_update({"a.ipynb": b"2"}, Head(first.commit, "0" * 40))
    assert second is not None
    assert f"parent {first.commit}\n".encode() in second.objects[second.commit]


@pytest.mark.parametrize("name", ["", "sub/a.ipynb", ".git", ".."])
def test_only_plain_file_names_are_committed(name):
    with pytest.raises(ValueError, match="plain file name"):
        plan_update({name: b""}, None)


def test_publish_makes_a_repository_git_clones_and_updates_fast_forward(tmp_path):
    source, repo = tmp_path / "source", tmp_path / "tutorials.git"
    source.mkdir()
    (source / "a.ipynb").write_text("one\n")
    first = publish(source, repo, "main")
    assert first is not None
    assert publish(source, repo, "main") is None  # unchanged: no new commit
    git("fsck", "--strict", cwd=repo)
    clone = tmp_path / "clone"
    git("clone", "--quiet", repo, clone)
    assert (clone / "a.ipynb").read_text() == "one\n"

    (source / "a.ipynb").write_text("two\n")
    (source / "b.ipynb").write_text("new\n")
    second = publish(source, repo, "main")
    assert second is not None
    assert read_head(repo, "main") is not None
    git("fetch", "--quiet", cwd=clone)
    git("merge-base", "--is-ancestor", first, "origin/main", cwd=clone)
    assert git("show", "origin/main:b.ipynb", cwd=clone) == "new"
    # Labs read the repository as their users: everything world-readable, nothing writable.
    modes = {p.stat().st_mode & 0o777 for p in repo.rglob("*")}
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
