"""devlab.bench's pure parts: statistics, timeline, report, the bench config, the floor's
container, progress and event parsing, memory, the harness (never a timing: it is a
benchmark); and that the CLI and the bench load without the test and hub extras."""

from __future__ import annotations

import json
import pkgutil
import re
import subprocess
import sys
import threading

import pytest
import yaml

import devlab
import devlab.bench
import devlab.client
from devlab.bench.config import BENCH_UID_BASE, identity_of, with_bench_users
from devlab.bench.events import first_event
from devlab.bench.floor import LABEL_BENCH, floor_create_kwargs
from devlab.bench.harness import at_once
from devlab.bench.memory import memory_mib
from devlab.bench.progress import until_ready
from devlab.bench.report import (
    LOGIN_STEPS,
    BenchReport,
    ConcurrencySection,
    FootprintSection,
    LoginSection,
    SpawnSection,
    render_table,
)
from devlab.bench.stats import percentile, ratio, summarize
from devlab.bench.timeline import (
    FLOOR_MARKS,
    HUB_MARKS,
    first_match,
    group_samples,
    parse_log_line,
    phases,
)
from devlab.config import load_config
from devlab.hub.labs import LAB_HOST_CONFIG, READ_ONLY_ROOT
from devlab.hubapi import HubAPIError
from devlab.platform import DEFAULT_CONFIG
from devlab.stack import engine

# Statistics.


def test_percentile_of_one_sample_is_that_sample():
    assert percentile([2.5], 50) == 2.5
    assert percentile([2.5], 95) == 2.5


def test_percentile_interpolates_like_numpy_linear():
    samples = [3.0, 1.0, 2.0]  # unsorted on purpose
    assert percentile(samples, 50) == 2.0
    assert percentile(samples, 95) == pytest.approx(2.9)  # numpy.percentile -> 2.9
    assert percentile(samples, 0) == 1.0
    assert percentile(samples, 100) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5


def test_percentile_of_ten_samples_matches_numpy():
    samples = [float(x) for x in range(1, 11)]
    assert percentile(samples, 95) == pytest.approx(9.55)
    assert percentile(samples, 50) == pytest.approx(5.5)


def test_percentile_of_nothing_is_none_and_bad_q_is_refused():
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match="outside"):
        percentile([1.0], 101)


def test_summarize():
    s = summarize([1.0, 2.0, 4.0])
    assert (s.n, s.p50, s.min, s.max) == (3, 2.0, 1.0, 4.0)
    assert s.mean == pytest.approx(7 / 3)
    empty = summarize([])
    assert empty.n == 0
    assert empty.p50 is None
    assert empty.to_json()["p95"] is None


def test_ratio_needs_both_and_a_positive_floor():
    assert ratio(3.0, 1.5) == 2.0
    assert ratio(None, 1.0) is None
    assert ratio(1.0, None) is None
    assert ratio(1.0, 0.0) is None


# Timeline.


def test_phases_are_consecutive_differences_and_skip_missing_marks():
    marks = {"request": 10.0, "create": 10.5, "start": 11.0, "ready": 14.0}
    got = phases(marks, HUB_MARKS)
    assert got == {"request>create": 0.5, "create>start": 0.5, "start>ready": 3.0}
    assert sum(got.values()) == marks["ready"] - marks["request"]
    assert phases({"request": 1.0}, FLOOR_MARKS) == {}


def test_parse_docker_log_line_with_nanoseconds():
    stamp, text = parse_log_line(
        "2026-11-26T11:51:01.706487025Z [I 2026-11-26 11:51:01.706 ServerApp] Jupyter Server"
    )
    assert stamp == pytest.approx(1795693861.706487, abs=1e-6)
    assert text.startswith("[I ")
    assert parse_log_line("not a docker log line") is None


