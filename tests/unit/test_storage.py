"""Provisioning plans (pure), applying them to a directory, and storage modes."""

import os
import stat

import pytest

from devlab.identity import Group, Identity
from devlab.storage import Directory, OwnershipConflict, apply_plan, plan_for
from devlab.storage.modes import (
    lab_volumes,
    mode_from_filesystems,
    nfs_volume_options,
    volume_name,
)

ALICE = Identity(
    login="alice",
    uid=7000001,
    groups=(Group("devlab-devs", 8000001), Group("rubin-sci", 8000002)),
)
CAROL = Identity(login="carol", uid=7000003)


def test_plan_has_a_private_home_and_a_shared_dir_per_org():
    dirs = plan_for(ALICE, skeleton=None).directories
    assert dirs == (
        Directory("homes", "alice", 7000001, 7000001, 0o700),
        Directory("project", "devlab-devs", 0, 8000001, 0o2770),
        Directory("project", "rubin-sci", 0, 8000002, 0o2770),
    )


def test_user_without_orgs_gets_only_a_home():
    assert [d.root for d in plan_for(CAROL).directories] == ["homes"]


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")


def roots(tmp_path):
    (tmp_path / "homes").mkdir()
    (tmp_path / "project").mkdir()
    return {"homes": tmp_path / "homes", "project": tmp_path / "project"}


@needs_root
def test_apply_creates_owned_dirs_and_seeds_the_home(tmp_path):
    created = apply_plan(plan_for(ALICE), roots(tmp_path))
    home = tmp_path / "homes" / "alice"
    assert created[0] == home
    info = home.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (7000001, 7000001, 0o700)
    bashrc = (home / ".bashrc").stat()
    assert (bashrc.st_uid, bashrc.st_gid) == (7000001, 7000001)
    shared = (tmp_path / "project" / "rubin-sci").stat()
    assert (shared.st_uid, shared.st_gid, stat.S_IMODE(shared.st_mode)) == (0, 8000002, 0o2770)


@needs_root
def test_apply_is_idempotent_and_keeps_contents(tmp_path):
    r = roots(tmp_path)
    apply_plan(plan_for(ALICE), r)
    (tmp_path / "homes" / "alice" / ".bashrc").write_text("mine")
    assert apply_plan(plan_for(ALICE), r) == []
    assert (tmp_path / "homes" / "alice" / ".bashrc").read_text() == "mine"


def test_foreign_home_is_reported_not_chowned(tmp_path):
    r = roots(tmp_path)
    home = r["homes"] / "alice"
    home.mkdir()
    before = home.stat()
    with pytest.raises(OwnershipConflict, match="belongs to"):
        apply_plan(plan_for(ALICE), r)
    after = home.stat()
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)


def test_volume_mode_mounts_the_stack_volumes():
    assert lab_volumes("s1", "volume") == {"s1_homes": "/home", "s1_project": "/project"}


def test_nfs_mode_mounts_nfs_backed_volumes():
    assert lab_volumes("s1", "nfs") == {"s1_homes_nfs": "/home", "s1_project_nfs": "/project"}
    assert volume_name("s1", "homes", "nfs") == "s1_homes_nfs"
    options = nfs_volume_options("127.0.0.1", 12049, "/homes")
    assert options["device"] == ":/homes"
    assert "addr=127.0.0.1,port=12049,nfsvers=4.1" in options["o"]


def test_mode_follows_the_kernel():
    with_nfs = "nodev\tsysfs\n\text4\nnodev\tnfs\nnodev\tnfs4\n"
    assert mode_from_filesystems(with_nfs)[0] == "nfs"
    mode, reason = mode_from_filesystems("nodev\tsysfs\n\text4\n")
    assert mode == "volume"
    assert "storage.mode: nfs" in reason
