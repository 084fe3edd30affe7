"""What config/jupyterhub_config.py calls: devlab's config and secrets wired into JupyterHub.

Kept out of jupyterhub_config.py so the wiring is importable, typed and unit-tested.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import docker
from docker.errors import DockerException
from requests import RequestException

from devlab.catalog import options_from_form
from devlab.config import DevlabConfig, load_config
from devlab.config.models import CILogonConfig, GitHubLink
from devlab.github_link.links import (
    CREDENTIAL_URL_ENV,
    SERVICE_NAME,
    git_config_environment,
    git_hosts,
    lab_git_entries,
)
from devlab.github_link.store import LinkStore
from devlab.hub.allocations import UidAllocations
from devlab.hub.authenticators import (
    FIRSTUSE_TEMPLATES,
    DevlabCILogonOAuthenticator,
    DevlabFirstUseAuthenticator,
    DevlabGitHubOAuthenticator,
)
from devlab.hub.certificates import combined_bundle
from devlab.hub.labs import LAB_HOST_CONFIG
from devlab.hub.proxy import DevlabProxy
from devlab.hub.spawner import SERVER_TEMPLATES, DevlabSpawner, menu_form
from devlab.identity import Group, Identity
from devlab.identity.cilogon import ClaimNames, identity_from_claims
from devlab.identity.github import identity_from_github
from devlab.polling import PollTimeout, poll_until
from devlab.tutorials import BUILTIN_DIR as BUILTIN_TUTORIALS_DIR
from devlab.tutorials.repository import publish as publish_tutorials


@dataclass(frozen=True)
class HubEnvironment:
    """Facts about the running stack, passed to the hub container by compose.yaml."""

    stack: str
    lab_image: str
    storage_mode: str
    nfs_port: int
    proxy_api_url: str
    hub_connect_url: str
    config_path: Path
    profile: str | None
    secrets_dir: Path
    data_dir: Path
    hub_public_url: str
    oauth_public_url: str
    oauth_internal_url: str
    cilogon_public_url: str
    cilogon_internal_url: str
    tutorials_repo: Path  # the tutorials volume, where lab.tutorials: builtin is published
    # The hub image's own (Debian) store: what "the system's" certificates are in labs.
    system_ca_bundle: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> HubEnvironment:
        def need(name: str) -> str:
            value = env.get(name)
            if not value:
                raise RuntimeError(
                    f"{name} is not set: start the hub with `devlab up`, or with "
                    "`docker compose --env-file <state dir>/compose.env up` (see README)"
                )
            return value

        return cls(
            stack=need("DEVLAB_STACK"),
            lab_image=need("DEVLAB_LAB_IMAGE"),
            storage_mode=need("DEVLAB_STORAGE_MODE"),
            nfs_port=int(need("DEVLAB_NFS_PORT")),
            proxy_api_url=env.get("DEVLAB_PROXY_API_URL", "http://proxy-api:8001"),
            hub_connect_url=env.get("DEVLAB_HUB_CONNECT_URL", "http://hub:8081"),
            config_path=Path(env.get("DEVLAB_CONFIG_PATH", "/etc/devlab/devlab.yaml")),
            profile=env.get("DEVLAB_PROFILE") or None,
            secrets_dir=Path(env.get("DEVLAB_SECRETS_PATH", "/run/secrets")),
            data_dir=Path(env.get("DEVLAB_HUB_DATA", "/srv/jupyterhub")),
            hub_public_url=need("DEVLAB_HUB_PUBLIC_URL"),
            oauth_public_url=need("DEVLAB_OAUTH_PUBLIC_URL"),
            oauth_internal_url=env.get("DEVLAB_OAUTH_INTERNAL_URL", "http://oauth:8090"),
            cilogon_public_url=need("DEVLAB_CILOGON_PUBLIC_URL"),
            cilogon_internal_url=env.get("DEVLAB_CILOGON_INTERNAL_URL", "http://cilogon:8091"),
            tutorials_repo=Path(env.get("DEVLAB_TUTORIALS_PATH", "/srv/devlab/tutorials.git")),
            system_ca_bundle=Path(
                env.get("DEVLAB_SYSTEM_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
            ),
        )

    def mock_github_urls(self) -> tuple[str, str, str]:
        """The mock GitHub's authorize URL (the browser's, its published port), token URL
        and API (the hub's and its services', on the stack network)."""
        return (
            f"{self.oauth_public_url}/login/oauth/authorize",
            f"{self.oauth_internal_url}/login/oauth/access_token",
            self.oauth_internal_url,
        )

    def secret(self, name: str) -> str:
        return (self.secrets_dir / name).read_text(encoding="utf-8").strip()

    def lab_ca_bundle(self) -> str | None:
        """The system's certificates plus DEVLAB_CA_BUNDLE's (the `ca_bundle` secret, an
        empty file when none is set), for labs; None with no extra CA."""
        extra = self.secrets_dir / "ca_bundle"
        if not extra.exists():  # a hub started without it (by hand): no extra CA
            return None
        return combined_bundle(
            self.system_ca_bundle.read_text(encoding="utf-8"),
            extra.read_text(encoding="utf-8", errors="replace"),
        )


MOCK_CLIENT_ID = "devlab-hub"
# The mock GitHub's second OAuth app: the link service's (compose.yaml registers it).
MOCK_LINK_CLIENT_ID = "devlab-github-link"
# Where the link service listens, in the hub's container: the proxy routes
# /services/github-link/ there, and labs' credential helpers ask it directly.
GITHUB_LINK_URL = "http://hub:8095"


def mock_identity_lookup(config: DevlabConfig) -> Any:
    """Identities of the mock provider's users, for users with no login of their own yet."""
    mock = config.mock_github

    def lookup(username: str) -> Identity | None:
        user = mock.user(username)
        if user is None:
            return None
        orgs = [mock.org(o) for o in user.orgs]
        return identity_from_github(
            {"login": user.login, "id": user.id, "name": user.name},
            [{"login": o.login, "id": o.id} for o in orgs if o is not None],
        )

    return lookup


