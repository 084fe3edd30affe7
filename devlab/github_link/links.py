"""What a link is and what a lab gets from it: pure rules, unit-tested without HTTP."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

# The service's name in JupyterHub: its URLs are /services/github-link/.
SERVICE_NAME = "github-link"
# git runs `git credential-devlab` for `credential.helper = devlab`: the lab image's
# /usr/local/bin/git-credential-devlab.
CREDENTIAL_HELPER = "devlab"
# Where a lab's helper asks for the token (the service listens on the hub's network).
CREDENTIAL_URL_ENV = "DEVLAB_GIT_CREDENTIAL_URL"
GITHUB_WEB = "https://github.com/"


@dataclass(frozen=True)
class Link:
    """One hub user's GitHub account, as GitHub described it when they linked it."""

    github_id: int
    login: str
    name: str | None
    email: str | None  # the primary address, only when GitHub says it is verified
    token: str = field(repr=False)  # a log line of a link must not carry it
    scopes: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "scopes": list(self.scopes)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Link:
        return cls(
            github_id=int(data["github_id"]),
            login=str(data["login"]),
            name=data.get("name"),
            email=data.get("email"),
            token=str(data["token"]),
            scopes=tuple(data.get("scopes", ())),
        )

    @property
    def noreply_email(self) -> str:
        """GitHub's own address for commits of users who keep theirs private."""
        return f"{self.github_id}+{self.login}@users.noreply.github.com"

    def commit_identity(self) -> tuple[str, str]:
        """git's user.name and user.email: GitHub's name (else login) and verified email
        (else the noreply address, which GitHub still attributes to the account)."""
        return self.name or self.login, self.email or self.noreply_email

    def public(self) -> dict[str, Any]:
        """What the link page shows: everything but the token."""
        name, email = self.commit_identity()
        return {"login": self.login, "id": self.github_id, "name": name, "email": email}


def primary_email(emails: Iterable[Mapping[str, Any]]) -> str | None:
    """The primary address of GitHub's /user/emails, if verified; unverified is not theirs."""
    for entry in emails:
        if entry.get("primary") and entry.get("verified") and entry.get("email"):
            return str(entry["email"])
    return None


def git_hosts(github_url: str, git_url: str | None) -> frozenset[str]:
    """Hosts whose git credentials are the GitHub token: GitHub's and the stand-in's."""
    hosts = {urlsplit(github_url).netloc.lower()}
    if git_url:
        hosts.add(urlsplit(git_url).netloc.lower())
    return frozenset(hosts)


def git_config_environment(entries: Sequence[tuple[str, str]]) -> dict[str, str]:
    """git's GIT_CONFIG_COUNT/KEY/VALUE variables (git >= 2.31): settings for every git
    in the lab without writing the user's ~/.gitconfig on their home."""
    env = {"GIT_CONFIG_COUNT": str(len(entries))}
    for index, (key, value) in enumerate(entries):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def lab_git_entries(link: Link | None, git_url: str | None) -> list[tuple[str, str]]:
    """The git settings a lab starts with: the credential helper always (it says how to
    link when there is no link), the commit identity when linked, and the stand-in URL."""
    entries = [("credential.helper", CREDENTIAL_HELPER)]
    if git_url:
        entries.append((f"url.{git_url}.insteadOf", GITHUB_WEB))
    if link is not None:
        name, email = link.commit_identity()
        entries += [("user.name", name), ("user.email", email)]
    return entries
