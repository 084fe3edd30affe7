"""A crashed proxy comes back empty; every running lab is routed again in seconds.

How many seconds goes in the chaos report (goal <= 5), not in an assert: the test fails
when a lab is not routed again within a minute, which the upstream behaviour (routes
restored at the hub's next route check, minutes later) would not meet.
"""

from __future__ import annotations

import time

import docker
import requests

from devlab.polling import poll_until
from devlab.stack import engine
from devlab.testing.crash import crash

ROUTED_AGAIN_WITHIN = 60  # seconds from the crash before a lab counts as lost


def _routed(lab) -> bool:
    """The lab itself answers at its URL (a lost route would send the request to the hub)."""
    try:
        reply = lab.http.get(f"{lab.base}/api/status", allow_redirects=False, timeout=2)
    except requests.RequestException:
        return False  # the proxy is still coming back
    return reply.status_code == 200 and "started" in reply.json()


def test_a_crashed_proxy_has_every_lab_routed_again(devlab, chaos_report):
    labs = [devlab.login(name).spawn() for name in ("alice", "bob", "carol")]
    assert all(_routed(lab) for lab in labs)
    client = docker.from_env()
    (proxy,) = engine.service_containers(client, devlab.name, "proxy")
    restarts = proxy.attrs["RestartCount"]
    crash(proxy, "configurable-http-proxy")  # the engine restarts it, empty
    crashed = time.monotonic()
    pending = list(labs)
    back_after = {}
    while pending and time.monotonic() - crashed < ROUTED_AGAIN_WITHIN:
        for lab in [lab for lab in pending if _routed(lab)]:
            back_after[lab.username] = time.monotonic() - crashed
            pending.remove(lab)
        time.sleep(0.2)

    def restarted() -> bool:
        proxy.reload()
        return proxy.attrs["RestartCount"] > restarts

    poll_until(restarted, "the proxy container to be restarted after its process died", timeout=30)
    slowest = max(back_after.values(), default=float("inf"))
    print(f"routes back after the proxy crash: {back_after}")
    chaos_report.record("proxy crash: seconds until every lab is routed", slowest, "s", "<= 5")
    chaos_report.record("proxy crash: labs lost", len(pending), "labs", "0")
    assert not pending, f"never routed again: {[lab.username for lab in pending]}"
    for lab in labs:
        assert lab.execute("print(6 * 7)").stdout.strip() == "42"
