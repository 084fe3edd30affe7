"""pytest plugin: a `devlab` fixture with a real stack, and its logs on every failure.

Registered through the `pytest11` entry point, so `pip install devlab[test]` is all a
project needs. Options (or environment variables):

--devlab-config FILE       (DEVLAB_TEST_CONFIG)   platform config for the test stack
--devlab-project-dir DIR   (DEVLAB_PROJECT_DIR)   devlab checkout with compose.yaml
--devlab-reuse STACK       (DEVLAB_TEST_REUSE)    use this running stack; do not tear it down
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator

import pytest

from devlab.testing.session import DevlabSession

SESSION = pytest.StashKey[DevlabSession]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("devlab", "devlab: a JupyterHub platform stack for tests")
    group.addoption("--devlab-config", help="platform config for the test stack")
    group.addoption("--devlab-project-dir", help="devlab checkout holding compose.yaml")
    group.addoption("--devlab-reuse", metavar="STACK", help="use this running stack as is")


def _option(config: pytest.Config, name: str, env: str) -> str | None:
    return config.getoption(name) or os.environ.get(env) or None


@pytest.fixture(scope="session")
def devlab(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DevlabSession]:
    """A running devlab stack for this test session, torn down (labs included) at its end."""
    config = request.config
    session = DevlabSession(
        state_dir=tmp_path_factory.mktemp("devlab-state"),
        config=_option(config, "--devlab-config", "DEVLAB_TEST_CONFIG"),
        project_dir=_option(config, "--devlab-project-dir", "DEVLAB_PROJECT_DIR"),
        reuse=_option(config, "--devlab-reuse", "DEVLAB_TEST_REUSE"),
    )
    config.stash[SESSION] = session
    try:
        session.start()
        yield session
    finally:
        session.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    session = item.config.stash.get(SESSION, None)
    if report.failed and session is not None and "devlab" in getattr(item, "fixturenames", ()):
        for service in ("hub", "proxy"):
            report.sections.append((f"devlab {service} log", _safe(session.logs, service)))
        for user in session.users:
            report.sections.append((f"devlab lab log ({user})", _safe(session.lab_logs, user)))
    return report


def _safe(func: object, arg: str) -> str:
    try:
        return func(arg)  # type: ignore[operator]
    except Exception as exc:  # a failure report must not fail itself
        return f"(could not read: {exc})"
