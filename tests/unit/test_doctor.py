"""devlab doctor: verdicts and messages from hand-made facts (the facts gathered from
this machine's engine: tests/integration/test_doctor_facts.py)."""

import json
from dataclasses import replace

import pytest

from devlab.stack.doctor import (
    GIB,
    Check,
    DiskFact,
    DoctorReport,
    Facts,
    check_ca_bundle,
    check_compose,
    check_config,
    check_disks,
    check_engine,
    check_images,
    check_ports,
    check_storage,
    evaluate,
    parse_version,
    render,
)
from devlab.storage.modes import mode_from_filesystems

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
GOOD = Facts(
    engine_version="20.10.24+dfsg1",
    compose_version="2.40.3",
    config_path="config/devlab.yaml",
    storage_detected=("volume", "the engine's kernel has no NFS client"),
    disks=(DiskFact("state dir", "/state", 50 * GIB), DiskFact("Docker root", "/d", 80 * GIB)),
    wanted_ports={"hub (--port)": 8000, "mock OAuth (--oauth-port)": 8090},
    images={"devlab/hub:0.1.0-a": True, "devlab/lab:0.1.0-b": True},
)


def test_good_facts_are_all_ok():
    report = evaluate(GOOD)
    assert report.ok
    assert {check.status for check in report.checks} == {"ok"}
    assert [check.name for check in report.checks] == [
        "engine",
        "compose",
        "config",
        "images",
        "storage",
        "disk (state dir)",
        "disk (Docker root)",
        "ports",
        "CA bundle",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("20.10.24+dfsg1", (20, 10, 24)), ("v2.40.3", (2, 40, 3)), ("27.0.0-rc.1", (27, 0, 0))],
)
def test_parse_version(text, expected):
    assert parse_version(text) == expected
    assert parse_version("dev") is None


def test_engine_unreachable_fails_with_how_to_start_it():
    check = check_engine(replace(GOOD, engine_version=None, engine_error="connection refused"))
    assert check.status == "fail"
    assert "connection refused" in check.detail
    assert check.fix is not None
    assert check.fix.endswith("or set DOCKER_HOST")


def test_engine_older_than_20_10_warns():
    check = check_engine(replace(GOOD, engine_version="19.03.15"))
    assert (check.status, check.fix) == ("warn", "upgrade Docker Engine to 20.10 or newer")
    assert check_engine(replace(GOOD, engine_version="27.3.1")).status == "ok"


def test_compose_missing_or_v1_fails():
    missing = check_compose(replace(GOOD, compose_version=None, compose_error="unknown command"))
    assert missing.status == "fail"
    assert "unknown command" in missing.detail
    assert missing.fix is not None
    assert missing.fix.endswith("`docker compose version`")
    assert check_compose(replace(GOOD, compose_version="1.29.2")).status == "fail"


def test_compose_tested_version_is_noted_and_newer_ones_on_old_engines_warn():
    ok = check_compose(GOOD)
    assert ok.status == "ok"
    assert "2.40.3 is tested with engine 20.10" in ok.detail
    newer = check_compose(replace(GOOD, compose_version="2.41.0"))
    assert newer.status == "warn"
    assert "untested" in newer.detail
    assert check_compose(
        replace(GOOD, engine_version="27.3.1", compose_version="2.41.0")
    ).status == ("ok")


def test_bad_config_fails_with_its_own_text():
    error = "config/devlab.yaml:3: auth.provider: not allowed\nFix config/devlab.yaml and run."
    check = check_config(replace(GOOD, config_error=error))
    assert check.status == "fail"
    assert check.detail == "config/devlab.yaml:3: auth.provider: not allowed"
    assert check.fix == "fix config/devlab.yaml (or pass another with --config)"


def test_missing_images_warn_that_up_builds_them():
    check = check_images(replace(GOOD, images={"devlab/hub:0.1.0-a": False, "devlab/lab:x": True}))
    assert check.status == "warn"
    assert check.detail == (
        "missing devlab/hub:0.1.0-a: `devlab up` will build them (a few minutes)"
    )
    unknown = check_images(replace(GOOD, images=None, engine_error="down"))
    assert (unknown.status, unknown.detail) == (
        "warn",
        "not checked: the Docker engine is unreachable",
    )


