"""The hub's configuration as devlab builds it, checked on a real traitlets Config."""

from pathlib import Path

import pytest
from traitlets.config import Config

from devlab.config import load_config
from devlab.hub.authenticators import FIRSTUSE_TEMPLATES, DevlabFirstUseAuthenticator
from devlab.hub.proxy import DevlabProxy
from devlab.hub.spawner import SERVER_TEMPLATES, DevlabSpawner
from devlab.hub.wiring import HubEnvironment, configure
from devlab.platform import DEFAULT_CONFIG
from devlab.tutorials.repository import read_head


def test_hub_keeps_labs_and_uses_the_external_proxy(hub_env):
    c = Config()
    configure(c, hub_env)
    assert c.JupyterHub.cleanup_servers is False
    assert c.ConfigurableHTTPProxy.should_start is False
    assert c.JupyterHub.proxy_class is DevlabProxy
    # The routing API's alias exists only on the stack network, which labs are not on.
    assert c.ConfigurableHTTPProxy.api_url == "http://proxy-api:8001"
    # The proxy service reads the same secret file: a generated token would lock it out.
    secret = Path(hub_env["DEVLAB_SECRETS_PATH"]) / "proxy_auth_token"
    assert c.ConfigurableHTTPProxy.auth_token == secret.read_text().strip()
    assert c.JupyterHub.spawner_class is DevlabSpawner


def test_labs_are_hardened_labelled_and_each_on_its_own_network(hub_env):
    c = Config()
    configure(c, hub_env)
    spawner = c.DevlabSpawner
    # No shared network is configured: each spawner names its lab's own (devlab.hub.networks).
    assert "network_name" not in spawner
    assert spawner.network_pool == load_config(DEFAULT_CONFIG).lab.network_pool
    assert spawner.image == "devlab/lab:test"
    assert spawner.stack_name == "s1"
    assert spawner.use_internal_ip is True
    assert spawner.lab_host_config["cap_drop"] == ["ALL"]
    assert "no-new-privileges" in spawner.lab_host_config["security_opt"]
    assert spawner.lab_host_config["init"] is True


def test_the_builtin_tutorials_are_published_before_the_hub_serves(hub_env):
    c = Config()
    config = configure(c, hub_env)
    assert c.DevlabSpawner.tutorials.is_builtin  # the packaged config's default
    head = read_head(Path(hub_env["DEVLAB_TUTORIALS_PATH"]), config.lab.tutorials.branch)
    assert head is not None
    configure(Config(), hub_env)  # a restart of the same version adds no commit
    assert read_head(Path(hub_env["DEVLAB_TUTORIALS_PATH"]), "main") == head


def test_admin_service_token_comes_from_the_secrets(hub_env):
    c = Config()
    configure(c, hub_env)
    token = (Path(hub_env["DEVLAB_SECRETS_PATH"]) / "admin_api_token").read_text().strip()
    assert c.JupyterHub.services == [{"name": "devlab-admin", "api_token": token}]
    assert {"name": "admin", "services": ["devlab-admin"]} in c.JupyterHub.load_roles


def test_mock_identities_resolve_and_strangers_do_not(hub_env):
    c = Config()
    configure(c, hub_env)
    lookup = c.DevlabSpawner.identity_lookup
    alice = lookup("alice")
    assert (alice.uid, alice.supplementary_gids) == (7000001, (8000001, 8000002))
    assert lookup("mallory") is None


def test_missing_environment_says_how_to_start(hub_env):
    del hub_env["DEVLAB_LAB_IMAGE"]
    with pytest.raises(RuntimeError, match="devlab up"):
        HubEnvironment.from_env(hub_env)


def test_docker_calls_are_not_serialised_on_one_thread():
    spawner = DevlabSpawner(docker_workers=6)
    assert spawner.executor._max_workers == 6
    assert DevlabSpawner().executor is spawner.executor  # one pool for all users


def with_auth(tmp_path, hub_env, **auth):
    import yaml

    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["auth"].update(auth)
    path = tmp_path / "devlab.yaml"
    path.write_text(yaml.safe_dump(config))
    c = Config()
    configure(c, {**hub_env, "DEVLAB_CONFIG_PATH": str(path)})
    return c


