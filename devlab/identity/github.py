"""GitHub's user and organisation shapes to a Unix identity: UID = user id, GIDs = org ids."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from devlab.identity.model import AUTH_STATE_KEY, Group, Identity


def identity_from_github(user: Mapping[str, Any], orgs: Iterable[Mapping[str, Any]]) -> Identity:
    """Build the identity for a GitHub `/user` object and its `/user/orgs` list.

    Org names are lower-cased like user names so `id` inside a lab prints stable names
    whatever case GitHub returns.
    """
    groups = tuple(
        sorted(
            (Group(name=str(org["login"]).lower(), gid=int(org["id"])) for org in orgs),
            key=lambda g: g.gid,
        )
    )
    return Identity(
        login=str(user["login"]),
        uid=int(user["id"]),
        groups=groups,
        full_name=str(user.get("name") or ""),
    )


def identity_from_auth_state(auth_state: Mapping[str, Any] | None) -> Identity | None:
    """The identity recorded at login by devlab's GitHub or CILogon authenticator, if any.

    CILogon's claims are turned into an identity at login (that needs the claim names from
    the config), so its auth_state holds the finished identity under AUTH_STATE_KEY.
    """
    if auth_state and AUTH_STATE_KEY in auth_state:
        return Identity.from_dict(auth_state[AUTH_STATE_KEY])
    if not auth_state or "github_user" not in auth_state or "orgs" not in auth_state:
        return None
    return identity_from_github(auth_state["github_user"], auth_state["orgs"])
