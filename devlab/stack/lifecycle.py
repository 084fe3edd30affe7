"""up, down, status and token for one stack: compose for services, the SDK for labs."""

from __future__ import annotations

import datetime
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import docker
from docker.errors import NotFound

from devlab.catalog.state import CatalogState, parse_state
from devlab.config import DevlabConfig, lab_build_paths, load_config
from devlab.polling import PollTimeout, poll_until
from devlab.stack import engine, ports, publish
from devlab.stack.compose import ComposeError, check_compose, run_compose
from devlab.stack.envfile import (
    TLS_OWN,
    TLS_SELF_SIGNED,
    compose_env,
    read_env_file,
    spawn_image,
    write_env_file,
)
from devlab.stack.images import BUILT_IMAGES, image_tag, project_lab_tag
from devlab.stack.secrets import ensure_secrets, install_secret, read_secret
from devlab.stack.settings import StackSettings, TlsChoice, check_exposure
from devlab.stack.status import ABSENT, LabStatus, ServiceStatus, StackStatus
from devlab.stack.tls import install_tls
from devlab.storage import engine as storage_engine

# Compose starts every service of the active profiles (COMPOSE_PROFILES in compose.env).
RUNTIME_SERVICES = ("proxy", "hub")
UP_TIMEOUT = 180
CATALOG_STATE = "/srv/devlab/catalog/state.json"  # in the prepuller's catalog volume
# `down` must reach services of every profile, including ones no longer active.
ALL_PROFILES = ("--profile", "*")  # seconds for every service to report healthy
Say = Callable[[str], None]


class StackError(RuntimeError):
    """An operation on the stack failed; the message says what happened and what to do."""


@dataclass
class UpResult:
    config: DevlabConfig
    health: dict[str, str]  # per service: healthy, running ...
    healthy_after: dict[str, float | None]  # seconds from start to healthy; None: was running
    hub_url: str
    storage_mode: str
    storage_reason: str
    built: list[str] = field(default_factory=list)
    created_secrets: list[str] = field(default_factory=list)


def prepare(settings: StackSettings, config: DevlabConfig) -> tuple[dict[str, str], list[str]]:
    """Generate secrets, compute image tags and write compose.env."""
    # A missing lab.build folder is a config error: named before anything is written.
    project_lab = lab_build_paths(config, settings.config_path, settings.profile)
    created = ensure_secrets(settings.secrets_dir)
    if config.auth.github is not None and config.auth.provider == "github":
        install_secret(
            settings.secrets_dir,
            "oauth_client_secret",
            Path(config.auth.github.client_secret_file),
            "auth.github.client_secret_file",
        )
    cilogon = config.auth.cilogon
    if cilogon is not None and cilogon.client_secret_file and config.auth.provider == "cilogon":
        install_secret(
            settings.secrets_dir,
            "oauth_client_secret",
            Path(cilogon.client_secret_file),
            "auth.cilogon.client_secret_file",
        )
    link = config.auth.github_link
    if link is not None and link.client_secret_file:
        install_secret(
            settings.secrets_dir,
            "github_link_client_secret",
            Path(link.client_secret_file),
            "auth.github_link.client_secret_file",
        )
    ca = settings.ca_bundle or _empty_ca_bundle(settings.state_dir)
    install_tls(settings, _tls_hosts(settings))
    profiles = profiles_for(config)
    images = {
        image.service: image_tag(image, settings.base_image, settings.project_dir.parent)
        for image in BUILT_IMAGES
        if image.profile is None or image.profile in profiles
    }
    if project_lab is not None:
        images["project_lab"] = project_lab_tag(project_lab, images["lab"])
    values = compose_env(
        settings, images=images, ca_bundle=ca, profiles=profiles, project_lab=project_lab
    )
    write_env_file(settings.env_file, values)
    return values, created


def _tls_hosts(settings: StackSettings) -> list[str]:
    hosts = [h for h in (settings.public_host, settings.bind) if h and h not in ("0.0.0.0", "::")]
    if settings.bind in ("0.0.0.0", "::") and not settings.public_host:
        hosts.append(socket.getfqdn())
    return [*dict.fromkeys([*hosts, "localhost", "127.0.0.1"])]


