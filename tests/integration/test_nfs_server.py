"""The nfs service: NFS-Ganesha exports homes and project over NFSv4, root squashed.

The kernel on the test machines has no NFS client, so these tests speak NFS from
userspace with nfs-rs. It sends AUTH_SYS credentials carrying exactly the uid and gid
it is given and an empty supplementary group list, so group access is checked with the
group as the caller's primary gid.

Uses the `nfs_stack` fixture from the integration conftest: `nfs_port` (published on
127.0.0.1), `name` (compose project) and `provision(path, uid, gid, mode, volume=...)`.
"""

from __future__ import annotations

import uuid

import nfs_rs
import pytest

ALICE = 7000001
BOB = 7000002
CAROL = 7000003  # in no org
RUBIN_SCI = 8000002  # alice's and bob's org
NOBODY = 65534  # what root squash maps uid 0 to (Anonymous_Uid/Gid in ganesha.conf)


@pytest.fixture(scope="module")
def nfs(nfs_stack):
    nfs_stack.provision("alice", ALICE, ALICE, 0o700, volume="homes")
    nfs_stack.provision("rubin-sci", 0, RUBIN_SCI, 0o2770, volume="project")
    # World-writable, so a squashed root can create a file and show whose it is.
    nfs_stack.provision("squash-check", 0, 0, 0o1777, volume="homes")
    return nfs_stack


def connect(nfs_stack, export: str, uid: int, gid: int) -> nfs_rs.Client:
    return nfs_rs.Client.connect(
        f"nfs://127.0.0.1/{export}",
        versions=["4.1"],
        nfs_port=nfs_stack.nfs_port,
        uid=uid,
        gid=gid,
        # Source port above 1024: the tests need not run as root, and ganesha does not
        # require privileged ports.
        noresvport=True,
        connect_timeout=10,
        operation_timeout=30,
    )


def write(client: nfs_rs.Client, path: str, data: bytes) -> None:
    with client.open(path, "wb") as f:
        f.write(data)


def read(client: nfs_rs.Client, path: str) -> bytes:
    with client.open(path, "rb") as f:
        return f.read()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}.txt"


def test_alice_reads_and_writes_her_home(nfs):
    name = unique("notes")
    data = b"alice was here\n"
    with connect(nfs, "homes", ALICE, ALICE) as alice:
        write(alice, f"alice/{name}", data)
        assert read(alice, f"alice/{name}") == data
        assert name in alice.listdir("alice")
        info = alice.stat(f"alice/{name}")
        assert (info.uid, info.gid) == (ALICE, ALICE)


def test_bob_is_denied_alices_home(nfs):
    name = unique("private")
    with connect(nfs, "homes", ALICE, ALICE) as alice:
        write(alice, f"alice/{name}", b"secret\n")
    with connect(nfs, "homes", BOB, BOB) as bob:
        with pytest.raises(nfs_rs.NfsPermissionError):
            bob.listdir("alice")
        with pytest.raises(nfs_rs.NfsPermissionError):
            read(bob, f"alice/{name}")
        with pytest.raises(nfs_rs.NfsPermissionError):
            write(bob, f"alice/{unique('bob')}", b"intrusion\n")


def test_root_is_squashed(nfs):
    with connect(nfs, "homes", 0, 0) as root:
        # Real root (ganesha holds DAC_OVERRIDE) could read a 0700 home; nobody cannot.
        with pytest.raises(nfs_rs.NfsPermissionError):
            root.listdir("alice")
        with pytest.raises(nfs_rs.NfsPermissionError):
            write(root, f"alice/{unique('root')}", b"as root\n")
        name = unique("root")
        write(root, f"squash-check/{name}", b"as root\n")
        info = root.stat(f"squash-check/{name}")
        assert (info.uid, info.gid) == (NOBODY, NOBODY)


def test_org_members_share_the_project_directory(nfs):
    alice_file, bob_file = unique("alice"), unique("bob")
    with (
        connect(nfs, "project", ALICE, RUBIN_SCI) as alice,
        connect(nfs, "project", BOB, RUBIN_SCI) as bob,
    ):
        write(alice, f"rubin-sci/{alice_file}", b"from alice\n")
        write(bob, f"rubin-sci/{bob_file}", b"from bob\n")
        assert read(bob, f"rubin-sci/{alice_file}") == b"from alice\n"
        assert read(alice, f"rubin-sci/{bob_file}") == b"from bob\n"
        assert {alice_file, bob_file} <= set(alice.listdir("rubin-sci"))
        # The setgid bit on the directory keeps new files in the org's group.
        assert alice.stat(f"rubin-sci/{alice_file}").gid == RUBIN_SCI
        assert bob.stat(f"rubin-sci/{bob_file}").uid == BOB


def test_non_member_cannot_enter_the_project_directory(nfs):
    with connect(nfs, "project", CAROL, CAROL) as carol:
        with pytest.raises(nfs_rs.NfsPermissionError):
            carol.listdir("rubin-sci")
        with pytest.raises(nfs_rs.NfsPermissionError):
            write(carol, f"rubin-sci/{unique('carol')}", b"not a member\n")
