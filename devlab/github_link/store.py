"""Links kept in SQLite, each sealed with Fernet, keyed by hub user.

One GitHub account links to one hub user: a unique column holds a keyed hash of the
GitHub id, so the database enforces it and still shows no account to whoever copies the
file. Both keys come from the stack secret `github_link_key` through HKDF.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from devlab.github_link.links import Link

_SCHEMA = """
CREATE TABLE IF NOT EXISTS links (
    hub_user TEXT PRIMARY KEY,
    account TEXT NOT NULL UNIQUE,
    sealed BLOB NOT NULL
)
"""


class AlreadyLinked(Exception):
    """The GitHub account is linked to another hub user (who is not named: not yours to know)."""


class StoreError(Exception):
    """The store cannot be read with this key; the message says what to do."""


class LinkStore:
    def __init__(self, path: Path, secret: bytes) -> None:
        if len(secret) < 32:
            raise StoreError("the github_link_key secret must hold at least 32 bytes")
        derived = HKDF(
            algorithm=hashes.SHA256(), length=64, salt=None, info=b"devlab github-link store"
        ).derive(secret)
        self._fernet = Fernet(base64.urlsafe_b64encode(derived[:32]))
        self._account_key = derived[32:]
        self.path = path

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        # A connection per call: the service and the hub's spawner are different processes.
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        db = sqlite3.connect(self.path, timeout=10)
        try:
            with db:
                db.execute(_SCHEMA)
                yield db
        finally:
            db.close()

    def _account(self, github_id: int) -> str:
        return hmac.new(self._account_key, str(github_id).encode(), hashlib.sha256).hexdigest()

    def get(self, hub_user: str) -> Link | None:
        with self._db() as db:
            row = db.execute("SELECT sealed FROM links WHERE hub_user = ?", (hub_user,)).fetchone()
        if row is None:
            return None
        try:
            return Link.from_dict(json.loads(self._fernet.decrypt(row[0])))
        except InvalidToken as exc:
            raise StoreError(
                f"{self.path}: the link of {hub_user!r} was sealed with another key; "
                "the github_link_key secret changed, so users must link GitHub again"
            ) from exc

    def put(self, hub_user: str, link: Link) -> None:
        """Keep `hub_user`'s link, replacing their previous one."""
        sealed = self._fernet.encrypt(json.dumps(link.as_dict()).encode())
        try:
            with self._db() as db:
                db.execute(
                    "INSERT INTO links (hub_user, account, sealed) VALUES (?, ?, ?) "
                    "ON CONFLICT (hub_user) DO UPDATE "
                    "SET account = excluded.account, sealed = excluded.sealed",
                    (hub_user, self._account(link.github_id), sealed),
                )
        except sqlite3.IntegrityError as exc:
            raise AlreadyLinked(
                f"the GitHub account {link.login} is already linked to another user of this "
                "hub; one GitHub account links to one user (they can unlink it)"
            ) from exc

    def remove(self, hub_user: str) -> Link | None:
        """Forget `hub_user`'s link; the link it was, to revoke its token."""
        link = self.get(hub_user)
        with self._db() as db:
            db.execute("DELETE FROM links WHERE hub_user = ?", (hub_user,))
        return link
