"""Notebooks as tests in a downstream repository's CI: one test per notebook (and image).

from devlab.testing.notebooks import assert_notebooks_pass, notebook_params

@pytest.mark.parametrize("notebook", notebook_params("notebooks/"))
@pytest.mark.parametrize("image", ["recommended", "weekly"])
def test_notebook(devlab, notebook, image):
    assert_notebooks_pass(devlab.run_notebooks(notebook, images=image))
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from devlab.notebooks.plan import discover
from devlab.notebooks.report import CaseResult, all_passed, failures, table


def notebook_params(*paths: str | Path) -> list[object]:
    """A pytest parameter per notebook under `paths` (found at collection, named by their
    path); notebooks whose metadata opts out are marked skipped with their reason."""
    return [
        pytest.param(
            spec.path,
            id=spec.name,
            marks=[pytest.mark.skip(reason=spec.skip)] if spec.skip else [],
        )
        for spec in discover([Path(p) for p in paths])
    ]


def assert_notebooks_pass(results: Sequence[CaseResult]) -> None:
    """Fail with the matrix and each failing cell's source and traceback."""
    if not results:
        raise AssertionError("no notebook ran")
    if not all_passed(results):
        raise AssertionError(f"{table(results)}\n{failures(results)}")