def wait_for_engine(timeout: float = 60) -> None:
    """Wait until the engine answers through DOCKER_HOST (docker-proxy's socket).

    After an engine restart (or a reboot) the engine starts the stack's containers all at
    once, without Compose's depends_on, so the hub may start before docker-proxy listens.
    JupyterHub polls every lab it believes running as it starts; a poll that cannot reach
    the engine forgets the lab and leaves its stopped container and network behind.
    """
    errors: list[Exception] = []

    def answers() -> bool:
        try:
            return bool(docker.from_env(timeout=5).ping())
        except (DockerException, RequestException) as exc:
            errors.append(exc)
            print(f"waiting for docker-proxy: {exc}", file=sys.stderr, flush=True)
            return False

    try:
        poll_until(answers, "the Docker engine to answer", timeout=timeout, interval=0.5)
    except PollTimeout as exc:
        why = errors[-1] if errors else exc
        raise SystemExit(f"the Docker engine does not answer through docker-proxy: {why}") from exc


def configure(c: Any, env: Mapping[str, str] | None = None) -> DevlabConfig:
    """Fill JupyterHub's config object `c`; returns the devlab config it was built from."""
    hub_env = HubEnvironment.from_env(os.environ if env is None else env)
    config = load_config(hub_env.config_path, hub_env.profile)

    # The proxy is its own service so labs keep their routes while the hub restarts, and
    # the hub never stops labs when it exits.
    c.JupyterHub.hub_bind_url = "http://0.0.0.0:8081"
    c.JupyterHub.hub_connect_url = hub_env.hub_connect_url
    c.JupyterHub.cleanup_servers = False
    c.JupyterHub.cleanup_proxy = False
    c.JupyterHub.proxy_class = DevlabProxy  # routes back within seconds of a proxy crash
    c.ConfigurableHTTPProxy.should_start = False
    c.ConfigurableHTTPProxy.api_url = hub_env.proxy_api_url
    c.ConfigurableHTTPProxy.auth_token = hub_env.secret("proxy_auth_token")

    c.JupyterHub.db_url = f"sqlite:///{hub_env.data_dir / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret = bytes.fromhex(hub_env.secret("cookie_secret"))
    c.CryptKeeper.keys = [bytes.fromhex(hub_env.secret("crypt_key"))]

    c.JupyterHub.services = [
        {"name": "devlab-admin", "api_token": hub_env.secret("admin_api_token")}
    ]
    c.JupyterHub.load_roles = [
        {"name": "admin", "services": ["devlab-admin"]},
    ]
    c.JupyterHub.concurrent_spawn_limit = config.hub.concurrent_spawn_limit
    culler = config.hub.idle_culler
    if culler.enabled:
        c.JupyterHub.services.append(
            {
                "name": "idle-culler",
                "command": [
                    sys.executable,
                    "-m",
                    "jupyterhub_idle_culler",
                    f"--timeout={culler.timeout}",
                    f"--max-age={culler.max_age}",
                    f"--cull-every={culler.every}",
                ],
            }
        )
        # The narrowest scopes the culler needs: see who is idle, stop their servers.
        c.JupyterHub.load_roles.append(
            {
                "name": "idle-culler",
                "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
                "services": ["idle-culler"],
            }
        )

    c.Authenticator.admin_users = set(config.auth.admin_users)
    identity_lookup = configure_auth(c, config, hub_env)
    if config.auth.github_link is not None:
        configure_github_link(c, config.auth.github_link, hub_env)
    # The home and "not running" pages say why a user's last lab stopped; a provider's
    # own pages (the FirstUse login) come first.
    c.JupyterHub.template_paths = [*c.JupyterHub.get("template_paths", []), str(SERVER_TEMPLATES)]

    c.JupyterHub.spawner_class = DevlabSpawner
    c.DevlabSpawner.image = config.lab.image or hub_env.lab_image
    c.DevlabSpawner.fallback_image = config.lab.image or hub_env.lab_image
    c.DevlabSpawner.catalog = config.catalog
    c.DevlabSpawner.tutorials = config.lab.tutorials
    tutorials = config.lab.tutorials
    if tutorials is not None and tutorials.is_builtin:
        # Before the hub serves anyone: a lab starting now finds this version's tutorials.
        publish_tutorials(BUILTIN_TUTORIALS_DIR, hub_env.tutorials_repo, tutorials.branch)
    c.DevlabSpawner.options_form = menu_form
    c.DevlabSpawner.options_from_form = options_from_form
    # Images from the menu's "other" list are pulled at start; the prepuller keeps the
    # rest present, and the locally built image is never pulled because it is present.
    c.DevlabSpawner.pull_policy = "ifnotpresent"
    c.DevlabSpawner.network_pool = config.lab.network_pool
    c.DevlabSpawner.use_internal_ip = True
    c.DevlabSpawner.remove = True
    c.DevlabSpawner.name_template = f"{hub_env.stack}-lab-{{username}}"
    c.DevlabSpawner.stack_name = hub_env.stack
    c.DevlabSpawner.storage_mode = hub_env.storage_mode
    c.DevlabSpawner.nfs_port = hub_env.nfs_port
    c.DevlabSpawner.identity_lookup = identity_lookup
    c.DevlabSpawner.docker_workers = config.lab.docker_workers
    c.DevlabSpawner.lab_host_config = LAB_HOST_CONFIG
    # Behind an HTTPS-intercepting proxy, pip in a lab trusts its CA (DEVLAB_CA_BUNDLE).
    c.DevlabSpawner.lab_ca_bundle = hub_env.lab_ca_bundle() or ""
    # Lets a lab's page stop its own server ("Save All, Stop Server and Log Out"), and
    # nothing else. A list: JupyterHub sends it to the lab as JSON.
    c.DevlabSpawner.oauth_client_allowed_scopes = ["delete:servers!server"]
    c.DevlabSpawner.start_timeout = config.lab.start_timeout
    c.DevlabSpawner.http_timeout = config.lab.start_timeout
    return config


