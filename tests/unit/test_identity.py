"""GitHub users and orgs to Unix identities."""

import pytest

from devlab.identity import Group, Identity, IdentityError, check_system_id
from devlab.identity.github import identity_from_github


def test_github_user_maps_uid_and_org_gids():
    identity = identity_from_github(
        {"login": "Alice", "id": 7000001, "name": "Alice L"},
        [{"login": "rubin-sci", "id": 8000002}, {"login": "Devlab-Devs", "id": 8000001}],
    )
    assert identity.uid == identity.gid == 7000001
    assert identity.username == "alice"
    assert identity.home == "/home/alice"
    assert identity.groups == (Group("devlab-devs", 8000001), Group("rubin-sci", 8000002))
    assert identity.supplementary_gids == (8000001, 8000002)


@pytest.mark.parametrize("bad", [0, 999, 65534, 65535, 2**31])
def test_system_and_out_of_range_ids_are_refused(bad):
    with pytest.raises(IdentityError):
        check_system_id(bad, "uid")


def test_refusal_says_why():
    with pytest.raises(IdentityError, match="system accounts"):
        Identity(login="root-ish", uid=500)


def test_org_gid_cannot_be_the_private_group():
    with pytest.raises(ValueError, match="private group"):
        Identity(login="a", uid=7000001, groups=(Group("x", 7000001),))


def test_smallest_usable_id_is_accepted():
    assert Identity(login="a", uid=1000).uid == 1000


def test_usernames_that_break_passwd_files_are_refused():
    with pytest.raises(IdentityError, match="Unix user name"):
        Identity(login="a:b", uid=7000001)
