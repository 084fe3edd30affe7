"""The tutorials devlab ships: their names, for config, spawner and Docker policy.

Only names here, importable anywhere (the host CLI, the pytest plugin): writing the
repository needs dulwich, which only the hub has; that is `devlab.tutorials.repository`.
"""

from __future__ import annotations

from devlab.platform import PLATFORM_DIR

BUILTIN = "builtin"  # lab.tutorials.repository naming the tutorials below
BUILTIN_DIR = PLATFORM_DIR / "tutorials"


def volume(stack: str) -> str:
    """The Docker volume holding the builtin tutorials repository (compose.yaml names it)."""
    return f"{stack}_tutorials"
