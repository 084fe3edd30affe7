"""A crashed hub: labs keep serving their users throughout, and the hub comes back.

How many seconds it takes goes in the chaos report (goal <= 10), not in an assert.
"""

from __future__ import annotations

import time

import docker
import requests

from devlab.polling import poll_until
from devlab.stack import engine
from devlab.testing.crash import crash

HUB_BACK_WITHIN = 60  # seconds from the crash before the hub counts as not coming back


def _lab_answers(lab) -> bool:
    try:
        reply = lab.http.get(f"{lab.base}/api/status", allow_redirects=False, timeout=2)
    except requests.RequestException:
        return False
    return reply.status_code == 200


def test_a_crashed_hub_comes_back_and_labs_serve_all_along(devlab, chaos_report):
    labs = [devlab.login(name).spawn() for name in ("alice", "bob")]
    assert all(_lab_answers(lab) for lab in labs)  # their tokens are now in the labs' caches
    client = docker.from_env()
    (hub,) = engine.service_containers(client, devlab.name, "hub")
    restarts = hub.attrs["RestartCount"]
    crash(hub, "jupyterhub -f")  # the engine restarts it
    crashed = time.monotonic()
    missed = []
    back_after = None
    while time.monotonic() - crashed < HUB_BACK_WITHIN:
        missed += [lab.username for lab in labs if not _lab_answers(lab)]
        if devlab.hub_answers():
            hub.reload()
            if hub.attrs["RestartCount"] > restarts:
                back_after = time.monotonic() - crashed
                break
        time.sleep(0.2)

    print(f"hub back after {back_after} s; lab requests missed meanwhile: {missed}")
    chaos_report.record(
        "hub crash: seconds until /hub/health answers", back_after or float("inf"), "s", "<= 10"
    )
    chaos_report.record("hub crash: lab requests missed meanwhile", len(missed), "requests", "0")
    assert back_after is not None, f"the hub did not come back within {HUB_BACK_WITHIN} s"
    assert missed == [], "labs must keep serving while the hub restarts"
    # The restarted hub knows its labs: stop and start work as before.
    labs[0].stop()
    again = devlab.login("alice").spawn()
    assert again.execute("print(6 * 7)").stdout.strip() == "42"
    assert labs[1].execute("print(1 + 1)").stdout.strip() == "2"


def test_a_hub_restarting_before_docker_proxy_waits_for_it_and_keeps_its_labs(devlab):
    """After an engine restart the engine starts every container at once, without
    Compose's depends_on: a hub that polled its labs before docker-proxy listened would
    forget them (still running, but unrouted and unstoppable from the hub)."""
    lab = devlab.login("carol").spawn()
    client = docker.from_env()
    (hub,) = engine.service_containers(client, devlab.name, "hub")
    (docker_proxy,) = engine.service_containers(client, devlab.name, "docker-proxy")
    docker_proxy.stop(timeout=5)  # the order an engine restart may give: proxy not yet up
    try:
        restarts = hub.attrs["RestartCount"]
        crash(hub, "jupyterhub -f")

        def hub_restarted() -> bool:
            hub.reload()
            return hub.attrs["RestartCount"] > restarts

        poll_until(hub_restarted, "the hub's container to restart", timeout=30)
        time.sleep(5)  # a hub that did not wait would have polled carol's lab by now
        assert not devlab.hub_answers(), "the hub must wait for docker-proxy before starting"
    finally:
        docker_proxy.start()
    poll_until(devlab.hub_answers, "the hub to answer once docker-proxy is back", timeout=60)
    assert devlab.api().server("carol") is not None, "the hub forgot carol's running lab"
    assert lab.execute("print(6 * 7)").stdout.strip() == "42"
    lab.stop()
    assert engine.lab_containers(client, devlab.name, "carol") == []
