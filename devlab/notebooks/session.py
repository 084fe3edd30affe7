"""`devlab notebooks run` against a running stack: where the notebooks come from, which
images and which user, then the runner; the CLI and the plugin only print and write.

Sources are local files or folders, a git URL (cloned shallow into a temporary folder),
or the word `tutorials`: the stack's `lab.tutorials` repository (devlab's own shipped
tutorials when it is `builtin`).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devlab.config import DevlabConfig, load_config
from devlab.notebooks.plan import PlanError, discover, matrix, select_images
from devlab.notebooks.report import CaseResult
from devlab.notebooks.runner import DEFAULT_TIMEOUT, Progress, run_cases
from devlab.stack import lifecycle
from devlab.stack.settings import StackSettings
from devlab.stack.users import admin_api
from devlab.tutorials import BUILTIN_DIR

TUTORIALS = "tutorials"
GIT_PREFIXES = ("https://", "http://", "git@", "ssh://", "file://")


def default_user(config: DevlabConfig) -> str:
    """The first mock user of the stack's provider: the identity notebooks run as."""
    provider = config.auth.provider
    if provider in ("github-mock", "none") and config.mock_github.users:
        return config.mock_github.users[0].login
    if provider == "cilogon-mock":
        names = [u.username for u in config.mock_cilogon.users if u.username]
        if names:
            return names[0]
    raise PlanError(
        f"auth.provider {provider} has no mock user to run notebooks as: pass --user NAME "
        "(a user who has logged in once, so the hub knows their uid and groups)"
    )


@contextlib.contextmanager
def local_sources(sources: Sequence[str], config: DevlabConfig) -> Iterator[list[Path]]:
    """Each source as a local path (git URLs cloned, removed again on the way out)."""
    work = Path(tempfile.mkdtemp(prefix="devlab-notebooks-"))
    try:
        yield [_local(source, config, work / str(n)) for n, source in enumerate(sources)]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _local(source: str, config: DevlabConfig, into: Path) -> Path:
    if source == TUTORIALS:
        tutorials = config.lab.tutorials
        if tutorials is None:
            raise PlanError("`tutorials`: this stack's config has no lab.tutorials")
        if tutorials.is_builtin:
            return BUILTIN_DIR
        if tutorials.is_local:
            return Path(tutorials.repository)
        return _clone(tutorials.repository, into, tutorials.branch)
    if source.startswith(GIT_PREFIXES):
        return _clone(source, into)
    return Path(source).expanduser().resolve()


def _clone(url: str, into: Path, branch: str | None = None) -> Path:
    if shutil.which("git") is None:
        raise PlanError(f"{url} is a git repository, and git is not installed here")
    command = ["git", "clone", "--quiet", "--depth", "1", *(["--branch", branch] if branch else [])]
    done = subprocess.run(
        [*command, url, str(into)], capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0:
        raise PlanError(f"cannot clone {url}: {done.stderr.strip() or done.returncode}")
    return into


@dataclass(frozen=True)
class Run:
    """A finished run: every case's result, and the wall time of the whole matrix."""

    results: list[CaseResult]
    user: str
    images: list[str]
    wall_s: float


def run_notebooks(
    settings: StackSettings,
    sources: Sequence[str],
    *,
    images: str = "recommended",
    user: str | None = None,
    parameters: dict[str, Any] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    jobs: int = 1,
    progress: Progress = lambda line: None,
) -> Run:
    """Run every notebook of `sources` on every image `images` selects, as `user`."""
    running = lifecycle.as_brought_up(settings)
    config = load_config(running.config_path, running.profile)
    status = lifecycle.status(running)
    if not status.service("hub").ok:
        raise PlanError(f"stack {settings.name} is not running: `devlab up` first")
    chosen = select_images(images, status.images or ())
    who = user or default_user(config)
    with local_sources(sources, config) as paths:
        notebooks = discover(paths)
        cases = matrix(notebooks, chosen)
        progress(f"{len(notebooks)} notebooks x {len(chosen)} images as {who}")
        started = time.monotonic()
        results = run_cases(
            admin_api(running),
            running.hub_url,
            who,
            cases,
            parameters=parameters,
            timeout=timeout,
            jobs=jobs,
            progress=progress,
        )
    return Run(results, who, chosen, round(time.monotonic() - started, 3))
