"""The mock provider's state and rules, kept free of HTTP so every OAuth rule is unit-testable.

The handlers in `devlab.oauth_mock.app` only translate requests into calls here and
`OAuthError`s into responses. Everything lives in memory: a restart forgets every code
and token, which is what a development provider should do (users simply log in again).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from devlab.config.models import MockGitHub, MockOrg, MockTeam, MockUser
from devlab.oauth2.core import (
    ACCESS_DENIED,
    DEFAULT_CODE_TTL,
    UNSUPPORTED_GRANT_TYPE,
    AuthorizationCodes,
    AuthorizationRequest,
    OAuthError,
    RegisteredClient,
    authenticate_client,
    validate_authorization,
)

DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100

T = TypeVar("T")


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
        self._tokens: dict[str, AccessToken] = {}
        # Codes carry the chosen login; a replayed code revokes the token it bought.
        self._codes: AuthorizationCodes[str] = AuthorizationCodes(
            new_code=_new_code,
            revoke=self._revoke,
            clock=clock,
            ttl=code_ttl,
        )

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
        """Check an authorize request; GitHub allows plain PKCE and no PKCE at all."""
        return validate_authorization(
            self.client,
            client_id=client_id,
            redirect_uri=redirect_uri,
            state=state,
            scope=scope,
            response_type=response_type,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method,
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
        return self._codes.issue(request, user.login)

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
        """Trade a code for a token, checking the client before looking at the code."""
        if grant_type and grant_type != "authorization_code":
            raise OAuthError(
                UNSUPPORTED_GRANT_TYPE,
                f"grant_type {grant_type!r} is not supported; only authorization_code is",
            )
        authenticate_client(self.client, client_id, client_secret)
        grant = self._codes.redeem(
            code, client_id=client_id, redirect_uri=redirect_uri, code_verifier=code_verifier
        )
        token = AccessToken(
            token=_new_token(),
            client_id=grant.request.client_id,
            login=grant.subject,
            scopes=grant.request.scopes,
        )
        self._tokens[token.token] = token
        self._codes.bind(grant.code, token.token)
        return token

    def _revoke(self, token: str) -> None:
        self._tokens.pop(token, None)

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