def test_mock_github_uses_the_real_authenticator_with_split_urls(hub_env):
    from devlab.hub.authenticators import DevlabGitHubOAuthenticator

    c = Config()
    configure(
        c,
        {
            **hub_env,
            "DEVLAB_HUB_PUBLIC_URL": "http://127.0.0.1:18000/",
            "DEVLAB_OAUTH_PUBLIC_URL": "http://127.0.0.1:18090",
        },
    )
    assert c.JupyterHub.authenticator_class is DevlabGitHubOAuthenticator
    gh = c.DevlabGitHubOAuthenticator
    assert gh.authorize_url == "http://127.0.0.1:18090/login/oauth/authorize"
    assert gh.token_url == "http://oauth:8090/login/oauth/access_token"
    assert gh.userdata_url == "http://oauth:8090/user"
    assert gh.oauth_callback_url == "http://127.0.0.1:18000/hub/oauth_callback"
    assert gh.enable_auth_state is True
    assert gh.allow_all is True
    assert "read:org" in gh.scope


def test_allowed_organizations_replace_allow_all(tmp_path, hub_env):
    c = with_auth(tmp_path, hub_env, allowed_organizations=["devlab-devs"])
    gh = c.DevlabGitHubOAuthenticator
    assert gh.allowed_organizations == {"devlab-devs"}
    assert "allow_all" not in gh


def test_real_github_talks_to_github_and_invents_no_identity(tmp_path, hub_env):
    secret = tmp_path / "gh-secret"
    secret.write_text("s3cret\n")
    c = with_auth(
        tmp_path,
        hub_env,
        provider="github",
        github={"client_id": "Iv1.abc", "client_secret_file": str(secret)},
    )
    gh = c.DevlabGitHubOAuthenticator
    assert gh.client_id == "Iv1.abc"
    assert gh.github_url == "https://github.com"
    assert "authorize_url" not in gh  # GitHubOAuthenticator derives github.com's URLs
    assert c.DevlabSpawner.identity_lookup is None


def test_firstuse_allocates_once_and_remembers(tmp_path, hub_env):
    c = with_auth(tmp_path, hub_env, provider="firstuse", firstuse={"min_password_length": 12})
    assert c.JupyterHub.authenticator_class is DevlabFirstUseAuthenticator
    assert c.FirstUseAuthenticator.min_password_length == 12
    assert c.FirstUseAuthenticator.create_users is False  # open_signup is off by default
    assert c.DevlabFirstUseAuthenticator.one_time_dbm_path.endswith(
        "data/devlab-one-time-passwords.dbm"
    )
    assert c.JupyterHub.template_paths == [str(FIRSTUSE_TEMPLATES), str(SERVER_TEMPLATES)]
    lookup = c.DevlabSpawner.identity_lookup
    dave = lookup("dave")
    assert (dave.uid, dave.groups[0].name) == (4000000, "workshop")
    assert lookup("erin").uid == 4000001
    again = with_auth(tmp_path, hub_env, provider="firstuse").DevlabSpawner.identity_lookup
    assert again("dave").uid == 4000000


def test_mock_cilogon_uses_cilogons_own_authenticator_with_split_urls(tmp_path, hub_env):
    from devlab.hub.authenticators import DevlabCILogonOAuthenticator

    hub_env = {**hub_env, "DEVLAB_CILOGON_PUBLIC_URL": "http://127.0.0.1:18091"}
    c = with_auth(tmp_path, hub_env, provider="cilogon-mock")
    assert c.JupyterHub.authenticator_class is DevlabCILogonOAuthenticator
    cl = c.DevlabCILogonOAuthenticator
    # The browser goes to the published port; the hub's calls stay on the stack network.
    assert cl.authorize_url == "http://127.0.0.1:18091/authorize"
    assert cl.token_url == "http://cilogon:8091/oauth2/token"
    assert cl.userdata_url == "http://cilogon:8091/oauth2/userinfo"
    assert cl.jwks_url == "http://cilogon:8091/oauth2/certs"
    assert cl.issuer == "http://127.0.0.1:18091"  # what the mock signs into every id_token
    assert cl.enable_auth_state is True
    assert set(cl.idps) == set(load_config(DEFAULT_CONFIG).mock_cilogon.idps)
    # A user who has not logged in yet gets the identity the mock's claims give.
    ada = c.DevlabSpawner.identity_lookup("ada")
    assert (ada.uid, ada.gid) == (3000001, 3000001)  # user-private by default
    assert [(g.name, g.gid) for g in ada.groups] == [("astro", 2000101), ("pipelines", 2000102)]
    assert c.DevlabSpawner.identity_lookup("mallory") is None


