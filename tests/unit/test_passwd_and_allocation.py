"""passwd/group rendering and FirstUse uid allocation."""

import pytest

from devlab.identity import Group, Identity, IdentityError
from devlab.identity.allocation import allocate_uid
from devlab.identity.github import identity_from_auth_state
from devlab.identity.passwd import group_for, passwd_for

BASE_PASSWD = (
    "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
)
BASE_GROUP = "root:x:0:\nusers:x:100:\nnogroup:x:65534:\n"
ALICE = Identity(
    login="alice",
    uid=7000001,
    groups=(Group("devlab-devs", 8000001), Group("users", 8000002)),
    full_name="Alice: L",
)


def test_passwd_adds_the_user_and_keeps_the_system():
    text = passwd_for(BASE_PASSWD, ALICE)
    lines = text.splitlines()
    assert lines[:2] == BASE_PASSWD.splitlines()
    assert lines[-1] == "alice:x:7000001:7000001:Alice  L:/home/alice:/bin/bash"


def test_group_has_private_group_and_orgs_with_the_user_as_member():
    lines = group_for(BASE_GROUP, ALICE).splitlines()
    assert "alice:x:7000001:" in lines
    assert "devlab-devs:x:8000001:alice" in lines
    assert "root:x:0:" in lines


def test_an_org_named_like_a_system_group_replaces_it():
    lines = group_for(BASE_GROUP, ALICE).splitlines()
    assert [line for line in lines if line.startswith("users:")] == ["users:x:8000002:alice"]


def test_rendering_twice_gives_the_same_file():
    once = passwd_for(BASE_PASSWD, ALICE)
    assert passwd_for(once, ALICE) == once


def test_allocation_is_stable_and_never_reuses():
    known = {"dave": 4000000}
    assert allocate_uid(known, "dave", 4000000, 4000009) == 4000000
    assert allocate_uid(known, "erin", 4000000, 4000009) == 4000001


def test_allocation_skips_reserved_ids_and_reports_exhaustion():
    assert allocate_uid({}, "x", 65534, 65536) == 65536
    with pytest.raises(IdentityError, match=r"widen auth\.firstuse\.uid_range"):
        allocate_uid({"a": 5000}, "b", 5000, 5000)


def test_auth_state_identity_needs_orgs():
    assert identity_from_auth_state(None) is None
    assert identity_from_auth_state({"github_user": {"login": "a", "id": 7000001}}) is None
    identity = identity_from_auth_state(
        {"github_user": {"login": "a", "id": 7000001}, "orgs": [{"login": "o", "id": 8000001}]}
    )
    assert identity.supplementary_gids == (8000001,)
