"""The spawn menu: which images and sizes a user may choose, and checking a choice.

Pure: built from the config, the prepuller's state and the fallback image, so the form,
the REST API and the spawner all judge a choice by the same menu.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from devlab.catalog.state import CatalogState
from devlab.catalog.tags import ROLE_ORDER, Role, reference_display_name, split_reference
from devlab.config.catalog import CatalogConfig, LabSize

OPTION_KEYS = ("image", "size")
FALLBACK_DISPLAY_NAME = "Default lab image"


@dataclass(frozen=True)
class MenuImage:
    ref: str
    display_name: str
    role: Role
    pulled: bool
    note: str | None = None  # why a not-pulled image is not there yet, for the form


@dataclass(frozen=True)
class Menu:
    """Pulled images (the radio list, default first), other allowed images, and sizes."""

    pulled: tuple[MenuImage, ...]
    others: tuple[MenuImage, ...]
    sizes: tuple[LabSize, ...]
    default_size: str

    @property
    def default_image(self) -> str | None:
        """The recommended image when it is here, else the first image that can start."""
        first = (self.pulled or self.others or (None,))[0]
        return first.ref if first else None

    def image(self, ref: str) -> MenuImage | None:
        return next((i for i in (*self.pulled, *self.others) if i.ref == ref), None)

    def size(self, name: str) -> LabSize | None:
        return next((s for s in self.sizes if s.name == name), None)


class Choice(NamedTuple):
    image: str
    size: LabSize


class ChoiceError(ValueError):
    """A user_options value the menu does not offer; str() is the message for the user."""


def build_menu(
    config: CatalogConfig, state: CatalogState | None, fallback_image: str | None
) -> Menu:
    """The menu offered now.

    Registry images appear once the prepuller has resolved them (they are only in the
    state); images listed by ref appear at once, as not yet pulled until the state says
    otherwise. Images the config no longer lists are dropped even if a stale state still
    has them. The fallback (the locally built lab image) is offered when no catalog image
    is on this machine, so a lab can always start, and is the whole menu by default.
    """
    sources = {s.repository for s in config.sources}
    listed = {i.ref: i for i in config.images}
    notes = {"pulling": "being pulled now", "failed": "could not be pulled: {reason}"}
    entries: list[MenuImage] = []
    for record in state.images if state else ():
        if not record.desired or not (record.source in sources or record.ref in listed):
            continue
        configured = listed.get(record.ref)
        note = notes.get(record.status)
        entries.append(
            MenuImage(
                ref=record.ref,
                display_name=(configured and configured.display_name) or record.display_name,
                role=record.role,
                pulled=record.pulled,
                note=note.format(reason=record.reason) if note else None,
            )
        )
    known = {e.ref for e in entries}
    entries += [
        MenuImage(i.ref, i.display_name or reference_display_name(i.ref), Role.IMAGE, False)
        for i in config.images
        if i.ref not in known
    ]
    entries = _disambiguated(sorted(entries, key=lambda e: ROLE_ORDER[e.role]))
    pulled = tuple(e for e in entries if e.pulled)
    others = tuple(e for e in entries if not e.pulled)
    if fallback_image and not pulled:
        pulled = (MenuImage(fallback_image, FALLBACK_DISPLAY_NAME, Role.FALLBACK, True),)
        others = tuple(e for e in others if e.ref != fallback_image)
    return Menu(pulled, others, config.sizes, config.default_size_name)


def _disambiguated(entries: list[MenuImage]) -> list[MenuImage]:
    """Add the repository to labels two sources share ("Weekly 2026_47" from two repos)."""
    counts = Counter(e.display_name for e in entries)
    return [
        replace(e, display_name=f"{e.display_name} ({split_reference(e.ref)[0]})")
        if counts[e.display_name] > 1
        else e
        for e in entries
    ]


def validate_choice(menu: Menu, user_options: Mapping[str, Any] | None) -> Choice:
    """The image and size to start, from a form post or a REST `user_options`.

    Missing or empty values mean the defaults (what an admin's start without the form
    gets); anything the menu does not offer is refused rather than corrected, so a
    script with a typo learns about it instead of silently getting another image.
    """
    options = dict(user_options or {})
    unknown = sorted(set(options) - set(OPTION_KEYS))
    if unknown:
        raise ChoiceError(
            f"unknown option(s) {', '.join(map(repr, unknown))}: a lab takes only "
            f"{' and '.join(OPTION_KEYS)}"
        )
    image = _text(options, "image") or menu.default_image
    if image is None:
        raise ChoiceError("no lab image is available yet; ask an admin to check the prepuller")
    if menu.image(image) is None:
        offered = [i.ref for i in (*menu.pulled, *menu.others)]
        raise ChoiceError(f"image {image!r} is not offered here; choose one of: {_list(offered)}")
    size_name = _text(options, "size") or menu.default_size
    size = menu.size(size_name)
    if size is None:
        offered = [s.name for s in menu.sizes]
        raise ChoiceError(f"size {size_name!r} is not offered; choose one of: {_list(offered)}")
    return Choice(image, size)


def _text(options: Mapping[str, Any], key: str) -> str | None:
    value = options.get(key)
    if value is None or isinstance(value, str):
        return value or None
    raise ChoiceError(f"option {key!r} must be a string, not {type(value).__name__}")


def _list(values: list[str], limit: int = 12) -> str:
    shown = ", ".join(values[:limit])
    return shown + (f" (and {len(values) - limit} more)" if len(values) > limit else "")


def size_host_config(size: LabSize) -> dict[str, int]:
    """Docker host-config kwargs (docker SDK `create_host_config`) for a lab size.

    Guarantees become weights and reservations, which only bite under contention; limits
    become hard caps. A CPU quota at the guarantee would throttle the lab even on an idle
    machine (it doubled lab start-up here), so the guarantee is never a quota.
    DevlabSpawner clears DockerSpawner's `cpu_limit`, whose cpu_period would conflict
    with `nano_cpus`. Memory plus swap is capped at the memory limit: Docker's default
    lets a lab swap as much again, so on a machine with swap a memory hog would page the
    whole machine to a crawl before the out-of-memory killer stops it (engines without
    swap accounting ignore the cap, with a warning).
    """
    config = {
        # 1024 shares is Docker's weight for one CPU's worth; 2 is the kernel's minimum.
        "cpu_shares": max(2, round(1024 * size.cpu_guarantee)),
        "nano_cpus": round(size.cpu_limit * 1_000_000_000),
        "mem_limit": size.mem_limit,
        "memswap_limit": size.mem_limit,
    }
    if size.mem_guarantee:
        config["mem_reservation"] = size.mem_guarantee
    return config
