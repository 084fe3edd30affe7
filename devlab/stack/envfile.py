"""The compose.env file: every variable compose.yaml reads, written by `devlab up`.

It is what lets a person run `docker compose --env-file <state>/compose.env ...` by
hand, and what later `devlab` commands read back so they talk to the same stack.
"""

from __future__ import annotations

import os
from pathlib import Path

import devlab
from devlab.config import LabBuildPaths
from devlab.stack.settings import StackSettings, TlsChoice

TLS_OWN = "own"  # the organiser's --tls-cert/--tls-key, copied into the state's tls dir
TLS_SELF_SIGNED = "self-signed"  # made by devlab (--tls-self-signed)


def compose_env(
    settings: StackSettings,
    *,
    images: dict[str, str],
    ca_bundle: Path,
    profiles: tuple[str, ...] = (),
    storage_mode: str = "volume",
    project_lab: LabBuildPaths | None = None,
) -> dict[str, str]:
    """`images` maps services to tags (service project_lab: the image lab.build makes)."""
    return {
        # Optional services (the mock GitHub provider) run only in their profile.
        "COMPOSE_PROFILES": ",".join(profiles),
        "DEVLAB_STACK": settings.name,
        "DEVLAB_VERSION": devlab.__version__,
        "DEVLAB_BASE_IMAGE": settings.base_image,
        **{f"DEVLAB_{service.upper()}_IMAGE": ref for service, ref in images.items()},
        **(
            {
                "DEVLAB_PROJECT_LAB_CONTEXT": str(project_lab.context),
                "DEVLAB_PROJECT_LAB_DOCKERFILE": project_lab.dockerfile,
            }
            if project_lab is not None
            else {}
        ),
        "DEVLAB_BIND": settings.bind,
        "DEVLAB_PROFILE": settings.profile or "",
        "DEVLAB_PUBLIC_HOST": settings.public_host or "",
        "DEVLAB_TLS_DIR": str(settings.tls_dir),
        "DEVLAB_PROXY_SCHEME": "https" if settings.tls else "http",
        # Where the certificate came from, so later commands act on the same choice.
        "DEVLAB_TLS": tls_source(settings.tls),
        "DEVLAB_PROXY_TLS_ARGS": (
            "--ssl-cert /etc/devlab/tls/cert.pem --ssl-key /etc/devlab/tls/key.pem"
            if settings.tls
            else ""
        ),
        "DEVLAB_HTTP_PORT": str(settings.http_port),
        "DEVLAB_OAUTH_PORT": str(settings.oauth_port),
        "DEVLAB_CILOGON_PORT": str(settings.cilogon_port),
        "DEVLAB_NFS_PORT": str(settings.nfs_port),
        "DEVLAB_REGISTRY_PORT": str(settings.registry_port),
        # The prepuller sends the registry password only to this host, and only when the
        # stack runs its registry: another registry on that port never gets it.
        "DEVLAB_LOCAL_REGISTRY": settings.registry_host if "registry" in profiles else "",
        "DEVLAB_STORAGE_MODE": storage_mode,
        "DEVLAB_HUB_PUBLIC_URL": settings.hub_url,
        "DEVLAB_OAUTH_PUBLIC_URL": settings.oauth_url,
        "DEVLAB_CILOGON_PUBLIC_URL": settings.cilogon_url,
        "DEVLAB_CONFIG": str(settings.config_path),
        "DEVLAB_SECRETS_DIR": str(settings.secrets_dir),
        "DEVLAB_CA_BUNDLE": str(ca_bundle),
        "DEVLAB_UID": str(os.getuid()),
        "DEVLAB_GID": str(os.getgid()),
    }


def tls_source(tls: TlsChoice | None) -> str:
    """How compose.env records the TLS choice (as_brought_up reads it back)."""
    if tls is None:
        return ""
    return TLS_SELF_SIGNED if tls.self_signed else TLS_OWN


def spawn_image(values: dict[str, str]) -> str | None:
    """The lab image the hub spawns by default: the project's own (lab.build) when it has
    one, else devlab's. compose.yaml makes the same choice for the hub and the prepuller."""
    return values.get("DEVLAB_PROJECT_LAB_IMAGE") or values.get("DEVLAB_LAB_IMAGE")


def render(values: dict[str, str]) -> str:
    lines = ["# Written by `devlab up`; used as: docker compose --env-file THIS_FILE ..."]
    for key, value in values.items():
        if "\n" in value or "'" in value:
            raise ValueError(f"{key} contains a newline or quote, which env files cannot hold")
        lines.append(f"{key}='{value}'")
    return "\n".join(lines) + "\n"


def parse(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'")
    return values


def write_env_file(path: Path, values: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(render(values), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)


def read_env_file(path: Path) -> dict[str, str] | None:
    try:
        return parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
