"""Tornado handlers that give `MockCILogonStore` CILogon's URLs, status codes and JSON.

The shapes follow what `oauthenticator.CILogonOAuthenticator` (17.x) sends and reads and
what an OpenID Connect client expects, so the hub runs the unmodified authenticator:

* browser: `GET /authorize` (a page to pick a configured user, grouped by IdP);
* hub: `POST /oauth2/token`, `GET|POST /oauth2/userinfo`, and for the id_token check
  `/.well-known/openid-configuration` and `/oauth2/certs`; `POST /oauth2/revoke`.

The issuer is the browser-facing URL (`public_url`); the endpoints the hub calls are
published at `internal_url`, its name for this service on the compose network.
"""

from __future__ import annotations

from typing import Any

from tornado.web import Application

from devlab.cilogon_mock.store import GRANT_TYPES, SCOPES, MockCILogonStore, OIDCRequest
from devlab.oauth2.core import INVALID_REQUEST, AuthorizationRequest, OAuthError, RegisteredClient
from devlab.oauth2.web import (
    ChoiceForm,
    ChooserPage,
    HealthHandler,
    MockHandler,
    authorize_fields,
    client_credentials,
    provider_templates,
    token_request_params,
)

_TEMPLATES = provider_templates("devlab.cilogon_mock")
# What the authorize endpoint reads; `skin` (a CILogon page theme), like any other
# parameter, is accepted and ignored.
_AUTHORIZE_PARAMS = (
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "response_type",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "selected_idp",
)
# RFC 6750 section 3.1.
INVALID_TOKEN = "invalid_token"
# What discovery lists as claims_supported, besides the configured username claim.
CLAIMS = (
    *("sub", "iss", "aud", "iat", "exp", "auth_time", "nonce"),
    *("email", "given_name", "family_name", "name"),
    *("idp", "idp_name", "eppn", "oidc", "uidNumber", "gidNumber", "isMemberOf"),
)


class _Base(MockHandler):
    store: MockCILogonStore
    internal_url: str

    def initialize(self, store: MockCILogonStore, internal_url: str | None = None) -> None:
        self.store = store
        # Browsers reach the issuer's URL; the hub may use another name for this service.
        self.public_url = store.issuer
        self.internal_url = (internal_url or store.issuer).rstrip("/")

    def send_error_json(self, error: str, description: str, status: int) -> None:
        """OAuth's error shape (RFC 6749 section 5.2), never cached."""
        self.set_header("Cache-Control", "no-store")
        self.send_json({"error": error, "error_description": description}, status)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Unexpected failures still answer in OAuth's JSON error shape.
        self.send_error_json("server_error", self._reason, status_code)


class NotFoundHandler(_Base):
    def prepare(self) -> None:
        self.send_error_json("not_found", f"no endpoint at {self.request.path}", 404)


# -- browser side: the authorize page ----------------------------------------------------


class _AuthorizeBase(_Base, ChooserPage):
    templates = _TEMPLATES
    provider = "mock CILogon"
    authorize_params = _AUTHORIZE_PARAMS
    chooser = "sub"

    @staticmethod
    def oauth_request(request: OIDCRequest) -> AuthorizationRequest:
        return request.oauth

    @property
    def client(self) -> RegisteredClient:
        return self.store.client


class AuthorizeHandler(_AuthorizeBase):
    """CILogon's authorize URL; `sub=<subject>` approves at once, for scripts and tests."""

    def get(self) -> None:
        request = self.authorization_request()
        if request is None:
            return
        sub = self.get_argument("sub", None)
        if sub:
            self.approve(request, sub)
            return
        hidden = authorize_fields(
            request.oauth,
            ("nonce", request.nonce),
            ("selected_idp", ",".join(request.idps)),
        )
        self.render_page(
            "login.html",
            request=request.oauth,
            hidden=hidden,
            idps=self.store.users_by_idp(request),
            username_claim=self.store.identities.username_claim,
        )


class ApproveHandler(_AuthorizeBase, ChoiceForm):
    """The login page's form target (ChoiceForm)."""


# -- hub side ----------------------------------------------------------------------------


