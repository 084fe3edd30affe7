"""A lab user's Unix identity."""

from __future__ import annotations

from dataclasses import dataclass

from devlab.identity.policy import check_system_id


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
        check_system_id(self.uid, f"uid of {self.login!r}")
        for group in self.groups:
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
