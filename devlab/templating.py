"""Jinja2 for devlab's HTML (the spawn form, the mock provider's pages).

One place decides how every page is rendered: autoescaped, so text from config, the
registry or a request cannot become markup; an undefined name is an error rather than an
empty string, so a renamed field fails the tests instead of vanishing from a page.
Templates are package data in a `templates/` folder beside the code that renders them.
Only hub-side code imports this module: Jinja2 comes with the hub extra.
"""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined


def package_templates(package: str) -> Environment:
    """The templates in `package`'s `templates/` folder; block tags leave no blank lines."""
    return Environment(
        loader=PackageLoader(package),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Package data does not change under a running process: no stat per render.
        auto_reload=False,
    )
