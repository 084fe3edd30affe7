"""A home filling the disk: `devlab status` and `devlab doctor` name it and show free space.

The thresholds' consequences (warning, critical, the fixes) are unit-tested with
hand-made figures (tests/unit/test_storage_usage.py): a test cannot fill CI's disk.
"""

from __future__ import annotations

import json
import os
import re
import shutil

import docker
import pytest

from devlab.polling import poll_until
from devlab.stack.engine import lab_containers, service_containers
from devlab.storage.usage import Filesystem, StorageUsage

MIB = 1024**2
WRITTEN = 160 * MIB  # more than anything else the suite leaves in a home
SEEDED = 16 * MIB  # the skeleton, the tutorials' copy, Jupyter's own files


def lab_sh(devlab, user: str, script: str) -> str:
    (container,) = lab_containers(docker.from_env(), devlab.name, user)
    result = container.exec_run(["sh", "-c", script])
    assert result.exit_code == 0, result.output.decode()
    return result.output.decode()


@pytest.fixture(scope="module")
def big_home(devlab):
    """carol's lab writes a file of WRITTEN bytes into her home (removed afterwards)."""
    api = devlab.api()
    api.ensure_user("carol")
    api.start_server("carol")
    api.wait_ready("carol")
    lab_sh(devlab, "carol", f"dd if=/dev/zero of=/home/carol/big.bin bs=1M count={WRITTEN // MIB}")
    yield devlab
    lab_sh(devlab, "carol", "rm -f /home/carol/big.bin")


def disk_of(devlab) -> dict:
    return json.loads(devlab.cli("status", "--json").stdout)["disk"]


def test_status_names_the_biggest_home_and_free_space(big_home):
    disk = disk_of(big_home)
    biggest = disk["biggest_homes"][0]
    assert biggest["user"] == "carol"
    assert WRITTEN <= biggest["bytes"] < WRITTEN + SEEDED
    assert disk["complete"]
    assert disk["measured_in"] == "hub"
    assert disk["homes_bytes"] >= biggest["bytes"]
    homes = next(fs for fs in disk["filesystems"] if "homes" in fs["holds"])
    assert 0 < homes["free_bytes"] < homes["total_bytes"]
    assert {"project", "hub database"} <= {h for fs in disk["filesystems"] for h in fs["holds"]}
    # The level is the one the reported figures give, per filesystem and worst of all.
    measured = [
        Filesystem(tuple(fs["holds"]), fs["path"], fs["total_bytes"], fs["free_bytes"])
        for fs in disk["filesystems"]
    ]
    assert [fs["level"] for fs in disk["filesystems"]] == [fs.level() for fs in measured]
    assert disk["level"] == StorageUsage(tuple(measured), (), None, True, "hub", 0.0).level()
    root = docker.from_env().info()["DockerRootDir"]
    if homes["path"].startswith(root) and os.access(root, os.R_OK):
        # The engine runs on this machine: the same filesystem as the host sees it.
        assert homes["total_bytes"] == shutil.disk_usage(root).total

    text = big_home.cli("status").stdout
    assert re.search(r"biggest homes: carol 1[67]\d\.\d MiB", text), text
    assert "free" in text


def test_doctor_reports_the_homes_disk_naming_the_biggest_home(big_home):
    result = big_home.cli("doctor", "--json", check=False)
    checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
    check = checks["disk (homes)"]
    assert re.search(r"biggest homes: carol 1[67]\d\.\d MiB", check["detail"]), check
    assert "free" in check["detail"]


def test_with_the_hub_stopped_the_nfs_service_measures(big_home):
    """A hub that cannot write its database may be down: status still reports the disk."""
    client = docker.from_env()
    (hub,) = service_containers(client, big_home.name, "hub")
    hub.stop(timeout=10)
    try:
        disk = disk_of(big_home)
        assert disk["measured_in"] == "nfs"
        assert disk["biggest_homes"][0]["user"] == "carol"
        assert {h for fs in disk["filesystems"] for h in fs["holds"]} == {"homes", "project"}
    finally:
        hub.start()
        poll_until(
            lambda: big_home.status().service("hub").health == "healthy",
            "the hub healthy again after its restart",
            timeout=120,
        )
