"""The spawn form: HTML for JupyterHub's `options_form`, and reading its post back.

JupyterHub wraps the fragment in its own <form> with the Start button, on a page that
already loads Bootstrap 5, so the fragment only uses Bootstrap classes and needs no
JavaScript: images not yet pulled sit behind an "another image" radio button, and the
one inline handler (selecting that button when the dropdown changes) is a convenience.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from devlab.catalog.menu import Menu, MenuImage

# Radio value meaning "the image chosen in the dropdown"; never a valid image reference.
OTHER = "__other__"
OTHER_FIELD = "image_other"


def render_form(menu: Menu) -> str:
    """The options-form fragment, defaults preselected; every text from config is escaped."""
    return (
        '<div class="devlab-options">\n' + _image_fieldset(menu) + _size_fieldset(menu) + "</div>\n"
    )


def _image_fieldset(menu: Menu) -> str:
    default = menu.default_image
    rows = [
        _radio("image", f"devlab-image-{n}", image.ref, image.ref == default, _image_label(image))
        for n, image in enumerate(menu.pulled)
    ]
    if menu.others:
        options = "".join(
            f'<option value="{escape(i.ref)}">{escape(_option_text(i))}</option>'
            for i in menu.others
        )
        select = (
            f'<select class="form-select mt-1" name="{OTHER_FIELD}" '
            'aria-label="Image not yet on this machine" '
            "onchange=\"document.getElementById('devlab-image-other').checked = true\">"
            f"{options}</select>"
        )
        label = (
            "Another image "
            '<small class="text-body-secondary">(not yet on this machine: slower to start, '
            "it is downloaded first)</small>"
        )
        rows.append(
            _radio("image", "devlab-image-other", OTHER, not menu.pulled, label, extra=select)
        )
    if not rows:
        rows.append('<p class="alert alert-warning">No lab image is available yet.</p>')
    return _fieldset("Image", rows)


def _size_fieldset(menu: Menu) -> str:
    rows = [
        _radio(
            "size",
            f"devlab-size-{size.name}",
            size.name,
            size.name == menu.default_size,
            f'{escape(size.label)} <small class="text-body-secondary">'
            f"{escape(size.summary)}</small>",
        )
        for size in menu.sizes
    ]
    return _fieldset("Size", rows)


def _image_label(image: MenuImage) -> str:
    return (
        f"{escape(image.display_name)} "
        f'<small class="text-body-secondary font-monospace">{escape(image.ref)}</small>'
    )


def _option_text(image: MenuImage, limit: int = 120) -> str:
    """A dropdown entry; long engine errors are cut, as an <option> cannot wrap."""
    text = f"{image.display_name} — {image.note}" if image.note else image.display_name
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _radio(name: str, id_: str, value: str, checked: bool, label_html: str, extra: str = "") -> str:
    return (
        '<div class="form-check mb-1">'
        f'<input class="form-check-input" type="radio" name="{name}" id="{id_}" '
        f'value="{escape(value)}"{" checked" if checked else ""}>'
        f'<label class="form-check-label" for="{id_}">{label_html}</label>'
        f"{extra}</div>\n"
    )


def _fieldset(legend: str, rows: list[str]) -> str:
    body = "".join(rows)
    return f'<fieldset class="mb-4">\n<legend class="fs-5">{legend}</legend>\n{body}</fieldset>\n'


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