def _service_report(
    client: docker.DockerClient, settings: StackSettings, since: float
) -> tuple[dict[str, str], dict[str, float | None]]:
    """Per service, its health, and seconds from its start to its first passing check.

    None for services already running before this `up` (their first check is long gone
    from the engine's short health log).
    """
    health: dict[str, str] = {}
    result: dict[str, float | None] = {}
    for container in engine.compose_containers(client, settings.name):
        service = container.labels.get(engine.COMPOSE_SERVICE, container.name)
        state = container.attrs["State"]
        health[service] = (state.get("Health") or {}).get("Status") or state.get("Status", "")
        started_at = _timestamp(state.get("StartedAt"))
        passing = [
            _timestamp(entry.get("End"))
            for entry in (state.get("Health") or {}).get("Log", [])
            if entry.get("ExitCode") == 0
        ]
        if started_at is None or started_at < since - 1 or not passing or passing[0] is None:
            result[service] = None
        else:
            result[service] = max(0.0, passing[0] - started_at)
    return health, result


def _timestamp(value: str | None) -> float | None:
    """An engine timestamp (UTC, nanoseconds) in seconds; None for the engine's zero time."""
    if not value or value.startswith("0001-"):
        return None
    # fromisoformat takes at most microseconds: drop the engine's extra digits.
    return datetime.datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", value)).timestamp()


def profiles_for(config: DevlabConfig) -> tuple[str, ...]:
    """The optional services this config runs."""
    profiles = []
    link = config.auth.github_link
    if config.auth.provider == "github-mock" or (link is not None and link.uses_mock):
        profiles.append("mock-github")
    if config.auth.provider == "cilogon-mock":
        profiles.append("mock-cilogon")
    if config.local_registry:
        profiles.append("registry")
    return tuple(profiles)


def _empty_ca_bundle(state_dir: Path) -> Path:
    """Compose needs a file for the ca_bundle build secret even when there is no extra CA."""
    path = state_dir / "no-extra-ca.pem"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text("")
    return path


def build_missing(
    client: docker.DockerClient, settings: StackSettings, values: dict[str, str], say: Say
) -> list[str]:
    """Build the images that are not present, with compose's progress output: devlab's,
    then the project's own lab image (lab.build), which starts from devlab's lab."""
    wanted = {
        image.service: values[key]
        for image in BUILT_IMAGES
        if (key := f"DEVLAB_{image.service.upper()}_IMAGE") in values
    }
    missing = [svc for svc, ref in wanted.items() if not engine.image_exists(client, ref)]
    if missing:
        say(f"Building {', '.join(wanted[s] for s in missing)} (base {settings.base_image})")
        build_services(settings, missing)
    built = [wanted[s] for s in missing]
    project = values.get("DEVLAB_PROJECT_LAB_IMAGE")
    if project and not engine.image_exists(client, project):
        say(f"Building {project} from {values['DEVLAB_PROJECT_LAB_CONTEXT']} (lab.build)")
        build_services(settings, [PROJECT_LAB])
        built.append(project)
    return built


PROJECT_LAB = "project-lab"  # the compose service that builds lab.build's image


def build_services(settings: StackSettings, services: list[str]) -> None:
    """`docker compose build` (BuildKit, so the ca_bundle build secret works)."""
    result = run_compose(settings, [*ALL_PROFILES, "build", *services], progress=True)
    if result.returncode == 0:
        return
    if services == [PROJECT_LAB]:
        raise StackError(
            f"building the lab image of lab.build in {settings.config_path} failed (output "
            "above). Its Dockerfile starts `ARG BASE_IMAGE` and `FROM ${BASE_IMAGE}`; behind "
            "an HTTPS-intercepting proxy, set DEVLAB_CA_BUNDLE and mount it in RUN steps "
            "that download (`RUN --mount=type=secret,id=ca_bundle ...`, see README)"
        )
    raise StackError(
        f"building {', '.join(services)} failed (output above). Behind an HTTPS-"
        "intercepting proxy, set DEVLAB_CA_BUNDLE to its CA bundle; with no registry, "
        "set DEVLAB_BASE_IMAGE to a local Debian bookworm image"
    )