class TokenHandler(_Base):
    """The token endpoint; the client authenticates by HTTP Basic or in the body."""

    def post(self) -> None:
        try:
            params = token_request_params(self)
            client_id, client_secret = client_credentials(self, params, self.store.client.client_id)
            tokens = self.store.token(
                grant_type=params.get("grant_type"),
                client_id=client_id,
                client_secret=client_secret,
                params=params,
            )
        except OAuthError as error:
            if error.http_status == 401 and self.request.headers.get("Authorization"):
                # RFC 6749 section 5.2: a failed Basic login is answered with a challenge.
                self.set_header("WWW-Authenticate", 'Basic realm="mock CILogon"')
            self.send_error_json(error.error, error.description, error.http_status)
            return
        self.set_header("Cache-Control", "no-store")
        self.set_header("Pragma", "no-cache")
        self.send_json(tokens.body())


class RevokeHandler(_Base):
    """RFC 7009: the client revokes a token it holds; unknown tokens answer 200 too."""

    def post(self) -> None:
        try:
            params = token_request_params(self)
            client_id, client_secret = client_credentials(self, params, self.store.client.client_id)
            self.store.revoke_token(
                client_id=client_id, client_secret=client_secret, token=params.get("token")
            )
        except OAuthError as error:
            self.send_error_json(error.error, error.description, error.http_status)
            return
        self.set_status(200)
        self.finish()


class UserInfoHandler(_Base):
    """OIDC userinfo: the Bearer token's user's claims, by the scopes granted."""

    def get(self) -> None:
        self._answer()

    def post(self) -> None:
        self._answer()

    def _answer(self) -> None:
        scheme, _, credential = self.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            # RFC 6750 section 3.1: no credentials, no error code.
            self.set_header("WWW-Authenticate", 'Bearer realm="mock CILogon"')
            self.send_error_json(
                INVALID_REQUEST, "send the access token as `Authorization: Bearer <token>`", 401
            )
            return
        login = self.store.resolve_token(credential.strip())
        if login is None:
            self.set_header(
                "WWW-Authenticate", f'Bearer realm="mock CILogon", error="{INVALID_TOKEN}"'
            )
            self.send_error_json(
                INVALID_TOKEN, "the access token is invalid, expired or revoked", 401
            )
            return
        self.set_header("Cache-Control", "no-store")
        self.send_json(self.store.claims(login))


class DiscoveryHandler(_Base):
    """OpenID Connect discovery: where each endpoint is and what this provider supports."""

    def get(self) -> None:
        web, hub_side = self.store.issuer, self.internal_url
        self.send_json(
            {
                "issuer": self.store.issuer,
                "authorization_endpoint": f"{web}/authorize",
                "token_endpoint": f"{hub_side}/oauth2/token",
                "userinfo_endpoint": f"{hub_side}/oauth2/userinfo",
                "revocation_endpoint": f"{hub_side}/oauth2/revoke",
                "jwks_uri": f"{hub_side}/oauth2/certs",
                "scopes_supported": list(SCOPES),
                "response_types_supported": ["code"],
                "grant_types_supported": list(GRANT_TYPES),
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "code_challenge_methods_supported": ["S256"],
                "claims_supported": [*CLAIMS, self.store.identities.username_claim],
            }
        )


class CertsHandler(_Base):
    """The JWKS: the public key that verifies every id_token, named by its `kid`."""

    def get(self) -> None:
        self.send_json(self.store.key.jwks())


def make_app(store: MockCILogonStore, *, internal_url: str | None = None) -> Application:
    """The mock's tornado application.

    Browsers reach it at the store's issuer URL; the hub at `internal_url` (the issuer's
    by default), published in discovery for the token, userinfo, revoke and JWKS endpoints.
    """
    common: dict[str, Any] = {"store": store, "internal_url": internal_url}
    return Application(
        [
            (r"/healthz", HealthHandler),
            (r"/authorize", AuthorizeHandler, common),
            (r"/authorize/approve", ApproveHandler, common),
            (r"/oauth2/token", TokenHandler, common),
            (r"/oauth2/userinfo", UserInfoHandler, common),
            (r"/oauth2/revoke", RevokeHandler, common),
            (r"/oauth2/certs", CertsHandler, common),
            (r"/.well-known/openid-configuration", DiscoveryHandler, common),
        ],
        default_handler_class=NotFoundHandler,
        default_handler_args=common,
    )
