"""`devlab init`: a project's own devlab.yaml, to edit, made from the one devlab ships.

The packaged default is the commented reference (users, orgs, images, sizes, the auth
provider), so the starter is that file under a header saying what it is. Writing never
replaces a file: a config somebody edited is not lost to a second `devlab init`.
"""

from __future__ import annotations

import os
from pathlib import Path

from devlab.platform import DEFAULT_CONFIG

HEADER = """\
# devlab.yaml for this project, written by `devlab init`. Edit it, then `devlab up`.
# devlab finds it here (in the folder you run devlab from) unless --config or
# DEVLAB_CONFIG names another; `devlab config show` prints the file in effect and the
# configuration after defaults.

"""


class StarterExists(FileExistsError):
    """The target exists; the message says how to keep or replace it."""


def starter_text() -> str:
    return HEADER + DEFAULT_CONFIG.read_text(encoding="utf-8")


def write_starter(folder: Path, name: str = "devlab.yaml") -> Path:
    """Create folder/name with the starter config; refuse to touch an existing file."""
    target = folder / name
    try:
        # O_EXCL: the check and the creation are one step, so nothing is overwritten.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise StarterExists(
            f"{target} already exists: devlab init never overwrites a config; edit it, or "
            "move it away and run devlab init again"
        ) from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(starter_text())
    return target
