"""The lab-image catalog: which images and sizes users may start, and keeping them pulled.

The hub builds a `Menu` from the config and the prepuller's state file, renders it as the
spawn form and checks every choice against it; the prepuller (`python -m devlab.catalog`)
keeps the menu's images on this machine and publishes what it did in that file. The
catalog's config models (CatalogConfig, LabSize, ...) live with the rest of the config,
in devlab.config.catalog.

`render_form` and `options_from_form` are imported lazily: the form is rendered with
Jinja2, which comes with the hub extra, and the CLI imports this package without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devlab.catalog.menu import (
    Choice,
    ChoiceError,
    Menu,
    MenuImage,
    build_menu,
    size_host_config,
    validate_choice,
)
from devlab.catalog.state import CatalogState, ImageRecord, read_state, write_state

if TYPE_CHECKING:
    from devlab.catalog.form import options_from_form, render_form

__all__ = [
    "CatalogState",
    "Choice",
    "ChoiceError",
    "ImageRecord",
    "Menu",
    "MenuImage",
    "build_menu",
    "options_from_form",
    "read_state",
    "render_form",
    "size_host_config",
    "validate_choice",
    "write_state",
]


def __getattr__(name: str) -> Any:
    if name in ("options_from_form", "render_form"):
        from devlab.catalog import form

        return getattr(form, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
