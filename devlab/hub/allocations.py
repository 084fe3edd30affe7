"""The FirstUse uid allocations, kept in the hub's data volume next to its database."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from devlab.identity.allocation import allocate_uid


class UidAllocations:
    """A JSON file of username -> uid; each name keeps its uid across restarts and down/up."""

    def __init__(self, path: Path, first: int, last: int) -> None:
        self.path = path
        self.first = first
        self.last = last

    def uid_for(self, username: str) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            known = self._read()
            uid = allocate_uid(known, username, self.first, self.last)
            if known.get(username) != uid:
                known[username] = uid
                self._write(known)
            return uid

    def _read(self) -> dict[str, int]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {str(k): int(v) for k, v in data["users"].items()}

    def _write(self, known: dict[str, int]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": 1, "users": known}, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)
