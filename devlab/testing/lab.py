"""A running lab for tests: devlab.client.lab's LabClient (contents API, kernels) plus
notebooks executed inside the lab (nbformat, the test extra) and stopping the server."""

from __future__ import annotations

import json
import textwrap
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import nbformat

from devlab.client.lab import ExecutionResult, LabClient, LabError, strip_ansi

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
        source_path = self._place_notebook(notebook, parameters)
        out_path = source_path.removesuffix(".ipynb") + ".executed.ipynb"
        runner = _RUNNER.format(src=source_path, out=out_path, timeout=timeout)
        outcome = self.execute(runner, timeout=timeout + 60)
        if not outcome.ok:
            raise LabError(f"the notebook runner itself failed: {outcome.error}")
        report = json.loads(outcome.stdout.strip().splitlines()[-1])
        report["traceback"] = strip_ansi(report["traceback"])
        executed = nbformat.reads(self.read_file(out_path), as_version=4)
        index = report["failed_cell"]
        if index is not None:
            raise NotebookError(
                source_path, index, executed.cells[index].source, report["traceback"]
            )
        if report["traceback"]:  # failed outside any cell, e.g. a timeout or a dead kernel
            raise NotebookError(source_path, -1, "", report["traceback"])
        return executed

    def _place_notebook(
        self, notebook: str | Path | Mapping[str, Any], parameters: Mapping[str, Any] | None
    ) -> str:
        if isinstance(notebook, Mapping):
            node = nbformat.from_dict(notebook)
        elif Path(notebook).is_file():
            node = nbformat.read(str(notebook), as_version=4)
        else:
            if not parameters:
                return str(notebook)
            node = nbformat.reads(self.read_file(str(notebook)), as_version=4)
        if parameters:
            _inject_parameters(node, parameters)
        path = f"devlab-runs/{uuid.uuid4().hex[:12]}.ipynb"
        self.api("PUT", "contents/devlab-runs", ok=(200, 201, 409), json={"type": "directory"})
        self.write_file(path, nbformat.writes(node))
        return path

    def stop(self) -> None:
        self._stop()


def _inject_parameters(node: nbformat.NotebookNode, parameters: Mapping[str, Any]) -> None:
    lines = [f"{name} = {value!r}" for name, value in parameters.items()]
    cell = nbformat.v4.new_code_cell("\n".join(lines), metadata={"tags": ["injected-parameters"]})
    tagged = [
        i for i, c in enumerate(node.cells) if "parameters" in c.get("metadata", {}).get("tags", [])
    ]
    node.cells.insert(tagged[0] + 1 if tagged else 0, cell)


# Runs inside the lab's kernel: nbclient executes the notebook in a new kernel of the
# lab's own image, in the notebook's directory, and the result is written back.
_RUNNER = """
import json, os, nbformat, nbclient
src, out = os.path.expanduser({src!r}), os.path.expanduser({out!r})
nb = nbformat.read(src, as_version=4)
kernel = nb.metadata.get("kernelspec", {{}}).get("name", "python3")
client = nbclient.NotebookClient(nb, timeout={timeout}, kernel_name=kernel,
                                 resources={{"metadata": {{"path": os.path.dirname(src) or "."}}}})
failed, trace = None, ""
try:
    client.execute()
except Exception as exc:  # CellExecutionError, or a timeout or dead kernel
    trace = f"{{type(exc).__name__}}: {{exc}}"
    for index, cell in enumerate(nb.cells):
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            failed = index
            break
nbformat.write(nb, out)
print(json.dumps({{"failed_cell": failed, "traceback": trace}}))
"""
