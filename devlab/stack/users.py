"""Hub accounts for workshops: import a roster, list who is there."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from devlab.hubapi import HubAPI
from devlab.identity.roster import RosterEntry
from devlab.stack import lifecycle
from devlab.stack.settings import StackSettings
from devlab.stack.tls import hub_verify


def _api(settings: StackSettings) -> HubAPI:
    return HubAPI(settings.hub_url, lifecycle.admin_token(settings), verify=hub_verify(settings))


def import_users(settings: StackSettings, entries: Iterable[RosterEntry]) -> list[str]:
    """Create each user (admins as admins) and add them to their hub group.

    Existing users are kept as they are, so importing the same roster twice is harmless.
    """
    api = _api(settings)
    created = []
    groups: dict[str, list[str]] = {}
    for entry in entries:
        reply = api.request("POST", f"/hub/api/users/{entry.username}", json={"admin": entry.admin})
        if reply.status_code == 201:
            created.append(entry.username)
        elif reply.status_code != 409:
            raise lifecycle.StackError(
                f"the hub refused user {entry.username!r}: {reply.status_code} {reply.text[:200]}"
            )
        if entry.group:
            groups.setdefault(entry.group, []).append(entry.username)
    for group, members in groups.items():
        api.request("POST", f"/hub/api/groups/{group}")  # 409 when it exists: fine
        reply = api.request("POST", f"/hub/api/groups/{group}/users", json={"users": members})
        if reply.status_code != 200:
            raise lifecycle.StackError(
                f"adding users to group {group!r} failed: {reply.text[:200]}"
            )
    return created


def list_users(settings: StackSettings) -> list[dict[str, Any]]:
    return _api(settings).request("GET", "/hub/api/users").json()


def users_table(users: list[dict[str, Any]]) -> str:
    rows = [("USER", "ADMIN", "GROUPS", "SERVER", "LAST ACTIVITY")]
    for user in users:
        server = (user.get("servers") or {}).get("")
        state = "-" if server is None else ("ready" if server.get("ready") else "starting")
        rows.append(
            (
                user["name"],
                "yes" if user.get("admin") else "",
                ",".join(user.get("groups") or []),
                state,
                (user.get("last_activity") or "-")[:19],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )
