"""Why a lab stopped, from the engine's inspection, and how the spawner keeps it."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader
from jupyterhub._data import DATA_FILES_PATH
from jupyterhub.spawner import Spawner
from traitlets.config import Config

from devlab.hub.spawner import POLL_INTERVAL, SERVER_TEMPLATES, DevlabSpawner
from devlab.hub.stops import StopKind, StopReason, why_stopped
from devlab.hub.wiring import configure

GIB = 2**30


def inspected(running=False, status="exited", **state):
    """The parts of `docker inspect` of a lab that why_stopped reads."""
    return {
        "State": {
            "Status": "running" if running else status,
            "Running": running,
            "OOMKilled": False,
            "ExitCode": 0,
            "Error": "",
            "FinishedAt": "2026-05-01T10:00:00Z",
            **state,
        },
        "HostConfig": {"Memory": 2 * GIB},
        "Config": {"Env": ["HOME=/home/alice", "DEVLAB_SIZE=small", "X=a=b"]},
    }


def test_a_running_lab_has_no_reason():
    assert why_stopped(inspected(running=True)) is None


def test_an_oom_killed_lab_names_its_size_and_memory_limit():
    reason = why_stopped(inspected(OOMKilled=True, ExitCode=137))
    assert reason == StopReason(
        StopKind.OUT_OF_MEMORY,
        137,
        mem_limit=2 * GIB,
        size="small",
        finished_at="2026-05-01T10:00:00Z",
    )
    assert reason.message == "killed because it ran out of memory (size small, limit 2 GB)"
    assert reason.advice == "Start it again, or choose a larger size."


def test_oom_then_another_exit_code_says_both():
    reason = why_stopped(inspected(OOMKilled=True, ExitCode=1))
    assert reason.message == (
        "it ran out of memory (size small, limit 2 GB) and then exited with code 1"
    )


def test_a_clean_shutdown_after_an_oom_kill_inside_is_not_an_oom_stop():
    # The engine flags OOMKilled when any process in the lab was OOM-killed, even one
    # the lab survived (a kernel); the server then shut down on its own.
    reason = why_stopped(inspected(OOMKilled=True, ExitCode=0))
    assert reason.kind is StopKind.EXITED
    assert reason.message == "its server shut down (exit code 0)"
    assert reason.advice == "Start it again."


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (1, "exited with code 1"),
        (143, "killed by SIGTERM (exit code 143)"),
        (137, "killed by SIGKILL (exit code 137)"),
        (255, "exited with code 255"),
        (200, "exited with code 200"),
    ],
)
def test_exit_codes_are_named(code, message):
    assert why_stopped(inspected(ExitCode=code)).message == message


def test_a_sigkill_without_an_oom_flag_still_hints_at_memory():
    assert "choose a larger size" in why_stopped(inspected(ExitCode=137)).advice


def test_an_engine_error_is_quoted():
    reason = why_stopped(inspected(ExitCode=128, Error="OCI runtime create failed: oops"))
    assert reason.kind is StopKind.FAILED
    assert reason.message == "the Docker engine could not run it: OCI runtime create failed: oops"


def test_a_created_but_never_started_lab_has_no_reason():
    # A failed start: JupyterHub shows its own error for it.
    assert why_stopped(inspected(status="created")) is None


def test_a_vanished_container_is_gone():
    reason = why_stopped(None)
    assert reason.kind is StopKind.GONE
    assert reason.message.startswith("its container is gone")


def test_a_lab_without_limits_or_size_says_so_plainly():
    container = inspected(OOMKilled=True, ExitCode=137)
    container["HostConfig"] = {"Memory": 0}
    container["Config"] = {}
    assert why_stopped(container).message == "killed because it ran out of memory"


def test_the_reason_survives_json_and_rejects_foreign_state():
    reason = why_stopped(inspected(OOMKilled=True, ExitCode=137))
    assert StopReason.from_state(json.loads(json.dumps(reason.to_state()))) == reason
    for junk in (None, "oom", {}, {"kind": "melted"}, {"kind": "gone", "colour": "red"}):
        assert StopReason.from_state(junk) is None


def test_the_spawner_keeps_the_reason_through_clear_state_and_a_hub_restart():
    """JupyterHub stops a dead server with clear_state then get_state into its database,
    and drops the Spawner; the pages and a restarted hub load a new one from that state."""
    alice = SimpleNamespace(name="alice")
    spawner = DevlabSpawner(user=alice)
    spawner.stop_reason = why_stopped(inspected(OOMKilled=True, ExitCode=137))
    spawner.clear_state()
    state = json.loads(json.dumps(spawner.get_state()))
    fresh = DevlabSpawner(user=alice)
    fresh.load_state(state)
    assert fresh.stop_reason == spawner.stop_reason
    empty = DevlabSpawner(user=alice)
    empty.load_state({})
    assert empty.stop_reason is None
    assert "stop_reason" not in empty.get_state()


def test_the_hub_polls_labs_more_often_than_jupyterhubs_default():
    upstream = Spawner.class_traits()["poll_interval"].default_value
    assert DevlabSpawner().poll_interval == POLL_INTERVAL < upstream


def render(page, **context):
    """A page as JupyterHub renders it: its loader (its own templates under templates/,
    then template_paths) and autoescaping; only what page.html needs is stubbed."""
    base = str(Path(DATA_FILES_PATH) / "templates")
    loader = ChoiceLoader(
        [
            PrefixLoader({"templates": FileSystemLoader([base])}, "/"),
            FileSystemLoader([str(SERVER_TEMPLATES), base]),
        ]
    )
    env = Environment(loader=loader, autoescape=True)
    return env.get_template(page).render(static_url=lambda *_, **__: "/static", **context)


def said(html):
    return [" ".join(line.split()) for line in html.splitlines() if "last server" in line]


@pytest.mark.parametrize("page", ["home.html", "not_running.html"])
def test_the_pages_say_why_the_last_server_stopped(page):
    spawner = SimpleNamespace(active=False, stop_reason=why_stopped(inspected(ExitCode=1)))
    context = {"default_server": spawner, "user": SimpleNamespace(spawner=spawner), "url": "/"}
    assert said(render(page, server_name="", **context)) == [
        "Your last server stopped: exited with code 1. Start it again."
    ]
    spawner.stop_reason = why_stopped(inspected(Error="<b>no</b> such file"))
    assert "&lt;b&gt;no&lt;/b&gt; such file" in said(render(page, server_name="", **context))[0]
    spawner.stop_reason = None
    assert said(render(page, server_name="", **context)) == []


def test_a_running_server_or_a_failed_start_shows_no_old_reason():
    spawner = SimpleNamespace(active=True, stop_reason=why_stopped(inspected(ExitCode=1)))
    assert said(render("home.html", default_server=spawner, user=None, url="/")) == []
    user = SimpleNamespace(spawner=spawner)
    assert said(render("not_running.html", user=user, server_name="", failed=True)) == []


def test_the_pages_are_wired_for_every_provider(hub_env):
    c = Config()
    configure(c, hub_env)  # the packaged config: the mock GitHub provider
    assert c.JupyterHub.template_paths == [str(SERVER_TEMPLATES)]