def test_first_match_respects_after():
    lines = [
        "2026-11-26T11:00:00.000000000Z Adding user alice to proxy",
        "2026-11-26T11:00:05.000000000Z Adding user alice to proxy",
    ]
    early = parse_log_line(lines[0])[0]
    assert first_match(lines, r"Adding user alice", 0) == early
    assert first_match(lines, r"Adding user alice", early + 1) == early + 5
    assert first_match(lines, r"Adding user bob", 0) is None


def test_group_samples_keeps_first_appearance_order():
    runs = [{"a>b": 1.0, "b>c": 2.0}, {"a>c": 3.0, "a>b": 1.5}]
    assert group_samples(runs) == {"a>b": [1.0, 1.5], "b>c": [2.0], "a>c": [3.0]}


# Report.


def _report() -> BenchReport:
    report = BenchReport(
        stack="bench",
        lab_image="devlab/lab:0.1.0-abc",
        cycles=3,
        users=2,
        quick=True,
        cpus=2,
        lab_size="small (1 CPU, 2048 MiB)",
        started_at="2026-01-01T00:00:00+00:00",
        duration_s=100.0,
    )
    report.spawn = SpawnSection(
        hub=[4.0, 5.0, 6.0],
        floor=[2.0, 2.0, 3.0],
        stop=[1.0, 1.0, 1.0],
        first_hub_s=7.0,
        first_floor_s=3.5,
        hub_phases={"request>create": [0.1, 0.2, 0.3]},
        floor_phases={"start>listening": [2.0, 2.0, 2.5]},
    )
    report.concurrency = ConcurrencySection(
        users=2,
        hub_wall_s=10.0,
        hub_per_user=[9.0, 10.0],
        hub_failures=["bench-user-02: boom"],
        floor_wall_s=5.0,
        floor_per_user=[4.0, 5.0],
        stop_wall_s=2.0,
        hub_phases={"listening>proxy_add": [1.0, 3.0]},
    )
    report.login = LoginSection(
        user="bob", steps={"login": 0.5, "server_ready": 4.0, "kernel_started": 1.0}
    )
    report.footprint = FootprintSection(
        services_mib={"hub": 100.0, "proxy": 20.0}, idle_lab_mib=110.0, up_warm_s=30.0
    )
    report.notes.append("a note")
    return report


def test_json_shape_carries_ratios_against_the_floor():
    data = _report().to_json()
    json.dumps(data)  # serialisable as is
    assert set(data) == {
        "version",
        "meta",
        "spawn",
        "concurrency",
        "login_to_kernel",
        "footprint",
        "notes",
    }
    spawn = data["spawn"]
    assert spawn["hub"]["p50"] == 5.0
    assert spawn["floor"]["p50"] == 2.0
    assert spawn["p50_ratio"] == 2.5
    assert spawn["p95_ratio"] == pytest.approx(5.9 / 2.9, abs=1e-3)
    assert spawn["p50_added_s"] == 3.0
    assert spawn["p95_added_s"] == 3.0
    assert spawn["hub"]["samples"] == [4.0, 5.0, 6.0]
    assert spawn["hub_phases"]["request>create"]["p50"] == 0.2
    conc = data["concurrency"]
    assert conc["wall_ratio"] == 2.0
    assert conc["hub"]["failures"] == 1
    assert conc["floor"]["failures"] == 0
    assert conc["hub_phases"]["listening>proxy_add"]["p50"] == 2.0
    login = data["login_to_kernel"]
    assert list(login["steps"]) == list(LOGIN_STEPS)
    assert login["steps"]["server_stopped"] is None
    assert login["total_s"] == 5.5
    assert data["footprint"]["stack_total_mib"] == 120.0
    assert data["footprint"]["idle_floor_mib"] is None
    assert data["meta"]["quick"] is True


def test_json_of_an_empty_report_has_every_section_as_null():
    report = BenchReport(
        stack="s",
        lab_image="i",
        cycles=1,
        users=1,
        quick=False,
        cpus=1,
        lab_size="small",
        started_at="t",
    )
    data = report.to_json()
    assert data["spawn"] is None
    assert data["footprint"] is None
    assert render_table(report).startswith("devlab bench: stack s")


