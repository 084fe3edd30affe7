"""The mock provider's state and rules, kept free of HTTP so every OAuth rule is unit-testable.

The handlers in `devlab.oauth_mock.app` only translate requests into calls here and
`OAuthError`s into responses. Everything lives in memory: a restart forgets every code
and token, which is what a development provider should do (users simply log in again).

Several OAuth apps can be registered, as on GitHub: the hub's login app and, beside it,
the app of the service that links a GitHub account to a hub user. Each app's codes and
tokens are its own, and an app (or the user, on GitHub's settings page) can revoke them.
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
    INVALID_CLIENT,
    UNSUPPORTED_GRANT_TYPE,
    AuthorizationCodes,
    AuthorizationRequest,
    OAuthError,
    RegisteredClient,
    authenticate_client,
    same,
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
    """Codes, tokens and identities of one mock GitHub serving its registered OAuth apps.

    The first client is the hub's login app; the others (the GitHub-link service's) are
    registered beside it, each with its own secret and callback.
    """

    def __init__(
        self,
        identities: MockGitHub,
        client: RegisteredClient,
        *more_clients: RegisteredClient,
        clock: Callable[[], float] = time.monotonic,
        code_ttl: float = DEFAULT_CODE_TTL,
    ) -> None:
        self.identities = identities
        self.clients = (client, *more_clients)
        ids = [c.client_id for c in self.clients]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(
                f"client_id {', '.join(repeated)} is registered twice; "
                "every OAuth app needs a client_id of its own"
            )
        self._tokens: dict[str, AccessToken] = {}
        # Codes carry the chosen login; a replayed code revokes the token it bought.
        self._codes: AuthorizationCodes[str] = AuthorizationCodes(
            new_code=_new_code,
            revoke=self._revoke,
            clock=clock,
            ttl=code_ttl,
        )

    def registered(self, client_id: str | None) -> RegisteredClient | None:
        """The app registered as `client_id`, if any."""
        if not client_id:
            return None
        return next((c for c in self.clients if same(client_id, c.client_id)), None)

    def client_for(self, client_id: str | None) -> RegisteredClient:
        """The app registered as `client_id`, else the hub's login app.

        For an unknown or missing id the login app stands in, so that the shared checks
        (`validate_authorization`, `authenticate_client`) refuse the id with their usual
        errors, and a page refusing it still has the hub's look.
        """
        return self.registered(client_id) or self.clients[0]

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
            self.client_for(client_id),
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
            raise OAuthError(ACCESS_DENIED, self._no_such_user(login))
        return self._codes.issue(request, user.login)

    def _no_such_user(self, login: str) -> str:
        known = ", ".join(u.login for u in self.identities.users) or "(none configured)"
        return f"there is no user {login!r}; the configured users are: {known}"

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
        authenticate_client(self.client_for(client_id), client_id, client_secret)
        # The code itself names the app it was issued to; redeem refuses any other.
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

    # -- app endpoints and the user's settings page -----------------------------------

    def authenticate_app(
        self, client_id: str, given_id: str | None, given_secret: str | None
    ) -> RegisteredClient:
        """The app at `/applications/{client_id}/...`, if Basic auth carried its credentials.

        GitHub's app endpoints take the app's client_id and secret, not a user's token;
        another app's valid credentials do not open this app's tokens.
        """
        app = self.registered(client_id)
        if app is None or not given_id or not same(given_id, app.client_id):
            raise OAuthError(
                INVALID_CLIENT, f"these are not the credentials of the app {client_id!r}"
            )
        authenticate_client(app, given_id, given_secret)
        return app

    def app_token(self, app: RegisteredClient, token: str) -> AccessToken | None:
        """`token` if it is live and was issued to `app`: other apps' tokens are not its to see."""
        found = self.resolve_token(token)
        if found is None or found.client_id != app.client_id:
            return None
        return found

    def delete_app_token(self, app: RegisteredClient, token: str) -> bool:
        """Revoke one of `app`'s tokens (GitHub's "Delete an app token"); False if not its."""
        found = self.app_token(app, token)
        if found is None:
            return False
        self._revoke(found.token)
        return True

    def revoke_authorization(self, app: RegisteredClient, login: str) -> int:
        """The user revokes `app` on their settings page: every token they hold for it dies.

        Returns how many tokens were revoked; a LookupError names the configured users
        when there is no user `login`, so a mistyped name in a test is not a silent no-op.
        """
        user = self.identities.user(login)
        if user is None:
            raise LookupError(self._no_such_user(login))
        dead = [
            t.token
            for t in self._tokens.values()
            if t.client_id == app.client_id and t.login == user.login
        ]
        for token in dead:
            self._revoke(token)
        return len(dead)

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