def test_real_cilogon_talks_to_cilogon_and_invents_no_identity(tmp_path, hub_env):
    secret = tmp_path / "cilogon-secret"
    secret.write_text("s3cret\n")
    c = with_auth(
        tmp_path,
        hub_env,
        provider="cilogon",
        cilogon={
            "client_id": "cilogon:/client_id/abc",
            "client_secret_file": str(secret),
            "url": "https://test.cilogon.org",
            "idps": {"https://idp.example.edu/idp/shibboleth": {"allow_all": True}},
        },
    )
    cl = c.DevlabCILogonOAuthenticator
    assert cl.client_id == "cilogon:/client_id/abc"
    assert cl.cilogon_host == "test.cilogon.org"
    assert cl.jwks_url == "https://test.cilogon.org/oauth2/certs"
    assert cl.issuer == "https://test.cilogon.org"
    assert "authorize_url" not in cl  # CILogonOAuthenticator derives them from its host
    assert list(cl.idps) == ["https://idp.example.edu/idp/shibboleth"]
    assert c.DevlabSpawner.identity_lookup is None


def test_the_github_link_service_runs_beside_the_hub_against_the_mock(tmp_path, hub_env):
    c = with_auth(
        tmp_path,
        hub_env,
        provider="cilogon-mock",
        github_link={"git_url": "http://git.devlab.test:8080/"},
    )
    (service,) = [s for s in c.JupyterHub.services if s["name"] == "github-link"]
    assert service["url"] == "http://hub:8095"
    assert service["oauth_no_confirm"] is True
    args = dict(a.split("=", 1) for a in service["command"][3:])
    # The browser goes to the mock's published port; the service's calls stay in-network.
    assert args["--authorize-url"] == "http://127.0.0.1:8090/login/oauth/authorize"
    assert args["--token-url"] == "http://oauth:8090/login/oauth/access_token"
    assert args["--api-url"] == "http://oauth:8090"
    assert args["--client-id"] == "devlab-github-link"
    assert args["--redirect-uri"] == "http://127.0.0.1:8000/services/github-link/callback"
    hosts = [a.split("=", 1)[1] for a in service["command"] if a.startswith("--git-host=")]
    assert hosts == ["git.devlab.test:8080", "github.com"]
    access = "access:services!service=github-link"
    assert {"name": "user", "scopes": ["self", access]} in c.JupyterHub.load_roles
    assert access in c.DevlabSpawner.server_token_scopes
    assert "access:servers!server" in c.DevlabSpawner.server_token_scopes
    assert c.JupyterHub.template_vars["github_link_url"] == "/services/github-link/"


def test_a_lab_starts_with_its_users_link_as_git_settings(tmp_path, hub_env):
    from devlab.github_link.links import Link
    from devlab.github_link.store import LinkStore

    c = with_auth(tmp_path, hub_env, provider="cilogon-mock", github_link={})
    key = (Path(hub_env["DEVLAB_SECRETS_PATH"]) / "github_link_key").read_text().strip()
    store = LinkStore(Path(hub_env["DEVLAB_HUB_DATA"]) / "github-links.sqlite", bytes.fromhex(key))
    store.put("ada", Link(7000001, "alice", "Alice", None, "gho_secret", ("repo",)))
    env = c.DevlabSpawner.user_environment("ada")
    assert env["DEVLAB_GIT_CREDENTIAL_URL"] == (
        "http://hub:8095/services/github-link/api/credential"
    )
    settings = {env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"] for i in range(3)}
    assert settings == {
        "credential.helper": "devlab",
        "user.name": "Alice",
        "user.email": "7000001+alice@users.noreply.github.com",
    }
    assert "gho_secret" not in repr(env)
    assert c.DevlabSpawner.user_environment("grace")["GIT_CONFIG_COUNT"] == "1"


def test_a_real_github_link_talks_to_github(tmp_path, hub_env):
    secret = tmp_path / "link-secret"
    secret.write_text("s3cret\n")
    link = {"client_id": "Iv1.abc", "client_secret_file": str(secret)}
    c = with_auth(tmp_path, hub_env, provider="cilogon-mock", github_link=link)
    (service,) = [s for s in c.JupyterHub.services if s["name"] == "github-link"]
    args = dict(a.split("=", 1) for a in service["command"][3:] if not a.startswith("--scope"))
    assert args["--authorize-url"] == "https://github.com/login/oauth/authorize"
    assert args["--token-url"] == "https://github.com/login/oauth/access_token"
    assert args["--api-url"] == "https://api.github.com"
    assert args["--client-id"] == "Iv1.abc"


def test_without_github_link_there_is_no_service_and_labs_get_no_git_settings(hub_env):
    c = Config()
    configure(c, hub_env)
    assert [s["name"] for s in c.JupyterHub.services] == ["devlab-admin"]
    assert "user_environment" not in c.DevlabSpawner
    assert "template_vars" not in c.JupyterHub
