"""FirstUse users have no GitHub id: each gets a uid from a range, once, for good."""

from __future__ import annotations

from collections.abc import Mapping

from devlab.identity.policy import IdentityError, check_system_id


def allocate_uid(existing: Mapping[str, int], username: str, first: int, last: int) -> int:
    """The uid `username` keeps forever: its old one, else the lowest free one in range.

    A uid is never reused for another name, even after that user is deleted from the hub,
    because files on shared storage still carry it.
    """
    if username in existing:
        return existing[username]
    used = set(existing.values())
    for candidate in range(first, last + 1):
        if candidate in used:
            continue
        try:
            check_system_id(candidate, "uid")
        except IdentityError:
            continue
        return candidate
    raise IdentityError(
        f"no uid left in {first}-{last} for {username!r}: widen auth.firstuse.uid_range "
        "in config/devlab.yaml"
    )