def _storage_mode(
    client: docker.DockerClient, config: DevlabConfig, hub_image: str
) -> tuple[str, str]:
    if config.storage.mode != "auto":
        return config.storage.mode, "set by storage.mode in the config"
    return storage_engine.detect_mode(client, hub_image)


def compose_up(settings: StackSettings) -> str | None:
    """Start the services and wait until each is healthy: None, or why not (compose's output).

    `up` and `down` take the Compose step as an argument, so devlab.testing.DevlabStack
    can run it through testcontainers while everything around it stays here.
    """
    result = run_compose(
        settings,
        ["up", "--detach", "--wait", "--wait-timeout", str(UP_TIMEOUT), "--remove-orphans"],
        capture=True,
    )
    return None if result.returncode == 0 else result.stderr.strip()


def compose_down(settings: StackSettings, volumes: bool) -> None:
    """Remove the services of every profile (and their volumes, if asked)."""
    args = [*ALL_PROFILES, "down", "--remove-orphans"] + (["--volumes"] if volumes else [])
    result = run_compose(settings, args, capture=True)
    if result.returncode != 0:
        raise ComposeError(f"docker compose down failed:\n{result.stderr.strip()}")


def up(
    settings: StackSettings,
    say: Say = print,
    start_services: Callable[[StackSettings], str | None] = compose_up,
) -> UpResult:
    check_compose()
    # Config first: a broken file names its line and starts nothing; so does a lab.build
    # folder that is not there (prepare resolves it again, after the checks below).
    config = load_config(settings.config_path, settings.profile)
    lab_build_paths(config, settings.config_path, settings.profile)
    check_exposure(settings, config.auth)
    client = engine.connect()
    taken = ports.stack_conflicts(settings, profiles_for(config), client)
    if taken:
        raise StackError("\n".join(ports.describe(conflict) for conflict in taken))
    values, created = prepare(settings, config)
    built = build_missing(client, settings, values, say)
    mode, reason = _storage_mode(client, config, values["DEVLAB_HUB_IMAGE"])
    values["DEVLAB_STORAGE_MODE"] = mode
    write_env_file(settings.env_file, values)
    _remove_inactive_services(settings)
    started = time.time()
    failure = start_services(settings)
    if failure is not None:
        detail = _failure_detail(client, settings)
        run_compose(settings, [*ALL_PROFILES, "down", "--remove-orphans"], capture=True)
        raise StackError(
            f"the stack did not become healthy; it was stopped again.\n{failure}"
            f"\n{detail}\nFix the cause above and run `devlab up` again."
        )
    # Labs that outlived a recreated hub or proxy keep working.
    engine.join_lab_networks(client, settings.name)
    health, healthy_after = _service_report(client, settings, started)
    if config.local_registry:
        _publish_build(client, settings, config, values, healthy_after, say)
    return UpResult(
        config=config,
        health=health,
        healthy_after=healthy_after,
        hub_url=settings.hub_url,
        storage_mode=mode,
        storage_reason=reason,
        built=built,
        created_secrets=created,
    )


MENU_WAIT = 30  # seconds `up` waits for the prepuller to publish a menu with a new push


def _publish_build(
    client: docker.DockerClient,
    settings: StackSettings,
    config: DevlabConfig,
    values: dict[str, str],
    healthy_after: dict[str, float | None],
    say: Say,
) -> None:
    """Today's lab build into the local registry when the menu follows it (only tags the
    registry lacks: nothing on a warm `up`), then a prepuller round, so the spawn form
    offers it when `up` returns. See devlab.stack.publish."""
    pushed: list[str] = []
    image = spawn_image(values)
    # A prepuller started by this `up` may have looked before the registry answered.
    restarted = healthy_after.get("prepuller") is not None
    try:
        if publish.follows_build(config) and image:
            password = read_secret(settings.secrets_dir, "registry_password")
            pushed = publish.publish_build(client, image, settings.registry_host, password)
            if pushed:
                say(f"Published {', '.join(pushed)}")
        if not (pushed or restarted):
            return
        nudged_at = datetime.datetime.now(datetime.UTC)
        if not publish.nudge_prepuller(client, settings.name) or not pushed:
            return
    except publish.PublishError as exc:
        say(
            f"Warning: {exc}. The menu may lack today's lab build until `devlab images push` "
            "(which tries again)"
        )
        return

    def menu_updated() -> bool:
        text = engine.read_service_file(client, settings.name, "prepuller", CATALOG_STATE)
        state = parse_state(text) if text else None
        return state is not None and state.updated_at >= nudged_at

    try:
        poll_until(menu_updated, "the prepuller's menu", timeout=MENU_WAIT, interval=0.3)
    except PollTimeout:
        say(
            f"The prepuller has not updated the menu within {MENU_WAIT} s: "
            "see `devlab logs prepuller`"
        )


