"""Where a stack lives and how it is reached: resolved once from options and environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from devlab.config.models import AuthConfig
from devlab.platform import DEFAULT_CONFIG, PLATFORM_DIR, defaults

# Compose project names: lower-case letters, digits, dashes and underscores.
STACK_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class SettingsError(ValueError):
    """A setting that cannot work; the message says which and how to fix it."""


@dataclass(frozen=True)
class TlsChoice:
    """TLS for the proxy: the organiser's certificate, or one devlab generates."""

    cert: Path | None = None
    key: Path | None = None

    @property
    def self_signed(self) -> bool:
        return self.cert is None


@dataclass(frozen=True)
class StackSettings:
    name: str
    project_dir: Path  # the folder holding compose.yaml (devlab/platform)
    config_path: Path
    state_dir: Path
    http_port: int
    oauth_port: int
    cilogon_port: int
    nfs_port: int
    registry_port: int
    bind: str
    base_image: str
    ca_bundle: Path | None
    profile: str | None = None
    tls: TlsChoice | None = None
    public_host: str | None = None  # the name participants use, when bound beyond loopback
    config_source: str = "--config"  # how config_path was found (discover_config)

    @property
    def compose_file(self) -> Path:
        return self.project_dir / "compose.yaml"

    @property
    def env_file(self) -> Path:
        return self.state_dir / "compose.env"

    @property
    def secrets_dir(self) -> Path:
        return self.state_dir / "secrets"

    @property
    def _host(self) -> str:
        if self.public_host:
            return self.public_host
        return "127.0.0.1" if self.bind in ("0.0.0.0", "::") else self.bind

    @property
    def hub_url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self._host}:{self.http_port}/"

    @property
    def tls_dir(self) -> Path:
        return self.state_dir / "tls"

    @property
    def oauth_url(self) -> str:
        """Where a browser reaches the mock GitHub provider: loopback, whatever --bind says."""
        return f"http://127.0.0.1:{self.oauth_port}"

    @property
    def cilogon_url(self) -> str:
        """Where a browser reaches the mock CILogon provider: loopback, whatever --bind says."""
        return f"http://127.0.0.1:{self.cilogon_port}"

    @property
    def registry_host(self) -> str:
        """How the engine (and so a lab image reference) names the local registry."""
        return f"127.0.0.1:{self.registry_port}"

    @property
    def nfs_url(self) -> str:
        return f"nfs://127.0.0.1:{self.nfs_port}/"  # loopback, whatever --bind says

    @property
    def network(self) -> str:
        return f"{self.name}_default"


def platform_dir(given: Path) -> Path:
    """The folder holding compose.yaml for `--project-dir`: a devlab checkout, its devlab
    package, or that package's platform folder itself."""
    for candidate in (given, given / PLATFORM_DIR.name, given / "devlab" / PLATFORM_DIR.name):
        if (candidate / "compose.yaml").is_file() and (candidate / "images" / "hub").is_dir():
            return candidate
    raise SettingsError(
        f"{given} holds no devlab stack (compose.yaml and images/): pass a devlab checkout "
        "as --project-dir (or DEVLAB_PROJECT_DIR), or leave it out to use the installed devlab"
    )


CONFIG_FILE = "devlab.yaml"  # the name `devlab init` writes and discovery looks for


@dataclass(frozen=True)
class ConfigChoice:
    path: Path
    source: str  # "--config", "DEVLAB_CONFIG", "./devlab.yaml" or "packaged default"


def discover_config(
    option: str | None, env: Mapping[str, str], cwd: Path, packaged: Path
) -> ConfigChoice:
    """--config, then DEVLAB_CONFIG, then devlab.yaml in the current folder, then the
    default devlab ships: the order tools like this usually follow, so nobody has to guess."""
    if option:
        return ConfigChoice(Path(option).resolve(), "--config")
    if env.get("DEVLAB_CONFIG"):
        return ConfigChoice(Path(env["DEVLAB_CONFIG"]).resolve(), "DEVLAB_CONFIG")
    local = cwd / CONFIG_FILE
    if local.is_file():
        return ConfigChoice(local.resolve(), f"./{CONFIG_FILE}")
    return ConfigChoice(packaged.resolve(), "packaged default")


def default_state_root(env: Mapping[str, str]) -> Path:
    """XDG's state directory: secrets and env files are per install, never in the repo."""
    if env.get("DEVLAB_STATE_DIR"):
        return Path(env["DEVLAB_STATE_DIR"])
    base = env.get("XDG_STATE_HOME") or str(
        Path(env.get("HOME", "~")).expanduser() / ".local/state"
    )
    return Path(base) / "devlab"


