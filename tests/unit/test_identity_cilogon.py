"""CILogon userinfo to a lab identity, and every claim that must refuse a login."""

from __future__ import annotations

from typing import Any

import pytest

from devlab.identity import Group, Identity
from devlab.identity.cilogon import ClaimError, ClaimNames, identity_from_claims
from devlab.identity.github import identity_from_auth_state
from devlab.identity.model import AUTH_STATE_KEY
from devlab.identity.passwd import group_for, passwd_for


def userinfo(**changes: Any) -> dict[str, Any]:
    """An NCSA-style userinfo: LDAP's numbers, groups with and without ids."""
    base: dict[str, Any] = {
        "sub": "http://cilogon.org/serverA/users/12345",
        "idp": "https://idp.ncsa.illinois.edu/idp/shibboleth",
        "username": "mjuric",
        "given_name": "Mario",
        "family_name": "Juric",
        "uidNumber": 5_000_101,
        "gidNumber": 5_000_900,
        "isMemberOf": [
            {"name": "LSST_Users", "id": 5_000_900},
            {"name": "lsst-pipelines", "id": 5_000_902},
            {"name": "jira-users"},
        ],
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def refusal(claims: dict[str, Any], **kwargs: Any) -> ClaimError:
    with pytest.raises(ClaimError) as refused:
        identity_from_claims(claims, **kwargs)
    return refused.value


def test_uid_and_groups_from_the_claims_with_a_user_private_group():
    claimed = identity_from_claims(userinfo())
    identity = claimed.identity
    assert (identity.login, identity.uid, identity.gid) == ("mjuric", 5_000_101, 5_000_101)
    assert identity.groups == (Group("lsst_users", 5_000_900), Group("lsst-pipelines", 5_000_902))
    assert identity.full_name == "Mario Juric"


def test_a_group_without_id_stays_a_hub_group_but_not_a_lab_group():
    claimed = identity_from_claims(userinfo())
    assert claimed.hub_groups == ("lsst_users", "lsst-pipelines", "jira-users")
    assert claimed.groups_without_id == ("jira-users",)
    assert "jira-users" not in {g.name for g in claimed.identity.groups}


def test_the_directorys_primary_group_when_user_private_groups_are_off():
    identity = identity_from_claims(userinfo(), user_private_groups=False).identity
    assert identity.gid == 5_000_900
    assert identity.primary_group_name == "lsst_users"
    assert identity.supplementary_gids == (5_000_902,)
    assert "mjuric:x:5000101:5000900:" in passwd_for("", identity)
    assert group_for("", identity).splitlines()[0] == "lsst_users:x:5000900:"


def test_a_primary_gid_not_among_the_groups_is_named_after_the_user():
    claims = userinfo(gidNumber="5000950")  # LDAP sends strings
    identity = identity_from_claims(claims, user_private_groups=False).identity
    assert (identity.primary_group_name, identity.gid) == ("mjuric", 5_000_950)


def test_the_users_own_group_listed_among_the_groups_is_not_a_second_group():
    claims = userinfo(isMemberOf=[{"name": "mjuric", "id": 5_000_101}])
    assert identity_from_claims(claims).identity.groups == ()


def test_numbers_written_as_strings_are_accepted():
    claims = userinfo(uidNumber="5000101", isMemberOf=[{"name": "g", "id": "5000902"}])
    identity = identity_from_claims(claims).identity
    assert (identity.uid, identity.supplementary_gids) == (5_000_101, (5_000_902,))


def test_no_groups_claim_means_no_groups():
    claimed = identity_from_claims(userinfo(isMemberOf=None))
    assert (claimed.identity.groups, claimed.hub_groups) == ((), ())


def test_claim_names_are_configurable():
    names = ClaimNames(username="eppn_user", uid="uid_number", gid="gid", groups="member_of")
    claims = {"eppn_user": "ana", "uid_number": 7001, "member_of": [{"name": "x", "id": 7002}]}
    identity = identity_from_claims(claims, names).identity
    assert (identity.login, identity.uid, identity.supplementary_gids) == ("ana", 7001, (7002,))


def test_the_identity_round_trips_through_auth_state_to_the_spawner():
    identity = identity_from_claims(userinfo(), user_private_groups=False).identity
    assert identity_from_auth_state({AUTH_STATE_KEY: identity.as_dict()}) == identity


def test_a_stored_identity_is_validated_again():
    stored = Identity(login="a", uid=7001).as_dict() | {"uid": 0}
    with pytest.raises(ValueError, match="below 1000"):
        identity_from_auth_state({AUTH_STATE_KEY: stored})


@pytest.mark.parametrize(
    ("changes", "claim", "words"),
    [
        ({"uidNumber": None}, "uidNumber", "missing from the userinfo"),
        ({"uidNumber": "12a"}, "uidNumber", "not an integer"),
        ({"uidNumber": 12.0}, "uidNumber", "not an integer"),
        ({"uidNumber": True}, "uidNumber", "not an integer"),
        ({"uidNumber": 999}, "uidNumber", "below 1000"),
        ({"uidNumber": 65534}, "uidNumber", "reserved (nobody"),
        ({"uidNumber": -5}, "uidNumber", "below 1000"),
        ({"username": None}, "username", "missing from the userinfo"),
        ({"username": ""}, "username", "missing from the userinfo"),
        ({"username": "a b"}, "username", "cannot be a Unix user name"),
        ({"isMemberOf": {"name": "g", "id": 7002}}, "isMemberOf", "must be a list"),
        ({"isMemberOf": "g"}, "isMemberOf", "must be a list"),
        ({"isMemberOf": [{"name": "wheel", "id": 10}]}, "isMemberOf", "below 1000"),
        ({"isMemberOf": [{"name": "g", "id": "x"}]}, "isMemberOf", "not an integer"),
        ({"isMemberOf": [{"id": 7002}]}, "isMemberOf", "not a group with a `name`"),
        ({"isMemberOf": [7002]}, "isMemberOf", "not a group with a `name`"),
        ({"isMemberOf": [{"name": "CO:members", "id": 7002}]}, "isMemberOf", "Unix group name"),
        (
            {"isMemberOf": [{"name": "a", "id": 7002}, {"name": "b", "id": 7002}]},
            "isMemberOf",
            "both 'a' and 'b'",
        ),
        (
            {"isMemberOf": [{"name": "a", "id": 7002}, {"name": "a", "id": 7003}]},
            "isMemberOf",
            "two ids",
        ),
    ],
)
def test_bad_claims_are_refused_naming_the_claim(changes, claim, words):
    error = refusal(userinfo(**changes))
    assert error.claim == claim
    assert f"claim {claim!r}" in str(error)
    assert words in str(error)


def test_a_missing_claim_says_which_setting_names_it():
    assert "auth.cilogon.uid_claim" in str(refusal(userinfo(uidNumber=None)))
    assert "auth.cilogon.username_claim" in str(refusal(userinfo(username=None)))


@pytest.mark.parametrize(
    ("gid", "words"), [(None, "missing"), ("x", "not an integer"), (100, "below 1000")]
)
def test_the_gid_claim_is_checked_only_when_it_is_used(gid, words):
    claims = userinfo(gidNumber=gid)
    assert identity_from_claims(claims).identity.gid == 5_000_101
    error = refusal(claims, user_private_groups=False)
    assert error.claim == "gidNumber"
    assert words in str(error)