def _services(settings: StackSettings, *profile_args: str) -> set[str]:
    result = run_compose(settings, [*profile_args, "config", "--services"], capture=True)
    if result.returncode != 0:
        raise ComposeError(f"docker compose config failed:\n{result.stderr.strip()}")
    return set(result.stdout.split())


def _remove_inactive_services(settings: StackSettings) -> None:
    """Stop services whose profile is no longer active (e.g. the mock after a provider change).

    Compose ignores containers of inactive profiles, so without this they would keep
    running and hold the stack's network after `down`.
    """
    inactive = _services(settings, *ALL_PROFILES) - _services(settings)
    if inactive:
        run_compose(
            settings, [*ALL_PROFILES, "rm", "--stop", "--force", *sorted(inactive)], capture=True
        )


def _failure_detail(client: docker.DockerClient, settings: StackSettings) -> str:
    """The last log lines of each service that is not healthy, for the error message."""
    parts = []
    for service, state in engine.service_states(client, settings.name).items():
        if state.state == "running" and state.health in (None, "healthy"):
            continue
        logs = run_compose(settings, ["logs", "--no-color", "--tail", "30", service], capture=True)
        parts.append(
            f"--- {service}: {state.state}/{state.health or 'no healthcheck'}\n{logs.stdout}"
        )
    return "\n".join(parts)


def as_brought_up(settings: StackSettings) -> StackSettings:
    """The settings the stack was last brought up with: ports, address, TLS, config.

    An organiser's own certificate stays theirs: an `up` from these settings installs the
    copy already in the state's tls dir again, never a self-signed one in its place.
    """
    values = read_env_file(settings.env_file)
    if values is None:
        return settings
    tls = {
        TLS_OWN: TlsChoice(settings.tls_dir / "cert.pem", settings.tls_dir / "key.pem"),
        TLS_SELF_SIGNED: TlsChoice(),
    }.get(values.get("DEVLAB_TLS", ""))
    return replace(
        settings,
        profile=values.get("DEVLAB_PROFILE") or None,
        tls=tls,
        public_host=values.get("DEVLAB_PUBLIC_HOST") or None,
        http_port=int(values.get("DEVLAB_HTTP_PORT", settings.http_port)),
        oauth_port=int(values.get("DEVLAB_OAUTH_PORT", settings.oauth_port)),
        cilogon_port=int(values.get("DEVLAB_CILOGON_PORT", settings.cilogon_port)),
        nfs_port=int(values.get("DEVLAB_NFS_PORT", settings.nfs_port)),
        registry_port=int(values.get("DEVLAB_REGISTRY_PORT", settings.registry_port)),
        bind=values.get("DEVLAB_BIND", settings.bind),
        # Later commands act on the config the stack runs with, wherever they are typed.
        config_path=Path(values["DEVLAB_CONFIG"])
        if "DEVLAB_CONFIG" in values
        else settings.config_path,
        config_source="as brought up" if "DEVLAB_CONFIG" in values else settings.config_source,
    )


def require_env(settings: StackSettings) -> dict[str, str]:
    values = read_env_file(settings.env_file)
    if values is None:
        raise StackError(
            f"stack {settings.name!r} has never been brought up here ({settings.env_file} is "
            "missing): run `devlab up` first"
        )
    return values


