"""A running lab, driven the way JupyterLab drives it: contents API and kernel websockets.

requests and websocket-client only, so that `devlab bench` runs code in a kernel without
the test extra; devlab.testing.lab.Lab adds notebooks (nbformat) on top. The one kernel
message sent, an execute_request, is built here from the Jupyter messaging spec rather
than with jupyter_client, whose Session would pull pyzmq, tornado and traitlets into the
base install to serialise one dictionary.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests
import websocket

# The kernel messaging protocol version of the messages built here; execute_request
# has been unchanged since 5.0.
PROTOCOL_VERSION = "5.3"
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


class LabClient:
    """One user's running server, reached through the proxy with that user's API token."""

    def __init__(self, hub_url: str, username: str, token: str, timeout: float = 60) -> None:
        self.username = username
        self.base = f"{hub_url.rstrip('/')}/user/{username}"
        self.token = token
        self.timeout = timeout
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

    def start_kernel(self, kernel: str = "python3") -> str:
        """A new kernel of the lab's own image; returns its id."""
        return self.api("POST", "kernels", ok=(201,), json={"name": kernel})["id"]

    def shutdown_kernel(self, kernel_id: str) -> None:
        self.api("DELETE", f"kernels/{kernel_id}", ok=(204, 404))

    def execute(self, code: str, timeout: float = 120, kernel: str = "python3") -> ExecutionResult:
        """Run `code` in a fresh kernel of the lab's own image, which is shut down afterwards."""
        kernel_id = self.start_kernel(kernel)
        try:
            return self.run_in_kernel(kernel_id, code, timeout)
        finally:
            self.shutdown_kernel(kernel_id)

    def run_in_kernel(self, kernel_id: str, code: str, timeout: float) -> ExecutionResult:
        url = self.base.replace("http", "ws", 1) + f"/api/kernels/{kernel_id}/channels"
        session_id = uuid.uuid4().hex
        request = execute_request(code, self.username, session_id)
        msg_id = request["header"]["msg_id"]
        connection = websocket.create_connection(
            f"{url}?session_id={session_id}",
            header=[f"Authorization: token {self.token}"],
            timeout=timeout,
        )
        result = ExecutionResult()
        deadline = time.monotonic() + timeout
        try:
            connection.send(json.dumps(request))
            while time.monotonic() < deadline:
                message = json.loads(connection.recv())
                if message.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                if collect(result, message):
                    return result
        finally:
            connection.close()
        raise TimeoutError(f"code did not finish within {timeout:.0f} s in {self.username}'s lab")


def execute_request(code: str, username: str, session_id: str) -> dict[str, Any]:
    """An execute_request for a kernel's websocket (Jupyter Server's JSON protocol): the
    message, its `channel`, and no signature (the server signs it for the kernel)."""
    header = {
        "msg_id": uuid.uuid4().hex,
        "msg_type": "execute_request",
        "username": username,
        "session": session_id,
        "date": datetime.now(UTC).isoformat(),
        "version": PROTOCOL_VERSION,
    }
    return {
        "header": header,
        "msg_id": header["msg_id"],
        "msg_type": header["msg_type"],
        "parent_header": {},
        "metadata": {},
        "content": {"code": code, "silent": False, "store_history": False, "allow_stdin": False},
        "channel": "shell",
    }


def collect(result: ExecutionResult, message: dict[str, Any]) -> bool:
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
            "traceback": [strip_ansi(line) for line in content["traceback"]],
        }
    return kind == "status" and content["execution_state"] == "idle"


def strip_ansi(text: str) -> str:
    """`text` without terminal colour codes."""
    return _ANSI.sub("", text)
