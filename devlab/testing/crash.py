"""Crashing a container's process the way real crashes happen, for chaos tests.

`docker kill` is a deliberate stop to the engine (restart policies then leave the
container down); a crash is the process dying inside. This kills it with SIGKILL by its
host pid, as the OOM killer would, so the engine's restart policy answers as in real life.
"""

from __future__ import annotations

import os
import signal

from docker.models.containers import Container

INIT = "/sbin/docker-init"  # compose's `init: true`: its command line repeats the child's


def crash(container: Container, command_start: str) -> int:
    """SIGKILL the container's one process whose command line starts with (or, for a
    script run by an interpreter, contains) `command_start`; returns its host pid."""
    processes = container.top(ps_args="-eo pid,args")["Processes"]
    (pid,) = [
        int(pid) for pid, args in processes if command_start in args and not args.startswith(INIT)
    ]
    os.kill(pid, signal.SIGKILL)
    return pid
