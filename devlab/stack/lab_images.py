"""`devlab images`: the menu's state, building devlab's lab image, filling the local registry."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from devlab.catalog.state import ImageRecord
from devlab.catalog.tags import tags_for_day
from devlab.config import load_config
from devlab.stack import engine, lifecycle, publish
from devlab.stack.envfile import spawn_image
from devlab.stack.secrets import read_secret
from devlab.stack.settings import StackSettings


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


def push(settings: StackSettings, tags: Sequence[str] | None = None) -> list[str]:
    """Tag the stack's lab image into the local registry, push it, nudge the prepuller.

    By default it is pushed as today's build would be (recommended, the week's weekly,
    the day's daily), so a machine with no outside registry exercises the whole
    prepull loop. Returns the refs pushed.
    """
    values = lifecycle.require_env(settings)
    if "registry" not in values.get("COMPOSE_PROFILES", "").split(","):
        raise lifecycle.StackError(
            "the local registry is not running: set `local_registry: true` in the config "
            "and run `devlab up`"
        )
    try:
        password = read_secret(settings.secrets_dir, "registry_password")
    except FileNotFoundError:
        raise lifecycle.StackError(
            "the local registry's password is missing: run `devlab up`, which creates it"
        ) from None
    image = spawn_image(values)
    if image is None:
        raise lifecycle.StackError("no lab image is recorded for this stack: run `devlab up`")
    client = engine.connect()
    try:
        pushed = publish.push(
            client,
            image,
            settings.registry_host,
            tags or tags_for_day(datetime.date.today()),
            password,
        )
        publish.nudge_prepuller(client, settings.name)
    except publish.PublishError as exc:
        raise lifecycle.StackError(str(exc)) from exc
    return pushed


def refresh(settings: StackSettings) -> None:
    """Have the prepuller check its registries now, not at its next round."""
    lifecycle.require_env(settings)
    try:
        nudged = publish.nudge_prepuller(engine.connect(), settings.name)
    except publish.PublishError as exc:
        raise lifecycle.StackError(str(exc)) from exc
    if not nudged:
        raise lifecycle.StackError(
            f"stack {settings.name!r} has no running prepuller: run `devlab up`"
        )


def table(images: Sequence[ImageRecord] | None) -> str:
    """The prepuller's view of the menu, for people."""
    if not images:
        return "No image state yet: the prepuller publishes it shortly after `devlab up`."
    rows = [("IMAGE", "ROLE", "STATUS", "SIZE", "REFERENCE")]
    for record in images:
        size = record.size_bytes
        status = record.status + (f" ({record.reason})" if record.reason else "")
        rows.append(
            (
                record.display_name,
                record.role,
                status,
                f"{size / 2**20:.0f} MiB" if size else "-",
                record.ref,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True))
        + "  "
        + row[4]
        for row in rows
    )
