"""Running `docker compose` for a stack: the one place that builds its command line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence

from devlab.stack.settings import StackSettings


class ComposeError(RuntimeError):
    """docker compose failed or is missing; the message says what to do."""


def compose_command(settings: StackSettings, *args: str) -> list[str]:
    return [
        "docker",
        "compose",
        "--project-directory",
        str(settings.project_dir),
        "--file",
        str(settings.compose_file),
        "--env-file",
        str(settings.env_file),
        *args,
    ]


def check_compose() -> str:
    """The Compose version, or a ComposeError saying how to install it."""
    if shutil.which("docker") is None:
        raise ComposeError("the docker command is not installed: install Docker Engine")
    result = subprocess.run(
        ["docker", "compose", "version", "--short"], capture_output=True, text=True, check=False
    )
    version = result.stdout.strip()
    if result.returncode != 0 or not version.lstrip("v").startswith("2"):
        raise ComposeError(
            "Docker Compose v2 is not available (`docker compose version` failed): install "
            "the docker-compose-plugin package or Docker Desktop"
        )
    return version


def compose_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without devlab's and Compose's own variables.

    Compose lets the shell's variables override --env-file: a DEVLAB_STACK or port
    exported for one stack would silently retarget every command at it. The stack's
    compose.env is the only source of those values.
    """
    return {k: v for k, v in environ.items() if not k.startswith(("DEVLAB_", "COMPOSE_"))}


def run_compose(
    settings: StackSettings,
    args: Sequence[str],
    *,
    capture: bool = False,
    progress: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run compose for this stack; output streams to the terminal unless captured.

    `progress`: compose's output is progress for people (builds), so it goes to stderr
    and stdout stays parseable (`--json`, `--quiet`).
    """
    return subprocess.run(
        compose_command(settings, *args),
        capture_output=capture,
        stdout=sys.stderr if progress and not capture else None,
        text=True,
        check=False,
        env=compose_environment(os.environ),
    )
