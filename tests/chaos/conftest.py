"""The chaos tier: a real stack whose parts are crashed the way real crashes happen (the
process killed inside its container, which restart policies answer), never `docker kill`
(a deliberate stop to the engine)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devlab.testing.stack import DevlabStack


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.chaos)
            item.add_marker(pytest.mark.integration)  # needs a Docker engine, like them


@pytest.fixture(autouse=True, scope="module")
def _fresh_servers(devlab: DevlabStack) -> Iterator[None]:
    devlab.stop_all_servers()
    yield
    devlab.stop_all_servers()
