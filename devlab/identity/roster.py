"""A workshop's participants from a CSV file, for `devlab users import FILE.csv`.

One user per line: `username[,admin[,group]]`. Organisers write these by hand or export
them from a spreadsheet, so the parser forgives what spreadsheets add (a header row, a
byte-order mark, blank lines, trailing empty cells, spaces around cells, upper case) and
refuses everything else at once: every problem with its line, so one edit fixes the file.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

from devlab.identity.model import UNIX_NAME

# GitHub's login rule (letters, digits, single inner hyphens, at most 39), as org names
# become Unix groups through the same path as GitHub organisations.
GROUP_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,38}$")
ADMIN_FLAGS = {
    "": False,
    "no": False,
    "false": False,
    "0": False,
    "yes": True,
    "true": True,
    "1": True,
    "admin": True,
}
FORMAT = "one username per line, optionally ,admin,group"


class RosterError(ValueError):
    """A roster that cannot be imported; str() lists every problem and ends with the fix."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(
            "\n".join(problems) + f"\nFix {source} and run `devlab users import {source}` again."
        )


@dataclass(frozen=True)
class RosterEntry:
    username: str
    admin: bool = False
    group: str | None = None


def parse_roster(text: str, source: str = "<csv>") -> list[RosterEntry]:
    """The users in a roster CSV, in file order; RosterError naming every bad line.

    Lines starting with `#` are comments. A first row whose first cell is `username`
    is a header and skipped.
    """
    entries: list[RosterEntry] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    seen_row = False
    for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = [cell.strip() for cell in next(csv.reader([line]))]
        while cells and not cells[-1]:
            cells.pop()  # spreadsheets pad short rows with empty cells
        if not cells:
            continue
        if not seen_row:
            seen_row = True
            if cells[0].lower() == "username":
                continue
        where = f"{source}:{number}"
        entry, line_problems = _entry(cells, where)
        name = cells[0].lower()
        if name in first_line:
            line_problems.append(
                f"{where}: {name!r} is listed twice (lines {first_line[name]} and {number}; "
                "names are case-insensitive): keep one"
            )
        elif name:
            first_line[name] = number
        problems += line_problems
        if entry is not None and not line_problems:
            entries.append(entry)
    if problems:
        raise RosterError(source, problems)
    if not entries:
        raise RosterError(source, [f"{source} has no users: {FORMAT}"])
    return entries


def _entry(cells: list[str], where: str) -> tuple[RosterEntry | None, list[str]]:
    """One row's entry, or None with the row's problems (all of them, not the first)."""
    problems = []
    if len(cells) > 3:
        problems.append(
            f"{where}: {len(cells)} columns, at most 3 (username, admin, group): remove "
            f"{', '.join(repr(c) for c in cells[3:])}"
        )
    name = cells[0].lower()
    if not name:
        problems.append(f"{where}: no user name in the first column: add one or delete the line")
    elif not UNIX_NAME.match(name):
        problems.append(
            f"{where}: {cells[0]!r} is not a valid user name (letters, digits, '.', '_', '-'; "
            "at most 64, starting with a letter or digit)"
        )
    flag = cells[1].lower() if len(cells) > 1 else ""
    if flag not in ADMIN_FLAGS:
        problems.append(
            f"{where}: admin flag {cells[1]!r} is not one of yes, no, true, false, 1, 0, admin "
            "or empty"
        )
    group = cells[2].lower() if len(cells) > 2 and cells[2] else None
    if group is not None and not GROUP_NAME.match(group):
        problems.append(
            f"{where}: {cells[2]!r} is not a valid group name (letters, digits and single "
            "inner '-', at most 39)"
        )
    if problems:
        return None, problems
    return RosterEntry(username=name, admin=ADMIN_FLAGS[flag], group=group), []
