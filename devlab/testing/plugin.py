"""pytest plugin: a `devlab` fixture with a real stack, and its logs on every failure.

Registered through the `pytest11` entry point, so `pip install devlab[test]` is all a
project needs. The fixture is a devlab.testing.DevlabStack, started once per session.

Which config the test stack runs with, first found wins:
--devlab-config FILE, then DEVLAB_TEST_CONFIG, then devlab.yaml in pytest's rootdir (the
project's root), then devlab's packaged default. DEVLAB_CONFIG, the variable `devlab up`
reads, is ignored here: a developer's own stack does not leak into the tests.

--devlab-project-dir DIR   (DEVLAB_PROJECT_DIR)   a devlab checkout's stack, not the installed one
--devlab-reuse STACK       (DEVLAB_TEST_REUSE)    use this running stack; do not tear it down
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from devlab.testing.stack import DevlabStack

STACK = pytest.StashKey[DevlabStack]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("devlab", "devlab: a JupyterHub platform stack for tests")
    group.addoption(
        "--devlab-config",
        help="platform config for the test stack [default: <rootdir>/devlab.yaml]",
    )
    group.addoption("--devlab-project-dir", help="a devlab checkout whose stack to run")
    group.addoption("--devlab-reuse", metavar="STACK", help="use this running stack as is")


def _option(config: pytest.Config, name: str, env: str) -> str | None:
    return config.getoption(name) or os.environ.get(env) or None


def stack_for(config: pytest.Config, state_dir: Path) -> DevlabStack:
    """The session's stack as the options, the environment and pytest's rootdir say."""
    return DevlabStack(
        _option(config, "--devlab-config", "DEVLAB_TEST_CONFIG"),
        root=config.rootpath,
        state_dir=state_dir,
        project_dir=_option(config, "--devlab-project-dir", "DEVLAB_PROJECT_DIR"),
        reuse=_option(config, "--devlab-reuse", "DEVLAB_TEST_REUSE"),
        env={k: v for k, v in os.environ.items() if k != "DEVLAB_CONFIG"},
    )


@pytest.fixture(scope="session")
def devlab(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DevlabStack]:
    """A running devlab stack for this test session, torn down (labs included) at its end."""
    config = request.config
    stack = stack_for(config, tmp_path_factory.mktemp("devlab-state"))
    config.stash[STACK] = stack
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    stack = item.config.stash.get(STACK, None)
    if report.failed and stack is not None and "devlab" in getattr(item, "fixturenames", ()):
        report.sections.extend(stack.failure_logs())
    return report
