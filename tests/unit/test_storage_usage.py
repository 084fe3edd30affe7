"""Disk usage of a stack's volumes: thresholds, the scan's script and output, and what
`devlab status` and `devlab doctor` say about a home filling the disk."""

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from devlab.stack.doctor import Facts, check_stack_disk, evaluate
from devlab.storage.usage import (
    GIB,
    MIB,
    DiskReport,
    Filesystem,
    HomeUsage,
    ScanError,
    StorageUsage,
    Thresholds,
    parse_scan,
    scan_script,
    size,
    to_json,
)

TIB = 1024 * GIB
SOURCES = {
    "homes": "/var/lib/docker/volumes/s_homes/_data",
    "project": "/var/lib/docker/volumes/s_project/_data",
    "hub database": "/var/lib/docker/volumes/s_hub-data/_data",
}


def filesystem(free: int, total: int = 100 * GIB) -> Filesystem:
    return Filesystem(("homes", "project", "hub database"), SOURCES["homes"], total, free)


def usage_with(free: int, total: int = 100 * GIB, **changes) -> StorageUsage:
    usage = StorageUsage(
        filesystems=(filesystem(free, total),),
        homes=(HomeUsage("alice", 40 * GIB), HomeUsage("bob", 3 * MIB)),
        homes_bytes=40 * GIB + 3 * MIB,
        complete=True,
        measured_in="hub",
        scan_seconds=0.05,
    )
    return replace(usage, **changes)


# --- thresholds ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "warn", "critical"),
    [
        (8 * GIB, 2 * GIB, 512 * MIB),  # small disk: the floors
        (100 * GIB, 10 * GIB, 3 * GIB),  # the shares
        (2 * TIB, 50 * GIB, 10 * GIB),  # large disk: the caps
    ],
)
def test_thresholds_are_a_share_of_the_disk_between_a_floor_and_a_cap(total, warn, critical):
    limits = Thresholds()
    assert limits.warn_below(total) == pytest.approx(warn, rel=0.01)
    assert limits.critical_below(total) == pytest.approx(critical, rel=0.01)


@pytest.mark.parametrize(
    ("free", "total", "level"),
    [
        (30 * GIB, 100 * GIB, "ok"),
        (9 * GIB, 100 * GIB, "warning"),
        (2 * GIB, 100 * GIB, "critical"),
        (60 * GIB, 2 * TIB, "ok"),  # 3 % free, but 60 GiB is plenty
        (40 * GIB, 2 * TIB, "warning"),
        (1536 * MIB, 8 * GIB, "warning"),  # 19 % free, but under 2 GiB
        (400 * MIB, 8 * GIB, "critical"),
        (0, 0, "critical"),
    ],
)
def test_level_from_free_space(free, total, level):
    assert filesystem(free, total).level() == level


def test_the_worst_filesystem_decides():
    usage = usage_with(50 * GIB)
    hub_db = Filesystem(("hub database",), SOURCES["hub database"], 100 * GIB, GIB)
    assert usage.level() == "ok"
    assert replace(usage, filesystems=(*usage.filesystems, hub_db)).level() == "critical"


# --- the scan -----------------------------------------------------------------------------

SCAN = (
    "fs\thomes\t2049\t4096 1000000 250000\n"
    "fs\tproject\t2049\t4096 1000000 250000\n"
    "fs\thub database\t2050\t4096 500000 400000\n"
    "du\n"
    "4096\t./carol\x00209719296\t./alice\x0012288\t./bob\x00209735680\t.\x00"
    "\nend 0\n"
)


def test_parse_scan_groups_volumes_by_filesystem_and_sorts_homes():
    usage = parse_scan(SCAN, SOURCES, "hub", 0.12)
    homes_fs, db_fs = usage.filesystems
    assert homes_fs == Filesystem(
        ("homes", "project"), SOURCES["homes"], 4096 * 1000000, 4096 * 250000
    )
    assert db_fs.holds == ("hub database",)
    assert db_fs.path == SOURCES["hub database"]
    assert [h.user for h in usage.homes] == ["alice", "bob", "carol"]
    assert usage.homes[0].bytes == 209719296
    assert usage.homes_bytes == 209735680
    assert usage.complete
    assert (usage.measured_in, usage.scan_seconds) == ("hub", 0.12)


def test_a_scan_cut_short_keeps_the_homes_it_finished():
    cut = (
        "fs\thomes\t2049\t4096 1000000 250000\n"
        "du\n"
        "4096\t./carol\x00209719296\t./alice\x0012288\t./bo"  # bob's entry cut off
        "\nend 124\n"
    )
    usage = parse_scan(cut, SOURCES, "nfs", 10.0)
    assert [h.user for h in usage.homes] == ["alice", "carol"]
    assert usage.homes_bytes is None
    assert not usage.complete
    assert "partial" in DiskReport(usage).render()[-1]


def test_garbage_is_a_scan_error():
    with pytest.raises(ScanError):
        parse_scan("sh: stat: not found\n", SOURCES, "hub", 0.1)
    with pytest.raises(ScanError):
        parse_scan("weird\ndu\n\nend 0\n", SOURCES, "hub", 0.1)


