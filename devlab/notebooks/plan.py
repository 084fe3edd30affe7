"""What `devlab notebooks run` will run, decided from its command line before any lab starts.

Pure apart from reading the notebooks: every mistake in the input (a path that is not a
notebook, a typo in a notebook's devlab metadata, an image the menu does not offer, a
parameter that does not parse) is found here, at once and for free, rather than after
minutes of starting labs. Each is a PlanError whose text says what to fix.
"""

from __future__ import annotations

import json
import keyword
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import yaml

from devlab.catalog.state import ImageRecord
from devlab.catalog.tags import ROLE_ORDER, Role

# A notebook's own settings: metadata["devlab"] = {"skip": true | "reason", "timeout": 600}.
METADATA_KEY = "devlab"
METADATA_FIELDS = ("skip", "timeout")
SKIPPED_BY_METADATA = "skipped by its metadata"

ALL_IMAGES = "all"
ROLE_SELECTORS = (Role.RECOMMENDED, Role.RELEASE, Role.WEEKLY, Role.DAILY)
SELECTORS_HELP = "recommended, release, weekly, daily, all or an image reference"


class PlanError(ValueError):
    """Input that cannot be run; str() says what is wrong and how to fix it."""


@dataclass(frozen=True)
class NotebookSpec:
    """A notebook to run, with what its metadata asks.

    `name` is its path below the folder it was found in (POSIX), or its file name when
    named directly: what reports and JUnit call it, the same on every machine.
    """

    path: Path
    name: str
    skip: str | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class Case:
    """One notebook on one image: a row of the report and a JUnit test case."""

    notebook: NotebookSpec
    image: str


def discover(paths: Sequence[Path]) -> list[NotebookSpec]:
    """The notebooks under `paths`, each once, in the order given (folders sorted).

    Folders are searched recursively; hidden files and folders (so `.ipynb_checkpoints`,
    `.git`) are left out, since they hold editor copies rather than notebooks to run.
    """
    if not paths:
        raise PlanError("no path given: name notebooks (.ipynb) or folders holding them")
    found: dict[Path, NotebookSpec] = {}
    names: dict[str, Path] = {}
    for root in paths:
        for path, name in _notebook_files(Path(root)):
            if path in found:
                continue
            if name in names:
                raise PlanError(
                    f"{names[name]} and {path} would both be reported as {name!r}: "
                    "give the folder that holds both instead"
                )
            names[name] = path
            found[path] = _read_spec(path, name)
    if not found:
        listed = ", ".join(str(p) for p in paths)
        raise PlanError(f"no notebook (.ipynb) found under {listed}")
    return list(found.values())


def _notebook_files(root: Path) -> list[tuple[Path, str]]:
    if not root.exists():
        raise PlanError(f"{root} does not exist")
    if not root.is_dir():
        if root.suffix != ".ipynb":
            raise PlanError(f"{root} is not a notebook (.ipynb)")
        return [(root.resolve(), root.name)]
    files: list[tuple[Path, str]] = []
    for folder, dirs, entries in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for entry in entries:
            if entry.endswith(".ipynb") and not entry.startswith("."):
                path = Path(folder, entry)
                files.append((path.resolve(), path.relative_to(root).as_posix()))
    return sorted(files, key=lambda item: item[1])


def _read_spec(path: Path, name: str) -> NotebookSpec:
    invalid: dict[str, Exception] = {}
    try:
        notebook = nbformat.read(path, as_version=4, capture_validation_error=invalid)
    except OSError as exc:
        raise PlanError(f"cannot read {path}: {exc.strerror or exc}") from exc
    # nbformat lets whatever the JSON's shape trips over escape (a list at the top is an
    # AttributeError); each means the same thing here.
    except (ValueError, TypeError, KeyError, AttributeError, nbformat.ValidationError) as exc:
        raise PlanError(f"{path} is not a valid notebook: {_reason(exc)}") from exc
    if "ValidationError" in invalid:
        raise PlanError(f"{path} is not a valid notebook: {_reason(invalid['ValidationError'])}")
    skip, timeout = _own_settings(notebook.metadata.get(METADATA_KEY, {}), path)
    return NotebookSpec(path, name, skip, timeout)


def _reason(exc: Exception) -> str:
    # jsonschema's str() appends the whole schema; its message is the sentence.
    return getattr(exc, "message", None) or str(exc) or type(exc).__name__


def _own_settings(settings: Any, path: Path) -> tuple[str | None, float | None]:
    where = f"{path}: metadata.{METADATA_KEY}"
    if not isinstance(settings, Mapping):
        raise PlanError(
            f'{where} must be a mapping such as {{"skip": true, "timeout": 600}}, '
            f"not {type(settings).__name__}"
        )
    unknown = sorted(set(settings) - set(METADATA_FIELDS))
    if unknown:
        raise PlanError(
            f"{where} has unknown key(s) {', '.join(map(repr, unknown))}: "
            f"it takes only {' and '.join(METADATA_FIELDS)}"
        )
    return _skip(settings.get("skip"), where), _timeout(settings.get("timeout"), where)


