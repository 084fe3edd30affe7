"""CILogon userinfo claims to a Unix identity: uid = `uidNumber`, groups = `isMemberOf` ids.

NCSA's LDAP released the Unix identity through CILogon: `uidNumber`, `gidNumber` and
`isMemberOf` as `[{"name": ..., "id": <gid>}]`. LDAP values may come as strings, so a
number written in decimal digits is accepted. A group without an id is still a group on
the hub (JupyterHub groups, `allowed_groups`), but it has no gid for the lab: it is left
out of the identity and returned so the caller can log it.

The primary group follows devlab's policy (devlab.identity.model): user-private (gid =
uid, named after the user), as for GitHub users, unless the deployment takes the
directory's `gidNumber` (`user_private_groups: false`).

Pure logic: no HTTP or JupyterHub imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from devlab.identity.model import UNIX_NAME, Group, Identity
from devlab.identity.policy import IdentityError, check_system_id

# Where each claim's name is set in config/devlab.yaml, for the messages.
CONFIG_KEY = "auth.cilogon"


class ClaimError(IdentityError):
    """Userinfo whose claims cannot make a lab identity; names the claim and the fix."""

    def __init__(self, claim: str, problem: str) -> None:
        self.claim = claim
        super().__init__(f"claim {claim!r}: {problem}")


@dataclass(frozen=True)
class ClaimNames:
    """Which userinfo claims carry the identity (auth.cilogon's *_claim settings)."""

    username: str = "username"
    uid: str = "uidNumber"
    gid: str = "gidNumber"
    groups: str = "isMemberOf"


@dataclass(frozen=True)
class ClaimedIdentity:
    """The lab identity, the hub groups, and the groups the lab cannot have (no gid)."""

    identity: Identity
    hub_groups: tuple[str, ...]
    groups_without_id: tuple[str, ...]


def identity_from_claims(
    claims: Mapping[str, Any],
    names: ClaimNames = ClaimNames(),
    *,
    user_private_groups: bool = True,
) -> ClaimedIdentity:
    """The identity for one userinfo response, or a ClaimError saying which claim is wrong."""
    login = claims.get(names.username)
    if not isinstance(login, str) or not login:
        raise ClaimError(
            names.username,
            f"missing from the userinfo (it has {', '.join(sorted(claims)) or 'no claims'}): "
            f"the provider must release it, or set {CONFIG_KEY}.username_claim to the claim "
            "that holds the user name",
        )
    if not UNIX_NAME.match(login):
        raise ClaimError(
            names.username,
            f"{login!r} cannot be a Unix user name (letters, digits, '.', '_', '-'): set "
            f"{CONFIG_KEY}.username_claim to a claim holding one",
        )
    uid = _id(claims, names.uid, "uid_claim", f"the uid of {login!r}")
    listed = _groups(claims, names.groups)
    # dict.fromkeys: a group listed twice alike counts once.
    with_id = [Group(n, g) for n, g in dict.fromkeys(listed) if g is not None]
    _unique_gids(with_id, names.groups)
    primary = None
    if not user_private_groups:
        gid = _id(claims, names.gid, "gid_claim", f"the primary gid of {login!r}")
        owner = next((g.name for g in with_id if g.gid == gid), login.lower())
        primary = Group(name=owner, gid=gid)
    primary_gid = uid if primary is None else primary.gid
    # A directory that lists the user's own primary group among their groups: it is
    # already the primary group, not a second group with the same number.
    lab_groups = sorted((g for g in with_id if g.gid != primary_gid), key=lambda g: g.gid)
    identity = Identity(
        login=login,
        uid=uid,
        groups=tuple(lab_groups),
        full_name=_full_name(claims),
        primary_group=primary,
    )
    return ClaimedIdentity(
        identity=identity,
        hub_groups=tuple(dict.fromkeys(name for name, _ in listed)),
        groups_without_id=tuple(name for name, gid in listed if gid is None),
    )


def _number(value: object) -> int | None:
    """An integer, or one written in decimal digits (LDAP sends strings); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _id(claims: Mapping[str, Any], claim: str, setting: str, what: str) -> int:
    """The uid or gid claim `claim`, checked against the platform's usable ids."""
    if claim not in claims:
        raise ClaimError(
            claim,
            f"missing from the userinfo, so there is no {what}: the provider must release it "
            f"(for CILogon, through the institution's directory), or set {CONFIG_KEY}."
            f"{setting} to the claim that holds it",
        )
    number = _number(claims[claim])
    if number is None:
        raise ClaimError(claim, f"{claims[claim]!r} is not an integer, so it cannot be {what}")
    try:
        check_system_id(number, what)
    except IdentityError as exc:
        raise ClaimError(claim, f"{exc}; the directory must assign another") from None
    return number


def _groups(claims: Mapping[str, Any], claim: str) -> list[tuple[str, int | None]]:
    """(name, gid or None) for each entry of the groups claim; no claim: no groups."""
    entries = claims.get(claim, [])
    if not isinstance(entries, list):
        raise ClaimError(
            claim,
            f"must be a list of {{name, id}} groups, not {type(entries).__name__} "
            f"{entries!r}: set {CONFIG_KEY}.groups_claim to the claim that holds that list",
        )
    groups: list[tuple[str, int | None]] = []
    for index, entry in enumerate(entries):
        where = f"entry {index}"
        if isinstance(entry, str):  # a bare name: a group with no gid
            entry = {"name": entry}
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise ClaimError(claim, f"{where} {entry!r} is not a group with a `name`")
        name = entry["name"].lower()  # as GitHub org names: stable names in `id`
        if "id" not in entry or entry["id"] is None:
            groups.append((name, None))
            continue
        gid = _number(entry["id"])
        if gid is None:
            raise ClaimError(claim, f"group {name!r} has id {entry['id']!r}, not an integer")
        if not UNIX_NAME.match(name):
            raise ClaimError(
                claim,
                f"group {name!r} cannot be a Unix group name (letters, digits, '.', '_', '-')",
            )
        try:
            check_system_id(gid, f"gid of group {name!r}")
        except IdentityError as exc:
            raise ClaimError(claim, f"{exc}; the directory must assign another") from None
        groups.append((name, gid))
    return groups


def _unique_gids(groups: list[Group], claim: str) -> None:
    """Two names for one gid (or one name twice with two gids) would make `id` lie."""
    seen: dict[int, str] = {}
    names: dict[str, int] = {}
    for group in groups:
        if seen.setdefault(group.gid, group.name) != group.name:
            raise ClaimError(
                claim, f"gid {group.gid} is given to both {seen[group.gid]!r} and {group.name!r}"
            )
        if names.setdefault(group.name, group.gid) != group.gid:
            raise ClaimError(
                claim, f"group {group.name!r} has two ids, {names[group.name]} and {group.gid}"
            )


def _full_name(claims: Mapping[str, Any]) -> str:
    """OIDC's `name`, else given and family name (CILogon leaves out what it lacks)."""
    name = claims.get("name")
    if isinstance(name, str) and name:
        return name
    parts = (claims.get("given_name"), claims.get("family_name"))
    return " ".join(p for p in parts if isinstance(p, str) and p)