def test_table_has_each_section_and_the_ratios():
    text = render_table(_report())
    for heading in (
        "Spawn latency",
        "Where spawn time goes",
        "Concurrency (2 users at once)",
        "Login to kernel (bob)",
        "Footprint",
        "Notes",
    ):
        assert heading in text
    assert "2.50x" in text  # the p50 ratio
    assert re.search(r"added by devlab +3\.00s +3\.00s", text)
    assert "failure: bench-user-02: boom" in text
    assert "110.00 MiB" in text
    assert "phase (per user)" in text


# The bench's config: the stack's own, on the mock provider, with bench users added.


def _default_raw() -> dict:
    return yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))


def test_bench_config_adds_numbered_users_in_the_first_org():
    raw = _default_raw()
    raw["auth"] = {"provider": "firstuse"}
    bench = with_bench_users(raw, 3)
    assert bench["auth"]["provider"] == "github-mock"
    added = bench["mock_github"]["users"][-3:]
    assert [u["login"] for u in added] == ["bench-user-01", "bench-user-02", "bench-user-03"]
    assert [u["id"] for u in added] == [BENCH_UID_BASE + 1, BENCH_UID_BASE + 2, BENCH_UID_BASE + 3]
    assert {tuple(u["orgs"]) for u in added} == {("devlab-devs",)}
    assert raw["auth"] == {"provider": "firstuse"}  # the stack's own mapping is untouched
    assert len(raw["mock_github"]["users"]) == 3


def test_bench_config_keeps_users_it_already_has():
    once = with_bench_users(_default_raw(), 2)
    twice = with_bench_users(once, 3)
    logins = [u["login"] for u in twice["mock_github"]["users"]]
    assert logins == ["alice", "bob", "carol", "bench-user-01", "bench-user-02", "bench-user-03"]


def test_bench_config_on_a_config_without_mock_section():
    bench = with_bench_users({"auth": {"provider": "firstuse"}}, 1)
    assert bench["mock_github"]["users"][0]["orgs"] == []


def test_bench_users_get_the_spawners_identity(tmp_path):
    path = tmp_path / "devlab.yaml"
    path.write_text(yaml.safe_dump(with_bench_users(_default_raw(), 2)), encoding="utf-8")
    config = load_config(path)
    user = identity_of(config, "bench-user-02")
    assert (user.username, user.uid, user.gid) == ("bench-user-02", 7100002, 7100002)
    assert list(user.supplementary_gids) == [8000001]
    alice = identity_of(config, "alice")
    assert sorted(alice.supplementary_gids) == [8000001, 8000002]


# The floor: the hub's lab started straight through the engine.


def test_floor_container_runs_as_the_user_with_the_labs_mounts_and_hardening(tmp_path):
    path = tmp_path / "devlab.yaml"
    path.write_text(yaml.safe_dump(_default_raw()), encoding="utf-8")
    alice = identity_of(load_config(path), "alice")
    size = {"nano_cpus": 1_000_000_000, "mem_limit": 2**31}
    kwargs = floor_create_kwargs(
        alice, stack="st", image="devlab/lab:x", network="st_labs", size_config=size
    )
    assert kwargs["image"] == "devlab/lab:x"
    assert kwargs["name"] == "st-bench-floor-alice"
    assert kwargs["user"] == "7000001:7000001"
    assert sorted(kwargs["group_add"]) == ["8000001", "8000002"]
    assert kwargs["working_dir"] == "/home/alice"
    assert kwargs["environment"]["HOME"] == "/home/alice"
    assert f"--ServerApp.root_dir={alice.home}" in kwargs["command"]
    assert kwargs["volumes"] == {
        "st_homes": {"bind": "/home", "mode": "rw"},
        "st_project": {"bind": "/project", "mode": "rw"},
    }
    assert kwargs["network"] == "st_labs"
    assert kwargs["ports"] == {"8888/tcp": ("127.0.0.1", None)}  # loopback only
    # Labelled as one of the stack's labs, so `devlab down` removes a leftover floor.
    assert kwargs["labels"][engine.LABEL_STACK] == "st"
    assert kwargs["labels"][LABEL_BENCH] == "floor"
    for key, value in {**LAB_HOST_CONFIG, **READ_ONLY_ROOT, **size}.items():
        assert kwargs[key] == value, key


