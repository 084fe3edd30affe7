"""The mock provider's state and rules, kept free of HTTP so every OAuth rule is unit-testable.

The handlers in `devlab.oauth_mock.app` only translate requests into calls here and
`OAuthError`s into responses. Everything lives in memory: a restart forgets every code
and token, which is what a development provider should do (users simply log in again).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from devlab.config.models import MockGitHub, MockOrg, MockTeam, MockUser

# RFC 6749 section 5.2 error codes (and 4.1.2.1 for the authorize endpoint).
INVALID_CLIENT = "invalid_client"
INVALID_GRANT = "invalid_grant"
INVALID_REQUEST = "invalid_request"
UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"
UNAUTHORIZED_CLIENT = "unauthorized_client"
ACCESS_DENIED = "access_denied"

DEFAULT_CODE_TTL = 60.0
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100

# RFC 7636 section 4.1: 43 to 128 characters from the unreserved set. The same rule
# bounds a plain challenge, which is the verifier itself.
_PKCE_VALUE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_PKCE_METHODS = ("S256", "plain")

T = TypeVar("T")


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
    """The one OAuth app registered with the mock, as a GitHub OAuth app has one callback."""

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
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    login: str
    scopes: tuple[str, ...]
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float


@dataclass(frozen=True)
class AccessToken:
    token: str
    client_id: str
    login: str
    scopes: tuple[str, ...]

    @property
    def scope(self) -> str:
        """GitHub reports granted scopes comma-separated (`read:org,user:email`)."""
        return ",".join(self.scopes)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list endpoint; `last` is 1 for an empty list, as on GitHub."""

    items: tuple[T, ...]
    number: int
    per_page: int
    last: int


