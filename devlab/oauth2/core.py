"""OAuth 2.0 authorization-code rules without HTTP, so every rule is unit-testable.

Each mock provider's store keeps its identities and token shapes and delegates the
generic steps here: checking an authorize request, authenticating the client, issuing and
redeeming codes (single use, expiring, bound to the client, redirect URI and PKCE).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

# RFC 6749 section 5.2 error codes (and 4.1.2.1 for the authorize endpoint).
INVALID_CLIENT = "invalid_client"
INVALID_GRANT = "invalid_grant"
INVALID_REQUEST = "invalid_request"
INVALID_SCOPE = "invalid_scope"
UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"
UNAUTHORIZED_CLIENT = "unauthorized_client"
ACCESS_DENIED = "access_denied"

DEFAULT_CODE_TTL = 60.0

# RFC 7636 section 4.1: 43 to 128 characters from the unreserved set. The same rule
# bounds a plain challenge, which is the verifier itself.
_PKCE_VALUE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
PKCE_METHODS = ("S256", "plain")

S = TypeVar("S")


class OAuthError(Exception):
    """A refused OAuth request; `error` is the RFC 6749 code, `description` is for people.

    `redirect_uri` is set only once the client and its redirect URI have been verified:
    only then may the error be reported by redirecting back to the client (RFC 6749
    section 4.1.2.1). Without it the error must be shown to the person in the browser,
    or an attacker could use the provider as an open redirector.
    """

    def __init__(
        self,
        error: str,
        description: str,
        *,
        redirect_uri: str | None = None,
        state: str | None = None,
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.redirect_uri = redirect_uri
        self.state = state

    @property
    def http_status(self) -> int:
        """RFC 6749 section 5.2: failed client authentication is 401, the rest 400."""
        return 401 if self.error == INVALID_CLIENT else 400


@dataclass(frozen=True)
class RegisteredClient:
    """An OAuth app registered with a mock, with its one callback (the hub's or a service's)."""

    client_id: str
    client_secret: str
    redirect_uri: str


@dataclass(frozen=True)
class AuthorizationRequest:
    """A validated authorize request, waiting for the person to pick a user."""

    client_id: str
    redirect_uri: str
    state: str | None
    scopes: tuple[str, ...]
    code_challenge: str | None
    code_challenge_method: str | None


@dataclass(frozen=True)
class Grant(Generic[S]):
    """What a code was issued for: the request and the chosen subject."""

    code: str
    request: AuthorizationRequest
    subject: S


@dataclass(frozen=True)
class _PendingCode(Generic[S]):
    grant: Grant[S]
    expires_at: float


def parse_scopes(scope: str | None) -> tuple[str, ...]:
    """Requested scopes, in order and without repeats.

    Spaces separate scopes in the OAuth standard (what oauthenticator sends); GitHub also
    accepts the commas it prints itself, and no real scope contains one.
    """
    seen: dict[str, None] = {}
    for part in re.split(r"[\s,]+", scope or ""):
        if part:
            seen.setdefault(part, None)
    return tuple(seen)


def pkce_s256(verifier: str) -> str:
    """The S256 code challenge for a verifier (RFC 7636 section 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def verify_pkce(challenge: str, method: str, verifier: str) -> bool:
    """Whether `verifier` answers `challenge`; compared in constant time."""
    if not _PKCE_VALUE.match(verifier):
        return False
    expected = pkce_s256(verifier) if method == "S256" else verifier
    return hmac.compare_digest(expected.encode("ascii"), challenge.encode("ascii"))


def same(given: str, expected: str) -> bool:
    """Constant-time comparison that also accepts non-ASCII input (compared as UTF-8)."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def validate_authorization(
    client: RegisteredClient,
    *,
    client_id: str | None,
    redirect_uri: str | None,
    state: str | None = None,
    scope: str | None = None,
    response_type: str | None = None,
    code_challenge: str | None = None,
    code_challenge_method: str | None = None,
    pkce_methods: Sequence[str] = PKCE_METHODS,
    pkce_required: bool = False,
) -> AuthorizationRequest:
    """Check an authorize request before anyone is asked to pick a user.

    A missing `redirect_uri` means the registered one, as on GitHub and CILogon; a
    different one is refused outright rather than matched loosely, so a mock never sends
    a code anywhere but the hub. Errors found after that check redirect to the client.
    """
    if not client_id:
        raise OAuthError(INVALID_REQUEST, "the client_id parameter is missing")
    if not same(client_id, client.client_id):
        raise OAuthError(INVALID_CLIENT, f"no OAuth app has client_id {client_id!r}")
    if redirect_uri and redirect_uri != client.redirect_uri:
        raise OAuthError(
            INVALID_REQUEST,
            f"redirect_uri {redirect_uri!r} is not the one registered for this app "
            f"({client.redirect_uri!r})",
        )
    target = client.redirect_uri

    def refuse(error: str, description: str) -> OAuthError:
        return OAuthError(error, description, redirect_uri=target, state=state)

    if response_type not in (None, "", "code"):
        raise refuse(
            UNAUTHORIZED_CLIENT,
            f"response_type {response_type!r} is not supported; this provider only "
            "issues authorization codes (response_type=code)",
        )
    supported = " or ".join(pkce_methods)
    method: str | None = None
    if code_challenge:
        # RFC 7636 section 4.3: a challenge without a method is a plain one.
        method = code_challenge_method or "plain"
        if method not in pkce_methods:
            raise refuse(
                INVALID_REQUEST,
                f"code_challenge_method {method!r} is not supported (use {supported})",
            )
        if not _PKCE_VALUE.match(code_challenge):
            raise refuse(INVALID_REQUEST, "code_challenge is not a valid PKCE challenge")
    elif code_challenge_method:
        raise refuse(INVALID_REQUEST, "code_challenge_method was given without code_challenge")
    elif pkce_required:
        raise refuse(
            INVALID_REQUEST,
            f"PKCE is required: send code_challenge with code_challenge_method {supported}",
        )
    return AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=target,
        state=state,
        scopes=parse_scopes(scope),
        code_challenge=code_challenge or None,
        code_challenge_method=method,
    )


def authenticate_client(
    client: RegisteredClient, client_id: str | None, client_secret: str | None
) -> None:
    """Refuse a token request that does not carry the registered client's credentials."""
    if not client_id:
        raise OAuthError(INVALID_CLIENT, "client authentication failed: no client_id")
    if not same(client_id, client.client_id):
        raise OAuthError(INVALID_CLIENT, f"no OAuth app has client_id {client_id!r}")
    if not client_secret or not same(client_secret, client.client_secret):
        raise OAuthError(INVALID_CLIENT, "the client_secret is incorrect")


class AuthorizationCodes(Generic[S]):
    """Single-use, expiring authorization codes, each bound to its request and subject.

    A code is spent by any redemption attempt, failed or not, so it can never be tried
    twice. Presenting a spent code again calls `revoke` with what `bind` tied to it (the
    token it bought): RFC 6749 section 4.1.2, since a replayed code suggests it leaked.
    """

    def __init__(
        self,
        *,
        new_code: Callable[[], str],
        revoke: Callable[[str], None],
        clock: Callable[[], float],
        ttl: float = DEFAULT_CODE_TTL,
    ) -> None:
        self._new_code = new_code
        self._revoke = revoke
        self._clock = clock
        self._ttl = ttl
        self._pending: dict[str, _PendingCode[S]] = {}
        self._spent: dict[str, str] = {}

    def issue(self, request: AuthorizationRequest, subject: S) -> str:
        """A fresh code for `subject`, valid for the TTL."""
        now = self._clock()
        for code in [c for c, p in self._pending.items() if now >= p.expires_at]:
            del self._pending[code]
        code = self._new_code()
        self._pending[code] = _PendingCode(Grant(code, request, subject), now + self._ttl)
        return code

    def redeem(
        self,
        code: str | None,
        *,
        client_id: str | None,
        redirect_uri: str | None,
        code_verifier: str | None,
    ) -> Grant[S]:
        """The grant behind `code`, after checking everything the code was bound to.

        Call it only for an authenticated client: redeeming spends the code.
        """
        if not code:
            raise OAuthError(INVALID_REQUEST, "the code parameter is missing")
        if code in self._spent:
            self._revoke(self._spent[code])
            raise OAuthError(
                INVALID_GRANT,
                "the code has already been used; the token it was exchanged for is revoked",
            )
        pending = self._pending.pop(code, None)
        if pending is None:
            raise OAuthError(INVALID_GRANT, "the code is incorrect or expired")
        self._spent[code] = ""
        request = pending.grant.request
        if self._clock() >= pending.expires_at:
            raise OAuthError(INVALID_GRANT, "the code is incorrect or expired")
        if request.client_id != client_id:
            raise OAuthError(INVALID_GRANT, "the code was issued to another client")
        if redirect_uri and redirect_uri != request.redirect_uri:
            raise OAuthError(
                INVALID_GRANT,
                f"redirect_uri {redirect_uri!r} does not match the one the code was issued "
                f"for ({request.redirect_uri!r})",
            )
        if request.code_challenge is not None:
            if not code_verifier:
                raise OAuthError(
                    INVALID_REQUEST,
                    "code_verifier is required: the authorize request carried a code_challenge",
                )
            method = request.code_challenge_method or "plain"
            if not verify_pkce(request.code_challenge, method, code_verifier):
                raise OAuthError(INVALID_GRANT, "code_verifier does not match the code_challenge")
        elif code_verifier:
            # OAuth 2.1: a verifier for a code issued without a challenge is a downgrade.
            raise OAuthError(
                INVALID_GRANT, "code_verifier was sent but the code was issued without PKCE"
            )
        return pending.grant

    def bind(self, code: str, token: str) -> None:
        """Remember what `code` bought, to revoke it if the code is ever replayed."""
        self._spent[code] = token