def configure_auth(c: Any, config: DevlabConfig, hub_env: HubEnvironment) -> Any:
    """Set the authenticator for config.auth.provider; returns the spawner's identity lookup."""
    auth = config.auth
    if auth.provider == "none":
        c.JupyterHub.authenticator_class = "null"
        return mock_identity_lookup(config)
    if auth.provider == "firstuse":
        # Imported accounts need the one-time password from `devlab users import`.
        c.JupyterHub.authenticator_class = DevlabFirstUseAuthenticator
        c.JupyterHub.template_paths = [str(FIRSTUSE_TEMPLATES)]
        c.FirstUseAuthenticator.create_users = auth.firstuse.open_signup
        c.FirstUseAuthenticator.min_password_length = auth.firstuse.min_password_length
        c.FirstUseAuthenticator.dbm_path = str(hub_env.data_dir / "firstuse-passwords.dbm")
        c.DevlabFirstUseAuthenticator.one_time_dbm_path = str(
            hub_env.data_dir / "devlab-one-time-passwords.dbm"
        )
        c.Authenticator.allow_all = True
        return firstuse_identity_lookup(config, hub_env.data_dir / "devlab-uids.json")

    if auth.provider in ("cilogon", "cilogon-mock"):
        return configure_cilogon(c, config, hub_env)

    c.JupyterHub.authenticator_class = DevlabGitHubOAuthenticator
    gh = c.DevlabGitHubOAuthenticator
    gh.client_secret = hub_env.secret("oauth_client_secret")
    gh.oauth_callback_url = f"{hub_env.hub_public_url.rstrip('/')}/hub/oauth_callback"
    gh.enable_auth_state = True
    gh.scope = ["read:user", "user:email", "read:org"]
    gh.populate_teams_in_auth_state = True
    if auth.allowed_organizations:
        gh.allowed_organizations = set(auth.allowed_organizations)
    else:
        gh.allow_all = True
    if auth.provider == "github":
        assert auth.github is not None  # enforced by AuthConfig
        gh.client_id = auth.github.client_id
        gh.github_url = auth.github.url
        return None  # real GitHub users get their identity from their login only
    # The browser goes to the mock's published port; the hub reaches it on the network.
    gh.client_id = MOCK_CLIENT_ID
    gh.authorize_url, gh.token_url, gh.github_api = hub_env.mock_github_urls()
    gh.userdata_url = f"{gh.github_api}/user"
    return mock_identity_lookup(config)


