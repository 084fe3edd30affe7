"""Per-install secrets: generated once, kept 0600 in the state directory, never printed."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

# name -> bytes of randomness, hex-encoded in the file.
SECRETS = {
    "cookie_secret": 32,
    "crypt_key": 32,
    "proxy_auth_token": 32,
    "admin_api_token": 32,
    "oauth_client_secret": 32,
    # auth.github_link: the linking app's secret (the mock's; a real app's is installed
    # from its file) and the key that seals the links (devlab.github_link.store).
    "github_link_client_secret": 32,
    "github_link_key": 32,
    # The local registry's password (user devlab): `devlab images push` and the
    # prepuller hold it, the registry turns it into its htpasswd file at start.
    "registry_password": 32,
}


def ensure_secrets(directory: Path) -> list[str]:
    """Create any missing secret; return the names created. Existing ones are kept."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    directory.chmod(0o700)
    created = []
    for name, size in SECRETS.items():
        path = directory / name
        if path.exists():
            continue
        # O_EXCL: never overwrite a secret another devlab process wrote meanwhile.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(size) + "\n")
        created.append(name)
    return created


def read_secret(directory: Path, name: str) -> str:
    return (directory / name).read_text(encoding="utf-8").strip()


class SecretError(ValueError):
    """A secret the user provides cannot be used; the message says which and why."""


def install_secret(directory: Path, name: str, source: Path, key: str) -> None:
    """Copy a secret the user provides (e.g. a GitHub client secret) into the state dir;
    `key` is the config key that named the file, for the error message."""
    try:
        value = source.expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretError(
            f"cannot read the secret file {source} ({exc.strerror}): check "
            f"{key} in config/devlab.yaml"
        ) from exc
    if not value:
        raise SecretError(f"the secret file {source} is empty: put the client secret in it")
    write_private(directory / name, (value + "\n").encode("utf-8"))


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that only its owner can ever read it.

    A new file is created 0600; an existing one (perhaps made readable by hand) is
    narrowed to 0600 before a byte is written, so a private key is never readable by
    others, even between a write and a chmod.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(fd, 0o600)
        out.write(data)