def resolve_settings(
    *,
    stack: str | None = None,
    config: str | None = None,
    port: int | None = None,
    oauth_port: int | None = None,
    cilogon_port: int | None = None,
    nfs_port: int | None = None,
    registry_port: int | None = None,
    profile: str | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    tls_self_signed: bool = False,
    public_host: str | None = None,
    bind: str | None = None,
    project_dir: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> StackSettings:
    """Options win over DEVLAB_* environment variables, which win over defaults."""
    env = os.environ if env is None else env
    cwd = cwd or Path.cwd()

    name = stack or env.get("DEVLAB_STACK") or defaults.STACK
    if not STACK_NAME.match(name):
        raise SettingsError(
            f"stack name {name!r} is not usable as a Compose project name: use lower-case "
            "letters, digits, '-' and '_' (--stack NAME or DEVLAB_STACK)"
        )

    given = project_dir or env.get("DEVLAB_PROJECT_DIR")
    root = platform_dir(Path(given).resolve()) if given else PLATFORM_DIR
    packaged = root / DEFAULT_CONFIG.relative_to(PLATFORM_DIR)
    config_choice = discover_config(config, env, cwd, packaged)
    http_port = _port(port, env.get("DEVLAB_HTTP_PORT"), defaults.HTTP_PORT, "--port")
    oauth = _port(oauth_port, env.get("DEVLAB_OAUTH_PORT"), defaults.OAUTH_PORT, "--oauth-port")
    cilogon = _port(
        cilogon_port, env.get("DEVLAB_CILOGON_PORT"), defaults.CILOGON_PORT, "--cilogon-port"
    )
    nfs = _port(nfs_port, env.get("DEVLAB_NFS_PORT"), defaults.NFS_PORT, "--nfs-port")
    registry = _port(
        registry_port, env.get("DEVLAB_REGISTRY_PORT"), defaults.REGISTRY_PORT, "--registry-port"
    )
    if len({http_port, oauth, cilogon, nfs, registry}) < 5:
        raise SettingsError(
            f"the hub ({http_port}), mock GitHub ({oauth}), mock CILogon ({cilogon}), NFS "
            f"({nfs}) and registry ({registry}) ports must differ (--port, --oauth-port, "
            "--cilogon-port, --nfs-port, --registry-port)"
        )

    ca = env.get("DEVLAB_CA_BUNDLE")
    ca_bundle = Path(ca).resolve() if ca else None
    if ca_bundle is not None and not ca_bundle.is_file():
        raise SettingsError(
            f"DEVLAB_CA_BUNDLE={ca} is not a file: point it at a PEM bundle, or unset it"
        )

    bind_address = bind or env.get("DEVLAB_BIND") or defaults.BIND
    tls = _tls_choice(bind_address, tls_cert, tls_key, tls_self_signed)
    return StackSettings(
        name=name,
        project_dir=root,
        config_path=config_choice.path,
        config_source=config_choice.source,
        state_dir=(default_state_root(env) / name).resolve(),
        http_port=http_port,
        oauth_port=oauth,
        cilogon_port=cilogon,
        nfs_port=nfs,
        registry_port=registry,
        bind=bind_address,
        base_image=env.get("DEVLAB_BASE_IMAGE") or defaults.BASE_IMAGE,
        ca_bundle=ca_bundle,
        profile=profile or env.get("DEVLAB_PROFILE") or None,
        tls=tls,
        public_host=public_host or env.get("DEVLAB_PUBLIC_HOST") or None,
    )


def is_loopback(address: str) -> bool:
    return address == "localhost" or address == "::1" or address.startswith("127.")


def check_exposure(settings: StackSettings, auth: AuthConfig) -> None:
    """Refuse a stack whose login would be open to the network it is published on.

    The mock providers log in anyone as any of their users, admins included, and their
    ports stay on loopback; but the hub beyond loopback would send a LAN's browsers there.
    """
    if is_loopback(settings.bind):
        return
    mocks = {"github-mock": "GitHub", "cilogon-mock": "CILogon"}
    if auth.provider in mocks:
        raise SettingsError(
            f"--bind {settings.bind} would let anyone on your network log in as any mock "
            f"{mocks[auth.provider]} user, admins included: use `--profile workshop` (FirstUse "
            "accounts with one-time passwords) or a real provider (auth.provider: github or "
            "cilogon) for a stack beyond loopback, or leave out --bind"
        )
    if auth.github_link is not None and auth.github_link.uses_mock:
        raise SettingsError(
            f"--bind {settings.bind} would let anyone on your network link any mock GitHub "
            "account and push as it: give auth.github_link a real GitHub app (client_id and "
            "client_secret_file) for a stack beyond loopback, or leave out --bind"
        )


def _tls_choice(
    bind: str, cert: str | None, key: str | None, self_signed: bool
) -> TlsChoice | None:
    """Beyond loopback the hub carries passwords over a network: TLS is not optional."""
    if (cert is None) != (key is None):
        raise SettingsError("--tls-cert and --tls-key go together: pass both files")
    if cert and self_signed:
        raise SettingsError("choose --tls-cert/--tls-key or --tls-self-signed, not both")
    for path in (cert, key):
        if path and not Path(path).is_file():
            raise SettingsError(f"{path} is not a file: check --tls-cert/--tls-key")
    if cert and key:
        return TlsChoice(Path(cert).resolve(), Path(key).resolve())
    if self_signed:
        return TlsChoice()
    if not is_loopback(bind):
        raise SettingsError(
            f"--bind {bind} makes the hub reachable from your network, which needs TLS: "
            "pass --tls-cert FILE --tls-key FILE, or --tls-self-signed to have devlab make "
            "a certificate"
        )
    return None


def _port(option: int | None, from_env: str | None, default: int, flag: str) -> int:
    raw = option if option is not None else (from_env or default)
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"port {raw!r} is not a number ({flag} N)") from None
    if not 1 <= value <= 65535:
        raise SettingsError(f"port {value} is out of range 1-65535 ({flag} N)")
    return value