def configure_cilogon(c: Any, config: DevlabConfig, hub_env: HubEnvironment) -> Any:
    """CILogon's own authenticator, pointed at real CILogon or at the mock; devlab adds
    only the id_token check and the claims' identity (DevlabCILogonOAuthenticator)."""
    settings = config.auth.cilogon or CILogonConfig()
    c.JupyterHub.authenticator_class = DevlabCILogonOAuthenticator
    cl = c.DevlabCILogonOAuthenticator
    cl.enable_auth_state = True
    cl.client_secret = hub_env.secret("oauth_client_secret")
    cl.oauth_callback_url = f"{hub_env.hub_public_url.rstrip('/')}/hub/oauth_callback"
    cl.unix_username_claim = settings.username_claim
    cl.uid_claim = settings.uid_claim
    cl.gid_claim = settings.gid_claim
    cl.groups_claim = settings.groups_claim
    cl.user_private_groups = settings.user_private_groups
    cl.manage_groups = settings.manage_groups
    if settings.allowed_groups:
        cl.allowed_groups = set(settings.allowed_groups)
    idps = {entity: idp.for_oauthenticator() for entity, idp in settings.idps.items()}
    if config.auth.provider == "cilogon":
        assert settings.client_id is not None  # enforced by AuthConfig
        host = urlparse(settings.url).netloc
        cl.client_id = settings.client_id
        cl.cilogon_host = host
        cl.jwks_url = f"https://{host}/oauth2/certs"
        cl.issuer = f"https://{host}"
        cl.idps = idps
        return None  # real CILogon users get their identity from their login only
    mock = config.mock_cilogon
    # The browser goes to the mock's published port; the hub reaches it on the network.
    cl.client_id = settings.client_id or MOCK_CLIENT_ID
    cl.authorize_url = f"{hub_env.cilogon_public_url}/authorize"
    cl.token_url = f"{hub_env.cilogon_internal_url}/oauth2/token"
    cl.userdata_url = f"{hub_env.cilogon_internal_url}/oauth2/userinfo"
    cl.jwks_url = f"{hub_env.cilogon_internal_url}/oauth2/certs"
    cl.issuer = hub_env.cilogon_public_url.rstrip("/")
    cl.idps = idps or {
        entity: {"username_derivation": {"username_claim": mock.username_claim}, "allow_all": True}
        for entity in mock.idps
    }
    names = ClaimNames(
        username=settings.username_claim,
        uid=settings.uid_claim,
        gid=settings.gid_claim,
        groups=settings.groups_claim,
    )

    def lookup(username: str) -> Identity | None:
        """The mock user with this user name, for hub users who have not logged in yet."""
        for user in mock.users:
            claims = user.model_dump(mode="json", exclude_none=True)
            if claims.get(settings.username_claim) == username:
                claimed = identity_from_claims(
                    claims, names, user_private_groups=settings.user_private_groups
                )
                return claimed.identity
        return None

    return lookup


