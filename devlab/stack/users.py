"""Hub accounts for workshops: import a roster, issue one-time passwords, list who is there."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from devlab.hubapi import HubAPI
from devlab.identity.passwords import hash_one_time_password, new_one_time_password
from devlab.identity.roster import RosterEntry
from devlab.stack import lifecycle
from devlab.stack.settings import StackSettings
from devlab.stack.tls import hub_verify

# devlab's FirstUse authenticator's admin API (devlab.hub.authenticators); a hub with
# another provider answers 404 there, and has no passwords to issue.
ONE_TIME_API = "/hub/api/devlab/one-time-passwords"


def admin_api(settings: StackSettings) -> HubAPI:
    """The hub's REST API with the stack's admin token, trusting its certificate."""
    return HubAPI(settings.hub_url, lifecycle.admin_token(settings), verify=hub_verify(settings))


@dataclass
class ImportResult:
    """`issued`: users given a one-time password now; `kept`: users who already had a
    password or an unused one-time password, and got nothing new."""

    uses_passwords: bool
    created: list[str] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def import_users(
    settings: StackSettings,
    entries: Iterable[RosterEntry],
    issue: Callable[[str, str], None],
) -> ImportResult:
    """Create each user (admins as admins), add them to their hub group, and on a FirstUse
    hub give each unclaimed account a one-time password, handed to `issue(user, password)`
    as soon as the hub holds its hash (so a failure later loses none).

    Existing users are kept as they are, so importing the same roster twice is harmless.
    """
    api = admin_api(settings)
    result = ImportResult(uses_passwords=_uses_passwords(api))
    groups: dict[str, list[str]] = {}
    for entry in entries:
        reply = api.request("POST", f"/hub/api/users/{entry.username}", json={"admin": entry.admin})
        if reply.status_code == 201:
            result.created.append(entry.username)
        elif reply.status_code != 409:
            raise lifecycle.StackError(
                f"the hub refused user {entry.username!r}: {reply.status_code} {reply.text[:200]}"
            )
        if result.uses_passwords:
            one_time = new_one_time_password()
            if _set_one_time_password(api, "POST", entry.username, one_time):
                issue(entry.username, one_time)
                result.issued.append(entry.username)
            else:
                result.kept.append(entry.username)
        if entry.group:
            groups.setdefault(entry.group, []).append(entry.username)
    for group, members in groups.items():
        api.request("POST", f"/hub/api/groups/{group}")  # 409 when it exists: fine
        reply = api.request("POST", f"/hub/api/groups/{group}/users", json={"users": members})
        if reply.status_code != 200:
            raise lifecycle.StackError(
                f"adding users to group {group!r} failed: {reply.text[:200]}"
            )
    return result


def reset_password(settings: StackSettings, username: str) -> str:
    """A new one-time password for `username`; their password stops working at once."""
    api = admin_api(settings)
    if not _uses_passwords(api):
        raise lifecycle.StackError(
            f"stack {settings.name!r} does not use passwords (auth.provider is not firstuse): "
            "its users log in through their identity provider"
        )
    one_time = new_one_time_password()
    _set_one_time_password(api, "PUT", username, one_time)
    return one_time


def _uses_passwords(api: HubAPI) -> bool:
    reply = api.request("GET", ONE_TIME_API)
    if reply.status_code not in (200, 404):
        raise lifecycle.StackError(
            f"the hub answered {reply.status_code} for {ONE_TIME_API}: {reply.text[:200]}"
        )
    return reply.status_code == 200


def _set_one_time_password(api: HubAPI, method: str, username: str, one_time: str) -> bool:
    """Send the one-time password's hash (never the password); False if the account is
    claimed and `method` is POST (issue only to unclaimed accounts)."""
    body = {"hash": hash_one_time_password(one_time).decode("ascii")}
    reply = api.request(method, f"{ONE_TIME_API}/{username}", json=body)
    if reply.status_code in (200, 201):
        return True
    if reply.status_code == 409 and method == "POST":
        return False
    raise lifecycle.StackError(
        f"the hub refused a one-time password for {username!r}: "
        f"{reply.status_code} {_message(reply.text)}"
    )


def _message(text: str) -> str:
    try:
        return str(json.loads(text)["message"])
    except (ValueError, KeyError, TypeError):
        return text[:200]


class PasswordSheet:
    """Where issued one-time passwords go: a new CSV only its owner can read, written row by
    row, or else a table printed once at the end."""

    def __init__(self, csv_path: Path | None) -> None:
        self.csv_path = csv_path
        self.rows: list[tuple[str, str]] = []
        self._file: TextIO | None = None if csv_path is None else create_private_csv(csv_path)
        self._writer = None if self._file is None else csv.writer(self._file)
        if self._writer is not None:
            self._writer.writerow(["username", "one_time_password"])

    def add(self, username: str, one_time: str) -> None:
        self.rows.append((username, one_time))
        if self._writer is not None and self._file is not None:
            self._writer.writerow([username, one_time])
            self._file.flush()

    def close(self) -> str:
        """What to print: the table, or where the CSV is (removed when nothing was issued)."""
        if self._file is None:
            if not self.rows:
                return ""
            return (
                one_time_table(self.rows) + "\nShown once: give each user their one-time "
                "password; they choose their own password when they first sign in."
            )
        self._file.close()
        assert self.csv_path is not None
        if not self.rows:
            self.csv_path.unlink()
            return f"No one-time passwords issued: {self.csv_path} not kept."
        return (
            f"Wrote {len(self.rows)} one-time passwords to {self.csv_path} (mode 0600): give "
            "each user theirs, then delete the file."
        )


def create_private_csv(path: Path) -> TextIO:
    """A new file readable by its owner only from its first byte; never an existing one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise lifecycle.StackError(
            f"{path} exists and devlab never overwrites a passwords file: choose another "
            "--passwords-csv name, or delete the old file if its passwords are used"
        ) from None
    except OSError as exc:
        raise lifecycle.StackError(f"cannot create {path}: {exc.strerror}; check the path") from exc
    return os.fdopen(fd, "w", newline="", encoding="utf-8")


def one_time_table(rows: list[tuple[str, str]]) -> str:
    return _table([("USER", "ONE-TIME PASSWORD"), *rows])


def list_users(settings: StackSettings) -> list[dict[str, Any]]:
    return admin_api(settings).request("GET", "/hub/api/users").json()


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
    return _table(rows)


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )
