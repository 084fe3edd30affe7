"""Homes and project space from real labs: provisioning, privacy, sharing, persistence."""

from __future__ import annotations

import hashlib
import tarfile

import docker
import pytest

from devlab.stack.engine import lab_containers, service_containers
from devlab.storage.engine import detect_mode

PAYLOAD = "devlab persistence check\n" * 1000


def lab(devlab, user: str):
    client = docker.from_env()
    (container,) = lab_containers(client, devlab.name, user)
    return container


def sh(devlab, user: str, script: str) -> tuple[int, str]:
    result = lab(devlab, user).exec_run(["sh", "-c", script])
    return result.exit_code, result.output.decode()


def ok(devlab, user: str, script: str) -> str:
    code, output = sh(devlab, user, script)
    assert code == 0, f"{user}: {script!r} failed: {output}"
    return output.strip()


def start(devlab, *users: str) -> None:
    api = devlab.api()
    for user in users:
        api.ensure_user(user)
        if api.server(user) is None:
            api.start_server(user)
    for user in users:
        api.wait_ready(user)


def stop(devlab, *users: str) -> None:
    api = devlab.api()
    for user in users:
        api.stop_server(user)
    for user in users:
        api.wait_stopped(user)


@pytest.fixture(scope="module")
def labs(devlab):
    start(devlab, "alice", "bob", "carol")
    return devlab


def test_the_storage_mode_is_the_one_this_engine_supports(devlab):
    """The packaged config says `auto`: NFS where the engine's kernel can mount it (none
    here), else the volumes directly."""
    status = devlab.status()
    expected, why = detect_mode(docker.from_env(), status.hub_image)
    assert status.storage_mode == expected, why


def test_home_is_private_and_seeded(labs):
    assert ok(labs, "alice", "stat -c '%u:%g %a' /home/alice") == "7000001:7000001 700"
    assert ok(labs, "alice", "stat -c '%U' /home/alice/.bashrc") == "alice"
    assert ok(labs, "alice", "stat -c '%u:%g %a' /project/rubin-sci") == "0:8000002 2770"


def test_others_cannot_read_a_home(labs):
    code, output = sh(labs, "bob", "ls /home/alice")
    assert code != 0
    assert "Permission denied" in output
    code, _ = sh(labs, "bob", "cat /home/alice/.bashrc")
    assert code != 0


def test_org_members_share_project_space_and_others_cannot_enter(labs):
    ok(labs, "alice", "umask 002 && echo from-alice > /project/rubin-sci/shared.txt")
    ok(labs, "bob", "echo from-bob >> /project/rubin-sci/shared.txt")
    assert ok(labs, "alice", "cat /project/rubin-sci/shared.txt") == "from-alice\nfrom-bob"
    assert ok(labs, "bob", "stat -c '%G' /project/rubin-sci/shared.txt") == "rubin-sci"
    code, output = sh(labs, "carol", "ls /project/rubin-sci")
    assert code != 0
    assert "Permission denied" in output


def checksum(devlab) -> str:
    return ok(devlab, "alice", "sha256sum /home/alice/data.txt").split()[0]


def test_files_survive_lab_restart_hub_restart_and_down_up(labs, tmp_path):
    source = tmp_path / "data.txt"
    source.write_text(PAYLOAD)
    expected = hashlib.sha256(PAYLOAD.encode()).hexdigest()
    ok(labs, "alice", f"printf '%s' '{PAYLOAD.strip()}' > /dev/null")  # the shell works
    lab(labs, "alice").put_archive("/home/alice", _tar_of(source))
    assert checksum(labs) == expected

    stop(labs, "alice")
    start(labs, "alice")
    assert checksum(labs) == expected

    client = docker.from_env()
    for service in ("hub", "nfs"):
        for container in service_containers(client, labs.name, service):
            container.restart(timeout=10)
    labs.cli("up", "--port", str(labs.port))  # waits until every service is healthy again
    assert checksum(labs) == expected

    labs.cli("down")
    labs.cli("up", "--port", str(labs.port))
    start(labs, "alice", "bob", "carol")
    assert checksum(labs) == expected


def test_export_homes_keeps_owners_and_modes(labs, tmp_path):
    out = tmp_path / "alice.tar.gz"
    labs.cli("export-homes", "--user", "alice", str(out))
    with tarfile.open(out) as tar:
        members = {m.name: m for m in tar.getmembers()}
        home = members["alice"]
        assert (home.uid, home.gid, home.mode & 0o7777) == (7000001, 7000001, 0o700)
        data = members["alice/data.txt"]
        assert data.uid == 7000001
        assert (
            hashlib.sha256(tar.extractfile(data).read()).hexdigest()
            == hashlib.sha256(PAYLOAD.encode()).hexdigest()
        )


def _tar_of(path) -> bytes:
    import io

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tar.gettarinfo(str(path), arcname="data.txt")
        info.uid = info.gid = 7000001
        info.uname = info.gname = ""
        info.mode = 0o600
        with open(path, "rb") as handle:
            tar.addfile(info, handle)
    return buffer.getvalue()