def _skip(value: Any, where: str) -> str | None:
    if value is None or value is False:
        return None
    if value is True:
        return SKIPPED_BY_METADATA
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise PlanError(f"{where}.skip must be true, false or the reason as text, not {value!r}")


def _timeout(value: Any, where: str) -> float | None:
    if value is None:
        return None
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and math.isfinite(value) and value > 0:
        return float(value)
    raise PlanError(f"{where}.timeout must be a positive number of seconds, not {value!r}")


def select_images(selector: str, images: Sequence[ImageRecord]) -> list[str]:
    """The image references `selector` names among the prepuller's `images`, in menu order.

    `selector` is one or more of recommended, release, weekly, daily, all or an image
    reference, comma-separated; each image comes once. A role is its newest pulled image
    (the menu lists each role newest first): "the weekly" is this week's, whatever
    `weeklies` keeps, so a run's size does not change with the prepuller's window. `all`
    is every pulled image. Both take only pulled images, since starting a lab on one that
    is not here would first wait for a pull; a reference the menu offers is taken as it
    is, pulled or not, because it was asked for.
    """
    words = [word.strip() for word in selector.split(",")]
    if not all(words):
        raise PlanError(
            f"image selector {selector!r} has an empty item: give {SELECTORS_HELP}, comma-separated"
        )
    # The menu's order (devlab.catalog.menu.build_menu): by role, the state's order within.
    offered = sorted((r for r in images if r.desired), key=lambda r: ROLE_ORDER[r.role])
    chosen: list[str] = []
    for word in words:
        chosen += [ref for ref in _selected(word, offered) if ref not in chosen]
    return chosen


def _selected(word: str, offered: Sequence[ImageRecord]) -> list[str]:
    if word == ALL_IMAGES or word in ROLE_SELECTORS:
        refs = [r.ref for r in offered if r.pulled and word in (ALL_IMAGES, r.role)]
        if not refs:
            what = "no image" if word == ALL_IMAGES else f"no {word} image"
            raise PlanError(f"{what} is pulled yet; {_menu_listing(offered)}")
        return refs if word == ALL_IMAGES else refs[:1]
    if any(r.ref == word for r in offered):
        return [word]
    raise PlanError(
        f"image {word!r} is not offered here; {_menu_listing(offered)}; "
        f"choose {SELECTORS_HELP} from it"
    )


def _menu_listing(offered: Sequence[ImageRecord]) -> str:
    if not offered:
        return (
            "the menu has no image yet: the prepuller may still be resolving it "
            "(see `devlab status`)"
        )
    listed = ", ".join(f"{r.ref} ({r.role}, {r.status})" for r in offered)
    return f"the menu has {listed}; the prepuller may still be pulling (see `devlab status`)"


class _ParameterLoader(yaml.SafeLoader):
    """YAML as papermill's `-y` reads it, except that dates stay text.

    Parameters reach the notebook as Python literals (`name = repr(value)`) and are
    hashed as JSON; a date would be neither.
    """


_ParameterLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """`name=value` items as the notebook's parameters; values read as YAML (`3` is an int,
    `true` a bool, `[1, 2]` a list, `hello` text), `name=` as empty text."""
    params: dict[str, Any] = {}
    for item in items:
        name, equals, text = item.partition("=")
        if not equals:
            raise PlanError(f"parameter {item!r} has no '=': write it as name=value, e.g. n=3")
        if not name.isidentifier() or keyword.iskeyword(name):
            raise PlanError(
                f"parameter name {name!r} (in {item!r}) is not a Python variable name: "
                "the notebook receives it as a variable"
            )
        if name in params:
            raise PlanError(f"parameter {name!r} is given twice; give it once")
        params[name] = _parameter_value(item, text)
    return params


def _parameter_value(item: str, text: str) -> Any:
    if not text:
        return ""
    try:
        value = yaml.load(text, Loader=_ParameterLoader)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise PlanError(
            f"parameter {item!r}: the value is not valid YAML ({problem}); "
            """quote it to pass it as text, e.g. --param 'msg="a: b"'"""
        ) from exc
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise PlanError(
            f"parameter {item!r}: the value must be a finite number, text, true/false, null, "
            "or a list or mapping of those"
        ) from exc
    return value


def matrix(notebooks: Sequence[NotebookSpec], images: Sequence[str]) -> list[Case]:
    """Every notebook on every image, image by image: one lab per image runs its share."""
    return [Case(notebook, image) for image in images for notebook in notebooks]
