"""The identities the mock CILogon provider serves (`mock_cilogon:` in config/devlab.yaml).

Each user is the userinfo CILogon would release for one person: the OIDC subject, the
IdP they logged in through, the profile and email claims, and the Unix identity NCSA's
LDAP added (`uidNumber`, `gidNumber`, `isMemberOf` with group ids). Keys are the claim
names, so the file reads like the JSON the hub receives.

The mock serves what it is given: a user may lack `uidNumber`, a group may lack its
`id`, a number may be written as a string. Such users exist to exercise the hub's
checks (devlab.identity.cilogon), which decide what makes a valid lab identity; only
what would break the mock itself (an unknown IdP, two users with one `sub`) is refused.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from devlab.config.catalog import require_unique

# CILogon's entity ids for the two IdPs every default config offers.
EXAMPLE_IDP = "https://idp.example.edu/idp/shibboleth"
GITHUB_IDP = "http://github.com/login/oauth/authorize"

# LDAP may release a number as a string: kept as written, so the hub's parsing is tested.
ClaimNumber = int | str


class _Claims(BaseModel):
    # Field names are claim names (`uidNumber`), as `devlab config show` prints them.
    model_config = ConfigDict(extra="forbid", frozen=True)


class MockCILogonGroup(_Claims):
    """One `isMemberOf` entry: the group's name and, usually, its gid."""

    name: str = Field(description="Group name; a hub group and the Unix group name in labs.")
    id: ClaimNumber | None = Field(
        default=None, description="The group's gid; leave out to serve a group without one."
    )


class MockCILogonUser(_Claims):
    """A person as CILogon describes them; a claim left out is not sent at all."""

    sub: str = Field(
        min_length=1,
        description="OIDC subject, e.g. http://cilogon.org/serverA/users/1001.",
    )
    idp: str = Field(description="Entity id of the user's IdP; must be listed under idps.")
    eppn: str | None = Field(default=None, description="eduPersonPrincipalName.")
    email: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    name: str | None = Field(default=None, description="Full name; given and family by default.")
    oidc: str | None = Field(
        default=None, description="The upstream subject, e.g. the GitHub user id for GitHub."
    )
    username: str | None = Field(
        default=None, description="Value of the username claim (see username_claim)."
    )
    uidNumber: ClaimNumber | None = Field(
        default=None, description="Unix uid; leave out to serve none."
    )
    gidNumber: ClaimNumber | None = Field(default=None, description="Unix primary gid.")
    isMemberOf: tuple[MockCILogonGroup, ...] | None = Field(
        default=None, description="Groups, with their gids; leave out to serve none."
    )

    @property
    def full_name(self) -> str | None:
        """`name` as configured, else given and family names joined, else nothing."""
        if self.name:
            return self.name
        return " ".join(n for n in (self.given_name, self.family_name) if n) or None


class MockCILogon(_Claims):
    """The IdPs and users of the mock CILogon provider."""

    idps: dict[str, str] = Field(
        default_factory=lambda: {EXAMPLE_IDP: "Example University", GITHUB_IDP: "GitHub"},
        description="IdP entity id to display name (the idp_name claim).",
    )
    username_claim: str = Field(
        default="username",
        min_length=1,
        description="The claim that carries each user's `username`.",
    )
    users: tuple[MockCILogonUser, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> MockCILogon:
        require_unique("user sub", [u.sub for u in self.users])
        for index, user in enumerate(self.users):
            if user.idp not in self.idps:
                known = ", ".join(self.idps) or "none"
                message = (
                    f"IdP {user.idp!r} is not listed under mock_cilogon.idps (listed: {known}); "
                    "add it there with its display name, or fix the entity id"
                )
                # Located at the user's idp key, so the error names its line.
                raise ValidationError.from_exception_data(
                    "MockCILogon",
                    [
                        InitErrorDetails(
                            type=PydanticCustomError("unknown_idp", message),
                            loc=("users", index, "idp"),
                            input=user.idp,
                        )
                    ],
                )
        return self

    def user(self, sub: str) -> MockCILogonUser | None:
        """The user with this subject (compared exactly, as OIDC subjects are)."""
        return next((u for u in self.users if u.sub == sub), None)
