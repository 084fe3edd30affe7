"""A running lab for tests: devlab.client.lab's LabClient (contents API, kernels) plus
notebooks executed inside the lab (devlab.notebooks.execute) and stopping the server."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import nbformat

from devlab.client.lab import ExecutionResult, LabClient, LabError
from devlab.notebooks.execute import execute_in_lab, inject_parameters, place

__all__ = ["ExecutionResult", "Lab", "LabError", "NotebookError"]


class NotebookError(AssertionError):
    """A notebook cell failed; `cell_index`, `source` and `traceback` say which and why."""

    def __init__(self, path: str, cell_index: int, source: str, traceback: str) -> None:
        self.path, self.cell_index, self.source, self.traceback = (
            path,
            cell_index,
            source,
            traceback,
        )
        super().__init__(
            f"cell {cell_index} of {path} failed:\n{textwrap.indent(source, '    ')}\n{traceback}"
        )


class Lab(LabClient):
    """One user's running server, reached through the proxy with that user's API token."""

    def __init__(
        self,
        hub_url: str,
        username: str,
        token: str,
        stop: Callable[[], None],
        timeout: float = 60,
    ) -> None:
        super().__init__(hub_url, username, token, timeout)
        self._stop = stop

    # Notebooks, executed inside the lab (its kernel, its image, its files).

    def run_notebook(
        self,
        notebook: str | Path | Mapping[str, Any],
        parameters: Mapping[str, Any] | None = None,
        timeout: float = 600,
    ) -> nbformat.NotebookNode:
        """Execute a notebook in the lab and return it executed.

        `notebook` is a notebook object, a local .ipynb file, or the path of a notebook
        already in the lab. Parameters become a cell after the one tagged `parameters`
        (or at the top), as papermill does. A failing cell raises NotebookError.
        """
        if isinstance(notebook, Mapping):
            node = nbformat.from_dict(notebook)
        elif Path(notebook).is_file():
            node = nbformat.read(str(notebook), as_version=4)
        elif parameters:
            node = nbformat.reads(self.read_file(str(notebook)), as_version=4)
        else:
            node = None  # run in place
        if node is not None and parameters:
            inject_parameters(node, parameters)
        path = str(notebook) if node is None else place(self, node)
        run = execute_in_lab(self, path, timeout)
        if run.failed_cell is not None:
            source = run.notebook.cells[run.failed_cell].source
            raise NotebookError(path, run.failed_cell, source, run.traceback)
        if run.traceback:  # failed outside any cell, e.g. a timeout or a dead kernel
            raise NotebookError(path, -1, "", run.traceback)
        return run.notebook

    def stop(self) -> None:
        self._stop()
