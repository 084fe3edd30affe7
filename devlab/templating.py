"""Jinja2 for devlab's HTML (the spawn form, the mock provider's pages).

One place decides how every page is rendered: autoescaped, so text from config, the
registry or a request cannot become markup; an undefined name is an error rather than an
empty string, so a renamed field fails the tests instead of vanishing from a page.
Templates are package data in a `templates/` folder beside the code that renders them.
Only hub-side code imports this module: Jinja2 comes with the hub extra.
"""

from __future__ import annotations

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined


def package_templates(package: str, *shared: str) -> Environment:
    """The templates in `package`'s `templates/` folder; block tags leave no blank lines.

    A name not found there is looked up in the `shared` packages' folders, in order, so
    several packages can extend one base page (the mock providers' banner page).
    """
    return Environment(
        loader=ChoiceLoader([PackageLoader(name) for name in (package, *shared)]),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Package data does not change under a running process: no stat per render.
        auto_reload=False,
    )
