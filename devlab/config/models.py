"""Typed models of config/devlab.yaml.

Every model forbids unknown keys: a misspelt key is an error naming the key, never a
setting silently ignored.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from devlab.config.catalog import LOCAL_ALIAS, CatalogConfig, is_local_alias, require_unique
from devlab.config.mock_cilogon import MockCILogon
from devlab.identity.cilogon import ClaimNames
from devlab.identity.policy import check_system_id
from devlab.tutorials import BUILTIN as BUILTIN_TUTORIALS

# GitHub logins: alphanumerics and single hyphens, at most 39 characters. Reused for org
# logins, which follow the same rule; both become Unix user and group names in labs.
GITHUB_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_login(value: str) -> str:
    if not GITHUB_LOGIN.match(value):
        raise ValueError(
            f"{value!r} is not a GitHub-style login (letters, digits and single hyphens, "
            "at most 39 characters, not starting or ending with a hyphen)"
        )
    return value


def _check_id(value: int) -> int:
    check_system_id(value, "id")
    return value


# A GitHub-style login, also used as a Unix user or group name in labs.
Login = Annotated[str, AfterValidator(_check_login)]
# A number that becomes a uid or gid in labs: no system ids.
UnixId = Annotated[int, AfterValidator(_check_id)]


class MockOrg(_Strict):
    """A GitHub organisation served by the mock provider; its id becomes a lab GID."""

    login: Login = Field(description="Organisation login; the Unix group name in labs.")
    id: UnixId = Field(description="GitHub's numeric organisation id; the GID in labs.")


class MockUser(_Strict):
    """A GitHub user served by the mock provider; its id becomes the lab UID."""

    login: Login = Field(description="GitHub login; the hub user name and Unix user name.")
    id: UnixId = Field(description="GitHub's numeric user id; the UID in labs.")
    name: str | None = Field(default=None, description="Display name (GitHub's `name`).")
    email: str | None = Field(default=None, description="Primary email address.")
    orgs: tuple[str, ...] = Field(default=(), description="Logins of the orgs the user is in.")


class MockTeam(_Strict):
    """A team inside an org, as GitHub's `/user/teams` returns it."""

    org: str = Field(description="Login of the org the team belongs to.")
    slug: str = Field(description="The team's slug, e.g. `pipelines`.")
    id: int = Field(ge=1, description="GitHub's numeric team id.")
    name: str | None = Field(default=None, description="Display name; the slug by default.")
    members: tuple[str, ...] = Field(default=(), description="Logins of the team's members.")


