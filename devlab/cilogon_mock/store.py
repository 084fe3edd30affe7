"""The mock CILogon's state and rules, free of HTTP so every OIDC rule is unit-testable.

The handlers in `devlab.cilogon_mock.app` only translate requests into calls here and
`OAuthError`s into responses. The generic OAuth steps (client check, PKCE, single-use
expiring codes) are `devlab.oauth2.core`'s; this adds what CILogon adds: OpenID Connect
(`openid` scope, `nonce`, an RS256 id_token), `selected_idp`, the refresh grant, and
claims released by scope. Everything lives in memory: a restart forgets every code and
token (the hub's refresh then fails and people log in again).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from devlab.cilogon_mock.keys import SigningKey
from devlab.config.mock_cilogon import MockCILogon, MockCILogonUser
from devlab.oauth2.core import (
    ACCESS_DENIED,
    DEFAULT_CODE_TTL,
    INVALID_GRANT,
    INVALID_REQUEST,
    INVALID_SCOPE,
    UNSUPPORTED_GRANT_TYPE,
    AuthorizationCodes,
    AuthorizationRequest,
    OAuthError,
    RegisteredClient,
    authenticate_client,
    validate_authorization,
)

OPENID = "openid"
EMAIL = "email"
PROFILE = "profile"
USERINFO = "org.cilogon.userinfo"
SCOPES = (OPENID, EMAIL, PROFILE, USERINFO)
GRANT_TYPES = ("authorization_code", "refresh_token")
# CILogon's access tokens and id_tokens last 15 minutes, so a hub that keeps people
# logged in for longer exercises the refresh grant.
ACCESS_TOKEN_TTL = 900
ID_TOKEN_TTL = 900
REFRESH_TOKEN_TTL = 86400
_SCOPE_CLAIMS = {
    EMAIL: ("email",),
    PROFILE: ("given_name", "family_name", "name"),
}


@dataclass(frozen=True)
class OIDCRequest:
    """A validated authorize request: the OAuth part, the `nonce`, the IdPs on offer."""

    oauth: AuthorizationRequest
    nonce: str | None
    idps: tuple[str, ...]


@dataclass(frozen=True)
class Login:
    """Who logged in and what they granted; what every token issued for it stands for."""

    sub: str
    scopes: tuple[str, ...]
    nonce: str | None
    auth_time: int


@dataclass(frozen=True)
class TokenResponse:
    """The token endpoint's answer (RFC 6749 section 5.1 plus OIDC's id_token)."""

    access_token: str
    refresh_token: str
    id_token: str
    expires_in: int
    scopes: tuple[str, ...]

    def body(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
            "scope": " ".join(self.scopes),
            "id_token": self.id_token,
        }


@dataclass(frozen=True)
class _Live:
    login: Login
    expires_at: float


def parse_selected_idp(selected_idp: str | None) -> tuple[str, ...]:
    """`selected_idp` as oauthenticator sends it: entity ids, comma-separated, default first."""
    return tuple(dict.fromkeys(p.strip() for p in (selected_idp or "").split(",") if p.strip()))


def _new_code() -> str:
    # CILogon's codes are URLs naming the grant; the shape only matters to people reading logs.
    return f"https://cilogon.org/oauth2/{secrets.token_hex(16)}"


def _new_token(kind: str) -> str:
    return f"https://cilogon.org/oauth2/{kind}/{secrets.token_urlsafe(24)}"


class MockCILogonStore:
    """Codes, tokens, keys and identities of one mock CILogon serving one registered client."""

    def __init__(
        self,
        identities: MockCILogon,
        client: RegisteredClient,
        key: SigningKey,
        *,
        issuer: str,
        clock: Callable[[], float] = time.time,
        code_ttl: float = DEFAULT_CODE_TTL,
    ) -> None:
        self.identities = identities
        self.client = client
        self.key = key
        self.issuer = issuer.rstrip("/")
        self._clock = clock
        self._access: dict[str, _Live] = {}
        self._refresh: dict[str, _Live] = {}
        # The refresh token issued beside each access token, so revoking one revokes both.
        self._pair: dict[str, str] = {}
        self._codes: AuthorizationCodes[Login] = AuthorizationCodes(
            new_code=_new_code, revoke=self.revoke_access, clock=clock, ttl=code_ttl
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
        nonce: str | None = None,
        selected_idp: str | None = None,
    ) -> OIDCRequest:
        """Check an authorize request: OAuth's rules, PKCE S256 required, OIDC's scope.

        An unknown IdP in `selected_idp` is the hub's configuration error, shown on the
        page rather than sent back: the hub would only answer it with a 500.
        """
        request = validate_authorization(
            self.client,
            client_id=client_id,
            redirect_uri=redirect_uri,
            state=state,
            scope=scope,
            response_type=response_type,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method,
            pkce_methods=("S256",),
            pkce_required=True,
        )

        def refuse(error: str, description: str) -> OAuthError:
            return OAuthError(error, description, redirect_uri=request.redirect_uri, state=state)

        if OPENID not in request.scopes:
            raise refuse(
                INVALID_SCOPE,
                f"scope must include {OPENID!r} (this is an OpenID Connect provider); "
                f"supported scopes: {' '.join(SCOPES)}",
            )
        unknown = [s for s in request.scopes if s not in SCOPES]
        if unknown:
            raise refuse(
                INVALID_SCOPE,
                f"scope {unknown[0]!r} is not supported; supported scopes: {' '.join(SCOPES)}",
            )
        idps = parse_selected_idp(selected_idp)
        strangers = [idp for idp in idps if idp not in self.identities.idps]
        if strangers:
            known = ", ".join(self.identities.idps) or "none"
            raise OAuthError(
                INVALID_REQUEST,
                f"selected_idp names {strangers[0]!r}, which is not an identity provider of "
                f"this mock (it has: {known}); fix the hub's IdP list or mock_cilogon.idps",
            )
        return OIDCRequest(request, nonce or None, idps or tuple(self.identities.idps))

    def users_by_idp(
        self, request: OIDCRequest
    ) -> list[tuple[str, str, tuple[MockCILogonUser, ...]]]:
        """(entity id, display name, users) for each IdP on offer, in the request's order."""
        return [
            (
                idp,
                self.identities.idps[idp],
                tuple(u for u in self.identities.users if u.idp == idp),
            )
            for idp in request.idps
        ]

    def approve(self, request: OIDCRequest, sub: str) -> str:
        """Issue a code for the user `sub`, who must belong to an IdP on offer."""
        user = self.identities.user(sub)
        if user is None or user.idp not in request.idps:
            offered = [u.sub for _, _, users in self.users_by_idp(request) for u in users]
            raise OAuthError(
                ACCESS_DENIED,
                f"there is no user {sub!r} at the identity providers on offer; "
                f"the users there are: {', '.join(offered) or '(none configured)'}",
            )
        login = Login(
            sub=user.sub,
            scopes=request.oauth.scopes,
            nonce=request.nonce,
            auth_time=int(self._clock()),
        )
        return self._codes.issue(request.oauth, login)

    # -- token endpoint -----------------------------------------------------------------

    def token(
        self,
        *,
        grant_type: str | None,
        client_id: str | None,
        client_secret: str | None,
        params: Mapping[str, str],
    ) -> TokenResponse:
        """Answer a token request: the authorization_code or the refresh_token grant."""
        if grant_type not in GRANT_TYPES:
            raise OAuthError(
                UNSUPPORTED_GRANT_TYPE,
                f"grant_type {grant_type!r} is not supported; use {' or '.join(GRANT_TYPES)}",
            )
        authenticate_client(self.client, client_id, client_secret)
        if grant_type == "authorization_code":
            grant = self._codes.redeem(
                params.get("code"),
                client_id=client_id,
                redirect_uri=params.get("redirect_uri"),
                code_verifier=params.get("code_verifier"),
            )
            tokens = self._issue(grant.subject)
            self._codes.bind(grant.code, tokens.access_token)
            return tokens
        return self._refresh_grant(params.get("refresh_token"), params.get("scope"))

    def _refresh_grant(self, refresh_token: str | None, scope: str | None) -> TokenResponse:
        """New tokens for a live refresh token, which is spent (rotated) by the exchange."""
        if not refresh_token:
            raise OAuthError(INVALID_REQUEST, "the refresh_token parameter is missing")
        live = self._refresh.pop(refresh_token, None)
        if live is None or self._clock() >= live.expires_at:
            raise OAuthError(INVALID_GRANT, "the refresh token is invalid, expired or revoked")
        login = live.login
        if scope:
            # RFC 6749 section 6: a refresh may narrow the scopes, never widen them.
            wanted = tuple(dict.fromkeys(scope.split()))
            extra = [s for s in wanted if s not in login.scopes]
            if extra:
                raise OAuthError(
                    INVALID_SCOPE, f"scope {extra[0]!r} was not granted to this refresh token"
                )
            login = Login(login.sub, wanted, login.nonce, login.auth_time)
        return self._issue(login)

    def _issue(self, login: Login) -> TokenResponse:
        now = self._clock()
        access, refresh = _new_token("accessToken"), _new_token("refreshToken")
        self._access[access] = _Live(login, now + ACCESS_TOKEN_TTL)
        self._refresh[refresh] = _Live(login, now + REFRESH_TOKEN_TTL)
        self._pair[access] = refresh
        return TokenResponse(
            access_token=access,
            refresh_token=refresh,
            id_token=self.id_token(login),
            expires_in=ACCESS_TOKEN_TTL,
            scopes=login.scopes,
        )

    def id_token(self, login: Login) -> str:
        """The signed id_token: OIDC's claims plus the user's claims the scopes release.

        A refreshed id_token keeps the login's `nonce` and `auth_time` (OIDC Core 12.2).
        """
        now = int(self._clock())
        claims: dict[str, Any] = {
            **self.claims(login),
            "iat": now,
            "exp": now + ID_TOKEN_TTL,
            "auth_time": login.auth_time,
        }
        if login.nonce:
            claims["nonce"] = login.nonce
        return self.key.sign(claims)

    def revoke_access(self, access_token: str) -> None:
        """Revoke an access token and the refresh token issued beside it."""
        self._access.pop(access_token, None)
        refresh = self._pair.pop(access_token, None)
        if refresh is not None:
            self._refresh.pop(refresh, None)

    def revoke_token(
        self, *, client_id: str | None, client_secret: str | None, token: str | None
    ) -> None:
        """RFC 7009: the client revokes an access or refresh token; unknown ones are no error."""
        authenticate_client(self.client, client_id, client_secret)
        if not token:
            raise OAuthError(INVALID_REQUEST, "the token parameter is missing")
        self.revoke_access(token)
        self._refresh.pop(token, None)

    # -- userinfo endpoint --------------------------------------------------------------

    def resolve_token(self, access_token: str) -> Login | None:
        """The login behind a live access token of a user still configured, or None."""
        live = self._access.get(access_token)
        if live is None or self._clock() >= live.expires_at:
            return None
        if self.identities.user(live.login.sub) is None:
            return None
        return live.login

    def claims(self, login: Login) -> dict[str, Any]:
        """The user's claims as the scopes release them; absent attributes are left out."""
        user = self.identities.user(login.sub)
        if user is None:  # removed from config since the login
            raise OAuthError(INVALID_GRANT, f"there is no user {login.sub!r}")
        claims: dict[str, Any] = {"sub": user.sub, "iss": self.issuer, "aud": self.client.client_id}
        released: dict[str, Any] = {
            "email": user.email,
            "given_name": user.given_name,
            "family_name": user.family_name,
            "name": user.full_name,
        }
        for scope, names in _SCOPE_CLAIMS.items():
            if scope in login.scopes:
                claims.update((n, released[n]) for n in names if released[n] is not None)
        if USERINFO in login.scopes:
            claims.update(self._cilogon_claims(user))
        return claims

    def _cilogon_claims(self, user: MockCILogonUser) -> dict[str, Any]:
        """org.cilogon.userinfo's claims, with the Unix identity NCSA's LDAP added."""
        values: dict[str, Any] = {
            "idp": user.idp,
            "idp_name": self.identities.idps[user.idp],
            "eppn": user.eppn,
            "oidc": user.oidc,
            self.identities.username_claim: user.username,
            "uidNumber": user.uidNumber,
            "gidNumber": user.gidNumber,
        }
        if user.isMemberOf is not None:
            values["isMemberOf"] = [
                {"name": g.name, "id": g.id} if g.id is not None else {"name": g.name}
                for g in user.isMemberOf
            ]
        return {name: value for name, value in values.items() if value is not None}
