"""passwd and group files for a lab, so `id`, `ls -l` and `~` show names, not numbers.

The lab image's own entries are kept, except any whose name or id the user's entries
take over: an org called `users` must not leave two groups of that name behind.
"""

from __future__ import annotations

from devlab.identity.model import Identity

SHELL = "/bin/bash"


def _merge(base: str, entries: list[str], id_field: int) -> str:
    names = {e.split(":")[0] for e in entries}
    ids = {e.split(":")[id_field] for e in entries}
    kept = [
        line
        for line in base.splitlines()
        if line and not (line.split(":")[0] in names or _field(line, id_field) in ids)
    ]
    return "\n".join(kept + entries) + "\n"


def _field(line: str, index: int) -> str | None:
    parts = line.split(":")
    return parts[index] if len(parts) > index else None


def passwd_for(base: str, identity: Identity) -> str:
    gecos = identity.full_name.replace(":", " ").replace("\n", " ")
    entry = f"{identity.username}:x:{identity.uid}:{identity.gid}:{gecos}:{identity.home}:{SHELL}"
    return _merge(base, [entry], 2)


def group_for(base: str, identity: Identity) -> str:
    entries = [f"{identity.primary_group_name}:x:{identity.gid}:"]
    entries += [f"{g.name}:x:{g.gid}:{identity.username}" for g in identity.groups]
    return _merge(base, entries, 2)
