"""Running a plan of notebooks by images in real labs, as a real user, through the hub.

One lab per image: the user's server is started with that image (the spawn form's
`image` choice, checked against the menu like any user's), every notebook runs in it
(`--jobs` at once, each in its own kernel), and the server is stopped before the next
image. The user's own API token, made for the run and deleted after, is what the labs
see: the notebooks run with that user's uid, groups, home and limits.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby
from typing import Any

import nbformat
import requests

from devlab.client.lab import LabClient, LabError
from devlab.hubapi import HubAPI, HubAPIError
from devlab.notebooks.execute import (
    RUNS_DIR,
    execute_in_lab,
    inject_parameters,
    make_folder,
    place,
)
from devlab.notebooks.plan import Case, PlanError
from devlab.notebooks.report import CaseResult

DEFAULT_TIMEOUT = 600.0  # seconds per cell, as nbclient counts, unless a notebook says
SPAWN_TIMEOUT = 300.0
Progress = Callable[[str], None]


def run_cases(
    admin: HubAPI,
    hub_url: str,
    user: str,
    cases: Sequence[Case],
    *,
    parameters: Mapping[str, Any] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    jobs: int = 1,
    progress: Progress = lambda line: None,
) -> list[CaseResult]:
    """Every case's result, in the plan's order; a lab that does not start makes its
    image's cases errors, and the run goes on with the next image.

    The user's own lab is never touched: a user whose server runs (open in a browser,
    say) is refused before anything starts, since every image needs a start and a stop.
    """
    admin.ensure_user(user)
    if admin.server(user) is not None:
        raise PlanError(
            f"{user}'s lab is running: stop it first (hub home page, or `devlab users ...`), "
            "or run as another user with --user; each image needs a lab of its own"
        )
    made = admin.request(
        "POST",
        f"/hub/api/users/{user}/tokens",
        json={"note": "devlab notebooks run", "expires_in": 24 * 3600},
    )
    if made.status_code != 201:
        raise HubAPIError(f"no API token for {user}: {made.status_code} {made.text}")
    token, token_id = made.json()["token"], made.json()["id"]
    results: list[CaseResult] = []
    try:
        for image, group in groupby(cases, key=lambda case: case.image):
            image_cases = list(group)
            runnable = [c for c in image_cases if c.notebook.skip is None]
            for case in image_cases:
                if case.notebook.skip is not None:
                    progress(f"skip  {case.notebook.name} [{image}]: {case.notebook.skip}")
            ran = iter(
                _run_image(
                    hub_url, user, token, image, runnable, parameters, timeout, jobs, progress
                )
            )
            results += [
                next(ran)
                if c.notebook.skip is None
                else CaseResult(c.notebook.name, image, "skipped", 0.0, message=c.notebook.skip)
                for c in image_cases
            ]
    finally:
        admin.request("DELETE", f"/hub/api/users/{user}/tokens/{token_id}")
    return results


def _run_image(
    hub_url: str,
    user: str,
    token: str,
    image: str,
    cases: Sequence[Case],
    parameters: Mapping[str, Any] | None,
    timeout: float,
    jobs: int,
    progress: Progress,
) -> list[CaseResult]:
    if not cases:
        return []
    api = HubAPI(hub_url, token)
    started = time.monotonic()
    progress(f"start {user}'s lab on {image}")
    try:
        try:
            api.start_server(user, {"image": image})
            api.wait_ready(user, SPAWN_TIMEOUT)
        except HubAPIError as exc:
            return _errors(cases, image, f"the lab did not start: {exc}")
        progress(f"lab ready in {time.monotonic() - started:.1f} s")
        lab = LabClient(hub_url, user, token)
        folder = f"{RUNS_DIR}/{uuid.uuid4().hex[:12]}"  # this image's run, removed after
        make_folder(lab, folder)

        def one(case: Case) -> CaseResult:
            result = _run_case(lab, folder, case, parameters, case.notebook.timeout or timeout)
            word = {"passed": "pass ", "failed": "FAIL ", "error": "ERROR"}[result.outcome]
            progress(f"{word} {case.notebook.name} [{image}] {result.seconds:.1f} s")
            return result

        try:
            with ThreadPoolExecutor(max(1, jobs), thread_name_prefix="notebook") as pool:
                return list(pool.map(one, cases))
        finally:  # the run's copies leave the user's home; the results go to the report
            lab.api("DELETE", f"contents/{folder}", ok=(204, 400, 404))
    finally:  # the lab this run started (or began to): stopped, not left half-started
        try:
            if api.server(user) is not None:
                api.stop_server(user)
                api.wait_stopped(user)
        except HubAPIError as exc:
            progress(f"could not stop {user}'s lab: {exc}")


def _run_case(
    lab: LabClient,
    folder: str,
    case: Case,
    parameters: Mapping[str, Any] | None,
    timeout: float,
) -> CaseResult:
    spec = case.notebook
    started = time.monotonic()

    def took() -> float:
        return round(time.monotonic() - started, 3)

    node = nbformat.read(str(spec.path), as_version=4)
    if parameters:
        inject_parameters(node, parameters)
    try:
        path = place(lab, node, spec.name, folder)
        run = execute_in_lab(lab, path, timeout)
        for copy in (path, run.path):  # emptied, so the folder itself can go
            lab.api("DELETE", f"contents/{copy}", ok=(204, 404))
    except (LabError, requests.RequestException, TimeoutError) as exc:
        return CaseResult(spec.name, case.image, "error", took(), message=str(exc))
    executed = dict(run.notebook)
    if run.failed_cell is not None:
        return CaseResult(
            spec.name,
            case.image,
            "failed",
            took(),
            cell_index=run.failed_cell,
            cell_source=run.notebook.cells[run.failed_cell].source,
            traceback=run.traceback,
            executed=executed,
        )
    if run.traceback:  # not a cell's error: nbclient's timeout or a dead kernel
        return CaseResult(
            spec.name, case.image, "error", took(), message=run.traceback, executed=executed
        )
    return CaseResult(spec.name, case.image, "passed", took(), executed=executed)


def _errors(cases: Sequence[Case], image: str, why: str) -> list[CaseResult]:
    return [CaseResult(c.notebook.name, image, "error", 0.0, message=why) for c in cases]