def test_storage_says_which_mode_and_why():
    nfs = check_storage(replace(GOOD, storage_detected=mode_from_filesystems("nodev\tnfs4\n")))
    assert (nfs.status, nfs.detail) == ("ok", "nfs: the engine's kernel has an NFSv4 client")
    volume = check_storage(replace(GOOD, storage_detected=mode_from_filesystems("nodev\tproc\n")))
    assert volume.status == "ok"
    assert volume.detail.startswith("volume: the engine's kernel has no NFS client")
    forced = check_storage(replace(GOOD, storage_setting="nfs", storage_detected=None))
    assert forced.detail == "nfs: set by storage.mode in the config"
    unknown = check_storage(replace(GOOD, storage_detected=None, storage_unknown="hub missing"))
    assert unknown.status == "ok"
    assert unknown.detail.startswith("unknown until images exist (hub missing)")
    unreachable = check_storage(replace(GOOD, storage_detected=None, engine_error="down"))
    assert unreachable.status == "warn"


@pytest.mark.parametrize(
    ("free", "status"), [(10 * GIB, "ok"), (4 * GIB, "warn"), (GIB // 2, "fail")]
)
def test_disk_thresholds(free, status):
    (check,) = check_disks(replace(GOOD, disks=(DiskFact("state dir", "/s", free),)))
    assert check.status == status
    assert check.name == "disk (state dir)"
    if status != "ok":
        assert check.fix is not None
        assert "/s" in check.fix


def test_unmeasured_disk_says_why():
    disks = (DiskFact("Docker root", "/var/lib/docker", None, "it is on the engine's VM"),)
    (check,) = check_disks(replace(GOOD, disks=disks))
    assert (check.status, check.detail) == ("ok", "not checked: it is on the engine's VM")


def test_each_port_conflict_fails_with_its_option():
    facts = replace(
        GOOD,
        port_holders={8000: "process python3 (pid 1234)", 8090: "container x"},
        port_alternatives={8000: 8001},
    )
    hub, oauth = check_ports(facts)
    assert hub == Check(
        "port 8000",
        "fail",
        "port 8000 (hub, --port) is taken by process python3 (pid 1234)",
        "stop it or choose another with --port 8001",
    )
    assert oauth.fix == "stop it or choose another with --oauth-port PORT"
    assert not evaluate(facts).ok


def test_free_ports_are_one_ok_line():
    assert check_ports(GOOD) == [Check("ports", "ok", "8000, 8090 free on 127.0.0.1")]


def test_ca_bundle_checks():
    none = check_ca_bundle(GOOD)
    assert (none.status, none.detail) == (
        "ok",
        "none needed unless builds fail with certificate errors",
    )
    good = check_ca_bundle(replace(GOOD, ca_bundle="/ca.pem", ca_bundle_text=PEM * 2))
    assert (good.status, good.detail) == ("ok", "/ca.pem: 2 certificate(s)")
    empty = check_ca_bundle(replace(GOOD, ca_bundle="/ca.pem", ca_bundle_text="junk"))
    assert empty.status == "fail"
    assert empty.fix is not None
    assert "DEVLAB_CA_BUNDLE" in empty.fix
    unreadable = check_ca_bundle(
        replace(GOOD, ca_bundle="/ca.pem", ca_bundle_error="Permission denied")
    )
    assert unreadable.status == "fail"
    assert "Permission denied" in unreadable.detail


REPORT = DoctorReport(
    (
        Check("engine", "ok", "Docker 27.3.1"),
        Check("images", "warn", "missing x", "run `devlab up`"),
        Check("port 8000", "fail", "port 8000 (hub, --port) is taken\nby x", "stop it"),
    )
)


def test_render_is_an_aligned_table_with_fixes_and_a_verdict():
    assert render(REPORT, color=False) == (
        "ok    engine     Docker 27.3.1\n"
        "warn  images     missing x\n"
        "                 fix: run `devlab up`\n"
        "fail  port 8000  port 8000 (hub, --port) is taken\n"
        "                 by x\n"
        "                 fix: stop it\n"
        "`devlab up` would fail: 1 problem(s) above; fix them and run again."
    )


def test_render_colors_only_when_asked():
    assert "\033[" not in render(REPORT, color=False)
    assert "\033[31mfail\033[0m" in render(REPORT, color=True)
    assert render(DoctorReport((Check("engine", "ok", "fine"),))).endswith(
        "`devlab up` should work (0 warning(s))."
    )


def test_report_json():
    data = json.loads(REPORT.to_json())
    assert data["ok"] is False
    assert data["checks"][1] == {
        "name": "images",
        "status": "warn",
        "detail": "missing x",
        "fix": "run `devlab up`",
    }
    assert DoctorReport((Check("engine", "ok", "fine"),)).ok
