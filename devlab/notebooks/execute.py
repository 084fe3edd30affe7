"""A notebook executed inside a running lab: nbclient in a new kernel of the lab's image.

The notebook goes into the lab through the contents API and runs there, in the user's
own kernel, with the lab's files, identity and limits, exactly as the user would run it;
the executed copy comes back with its outputs. Parameters become a cell after the one
tagged `parameters` (or at the top), as papermill injects them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import nbformat

from devlab.client.lab import LabClient, LabError, strip_ansi

RUNS_DIR = "devlab-runs"  # in the user's home: where run copies and their results go
# Seconds beyond the notebook's own timeout that the kernel running nbclient may take.
RUNNER_GRACE = 60

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


@dataclass(frozen=True)
class Executed:
    """A notebook after its run: `failed_cell` is None when every cell ran; `traceback`
    is empty then, and set without a cell for a timeout or a dead kernel."""

    path: str  # where the run's copy is in the lab
    notebook: nbformat.NotebookNode
    failed_cell: int | None
    traceback: str

    @property
    def ok(self) -> bool:
        return self.failed_cell is None and not self.traceback


def inject_parameters(node: nbformat.NotebookNode, parameters: Mapping[str, Any]) -> None:
    lines = [f"{name} = {value!r}" for name, value in parameters.items()]
    cell = nbformat.v4.new_code_cell("\n".join(lines), metadata={"tags": ["injected-parameters"]})
    tagged = [
        i for i, c in enumerate(node.cells) if "parameters" in c.get("metadata", {}).get("tags", [])
    ]
    node.cells.insert(tagged[0] + 1 if tagged else 0, cell)


def place(
    lab: LabClient, node: nbformat.NotebookNode, name: str = "", folder: str = RUNS_DIR
) -> str:
    """Write `node` into the lab's `folder` (under RUNS_DIR) with a fresh name; returns
    its lab path."""
    stem = name.rsplit("/", 1)[-1].removesuffix(".ipynb") or "notebook"
    path = f"{folder}/{stem}-{uuid.uuid4().hex[:8]}.ipynb"
    make_folder(lab, folder)
    lab.write_file(path, nbformat.writes(node))
    return path


def make_folder(lab: LabClient, folder: str) -> None:
    """Create `folder` and its parents in the lab. Two creations of one folder at once can
    fail on the server, so a runner makes its folder before notebooks run side by side."""
    parents = folder.split("/")
    for depth in range(1, len(parents) + 1):
        directory = "/".join(parents[:depth])
        lab.api("PUT", f"contents/{directory}", ok=(200, 201, 409), json={"type": "directory"})


def execute_in_lab(lab: LabClient, path: str, timeout: float) -> Executed:
    """Run the lab's notebook at `path` (cells time out after `timeout` seconds each, as
    nbclient counts) and read back the executed copy."""
    out = path.removesuffix(".ipynb") + ".executed.ipynb"
    runner = _RUNNER.format(src=path, out=out, timeout=timeout)
    outcome = lab.execute(runner, timeout=timeout + RUNNER_GRACE)
    if not outcome.ok:
        raise LabError(f"the notebook runner itself failed: {outcome.error}")
    report = json.loads(outcome.stdout.strip().splitlines()[-1])
    executed = nbformat.reads(lab.read_file(out), as_version=4)
    return Executed(out, executed, report["failed_cell"], strip_ansi(report["traceback"]))
