"""The mock CILogon's RSA signing key: loaded from a PEM file, or created there once.

One key per stack, kept in a file (a volume) so id_tokens stay verifiable across restarts
of the service. Its `kid` is the key's RFC 7638 thumbprint, so the same key always has the
same id and a new key a new one. Signing and the JWK come from PyJWT with cryptography.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ALGORITHM = "RS256"
KEY_BITS = 2048


class KeyFileError(Exception):
    """The key file exists but cannot be used; str() says which file and how to fix it."""


@dataclass(frozen=True)
class SigningKey:
    """An RSA private key, its id, and the public JWK that verifies what it signs."""

    private_key: rsa.RSAPrivateKey
    kid: str

    @classmethod
    def from_private_key(cls, private_key: rsa.RSAPrivateKey) -> SigningKey:
        return cls(private_key, thumbprint(public_jwk(private_key.public_key())))

    @classmethod
    def generate(cls) -> SigningKey:
        return cls.from_private_key(
            rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        )

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact JWS of `claims`, its header naming this key's `kid`."""
        return jwt.encode(claims, self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid})

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set served at /oauth2/certs: the public half only."""
        key = public_jwk(self.private_key.public_key())
        return {"keys": [{**key, "kid": self.kid, "use": "sig", "alg": ALGORITHM}]}


def public_jwk(public_key: rsa.RSAPublicKey) -> dict[str, Any]:
    """The public key as a JWK: kty, n and e only (`use` says what it is for, not key_ops)."""
    jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    return {name: jwk[name] for name in ("kty", "n", "e")}


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638: SHA-256 over the required members (e, kty, n) in canonical JSON."""
    canonical = json.dumps(
        {name: jwk[name] for name in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True
    )
    digest = hashlib.sha256(canonical.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def load_or_create(path: Path) -> SigningKey:
    """The key in `path`, created (mode 0600) first when the file does not exist."""
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        return _create(path)
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read the signing key: {exc}") from exc
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(
            f"{path}: not an unencrypted PEM private key ({exc}); delete the file to have "
            "a new key created"
        ) from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFileError(
            f"{path}: holds a {type(key).__name__}, but id_tokens are signed with RS256, "
            "which needs an RSA key; delete the file to have one created"
        )
    return SigningKey.from_private_key(key)


def _create(path: Path) -> SigningKey:
    key = SigningKey.generate()
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # O_EXCL: never overwrite a key another process created meanwhile; 0600 from the
    # start, so the key is never readable by others even for a moment.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_or_create(path)
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot create the signing key: {exc}") from exc
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return key
