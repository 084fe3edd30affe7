"""devlab.bench: the statistics and the report format (never a timing: it is a benchmark)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

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


def test_floor_hardening_matches_the_hubs_labs():
    """The floor is only a floor if it is hardened exactly like a spawned lab."""
    wiring = pytest.importorskip("devlab.hub.wiring")
    from devlab.bench.runner import FLOOR_HARDENING

    assert wiring.LAB_HOST_CONFIG == FLOOR_HARDENING


def test_the_cli_loads_without_the_test_extra():
    """`pipx install devlab` has no test extra: the CLI, bench included, must import
    without it (bench loads devlab.testing only when it logs in to a kernel)."""
    blocked = ("testcontainers", "nbformat", "websocket", "jupyter_client", "pytest")
    code = f"import sys; sys.modules.update(dict.fromkeys({blocked!r})); import devlab.cli"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