def test_the_script_runs_and_its_output_parses(tmp_path: Path):
    """The real script under a real shell, on folders of this machine."""
    homes = tmp_path / "homes"
    for user, data in (("alice", 3 * MIB), ("bob", 10)):
        (homes / user).mkdir(parents=True)
        (homes / user / "data").write_bytes(b"x" * data)
    (tmp_path / "db").mkdir()
    paths = {"homes": str(homes), "hub database": str(tmp_path / "db")}
    output = subprocess.run(
        scan_script(paths, str(homes)), capture_output=True, text=True, check=True
    ).stdout
    usage = parse_scan(output, paths, "test", 0.0)
    assert len(usage.filesystems) == 1  # both on tmp_path's filesystem
    assert usage.filesystems[0].holds == ("homes", "hub database")
    assert 0 < usage.filesystems[0].free_bytes <= usage.filesystems[0].total_bytes
    assert [h.user for h in usage.homes] == ["alice", "bob"]
    assert 3 * MIB <= usage.homes[0].bytes < 4 * MIB
    assert usage.homes_bytes >= usage.homes[0].bytes + usage.homes[1].bytes
    assert usage.complete


def test_the_script_quotes_paths():
    command = scan_script({"homes": "/srv/it's here"}, "/srv/it's here", seconds=3)
    assert command[:2] == ["sh", "-c"]
    assert "'/srv/it'\"'\"'s here'" in command[2]
    assert "timeout -k 1 3 " in command[2]


# --- what people see ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "text"), [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (40 * GIB, "40.0 GiB")]
)
def test_size(n, text):
    assert size(n) == text


def test_status_names_free_space_and_the_biggest_homes():
    lines = DiskReport(usage_with(30 * GIB)).render()
    assert lines[0].startswith("disk: 30.0 GiB of 100.0 GiB free (30%) for homes, project")
    assert lines[0].endswith("[ok]")
    assert lines[1].strip() == "biggest homes: alice 40.0 GiB, bob 3.0 MiB"
    assert DiskReport(None, "the hub is down").render() == ["disk: not measured (the hub is down)"]


def test_status_json():
    data = to_json(usage_with(9 * GIB))
    assert data["level"] == "warning"
    assert data["biggest_homes"][0] == {"user": "alice", "bytes": 40 * GIB}
    (fs,) = data["filesystems"]
    assert fs["free_bytes"] == 9 * GIB
    assert fs["warning_below_bytes"] == 10 * GIB
    assert fs["holds"] == ["homes", "project", "hub database"]
    assert DiskReport(None, "down").to_json() == {"level": "unknown", "unknown": "down"}


def test_status_json_lists_at_most_five_homes():
    homes = tuple(HomeUsage(f"u{i}", 100 - i) for i in range(8))
    data = to_json(usage_with(30 * GIB, homes=homes))
    assert [h["user"] for h in data["biggest_homes"]] == ["u0", "u1", "u2", "u3", "u4"]
    assert data["homes_measured"] == 8


# --- doctor ---------------------------------------------------------------------------------


def test_doctor_has_no_disk_check_without_a_running_stack():
    assert check_stack_disk(Facts()) == []


def test_doctor_is_ok_with_room_and_names_the_biggest_home():
    (check,) = check_stack_disk(Facts(stack_disk=DiskReport(usage_with(30 * GIB))))
    assert (check.name, check.status) == ("disk (homes)", "ok")
    assert "alice 40.0 GiB" in check.detail


def test_doctor_warns_before_the_disk_is_full_naming_the_home_and_the_fix():
    (check,) = check_stack_disk(Facts(stack_disk=DiskReport(usage_with(9 * GIB))))
    assert check.status == "warn"
    assert "9.0 GiB of 100.0 GiB free" in check.detail
    assert "below 10.0 GiB free" in check.detail
    assert "hub database" in check.detail
    assert "ask alice (home 40.0 GiB) to delete files" in check.fix
    assert "devlab export-homes alice.tar.gz --user alice" in check.fix
    assert SOURCES["homes"] in check.fix


def test_doctor_fails_when_critical():
    facts = Facts(stack_disk=DiskReport(usage_with(GIB)))
    (check,) = check_stack_disk(facts)
    assert check.status == "fail"
    assert "soon fail" in check.detail
    assert not evaluate(replace(facts, engine_version="20.10.24", compose_version="2.40.3")).ok


def test_doctor_on_a_separate_database_filesystem_points_at_that_disk():
    usage = usage_with(
        50 * GIB,
        filesystems=(
            filesystem(50 * GIB),
            Filesystem(("hub database",), SOURCES["hub database"], 20 * GIB, GIB),
        ),
    )
    homes, database = check_stack_disk(Facts(stack_disk=DiskReport(usage)))
    assert homes.status == "ok"
    assert (database.name, database.status) == ("disk (hub database)", "warn")
    assert "alice" not in database.fix
    assert SOURCES["hub database"] in database.fix


def test_doctor_warns_when_the_scan_fails():
    (check,) = check_stack_disk(Facts(stack_disk=DiskReport(None, "hub: unexpected output")))
    assert (check.status, check.detail) == ("warn", "not measured: hub: unexpected output")
