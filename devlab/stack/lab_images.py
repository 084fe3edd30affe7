"""`devlab images`: the menu's state, building devlab's lab image, filling the local registry."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from devlab.catalog.registry import LOCAL_REGISTRY_USER, Credentials
from devlab.catalog.tags import tags_for_day
from devlab.config import load_config
from devlab.stack import engine, lifecycle
from devlab.stack.envfile import spawn_image
from devlab.stack.secrets import read_secret
from devlab.stack.settings import StackSettings

LOCAL_REPOSITORY = "devlab/lab"  # the repository name the lab image gets in the registry


def build(settings: StackSettings, services: Sequence[str] = ("lab",)) -> list[str]:
    """Rebuild devlab's images (the lab image by default), even when present; then the
    project's own lab image (lab.build), which starts from the lab image just built."""
    config = load_config(settings.config_path, settings.profile)
    values, _ = lifecycle.prepare(settings, config)
    lifecycle.build_services(settings, list(services))
    built = [values[f"DEVLAB_{s.upper()}_IMAGE"] for s in services]
    if "lab" in services and values.get("DEVLAB_PROJECT_LAB_IMAGE"):
        lifecycle.build_services(settings, [lifecycle.PROJECT_LAB])
        built.append(values["DEVLAB_PROJECT_LAB_IMAGE"])
    return built


def push(
    settings: StackSettings, tags: Sequence[str] | None = None, day: datetime.date | None = None
) -> list[str]:
    """Tag the stack's lab image into the local registry and push it; returns the refs.

    By default it is pushed as today's build would be (recommended, the week's weekly,
    the day's daily), so a machine with no outside registry exercises the whole
    prepull loop.
    """
    values = lifecycle.require_env(settings)
    if "registry" not in values.get("COMPOSE_PROFILES", "").split(","):
        raise lifecycle.StackError(
            "the local registry is not running: set `local_registry: true` in "
            "config/devlab.yaml and run `devlab up`"
        )
    # The registry takes pushes only with its password; given per push, so it is never
    # stored in a Docker config file.
    try:
        password = read_secret(settings.secrets_dir, "registry_password")
    except FileNotFoundError:
        raise lifecycle.StackError(
            "the local registry's password is missing: run `devlab up`, which creates it"
        ) from None
    login = Credentials(LOCAL_REGISTRY_USER, password).auth_config()
    client = engine.connect()
    image = client.images.get(spawn_image(values))
    repository = f"{settings.registry_host}/{LOCAL_REPOSITORY}"
    pushed = []
    for tag in tags or tags_for_day(day or datetime.date.today()):
        image.tag(repository, tag)
        for line in client.images.push(
            repository, tag, stream=True, decode=True, auth_config=login
        ):
            if "error" in line:
                raise lifecycle.StackError(f"pushing {repository}:{tag} failed: {line['error']}")
        pushed.append(f"{repository}:{tag}")
    return pushed


def table(images: list[dict] | None) -> str:
    """The prepuller's view of the menu, for people."""
    if not images:
        return "No image state yet: the prepuller publishes it shortly after `devlab up`."
    rows = [("IMAGE", "ROLE", "STATUS", "SIZE", "REFERENCE")]
    for record in images:
        size = record.get("size_bytes")
        status = record["status"] + (f" ({record['reason']})" if record.get("reason") else "")
        rows.append(
            (
                record["display_name"],
                record["role"],
                status,
                f"{size / 2**20:.0f} MiB" if size else "-",
                record["ref"],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True))
        + "  "
        + row[4]
        for row in rows
    )