# The hub's spawn progress stream.


def test_progress_returns_at_the_ready_event_without_reading_further():
    lines = iter(
        [
            ": keepalive",
            "",
            'data: {"progress": 50, "message": "pulling"}',
            'data: {"progress": 100, "ready": true, "message": "ready"}',
            "data: not read",
        ]
    )
    until_ready(lines, "alice")
    assert next(lines) == "data: not read"


def test_progress_failure_and_early_end_raise_with_the_hubs_message():
    with pytest.raises(HubAPIError, match="alice's spawn failed: image gone"):
        until_ready(['data: {"failed": true, "message": "image gone"}'], "alice")
    with pytest.raises(HubAPIError, match="ended before ready"):
        until_ready(['data: {"progress": 10}'], "alice")


# Engine events.


def _event(action: str, user: str, seconds: float) -> dict:
    return {
        "Action": action,
        "Actor": {"Attributes": {engine.LABEL_USER: user}},
        "timeNano": int(seconds * 1e9),
    }


def test_first_event_matches_action_user_and_window():
    events = [
        _event("create", "bob", 10.0),
        _event("start", "alice", 11.0),
        _event("create", "alice", 12.0),
        _event("create", "alice", 20.0),
    ]
    assert first_event(events, "alice", "create", 0, 100) == 12.0
    assert first_event(events, "alice", "create", 13, 100) == 20.0
    assert first_event(events, "alice", "create", 13, 19) is None
    assert first_event(events, "carol", "create", 0, 100) is None


# Memory.


def test_memory_leaves_out_inactive_page_cache_on_cgroup_v1_and_v2():
    v1 = {"memory_stats": {"usage": 300 * 2**20, "stats": {"total_inactive_file": 100 * 2**20}}}
    v2 = {"memory_stats": {"usage": 300 * 2**20, "stats": {"inactive_file": 50 * 2**20}}}
    assert memory_mib(v1) == 200.0
    assert memory_mib(v2) == 250.0
    odd = {"memory_stats": {"usage": 10 * 2**20, "stats": {"inactive_file": 20 * 2**20}}}
    assert memory_mib(odd) == 10.0
    assert memory_mib({}) == 0.0


# The concurrency harness.


def test_at_once_runs_every_name_concurrently_and_keeps_exceptions():
    names = ["a", "b", "c"]
    together = threading.Barrier(len(names), timeout=30)  # passes only if all run at once

    def work(name: str) -> str:
        together.wait()
        if name == "b":
            raise ValueError("b failed")
        return name.upper()

    results = at_once(names, work)
    assert results["a"] == "A"
    assert results["c"] == "C"
    assert isinstance(results["b"], ValueError)


# Installs without the test (or hub) extra: `pipx install devlab`.


def _modules(package) -> list[str]:
    return [m.name for m in pkgutil.iter_modules(package.__path__, f"{package.__name__}.")]


def test_the_cli_and_the_bench_load_without_the_test_and_hub_extras():
    """`pipx install devlab` has neither extra: the CLI and every module of the bench and
    of devlab.client must import without them, and `devlab bench --help` must work."""
    blocked = (
        "testcontainers",
        "nbformat",
        "jupyter_client",
        "pytest",
        "jupyterhub",
        "dockerspawner",
        "oauthenticator",
        "tornado",
    )
    modules = ["devlab.cli", *_modules(devlab.bench), *_modules(devlab.client)]
    assert "devlab.bench.sections" in modules
    code = (
        f"import importlib, sys; sys.modules.update(dict.fromkeys({blocked!r}))\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "from devlab.cli import main\n"
        "main(['bench', '--help'])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "--quick" in result.stdout