def parse_scopes(scope: str | None) -> tuple[str, ...]:
    """Requested scopes, in order and without repeats.

    GitHub accepts both spaces (the OAuth standard, what oauthenticator sends) and
    commas (what GitHub itself prints) between scopes.
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


def parse_page_args(page: str | None, per_page: str | None) -> tuple[int, int]:
    """GitHub's lenient paging arguments: bad values fall back to the defaults.

    `per_page` is capped at 100 as on GitHub, so a client asking for more still
    has to follow the Link header.
    """

    def number(text: str | None, default: int) -> int:
        try:
            value = int(text) if text is not None else default
        except ValueError:
            return default
        return value if value >= 1 else default

    return number(page, 1), min(number(per_page, DEFAULT_PER_PAGE), MAX_PER_PAGE)


def paginate(items: Sequence[T], page: int, per_page: int) -> Page[T]:
    last = max(1, -(-len(items) // per_page))
    start = (page - 1) * per_page
    return Page(tuple(items[start : start + per_page]), page, per_page, last)


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison that also accepts non-ASCII input (compared as UTF-8)."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _new_code() -> str:
    # GitHub's codes are 20 hex digits.
    return secrets.token_hex(10)


def _new_token() -> str:
    # GitHub's OAuth app user tokens are `gho_` and 36 alphanumerics; matching the shape
    # keeps secret scanners and log redaction treating them as tokens.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "gho_" + "".join(secrets.choice(alphabet) for _ in range(36))


class MockGitHubStore:
    """Codes, tokens and identities of one mock GitHub serving one registered client."""

    def __init__(
        self,
        identities: MockGitHub,
        client: RegisteredClient,
        *,
        clock: Callable[[], float] = time.monotonic,
        code_ttl: float = DEFAULT_CODE_TTL,
    ) -> None:
        self.identities = identities
        self.client = client
        self._clock = clock
        self._code_ttl = code_ttl
        self._codes: dict[str, AuthorizationCode] = {}
        # Codes already exchanged, to the token they bought: presenting one again revokes
        # that token (RFC 6749 section 4.1.2), since a replayed code suggests it leaked.
        self._spent: dict[str, str] = {}
        self._tokens: dict[str, AccessToken] = {}

    # -- authorize endpoint -------------------------------------------------------------

    def validate_authorization(
        self,
        *,
        client_id: str | None,
        redirect_uri: str | None,
        state: str | None = None,
        scope: str | None = None,
        response_type: str | None = None,
        code_challenge: str | None = None,
        code_challenge_method: str | None = None,
    ) -> AuthorizationRequest:
        """Check an authorize request before anyone is asked to pick a user.

        A missing `redirect_uri` means the registered one, as on GitHub; a different one
        is refused outright rather than matched loosely, so the mock never sends a code
        anywhere but the hub.
        """
        if not client_id:
            raise OAuthError(INVALID_REQUEST, "the client_id parameter is missing")
        if not _same(client_id, self.client.client_id):
            raise OAuthError(INVALID_CLIENT, f"no OAuth app has client_id {client_id!r}")
        if redirect_uri and redirect_uri != self.client.redirect_uri:
            raise OAuthError(
                INVALID_REQUEST,
                f"redirect_uri {redirect_uri!r} is not the one registered for this app "
                f"({self.client.redirect_uri!r})",
            )
        target = self.client.redirect_uri

        def refuse(error: str, description: str) -> OAuthError:
            return OAuthError(error, description, redirect_uri=target, state=state)

        if response_type not in (None, "", "code"):
            raise refuse(
                UNAUTHORIZED_CLIENT,
                f"response_type {response_type!r} is not supported; this provider only "
                "issues authorization codes (response_type=code)",
            )
        method: str | None = None
        if code_challenge:
            # RFC 7636 section 4.3: a challenge without a method is a plain one.
            method = code_challenge_method or "plain"
            if method not in _PKCE_METHODS:
                raise refuse(
                    INVALID_REQUEST,
                    f"code_challenge_method {method!r} is not supported (use S256)",
                )
            if not _PKCE_VALUE.match(code_challenge):
                raise refuse(INVALID_REQUEST, "code_challenge is not a valid PKCE challenge")
        elif code_challenge_method:
            raise refuse(INVALID_REQUEST, "code_challenge_method was given without code_challenge")
        return AuthorizationRequest(
            client_id=self.client.client_id,
            redirect_uri=target,
            state=state,
            scopes=parse_scopes(scope),
            code_challenge=code_challenge or None,
            code_challenge_method=method,
        )

    def approve(self, request: AuthorizationRequest, login: str) -> str:
        """Issue a code for `login`, bound to everything the token request must repeat."""
        user = self.identities.user(login)
        if user is None:
            known = ", ".join(u.login for u in self.identities.users) or "(none configured)"
            raise OAuthError(
                ACCESS_DENIED,
                f"there is no user {login!r}; the configured users are: {known}",
            )
        self._forget_expired_codes()
        code = _new_code()
        self._codes[code] = AuthorizationCode(
            code=code,
            client_id=request.client_id,
            redirect_uri=request.redirect_uri,
            login=user.login,
            scopes=request.scopes,
            code_challenge=request.code_challenge,
            code_challenge_method=request.code_challenge_method,
            expires_at=self._clock() + self._code_ttl,
        )
        return code

    # -- token endpoint -----------------------------------------------------------------

    def exchange_code(
        self,
        *,
        code: str | None,
        client_id: str | None,
        client_secret: str | None,
        redirect_uri: str | None = None,
        code_verifier: str | None = None,
        grant_type: str | None = None,
    ) -> AccessToken:
        """Trade a code for a token, checking the client before looking at the code.

        The code is spent by any attempt from the genuine client, failed or not, so a
        code can never be tried twice.
        """
        if grant_type and grant_type != "authorization_code":
            raise OAuthError(
                UNSUPPORTED_GRANT_TYPE,
                f"grant_type {grant_type!r} is not supported; only authorization_code is",
            )
        self._authenticate_client(client_id, client_secret)
        if not code:
            raise OAuthError(INVALID_REQUEST, "the code parameter is missing")
        if code in self._spent:
            self._tokens.pop(self._spent[code], None)
            raise OAuthError(
                INVALID_GRANT,
                "the code has already been used; the token it was exchanged for is revoked",
            )
        grant = self._codes.pop(code, None)
        if grant is None:
            raise OAuthError(INVALID_GRANT, "the code is incorrect or expired")
        self._spent[code] = ""
        if self._clock() >= grant.expires_at:
            raise OAuthError(INVALID_GRANT, "the code is incorrect or expired")
        if grant.client_id != client_id:
            raise OAuthError(INVALID_GRANT, "the code was issued to another client")
        if redirect_uri and redirect_uri != grant.redirect_uri:
            raise OAuthError(
                INVALID_GRANT,
                f"redirect_uri {redirect_uri!r} does not match the one the code was issued "
                f"for ({grant.redirect_uri!r})",
            )
        if grant.code_challenge is not None:
            if not code_verifier:
                raise OAuthError(
                    INVALID_REQUEST,
                    "code_verifier is required: the authorize request carried a code_challenge",
                )
            method = grant.code_challenge_method or "plain"
            if not verify_pkce(grant.code_challenge, method, code_verifier):
                raise OAuthError(INVALID_GRANT, "code_verifier does not match the code_challenge")
        elif code_verifier:
            # OAuth 2.1: a verifier for a code issued without a challenge is a downgrade.
            raise OAuthError(
                INVALID_GRANT, "code_verifier was sent but the code was issued without PKCE"
            )
        token = AccessToken(
            token=_new_token(), client_id=grant.client_id, login=grant.login, scopes=grant.scopes
        )
        self._tokens[token.token] = token
        self._spent[code] = token.token
        return token

    def _authenticate_client(self, client_id: str | None, client_secret: str | None) -> None:
        if not client_id:
            raise OAuthError(INVALID_CLIENT, "client authentication failed: no client_id")
        if not _same(client_id, self.client.client_id):
            raise OAuthError(INVALID_CLIENT, f"no OAuth app has client_id {client_id!r}")
        if not client_secret or not _same(client_secret, self.client.client_secret):
            raise OAuthError(INVALID_CLIENT, "the client_secret is incorrect")

    def _forget_expired_codes(self) -> None:
        now = self._clock()
        for code in [c for c, g in self._codes.items() if now >= g.expires_at]:
            del self._codes[code]

    # -- API ----------------------------------------------------------------------------

    def resolve_token(self, token: str) -> AccessToken | None:
        """The live token, or None; tokens of users since removed from config are dead."""
        found = self._tokens.get(token)
        if found is None or self.identities.user(found.login) is None:
            return None
        return found

    def user(self, login: str) -> MockUser | None:
        return self.identities.user(login)

    def orgs_of(self, login: str) -> list[MockOrg]:
        user = self.identities.user(login)
        if user is None:
            return []
        orgs = (self.identities.org(name) for name in user.orgs)
        return [org for org in orgs if org is not None]

    def teams_of(self, login: str) -> list[MockTeam]:
        wanted = login.lower()
        return [t for t in self.identities.teams if wanted in (m.lower() for m in t.members)]

    def org(self, login: str) -> MockOrg | None:
        return self.identities.org(login)

    def team(self, org: str, slug: str) -> MockTeam | None:
        return next(
            (
                t
                for t in self.identities.teams
                if t.org.lower() == org.lower() and t.slug.lower() == slug.lower()
            ),
            None,
        )

    def is_org_member(self, org: MockOrg, login: str) -> bool:
        return any(o.id == org.id for o in self.orgs_of(login))

    def is_team_member(self, team: MockTeam, login: str) -> bool:
        return login.lower() in (m.lower() for m in team.members)
