"""The chaos tier: a real stack whose parts are crashed the way real crashes happen (the
process killed inside its container, which restart policies answer), never `docker kill`
(a deliberate stop to the engine).

Each test records what it measured in `chaos_report`; the tier ends with one table of
figures against the issue's goals (also saved as JSON in pytest's cache, to compare runs).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from devlab.testing.stack import DevlabStack


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    goal: str  # e.g. "<= 5": the goal, for the reader


@dataclass
class ChaosReport:
    figures: list[Figure] = field(default_factory=list)

    def record(self, name: str, value: float, unit: str, goal: str) -> None:
        self.figures.append(Figure(name, round(value, 3), unit, goal))


_REPORT = ChaosReport()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.chaos)
            item.add_marker(pytest.mark.integration)  # needs a Docker engine, like them


@pytest.fixture
def chaos_report() -> ChaosReport:
    return _REPORT


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    if not _REPORT.figures:
        return
    terminalreporter.section("devlab chaos report")
    width = max(len(figure.name) for figure in _REPORT.figures)
    for figure in _REPORT.figures:
        terminalreporter.write_line(
            f"{figure.name:<{width}} {figure.value:>9g} {figure.unit:<8} goal {figure.goal}"
        )
    if getattr(config, "cache", None) is not None:  # absent with -p no:cacheprovider
        saved = config.cache.mkdir("devlab-chaos") / "report.json"
        saved.write_text(json.dumps([asdict(figure) for figure in _REPORT.figures], indent=2))
        terminalreporter.write_line(f"saved to {saved}")


@pytest.fixture(autouse=True, scope="module")
def _fresh_servers(devlab: DevlabStack) -> Iterator[None]:
    devlab.stop_all_servers()
    yield
    devlab.stop_all_servers()
