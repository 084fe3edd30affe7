"""Shared test set-up: integration tests need a Docker engine, and say so loudly without one."""

from __future__ import annotations

import os

import pytest

DOCKER_REQUIRED = os.environ.get("DEVLAB_REQUIRE_DOCKER") == "1"


def _docker_problem() -> str | None:
    try:
        import docker

        docker.from_env(timeout=5).ping()
    except Exception as exc:  # any failure means: no usable engine
        return str(exc)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    integration = [item for item in items if "integration" in item.keywords]
    if not integration:
        return
    problem = _docker_problem()
    if problem is None:
        return
    if DOCKER_REQUIRED:
        raise pytest.UsageError(f"DEVLAB_REQUIRE_DOCKER=1 but no Docker engine answers: {problem}")
    banner = (
        f"\n{'!' * 78}\n!! NO DOCKER ENGINE: {len(integration)} integration tests are SKIPPED.\n"
        f"!! ({problem})\n!! Start Docker, or run .ci/run, to test devlab for real.\n{'!' * 78}"
    )
    config.issue_config_time_warning(pytest.PytestWarning(banner), stacklevel=2)
    print(banner)
    skip = pytest.mark.skip(reason=f"no Docker engine: {problem}")
    for item in integration:
        item.add_marker(skip)
