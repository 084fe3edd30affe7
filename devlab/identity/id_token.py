"""An OpenID Connect id_token checked against the provider's published keys (its JWKS).

oauthenticator keeps the id_token from the token reply but never checks its signature or
issuer, so nothing proves the reply came from the provider the hub trusts. This is that
check, done with PyJWT (never by hand): RS256 only, so a token signed with `alg: none`, or
with HS256 using the provider's public key as the secret, is refused before any key is
used; the `kid` must name one of the provider's keys; issuer, audience, expiry and issue
time are required and checked.

Pure: the caller fetches the JWKS (and fetches it again once on `UnknownKeyError`, the
sign of a key rotation).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

import jwt

# What CILogon signs with. Naming the algorithm here, not taking it from the token's
# header, is what refuses `alg: none` and HS256-with-the-public-key forgeries.
ALGORITHMS = ("RS256",)
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub")


class IdTokenError(ValueError):
    """An id_token the hub refuses; str() says what is wrong with it."""


class UnknownKeyError(IdTokenError):
    """The token's `kid` is not in the JWKS: the provider may have rotated its keys."""


def verify_id_token(
    token: str,
    jwks: Mapping[str, Any],
    *,
    issuer: str,
    audience: str,
    nonce: str | None = None,
    leeway: float = 0,
) -> dict[str, Any]:
    """The token's claims once signature, issuer, audience, expiry and `nonce` all check out.

    `leeway` is the seconds of clock skew tolerated on `exp` and `iat`.
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError as exc:
        raise IdTokenError(f"the id_token is not a JWT: {exc}") from exc
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise IdTokenError(
            f"the id_token is signed with {algorithm!r}; only {', '.join(ALGORITHMS)} "
            "with one of the provider's published keys is accepted"
        )
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise IdTokenError("the id_token's header has no `kid` naming the provider key it used")
    key = _key(jwks, kid)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=list(ALGORITHMS),
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except jwt.ExpiredSignatureError as exc:
        raise IdTokenError("the id_token has expired (its `exp` is in the past)") from exc
    except jwt.InvalidAudienceError as exc:
        raise IdTokenError(
            f"the id_token is not for this hub: its `aud` does not include client id {audience!r}"
        ) from exc
    except jwt.InvalidIssuerError as exc:
        raise IdTokenError(
            f"the id_token was issued by {_unverified(token, 'iss')!r}, not by {issuer!r}"
        ) from exc
    except jwt.MissingRequiredClaimError as exc:
        raise IdTokenError(f"the id_token has no `{exc.claim}` claim") from exc
    except jwt.InvalidSignatureError as exc:
        raise IdTokenError(
            f"the id_token's signature does not match the provider's key {kid!r}"
        ) from exc
    except jwt.PyJWTError as exc:  # not yet valid, bad `iat`, malformed payload
        raise IdTokenError(f"the id_token is not valid: {exc}") from exc
    if nonce is not None and not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
        raise IdTokenError("the id_token's `nonce` is not the one this login sent")
    return claims


def _key(jwks: Mapping[str, Any], kid: str) -> jwt.PyJWK:
    """The provider's RSA signing key named `kid`."""
    try:
        keyset = jwt.PyJWKSet.from_dict(dict(jwks))
    except jwt.PyJWKSetError as exc:
        raise IdTokenError(f"the provider's JWKS holds no usable key: {exc}") from exc
    try:
        key = keyset[kid]
    except KeyError:
        known = ", ".join(repr(k.key_id) for k in keyset.keys) or "none"
        raise UnknownKeyError(
            f"the id_token names key {kid!r}, which the provider's JWKS does not hold "
            f"(it holds {known})"
        ) from None
    # An HMAC ("oct") key published by mistake must never verify anything.
    if key.key_type != "RSA":
        raise IdTokenError(f"the provider's key {kid!r} is {key.key_type}, not an RSA key")
    return key


def _unverified(token: str, claim: str) -> object:
    """A claim read without checks, only to say in an error what the token claimed."""
    payload = jwt.decode(token, options={"verify_signature": False})
    return payload.get(claim)
