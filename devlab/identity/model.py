"""A lab user's Unix identity."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from devlab.identity.policy import IdentityError, check_system_id

# Names that are safe in passwd/group files and paths: no colon, slash or whitespace.
UNIX_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Where an authenticator that builds the identity at login keeps it in auth_state.
AUTH_STATE_KEY = "devlab_identity"


@dataclass(frozen=True)
class Group:
    """A Unix group: a user-private group, or a GitHub organisation."""

    name: str
    gid: int


@dataclass(frozen=True)
class Identity:
    """Everything a lab needs to run as this person: uid, primary group and org groups.

    The primary group is user-private (gid = uid, named after the login), the platform's
    convention, so a user's own files are never group-shared by accident. A directory
    that assigns primary groups itself (CILogon's `gidNumber`) sets `primary_group`.
    """

    login: str
    uid: int
    groups: tuple[Group, ...] = ()
    full_name: str = ""
    primary_group: Group | None = None

    def __post_init__(self) -> None:
        if not UNIX_NAME.match(self.login):
            raise IdentityError(
                f"{self.login!r} cannot be a Unix user name (letters, digits, '.', '_', '-')"
            )
        check_system_id(self.uid, f"uid of {self.login!r}")
        primary = () if self.primary_group is None else (self.primary_group,)
        for group in primary + self.groups:
            if not UNIX_NAME.match(group.name):
                raise IdentityError(f"{group.name!r} cannot be a Unix group name")
            check_system_id(group.gid, f"gid of group {group.name!r}")
        kind = "private" if self.primary_group is None else "primary"
        for group in self.groups:
            if group.gid == self.gid:
                raise ValueError(
                    f"group {group.name!r} has gid {group.gid}, the gid of "
                    f"{self.login!r}'s {kind} group"
                )

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON data, as a login's auth_state stores the identity it was given."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Identity:
        """The identity `as_dict` wrote, validated again."""
        primary = data.get("primary_group")
        return cls(
            login=data["login"],
            uid=data["uid"],
            groups=tuple(Group(**g) for g in data.get("groups", ())),
            full_name=data.get("full_name", ""),
            primary_group=None if primary is None else Group(**primary),
        )

    @property
    def username(self) -> str:
        """The Unix user name: the login, lower-cased as JupyterHub normalises names."""
        return self.login.lower()

    @property
    def gid(self) -> int:
        return self.uid if self.primary_group is None else self.primary_group.gid

    @property
    def primary_group_name(self) -> str:
        return self.username if self.primary_group is None else self.primary_group.name

    @property
    def home(self) -> str:
        return f"/home/{self.username}"

    @property
    def supplementary_gids(self) -> tuple[int, ...]:
        return tuple(g.gid for g in self.groups)