class MockGitHub(_Strict):
    """The identities the mock GitHub provider serves."""

    orgs: tuple[MockOrg, ...] = ()
    users: tuple[MockUser, ...] = ()
    teams: tuple[MockTeam, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> MockGitHub:
        org_logins = [o.login.lower() for o in self.orgs]
        require_unique("org login", org_logins)
        require_unique("org id", [o.id for o in self.orgs])
        require_unique("user login", [u.login.lower() for u in self.users])
        require_unique("user id", [u.id for u in self.users])
        user_ids = {u.id for u in self.users}
        clash = user_ids & {o.id for o in self.orgs}
        if clash:
            raise ValueError(
                f"id {min(clash)} is both a user id and an org id; a user's private group "
                "uses the user id as its GID, so user and org ids must differ"
            )
        for user in self.users:
            unknown = [o for o in user.orgs if o.lower() not in org_logins]
            if unknown:
                raise ValueError(
                    f"user {user.login!r} is in org {unknown[0]!r}, which is not listed "
                    "under mock_github.orgs; add it there with its id"
                )
        user_logins = {u.login.lower() for u in self.users}
        for team in self.teams:
            if team.org.lower() not in org_logins:
                raise ValueError(f"team {team.slug!r} is in unknown org {team.org!r}")
            strangers = [m for m in team.members if m.lower() not in user_logins]
            if strangers:
                raise ValueError(f"team {team.slug!r} lists unknown user {strangers[0]!r}")
        return self

    def user(self, login: str) -> MockUser | None:
        """The user with this login, matched as GitHub matches logins (ignoring case)."""
        wanted = login.lower()
        return next((u for u in self.users if u.login.lower() == wanted), None)

    def org(self, login: str) -> MockOrg | None:
        wanted = login.lower()
        return next((o for o in self.orgs if o.login.lower() == wanted), None)


class GitHubApp(_Strict):
    """A real GitHub OAuth app, for `provider: github`."""

    client_id: str = Field(description="The OAuth app's client id.")
    client_secret_file: str = Field(
        description="Path (on the machine running devlab) of a file holding the client secret."
    )
    url: str = Field(default="https://github.com", description="GitHub (Enterprise) base URL.")


# The claims NCSA's LDAP released through CILogon, and what the mock CILogon serves.
CILOGON_CLAIMS = ClaimNames()
# CILogon only knows identity providers by entity id: a URN, https or http URL.
_ENTITY_ID = re.compile(r"^(urn:|https://|http://)\S+$")


class UsernameDerivation(_Strict):
    """How the hub user name comes from one IdP's claims (oauthenticator's shape)."""

    username_claim: str = Field(
        default=CILOGON_CLAIMS.username, description="The claim holding the user name."
    )
    action: Literal["strip_idp_domain", "prefix"] | None = Field(
        default=None,
        description=(
            "strip_idp_domain: drop `@domain` from the claim; prefix: `prefix:name` (not a "
            "Unix name: keep it off when the user name is also the lab's)."
        ),
    )
    domain: str | None = Field(default=None, description="The domain strip_idp_domain drops.")
    prefix: str | None = Field(default=None, description="The prefix the prefix action adds.")

    @model_validator(mode="after")
    def _action_needs_its_value(self) -> UsernameDerivation:
        if self.action == "strip_idp_domain" and not self.domain:
            raise ValueError("action strip_idp_domain needs `domain`, e.g. domain: example.edu")
        if self.action == "prefix" and not self.prefix:
            raise ValueError("action prefix needs `prefix`, e.g. prefix: github")
        return self


class CILogonIdP(_Strict):
    """One identity provider people may choose on CILogon's page, and whom it lets in."""

    username_derivation: UsernameDerivation = UsernameDerivation()
    allow_all: bool = Field(default=False, description="Let every user of this IdP in.")
    allowed_domains: tuple[str, ...] = Field(
        default=(), description="Let in users whose user name's domain matches (fnmatch)."
    )
    default: bool = Field(default=False, description="Pre-selected on CILogon's page.")

    def for_oauthenticator(self) -> dict[str, Any]:
        """This IdP as CILogonOAuthenticator.idps takes it (its JSON schema: no nulls)."""
        return self.model_dump(mode="json", exclude_none=True)


class CILogonConfig(_Strict):
    """CILogon (OpenID Connect), for `provider: cilogon`; for cilogon-mock, overrides only.

    uid, primary gid and groups come from the userinfo claims named here; the id_token is
    checked against the provider's JWKS at each login.
    """

    client_id: str | None = Field(
        default=None, description="The client id CILogon registered (cilogon:...)."
    )
    client_secret_file: str | None = Field(
        default=None,
        description="Path (on the machine running devlab) of a file holding the client secret.",
    )
    url: str = Field(
        default="https://cilogon.org",
        description=(
            "CILogon's base URL (https://test.cilogon.org for its test instance): its "
            "authorize, token, userinfo and JWKS endpoints and the id_token issuer."
        ),
    )
    idps: dict[str, CILogonIdP] = Field(
        default_factory=dict,
        description=(
            "Entity id (see https://cilogon.org/idplist) -> who may log in through it; "
            "required for provider cilogon. For cilogon-mock, the mock's IdPs by default."
        ),
    )
    username_claim: str = Field(
        default=CILOGON_CLAIMS.username,
        description="The claim holding the Unix user name in labs.",
    )
    uid_claim: str = Field(default=CILOGON_CLAIMS.uid, description="The claim holding the uid.")
    gid_claim: str = Field(
        default=CILOGON_CLAIMS.gid,
        description="The claim holding the primary gid (used when user_private_groups is false).",
    )
    groups_claim: str = Field(
        default=CILOGON_CLAIMS.groups,
        description="The claim listing groups as [{name, id}]; the ids become lab gids.",
    )
    user_private_groups: bool = Field(
        default=True,
        description=(
            "true: each user's primary group is their own (gid = uid), as for GitHub users; "
            "false: the directory's gid_claim."
        ),
    )
    manage_groups: bool = Field(
        default=True, description="Hub groups follow the groups claim's names at each login."
    )
    allowed_groups: tuple[str, ...] = Field(
        default=(),
        description=(
            "When set, members of these groups (by name, ignoring case as labs do) may also log in."
        ),
    )

    @field_validator("allowed_groups")
    @classmethod
    def _lower_case(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Group names from the claims are lower-cased (devlab.identity.cilogon)."""
        return tuple(name.lower() for name in value)

    @field_validator("idps")
    @classmethod
    def _entity_ids(cls, value: dict[str, CILogonIdP]) -> dict[str, CILogonIdP]:
        for entity_id in value:
            if not _ENTITY_ID.match(entity_id):
                raise ValueError(
                    f"{entity_id!r} is not a CILogon entity id (a urn:, https:// or http:// "
                    "id from https://cilogon.org/idplist, e.g. https://github.com/login/oauth/"
                    "authorize), not a domain name"
                )
        defaults = [e for e, idp in value.items() if idp.default]
        if len(defaults) > 1:
            raise ValueError(f"only one IdP may be the default; {', '.join(defaults)} all are")
        return value

    @model_validator(mode="after")
    def _groups_need_management(self) -> CILogonConfig:
        if self.allowed_groups and not self.manage_groups:
            raise ValueError("allowed_groups needs manage_groups: true (groups come from it)")
        return self


class GitHubLink(_Strict):
    """Chained GitHub: hub users (e.g. CILogon's) link a GitHub account for git in labs.

    A hub-managed service runs GitHub's web flow and keeps each link encrypted; labs get
    the token from it through git's credential helper, never in their environment or files.
    """

    client_id: str | None = Field(
        default=None,
        description=(
            "The linking OAuth app's client id at GitHub (callback URL <hub url>/services/"
            "github-link/callback); unset: the bundled mock GitHub."
        ),
    )
    client_secret_file: str | None = Field(
        default=None,
        description="Path (on the machine running devlab) of a file holding the client secret.",
    )
    url: str = Field(default="https://github.com", description="GitHub (Enterprise) base URL.")
    scopes: tuple[str, ...] = Field(
        default=("repo", "read:user", "user:email"),
        description="Scopes asked for: what git in labs may do with the user's repositories.",
    )
    git_url: str | None = Field(
        default=None,
        description=(
            "Labs fetch and push https://github.com/... at this URL instead (git's "
            "url.<git_url>.insteadOf), and the helper answers for its host too: a stand-in "
            "git server for offline tests, e.g. http://git.devlab.test:8080/."
        ),
    )

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        if not re.match(r"^https://[^/\s]+/?$", value):
            raise ValueError(f"{value!r} is not a GitHub base URL like https://github.com")
        return value.rstrip("/")

    @field_validator("git_url")
    @classmethod
    def _git_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+(/\S*)?/$", value):
            raise ValueError(
                f"{value!r} is not a base URL ending in /, like http://git.devlab.test:8080/"
            )
        return value

    @model_validator(mode="after")
    def _real_app_whole(self) -> GitHubLink:
        if (self.client_id is None) != (self.client_secret_file is None):
            raise ValueError(
                "set both client_id and client_secret_file (a GitHub OAuth app of your own), "
                "or neither (the bundled mock GitHub)"
            )
        return self

    @property
    def uses_mock(self) -> bool:
        return self.client_id is None


class GroupSpec(_Strict):
    """A Unix group given to every FirstUse user."""

    name: Login
    gid: UnixId


class FirstUseConfig(_Strict):
    """Workshop logins: each user chooses a password at first login."""

    min_password_length: int = Field(default=8, ge=1)
    open_signup: bool = Field(
        default=False,
        description=(
            "false: only users from `devlab users import` may log in, the first time with "
            "the one-time password it issued; true: any unknown name may also create an "
            "account by logging in (imported users still need their one-time password)."
        ),
    )
    uid_range: tuple[UnixId, UnixId] = Field(
        default=(4_000_000, 4_099_999),
        description="UIDs given to FirstUse users, each allocated once and kept forever.",
    )
    groups: tuple[GroupSpec, ...] = Field(
        default=(GroupSpec(name="workshop", gid=4_100_000),),
        description="Groups every FirstUse user is in.",
    )

    @field_validator("uid_range")
    @classmethod
    def _range_usable(cls, value: tuple[int, int]) -> tuple[int, int]:
        first, last = value
        if first > last:
            raise ValueError(f"uid_range starts at {first}, after its end {last}")
        return value


class AuthConfig(_Strict):
    """How people log in to the hub."""

    provider: Literal["none", "github-mock", "github", "firstuse", "cilogon-mock", "cilogon"] = (
        Field(
            default="github-mock",
            description=(
                "none: API tokens only; github-mock: the bundled mock GitHub; "
                "github: real GitHub; firstuse: workshop passwords chosen at first login; "
                "cilogon-mock: the bundled mock CILogon; cilogon: real CILogon."
            ),
        )
    )
    admin_users: tuple[str, ...] = Field(default=(), description="Hub admins by login.")
    allowed_organizations: tuple[str, ...] = Field(
        default=(), description="When set, only members of these orgs may log in."
    )
    github: GitHubApp | None = Field(default=None, description="Required for provider github.")
    cilogon: CILogonConfig | None = Field(
        default=None,
        description="Required for provider cilogon; optional overrides for cilogon-mock.",
    )
    firstuse: FirstUseConfig = FirstUseConfig()
    github_link: GitHubLink | None = Field(
        default=None,
        description=(
            "When set, users may link a GitHub account (hub home page) and git in their labs "
            "pushes to GitHub as them."
        ),
    )

    @model_validator(mode="after")
    def _provider_settings(self) -> AuthConfig:
        if self.provider == "github" and self.github is None:
            raise ValueError(
                "provider github needs auth.github with client_id and client_secret_file "
                "(register an OAuth app at GitHub, callback URL <hub url>/hub/oauth_callback)"
            )
        if self.provider == "cilogon":
            cilogon = self.cilogon or CILogonConfig()
            missing = [
                key
                for key, value in (
                    ("client_id", cilogon.client_id),
                    ("client_secret_file", cilogon.client_secret_file),
                    ("idps", cilogon.idps),
                )
                if not value
            ]
            if missing:
                raise ValueError(
                    f"provider cilogon needs auth.cilogon.{', auth.cilogon.'.join(missing)} "
                    "(register a client at https://cilogon.org/oauth2/register with callback "
                    "URL <hub url>/hub/oauth_callback and scopes openid email profile "
                    "org.cilogon.userinfo; idps maps each allowed IdP's entity id to its rules)"
                )
        return self


class TutorialsConfig(_Strict):
    """Standard notebooks refreshed into every lab at start (nbgitpuller keeps user edits)."""

    repository: str = Field(
        description=(
            "builtin: the short tutorials devlab ships (who am I here, sharing with my org, "
            "my image and size, notebooks in CI); a git URL; or an absolute path on the "
            "machine running devlab to a local repository (mounted read-only into labs; "
            "works offline)."
        )
    )
    branch: str = Field(default="main", description="Branch to follow.")
    directory: str = Field(
        default="notebooks/tutorials", description="Where in each home the copy lives."
    )

    @field_validator("repository")
    @classmethod
    def _url_or_absolute(cls, value: str) -> str:
        if value == BUILTIN_TUTORIALS:
            return value
        if "://" not in value and not value.startswith("git@") and not value.startswith("/"):
            raise ValueError(
                f"{value!r} is neither {BUILTIN_TUTORIALS!r}, a git URL nor an absolute path; "
                "write the full path of the local repository"
            )
        return value

    @field_validator("directory")
    @classmethod
    def _inside_home(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError(f"{value!r} must be a relative path inside the home")
        return value

    @property
    def is_local(self) -> bool:
        return self.repository.startswith("/")

    @property
    def is_builtin(self) -> bool:
        return self.repository == BUILTIN_TUTORIALS


# Each lab's own network takes a subnet this size from lab.network_pool (devlab.hub.networks):
# network, gateway, hub, proxy, lab and broadcast fit in a /29.
LAB_SUBNET_PREFIX = 29


class LabBuild(_Strict):
    """A project's own lab image, which `devlab up` builds on top of devlab's lab image.

    The Dockerfile starts with `ARG BASE_IMAGE` and `FROM ${BASE_IMAGE}`: devlab passes its
    lab image there, so the project's image keeps what spawning relies on (the start
    script, the identity directory, jupyterhub-singleuser) and adds the project's tools.
    """

    context: str = Field(
        description=(
            "The build context folder: relative to the folder holding this config file, "
            "or absolute. Keep only the image's files in it: all of them go into its tag."
        )
    )
    dockerfile: str = Field(
        default="Dockerfile", description="The Dockerfile, relative to the context."
    )

    @field_validator("context")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name the folder holding the Dockerfile, e.g. `context: lab`")
        return value

    @field_validator("dockerfile")
    @classmethod
    def _inside_context(cls, value: str) -> str:
        if not value.strip() or value.startswith("/") or ".." in value.split("/"):
            raise ValueError(
                f"{value!r} must be a file inside the context, written relative to it "
                "(e.g. Dockerfile or docker/lab.Dockerfile)"
            )
        return value


class LabConfig(_Strict):
    """How each user's JupyterLab container runs."""

    tutorials: TutorialsConfig | None = Field(
        default=None, description="Standard notebooks refreshed into each lab at start."
    )

    image: str | None = Field(
        default=None,
        description=(
            "Lab image to spawn; by default the lab image devlab builds (images/lab), or "
            "the one lab.build makes from it."
        ),
    )
    build: LabBuild | None = Field(
        default=None,
        description=(
            "Build the lab image from a Dockerfile of this project, on top of devlab's lab "
            "image (build arg BASE_IMAGE); `devlab up` builds it when its files change."
        ),
    )
    start_timeout: int = Field(default=120, ge=10, description="Seconds a lab may take to start.")
    docker_workers: int = Field(
        default=8,
        ge=1,
        le=64,
        description=(
            "Threads for the spawner's Docker calls. DockerSpawner's default of one "
            "serialises every start and stop across all users."
        ),
    )
    network_pool: str = Field(
        default="10.213.0.0/16",
        description=(
            "IPv4 range each lab's own network (shared only with the hub and the proxy) "
            f"takes a /{LAB_SUBNET_PREFIX} from. Pick one your LAN does not use."
        ),
    )

    @field_validator("network_pool")
    @classmethod
    def _pool(cls, value: str) -> str:
        try:
            pool = ipaddress.IPv4Network(value)
        except ValueError as exc:
            raise ValueError(
                f"{value!r} is not an IPv4 network like 10.213.0.0/16: {exc}"
            ) from None
        if pool.prefixlen > LAB_SUBNET_PREFIX - 2:
            raise ValueError(
                f"{value} holds fewer than 4 lab networks (/{LAB_SUBNET_PREFIX} each): "
                "use a larger range, e.g. a /16"
            )
        return str(pool)

    @model_validator(mode="after")
    def _one_image_source(self) -> LabConfig:
        if self.image is not None and self.build is not None:
            raise ValueError(
                "lab.image and lab.build are both set: keep lab.image to spawn an existing "
                "image, or lab.build to have devlab build one from your Dockerfile, not both"
            )
        return self


class StorageConfig(_Strict):
    """Where homes and project space come from."""

    mode: Literal["auto", "nfs", "volume"] = Field(
        default="auto",
        description=(
            "nfs: labs mount /home and /project over NFS from the nfs service (production's "
            "shape); volume: labs mount the same volumes directly; auto: nfs when the "
            "engine's kernel has an NFS client."
        ),
    )


class IdleCullerConfig(_Strict):
    """jupyterhub-idle-culler, run by the hub as a service with the narrowest scopes."""

    enabled: bool = False
    timeout: int = Field(default=3600, ge=10, description="Stop labs idle this many seconds.")
    max_age: int = Field(
        default=0, ge=0, description="Stop labs older than this many seconds (0: no limit)."
    )
    every: int = Field(default=60, ge=5, description="Seconds between checks.")


class HubConfig(_Strict):
    """Limits the hub enforces for everyone."""

    concurrent_spawn_limit: int = Field(
        default=20,
        ge=1,
        description="Spawns in progress at once; beyond it users are asked to retry shortly.",
    )
    idle_culler: IdleCullerConfig = IdleCullerConfig()


class DevlabConfig(_Strict):
    """The whole platform configuration."""

    hub: HubConfig = HubConfig()
    auth: AuthConfig = AuthConfig()
    mock_github: MockGitHub = MockGitHub()
    mock_cilogon: MockCILogon = MockCILogon()
    lab: LabConfig = LabConfig()
    storage: StorageConfig = StorageConfig()
    catalog: CatalogConfig = CatalogConfig()
    profiles: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description=(
            "Named overlays (`devlab up --profile NAME`), merged over the rest of this file "
            "before validation, e.g. a workshop profile."
        ),
    )
    local_registry: bool = Field(
        default=False,
        description=(
            "Run a local image registry (compose profile `registry`) to play the "
            "cluster's image mirror; `devlab images push` fills it, and `devlab up` "
            f"publishes its lab build there when a catalog source is {LOCAL_ALIAS}/devlab/lab."
        ),
    )

    @model_validator(mode="after")
    def _local_sources_need_the_registry(self) -> DevlabConfig:
        local = [s.repository for s in self.catalog.sources if is_local_alias(s.repository)]
        if local and not self.local_registry:
            raise ValueError(
                f"catalog source {local[0]!r} names the stack's own registry, which runs only "
                "with `local_registry: true`: set it, or name another registry"
            )
        return self
