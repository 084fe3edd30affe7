"""Provisioning plans (pure) and applying them to a directory."""

import os

import pytest

from devlab.identity import Group, Identity
from devlab.storage import Directory, OwnershipConflict, apply_plan, plan_for

ALICE = Identity(login="alice", uid=7000001, groups=(Group("rubin-sci", 8000002),))


def test_plan_has_a_private_home():
    plan = plan_for(ALICE)
    assert Directory("homes", "alice", 7000001, 7000001, 0o700) in plan.directories


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")


@needs_root
def test_apply_creates_home_with_owner_and_mode(tmp_path):
    created = apply_plan(plan_for(ALICE), {"homes": tmp_path})
    home = tmp_path / "alice"
    assert created == [home]
    info = home.stat()
    assert (info.st_uid, info.st_gid, info.st_mode & 0o7777) == (7000001, 7000001, 0o700)


@needs_root
def test_apply_is_idempotent_and_keeps_contents(tmp_path):
    apply_plan(plan_for(ALICE), {"homes": tmp_path})
    (tmp_path / "alice" / "work.txt").write_text("keep me")
    assert apply_plan(plan_for(ALICE), {"homes": tmp_path}) == []
    assert (tmp_path / "alice" / "work.txt").read_text() == "keep me"


def test_foreign_home_is_reported_not_chowned(tmp_path):
    home = tmp_path / "alice"
    home.mkdir()
    before = home.stat()
    with pytest.raises(OwnershipConflict, match="belongs to"):
        apply_plan(plan_for(ALICE), {"homes": tmp_path})
    after = home.stat()
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)