def configure_github_link(c: Any, link: GitHubLink, hub_env: HubEnvironment) -> None:
    """The link service (devlab.github_link) as a hub-managed service, each user's access
    to it, and what labs get: its credential URL, and git settings from the user's link."""
    hub = hub_env.hub_public_url.rstrip("/")
    if link.uses_mock:
        client_id = MOCK_LINK_CLIENT_ID
        authorize, token, api = hub_env.mock_github_urls()
    else:
        assert link.client_id is not None  # enforced by GitHubLink
        client_id = link.client_id
        authorize = f"{link.url}/login/oauth/authorize"
        token = f"{link.url}/login/oauth/access_token"
        # github.com's API has its own host; GitHub Enterprise Server's is under /api/v3.
        api = "https://api.github.com" if link.url == "https://github.com" else f"{link.url}/api/v3"
    store_path = hub_env.data_dir / "github-links.sqlite"
    key_file = hub_env.secrets_dir / "github_link_key"
    port = urlparse(GITHUB_LINK_URL).port
    command = [
        sys.executable,
        "-m",
        "devlab.github_link",
        f"--store={store_path}",
        f"--key-file={key_file}",
        f"--client-id={client_id}",
        f"--client-secret-file={hub_env.secrets_dir / 'github_link_client_secret'}",
        f"--authorize-url={authorize}",
        f"--token-url={token}",
        f"--api-url={api}",
        f"--redirect-uri={hub}/services/{SERVICE_NAME}/callback",
        *(f"--scope={scope}" for scope in link.scopes),
        *(f"--git-host={host}" for host in sorted(git_hosts(link.url, link.git_url))),
        f"--port={port}",
    ]
    c.JupyterHub.services.append(
        {
            "name": SERVICE_NAME,
            "url": GITHUB_LINK_URL,
            "command": command,
            "oauth_no_confirm": True,
            "display": False,  # the home page has its own button
        }
    )
    access = f"access:services!service={SERVICE_NAME}"
    # Users reach the service's pages; their labs' own API tokens reach its credential API
    # (the server role's scopes, plus the service's).
    c.JupyterHub.load_roles.append({"name": "user", "scopes": ["self", access]})
    c.DevlabSpawner.server_token_scopes = ["users:activity!user", "access:servers!server", access]
    c.JupyterHub.template_vars = {
        **c.JupyterHub.get("template_vars", {}),
        "github_link_url": f"/services/{SERVICE_NAME}/",
    }
    store = LinkStore(store_path, bytes.fromhex(hub_env.secret("github_link_key")))
    credential_url = f"{GITHUB_LINK_URL}/services/{SERVICE_NAME}/api/credential"

    def lab_environment(username: str) -> dict[str, str]:
        entries = lab_git_entries(store.get(username), link.git_url)
        return {CREDENTIAL_URL_ENV: credential_url, **git_config_environment(entries)}

    c.DevlabSpawner.user_environment = lab_environment


def firstuse_identity_lookup(config: DevlabConfig, allocations_path: Path) -> Any:
    """FirstUse users: a uid allocated once from the configured range, and its groups."""
    firstuse = config.auth.firstuse
    allocations = UidAllocations(allocations_path, *firstuse.uid_range)
    groups = tuple(Group(g.name, g.gid) for g in firstuse.groups)

    def lookup(username: str) -> Identity:
        return Identity(login=username, uid=allocations.uid_for(username), groups=groups)

    return lookup
