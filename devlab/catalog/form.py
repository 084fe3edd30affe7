"""The spawn form: HTML for JupyterHub's `options_form`, and reading its post back.

The markup is the template `templates/spawn_form.html` (autoescaped, see
`devlab.templating`): this module hands it the menu and reads the posted fields back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from devlab.catalog.menu import Menu
from devlab.templating import package_templates

# Radio value meaning "the image chosen in the dropdown"; never a valid image reference.
OTHER = "__other__"
OTHER_FIELD = "image_other"

_FORM = package_templates("devlab.catalog").get_template("spawn_form.html")


def render_form(menu: Menu) -> str:
    """The options-form fragment, defaults preselected; text from config, registry tags and
    engine errors alike is escaped."""
    return _FORM.render(menu=menu, other=OTHER, other_field=OTHER_FIELD)


def options_from_form(formdata: Mapping[str, Sequence[str | bytes]]) -> dict[str, str]:
    """`{"image": ..., "size": ...}` from the posted form (a dict of lists of strings).

    Absent fields are left out so `validate_choice` applies the defaults; values are not
    judged here, since REST starts skip this function and must be checked the same way.
    """
    image = _first(formdata, "image")
    if image == OTHER:
        image = _first(formdata, OTHER_FIELD)
    options = {"image": image, "size": _first(formdata, "size")}
    return {key: value for key, value in options.items() if value}


def _first(formdata: Mapping[str, Sequence[str | bytes]], key: str) -> str | None:
    values = formdata.get(key) or ()
    if not values:
        return None
    value = values[0]
    return value.decode("utf-8") if isinstance(value, bytes) else value
