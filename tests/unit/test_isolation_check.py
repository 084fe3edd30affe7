"""`devlab check isolation`: what it probes, how it judges, and the probe itself on loopback."""

import socket

from devlab.stack.isolation import IsolationReport, Result, Target, plan
from devlab.stack.lifecycle import nfs_access
from devlab.stack.probe import probe

SERVICES = {"hub": "10.9.0.2", "proxy": "10.9.0.3", "nfs": "10.9.0.4", "prepuller": "10.9.0.5"}


def by_name(targets):
    return {(t.host, t.port): t.expect for t in targets}


def test_the_plan_allows_the_hub_api_and_public_port_and_blocks_the_rest():
    targets = by_name(plan(SERVICES, {"bob": "10.213.0.10"}))
    assert targets[("hub", 8081)] == "reach"
    assert targets[("proxy", 8000)] == "reach"
    assert targets[("proxy", 8001)] == "blocked"
    assert targets[("proxy-api", 8001)] == "blocked"
    assert targets[("nfs", 2049)] == "blocked"
    assert targets[("prepuller", 80)] == "blocked"  # listens on nothing: any port shows the host
    # Every service's internal address, the peers' too: the lab is not on that network.
    for address in SERVICES.values():
        assert any(host == address for host, _ in targets)
        assert all(e == "blocked" for (host, _), e in targets.items() if host == address)
    assert targets[("10.213.0.10", 8888)] == "blocked"


def result(host, port, expect, verdict):
    return Result(Target(host, host, port, expect), verdict)


def test_a_refusal_is_a_reached_host_except_for_the_peer_proxys_api_port():
    assert result("proxy", 8001, "blocked", "refused").ok
    assert not result("nfs", 2049, "blocked", "refused").ok
    assert result("nfs", 2049, "blocked", "unresolved").ok
    assert result("10.9.0.4", 2049, "blocked", "timeout").ok
    assert not result("hub", 8081, "reach", "timeout").ok


def test_the_report_counts_open_internal_ports_only():
    report = IsolationReport(
        "alice",
        [
            result("hub", 8081, "reach", "open"),
            result("nfs", 2049, "blocked", "open"),
            result("oauth", 8090, "blocked", "refused"),
            result("registry", 5000, "blocked", "unresolved"),
        ],
    )
    assert report.internal_ports_reached == 1
    assert not report.ok
    assert "internal ports reachable: 1 (goal 0)" in report.render()
    assert report.to_json()["internal_ports_reached"] == 1


def test_the_probe_tells_open_refused_and_unresolved_apart():
    with socket.socket() as listening, socket.socket() as closed:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        targets = [
            {"host": "127.0.0.1", "port": listening.getsockname()[1]},
            {"host": "127.0.0.1", "port": closed.getsockname()[1]},
            {"host": "no-such-host.invalid", "port": 80},
        ]
        verdicts = [r["verdict"] for r in probe(targets, timeout=2)]
    assert verdicts == ["open", "refused", "unresolved"]


def test_status_says_who_reaches_nfs_in_either_storage_mode():
    for mode in ("nfs", "volume"):
        assert "127.0.0.1 only" in nfs_access(mode)
        assert "labs cannot reach it" in nfs_access(mode)
    assert "labs do not use it" in nfs_access("volume")
    assert "mounted from it by the engine" in nfs_access("nfs")
