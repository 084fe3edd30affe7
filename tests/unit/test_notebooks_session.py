"""Where `devlab notebooks run` takes notebooks from, and whom it runs them as."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from devlab.config import parse_config
from devlab.notebooks.plan import PlanError
from devlab.notebooks.session import default_user, local_sources
from devlab.platform import DEFAULT_CONFIG
from devlab.tutorials import BUILTIN_DIR


def config_with(**auth: object):
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["auth"].update(auth)
    return parse_config(yaml.safe_dump(raw))


def test_notebooks_run_as_the_providers_first_mock_user():
    assert default_user(config_with()) == "alice"
    assert default_user(config_with(provider="cilogon-mock")) == "ada"


def test_a_provider_without_mock_users_needs_a_user():
    with pytest.raises(PlanError, match="--user"):
        default_user(config_with(provider="firstuse"))


def test_tutorials_are_the_shipped_ones_when_builtin(tmp_path):
    with local_sources(["tutorials", str(tmp_path)], config_with()) as paths:
        assert paths == [BUILTIN_DIR, tmp_path.resolve()]


def test_a_git_url_is_cloned_and_removed_after(tmp_path):
    origin = tmp_path / "origin"
    origin.mkdir()
    (origin / "a.ipynb").write_text("{}")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "HOME": str(tmp_path)}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x", "PATH": "/usr/bin:/bin"}
    for command in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "one"]):
        subprocess.run(["git", *command], cwd=origin, env=env, check=True)
    with local_sources([f"file://{origin}"], config_with()) as (clone,):
        assert (clone / "a.ipynb").read_text() == "{}"
    assert not clone.exists()


def test_a_url_that_cannot_be_cloned_names_it(tmp_path):
    with (
        pytest.raises(PlanError, match="cannot clone file:///nowhere"),
        local_sources(["file:///nowhere"], config_with()),
    ):
        pass
