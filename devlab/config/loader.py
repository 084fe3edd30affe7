"""Load config/devlab.yaml once into a DevlabConfig, with errors that name file, line and key."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from devlab.config.models import DevlabConfig

Location = tuple[str | int, ...]


class ConfigError(Exception):
    """A config file that cannot be used; str() is the message to show a person."""

    def __init__(self, path: str, problems: list[tuple[int | None, str, str]]) -> None:
        self.path = path
        self.problems = problems
        lines = [
            f"{path}:{line}: {key}: {message}" if line else f"{path}: {key}: {message}"
            for line, key, message in problems
        ]
        super().__init__(
            "\n".join(lines) + f"\nFix {path} (or pass another with --config) and run again."
        )


def load_config(path: str | Path, profile: str | None = None) -> DevlabConfig:
    """Read and validate the config file at `path`, with `profile` merged over it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [(None, "(file)", f"cannot read: {exc.strerror}")]) from exc
    return parse_config(text, str(path), profile)


@dataclass(frozen=True)
class LabBuildPaths:
    """Where lab.build's files are on the machine running `devlab up`."""

    context: Path  # absolute
    dockerfile: str  # relative to the context, as written


def lab_build_paths(
    config: DevlabConfig, path: str | Path, profile: str | None = None
) -> LabBuildPaths | None:
    """lab.build's context, resolved against the folder of the config file `path`.

    Relative to the file, not to where devlab runs, so a project's devlab.yaml works from
    any folder. Checked here rather than in the model: only the machine that builds has
    these files (the hub and prepuller read the same config inside containers).
    """
    build = config.lab.build
    if build is None:
        return None
    path = Path(path)
    context = (path.parent / build.context).resolve()
    dockerfile = context / build.dockerfile
    if not context.is_dir():
        key, problem = "context", f"no folder {context} (relative paths start at {path.parent})"
    elif not dockerfile.is_file():
        key, problem = "dockerfile", f"no file {dockerfile}"
    else:
        return LabBuildPaths(context, build.dockerfile)
    loc = ("lab", "build", key)
    lines = _line_index(yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader))
    in_profile = ("profiles", profile, *loc)
    line = lines.get(in_profile) if profile else None
    raise ConfigError(
        str(path),
        [(line or _nearest_line(lines, loc), _dotted(in_profile if line else loc), problem)],
    )


def parse_config(text: str, path: str = "<config>", profile: str | None = None) -> DevlabConfig:
    """Validate config text; `path` only names the source in error messages.

    Every profile is validated too, merged over the base, so a broken profile is found
    the first time the file is loaded, not the day of the workshop.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(path, [(line, "(yaml)", f"not valid YAML: {problem}")]) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(path, [(1, "(top level)", "must be a mapping of sections")])
    lines = _line_index(root)
    config = _validate(data, path, lines, ())
    profiles = data.get("profiles") or {}
    if profile is not None and profile not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise ConfigError(
            path,
            [
                (
                    _nearest_line(lines, ("profiles",)),
                    "profiles",
                    f"no profile {profile!r} (defined: {known})",
                )
            ],
        )
    chosen = config
    for name, overlay in profiles.items():
        if not isinstance(overlay, dict):
            continue  # reported by the model: profiles.NAME must be a mapping
        merged = _validate(_merge(data, overlay), path, lines, ("profiles", name))
        if name == profile:
            chosen = merged
    return chosen


def _validate(
    data: dict[str, Any], path: str, lines: dict[Location, int], prefix: Location
) -> DevlabConfig:
    """Validate; a key set by a profile is reported at the profile's line, else the base's."""
    try:
        return DevlabConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            line = lines.get((*prefix, *loc)) if prefix else None
            key = _dotted((*prefix, *loc) if line else loc) or "(top level)"
            problems.append((line or _nearest_line(lines, loc), key, _message(error)))
        raise ConfigError(path, problems) from exc


def _merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; anything else in the overlay replaces the base's value."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _message(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key (check its spelling against `devlab config show`)"
    message = str(error["msg"])
    # pydantic prefixes messages raised by validators with "Value error, ".
    return message.removeprefix("Value error, ")


def _dotted(loc: Location) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_index(node: yaml.Node | None, loc: Location = ()) -> dict[Location, int]:
    """Map each key path in the YAML document to the 1-based line where it is written."""
    index: dict[Location, int] = {}
    if node is None:
        return index
    index[loc] = node.start_mark.line + 1
    children: Iterable[tuple[str | int, yaml.Node, yaml.Node]]
    if isinstance(node, yaml.MappingNode):
        children = ((k.value, k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode))
    elif isinstance(node, yaml.SequenceNode):
        children = ((i, v, v) for i, v in enumerate(node.value))
    else:
        return index
    for key, key_node, value_node in children:
        index.update(_line_index(value_node, (*loc, key)))
        # The key itself is where a person looks for "auth.provider".
        index[(*loc, key)] = key_node.start_mark.line + 1
    return index


def _nearest_line(index: dict[Location, int], loc: Location) -> int | None:
    """The line of `loc`, or of its closest written ancestor (for missing keys)."""
    for end in range(len(loc), -1, -1):
        line = index.get(loc[:end])
        if line is not None:
            return line
    return None
