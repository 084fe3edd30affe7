"""A lab user's Unix identity."""

from __future__ import annotations

import re
from dataclasses import dataclass

from devlab.identity.policy import IdentityError, check_system_id

# Names that are safe in passwd/group files and paths: no colon, slash or whitespace.
UNIX_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Group:
    """A Unix group: a user-private group, or a GitHub organisation."""

    name: str
    gid: int


@dataclass(frozen=True)
class Identity:
    """Everything a lab needs to run as this person: uid, primary group and org groups.

    The primary group is user-private (gid = uid, named after the login), the platform's
    convention, so a user's own files are never group-shared by accident.
    """

    login: str
    uid: int
    groups: tuple[Group, ...] = ()
    full_name: str = ""

    def __post_init__(self) -> None:
        if not UNIX_NAME.match(self.login):
            raise IdentityError(
                f"{self.login!r} cannot be a Unix user name (letters, digits, '.', '_', '-')"
            )
        check_system_id(self.uid, f"uid of {self.login!r}")
        for group in self.groups:
            if not UNIX_NAME.match(group.name):
                raise IdentityError(f"{group.name!r} cannot be a Unix group name")
            check_system_id(group.gid, f"gid of group {group.name!r}")
            if group.gid == self.uid:
                raise ValueError(
                    f"group {group.name!r} has gid {group.gid}, the gid of "
                    f"{self.login!r}'s private group"
                )

    @property
    def username(self) -> str:
        """The Unix user name: the login, lower-cased as JupyterHub normalises names."""
        return self.login.lower()

    @property
    def gid(self) -> int:
        return self.uid

    @property
    def home(self) -> str:
        return f"/home/{self.username}"

    @property
    def supplementary_gids(self) -> tuple[int, ...]:
        return tuple(g.gid for g in self.groups)
