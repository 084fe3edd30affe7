"""Load config/devlab.yaml once into a DevlabConfig, with errors that name file, line and key."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

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


def load_config(path: str | Path) -> DevlabConfig:
    """Read and validate the config file at `path`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [(None, "(file)", f"cannot read: {exc.strerror}")]) from exc
    return parse_config(text, str(path))


def parse_config(text: str, path: str = "<config>") -> DevlabConfig:
    """Validate config text; `path` only names the source in error messages."""
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
    try:
        return DevlabConfig.model_validate(data)
    except ValidationError as exc:
        lines = _line_index(root)
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            key = _dotted(loc) or "(top level)"
            problems.append((_nearest_line(lines, loc), key, _message(error)))
        raise ConfigError(path, problems) from exc


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