def down(
    settings: StackSettings,
    *,
    volumes: bool = False,
    say: Say = print,
    stop_services: Callable[[StackSettings, bool], None] = compose_down,
) -> None:
    """Stop labs (by label) first, since they hold the stack's network, then the services."""
    check_compose()
    values = require_env(settings)
    client = engine.connect()
    removed = engine.remove_labs(client, settings.name)
    if removed:
        say(f"Stopped {removed} lab(s)")
    engine.remove_lab_networks(client, settings.name)
    stop_services(settings, volumes)
    # A lab spawned while compose was stopping would hold the network: sweep once more.
    if engine.remove_labs(client, settings.name):
        engine.remove_lab_networks(client, settings.name)
        stop_services(settings, volumes)
    if volumes:
        engine.remove_volumes(client, settings.name)
        if "registry" in values.get("COMPOSE_PROFILES", "").split(","):
            # The registry's volume is gone: its tags here would only pin old lab builds.
            publish.forget_tags(client, settings.registry_host)
    left = engine.leftovers(client, settings.name)
    if left:
        raise StackError(
            f"these remain after down: {', '.join(left)}; remove them with `docker rm -f` / "
            "`docker network rm`"
        )


def status(settings: StackSettings) -> StackStatus:
    values = read_env_file(settings.env_file) or {}
    client = engine.connect()
    states = engine.service_states(client, settings.name)
    services = {
        name: ServiceStatus(state=s.state, health=s.health) for name, s in sorted(states.items())
    }
    for name in RUNTIME_SERVICES:
        services.setdefault(name, ABSENT)
    labs = tuple(
        LabStatus(user=c.labels.get(engine.LABEL_USER), container=c.name, state=c.status)
        for c in engine.lab_containers(client, settings.name)
    )
    state = _catalog_state(client, settings.name)
    return StackStatus(
        stack=settings.name,
        images=state.images if state else None,
        hub_url=settings.hub_url,
        oauth_url=settings.oauth_url
        if "mock-github" in values.get("COMPOSE_PROFILES", "")
        else None,
        cilogon_url=settings.cilogon_url
        if "mock-cilogon" in values.get("COMPOSE_PROFILES", "")
        else None,
        storage_mode=values.get("DEVLAB_STORAGE_MODE"),
        nfs_url=settings.nfs_url if "nfs" in services else None,
        nfs_access=nfs_access(values.get("DEVLAB_STORAGE_MODE")) if "nfs" in services else None,
        state_dir=str(settings.state_dir),
        compose_file=str(settings.compose_file),
        config=str(settings.config_path),
        hub_image=values.get("DEVLAB_HUB_IMAGE"),
        lab_image=spawn_image(values),
        services=services,
        labs=labs,
    )


def nfs_access(storage_mode: str | None) -> str:
    """Who can reach the nfs service, for `devlab status`: AUTH_SYS trusts its clients."""
    users = (
        "labs' homes are mounted from it by the engine"
        if storage_mode == "nfs"
        else "labs do not use it (storage mode volume: they mount the volumes directly)"
    )
    return (
        "published on 127.0.0.1 only; its exports serve only the engine and this host; "
        f"labs cannot reach it over the network; {users}"
    )


def _catalog_state(client: docker.DockerClient, stack: str) -> CatalogState | None:
    """The prepuller's published state (per image: status, digest, size, reason)."""
    text = engine.read_service_file(client, stack, "prepuller", CATALOG_STATE)
    return parse_state(text) if text else None


def admin_token(settings: StackSettings) -> str:
    require_env(settings)
    return read_secret(settings.secrets_dir, "admin_api_token")


def export_homes(settings: StackSettings, out: Path, user: str | None = None) -> Path:
    """Write homes (or one user's) to a .tar.gz with numeric owners and modes kept."""
    values = require_env(settings)
    client = engine.connect()
    volume = f"{settings.name}_homes"
    if user is not None and ("/" in user or user in ("", ".", "..")):
        raise StackError(f"{user!r} is not a user name (--user NAME)")
    try:
        client.volumes.get(volume)
    except NotFound:
        raise StackError(
            f"stack {settings.name!r} has no homes volume: nothing to export"
        ) from None
    try:
        storage_engine.export_tree(
            client, volume, user or ".", values["DEVLAB_HUB_IMAGE"], out.resolve()
        )
    except NotFound:
        raise StackError(f"{user!r} has no home in stack {settings.name!r}") from None
    return out
