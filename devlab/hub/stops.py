"""Why a lab stopped when nobody asked it to: what the hub shows its user and logs.

Pure: read from the engine's inspection of the lab's container (its State, HostConfig and
environment), so the wording is unit-tested without Docker. DevlabSpawner.poll derives it
the moment it finds the lab exited, before it removes the container, and keeps it in the
spawner's state: JupyterHub drops a stopped server's Spawner but saves its state, which
the home and "not running" pages read again (devlab/hub/templates/servers).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from devlab.config.catalog import format_memory

SIGKILL_EXIT = 128 + signal.SIGKILL  # what an init (tini) exits with when its child is killed


class StopKind(StrEnum):
    OUT_OF_MEMORY = "out-of-memory"  # the engine saw the kernel's OOM killer in the lab
    EXITED = "exited"  # the lab's server ended, with an exit code
    FAILED = "failed"  # the engine could not run the lab (State.Error)
    GONE = "gone"  # the container vanished: `devlab down`, removed by hand, an engine restart


@dataclass(frozen=True)
class StopReason:
    """Why a user's last lab stopped, in words for that user (no HTML: templates add it)."""

    kind: StopKind
    exit_code: int | None = None
    mem_limit: int | None = None  # bytes; None when the lab had no memory limit
    size: str | None = None  # the lab size chosen at spawn, from the lab's DEVLAB_SIZE
    error: str = ""  # the engine's own words, for FAILED
    finished_at: str = ""  # the engine's State.FinishedAt

    @property
    def message(self) -> str:
        """What happened, to follow "Your last server stopped: " (no final full stop)."""
        limit = self._limit()
        if self.kind is StopKind.OUT_OF_MEMORY:
            if self.exit_code == SIGKILL_EXIT:
                return f"killed because it ran out of memory{limit}"
            return f"it ran out of memory{limit} and then exited with code {self.exit_code}"
        if self.kind is StopKind.FAILED:
            return f"the Docker engine could not run it: {self.error}"
        if self.kind is StopKind.GONE:
            return (
                "its container is gone (removed by `devlab down` or by hand, or lost to an "
                "engine restart)"
            )
        if self.exit_code == 0:
            return "its server shut down (exit code 0)"
        if self.exit_code is not None and self.exit_code > 128:  # 128 + a signal's number
            with contextlib.suppress(ValueError):  # else a plain code, such as 255
                name = signal.Signals(self.exit_code - 128).name
                return f"killed by {name} (exit code {self.exit_code})"
        return f"exited with code {self.exit_code}"

    @property
    def advice(self) -> str:
        if self.kind is StopKind.OUT_OF_MEMORY:
            return "Start it again, or choose a larger size."
        if self.exit_code == SIGKILL_EXIT:  # an OOM kill the engine did not flag, often
            return "Start it again; if it was using all of its memory, choose a larger size."
        return "Start it again."

    def _limit(self) -> str:
        parts = [f"size {self.size}"] if self.size else []
        if self.mem_limit:
            parts.append(f"limit {format_memory(self.mem_limit)}")
        return f" ({', '.join(parts)})" if parts else ""

    def to_state(self) -> dict[str, Any]:
        """JSON for the spawner's state (JupyterHub's database)."""
        return asdict(self)

    @classmethod
    def from_state(cls, data: object) -> StopReason | None:
        """The reason saved by to_state; None for anything else (another version's state)."""
        if not isinstance(data, Mapping):
            return None
        try:
            return cls(**{**data, "kind": StopKind(data["kind"])})
        except (KeyError, TypeError, ValueError):
            return None


def why_stopped(container: Mapping[str, Any] | None) -> StopReason | None:
    """Why the inspected lab container is not running; None while it runs or has never run.

    `container` is the engine's inspection (docker inspect), or None once it is gone. A
    container created but never started (a failed spawn, which JupyterHub reports itself)
    has no reason unless the engine gave an error.
    """
    if container is None:
        return StopReason(StopKind.GONE)
    state = container.get("State") or {}
    if state.get("Running"):
        return None
    error = state.get("Error") or ""
    if error:
        return StopReason(StopKind.FAILED, state.get("ExitCode"), error=error)
    if state.get("Status") == "created":
        return None
    env = (container.get("Config") or {}).get("Env") or []
    size = next((item.split("=", 1)[1] for item in env if item.startswith("DEVLAB_SIZE=")), "")
    code = state.get("ExitCode")
    # The engine flags OOMKilled for an OOM kill of any process in the lab, even one the
    # lab survived; a clean exit afterwards is the server's own shutdown, not the OOM's.
    oom = bool(state.get("OOMKilled")) and code != 0
    return StopReason(
        StopKind.OUT_OF_MEMORY if oom else StopKind.EXITED,
        code,
        mem_limit=(container.get("HostConfig") or {}).get("Memory") or None,
        size=size or None,
        finished_at=state.get("FinishedAt") or "",
    )
