"""A running lab, driven the way JupyterLab drives it: contents API and kernel websockets."""

from __future__ import annotations

import base64
import json
import re
import textwrap
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import nbformat
import requests
import websocket
from jupyter_client.jsonutil import json_default
from jupyter_client.session import Session

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class ExecutionResult:
    """What one code cell produced, as JupyterLab would show it."""

    stdout: str = ""
    stderr: str = ""
    result: str | None = None  # text/plain of the execute_result, if any
    error: dict[str, Any] | None = None  # ename, evalue, traceback (list of lines)
    display: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


class LabError(RuntimeError):
    """A lab API call failed; the message has the status and the body."""


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


class Lab:
    """One user's running server, reached through the proxy with that user's API token."""

    def __init__(
        self,
        hub_url: str,
        username: str,
        token: str,
        stop: Callable[[], None],
        timeout: float = 60,
    ) -> None:
        self.username = username
        self.base = f"{hub_url.rstrip('/')}/user/{username}"
        self.token = token
        self.timeout = timeout
        self._stop = stop
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {token}"

    def api(self, method: str, path: str, ok: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        reply = self.http.request(method, f"{self.base}/api/{path}", timeout=self.timeout, **kwargs)
        if reply.status_code not in ok:
            raise LabError(f"{method} {path} answered {reply.status_code}: {reply.text[:500]}")
        return reply.json() if reply.content else None

    # Files, through the contents API (paths relative to the lab's root, the home).

    def write_file(self, path: str, data: str | bytes) -> None:
        if isinstance(data, bytes):
            body = {"type": "file", "format": "base64", "content": base64.b64encode(data).decode()}
        else:
            body = {"type": "file", "format": "text", "content": data}
        self.api("PUT", f"contents/{quote(path)}", ok=(200, 201), json=body)

    def read_file(self, path: str, binary: bool = False) -> str | bytes:
        fmt = "base64" if binary else "text"
        model = self.api("GET", f"contents/{quote(path)}?type=file&format={fmt}&content=1")
        return base64.b64decode(model["content"]) if binary else model["content"]

    # Code, in a kernel of this lab over the Jupyter kernel protocol.

    def execute(self, code: str, timeout: float = 120, kernel: str = "python3") -> ExecutionResult:
        """Run `code` in a fresh kernel of the lab's own image, which is shut down afterwards."""
        kernel_id = self.api("POST", "kernels", ok=(201,), json={"name": kernel})["id"]
        try:
            return self.run_in_kernel(kernel_id, code, timeout)
        finally:
            self.api("DELETE", f"kernels/{kernel_id}", ok=(204, 404))

    def run_in_kernel(self, kernel_id: str, code: str, timeout: float) -> ExecutionResult:
        url = self.base.replace("http", "ws", 1) + f"/api/kernels/{kernel_id}/channels"
        session = Session(username=self.username)
        request = session.msg(
            "execute_request",
            {"code": code, "silent": False, "store_history": False, "allow_stdin": False},
        )
        request["channel"] = "shell"
        msg_id = request["header"]["msg_id"]
        connection = websocket.create_connection(
            f"{url}?session_id={session.session}",
            header=[f"Authorization: token {self.token}"],
            timeout=timeout,
        )
        result = ExecutionResult()
        deadline = time.monotonic() + timeout
        try:
            connection.send(json.dumps(request, default=json_default))
            while time.monotonic() < deadline:
                message = json.loads(connection.recv())
                if message.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                if _collect(result, message):
                    return result
        finally:
            connection.close()
        raise TimeoutError(f"code did not finish within {timeout:.0f} s in {self.username}'s lab")

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
        report["traceback"] = _ANSI.sub("", report["traceback"])
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


def _collect(result: ExecutionResult, message: dict[str, Any]) -> bool:
    """Fold one reply into `result`; True once the kernel is idle again."""
    kind, content = message["msg_type"], message["content"]
    if kind == "stream":
        if content["name"] == "stdout":
            result.stdout += content["text"]
        else:
            result.stderr += content["text"]
    elif kind == "execute_result":
        result.result = content["data"].get("text/plain")
    elif kind == "display_data":
        result.display.append(content["data"])
    elif kind == "error":
        result.error = {
            "ename": content["ename"],
            "evalue": content["evalue"],
            # IPython colours tracebacks for terminals; tests read and match plain text.
            "traceback": [_ANSI.sub("", line) for line in content["traceback"]],
        }
    return kind == "status" and content["execution_state"] == "idle"


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
