"""The mock CILogon over real HTTP on 127.0.0.1, including the real CILogonOAuthenticator."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlencode, urlsplit

import jwt
from oauthenticator.cilogon import CILogonOAuthenticator, _get_select_idp_param
from oauthenticator.oauth2 import STATE_COOKIE_NAME, OAuthLoginHandler, _serialize_state
from tornado.auth import OAuth2Mixin
from tornado.httpclient import HTTPResponse
from tornado.httpserver import HTTPServer
from tornado.testing import AsyncHTTPTestCase, bind_unused_port
from tornado.web import Application, RequestHandler

from devlab.cilogon_mock.app import make_app
from devlab.cilogon_mock.keys import SigningKey
from devlab.cilogon_mock.store import ACCESS_TOKEN_TTL, MockCILogonStore
from devlab.config import load_config
from devlab.config.mock_cilogon import GITHUB_IDP, MockCILogon
from devlab.identity.id_token import verify_id_token
from devlab.oauth2.core import RegisteredClient, pkce_s256
from devlab.platform import DEFAULT_CONFIG

VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CLIENT_ID = "cilogon:/client_id/devlab"
PUBLIC = "http://localhost:8091"
INTERNAL = "http://cilogon:8091"
UNI = "https://idp.example.edu/idp/shibboleth"
ALICE = "http://cilogon.org/serverA/users/1001"
CAROL = "http://cilogon.org/serverA/users/1003"
SCOPE = "openid email profile org.cilogon.userinfo"
KEY = SigningKey.generate()


class Clock:
    """Starts at the real time, so PyJWT's own iat and exp checks pass as in the hub."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class CILogonCase(AsyncHTTPTestCase):
    """Serves the mock; a second port is reserved for the hub the mock redirects to."""

    issuer = PUBLIC

    def identities(self) -> MockCILogon:
        return load_config(DEFAULT_CONFIG).mock_cilogon

    def setUp(self) -> None:
        self.hub_socket, self.hub_port = bind_unused_port()
        self.redirect_uri = f"http://127.0.0.1:{self.hub_port}/hub/oauth_callback"
        self.clock = Clock()
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        self.hub_socket.close()

    def get_app(self) -> Application:
        client = RegisteredClient(CLIENT_ID, "s3cret", self.redirect_uri)
        self.store = MockCILogonStore(
            self.identities(), client, KEY, issuer=self.issuer, clock=self.clock
        )
        return make_app(self.store, internal_url=INTERNAL)

    # -- helpers -----------------------------------------------------------------------

    def get(self, path: str, **kwargs: Any) -> HTTPResponse:
        return self.fetch(path, follow_redirects=False, **kwargs)

    def post(self, path: str, body: dict[str, str], **kwargs: Any) -> HTTPResponse:
        return self.fetch(
            path, method="POST", body=urlencode(body), follow_redirects=False, **kwargs
        )

    def authorize_path(self, **params: str) -> str:
        base = {
            "client_id": CLIENT_ID,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "scope": SCOPE,
            "state": "st-1",
            "nonce": "nonce-1",
            "code_challenge": pkce_s256(VERIFIER),
            "code_challenge_method": "S256",
        }
        return "/authorize?" + urlencode({**base, **params})

    def code_for(self, sub: str = ALICE, **params: str) -> str:
        response = self.get(self.authorize_path(sub=sub, **params))
        assert response.code == 302, response.body
        query = parse_qs(urlsplit(response.headers["Location"]).query)
        assert query["state"] == [params.get("state", "st-1")]
        return query["code"][0]

    def token(self, body: dict[str, str], **kwargs: Any) -> HTTPResponse:
        return self.post("/oauth2/token", body, **kwargs)

    def exchange(self, code: str, **overrides: str) -> HTTPResponse:
        body = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": VERIFIER,
            "client_id": CLIENT_ID,
            "client_secret": "s3cret",
            **overrides,
        }
        return self.token(body)

    def tokens_for(self, sub: str = ALICE, **params: str) -> dict[str, Any]:
        response = self.exchange(self.code_for(sub, **params))
        assert response.code == 200, response.body
        return json.loads(response.body)

    def userinfo(self, access_token: str) -> HTTPResponse:
        return self.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {access_token}"})

    def assert_oauth_error(self, response: HTTPResponse, status: int, error: str) -> None:
        assert response.code == status, response.body
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        body = json.loads(response.body)
        assert set(body) == {"error", "error_description"}
        assert body["error"] == error, body
        assert body["error_description"]


def basic(client_id: str, secret: str) -> dict[str, str]:
    """As oauthenticator sends it: not form-encoded, though CILogon's ids hold colons."""
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


class TestAuthorize(CILogonCase):
    def test_login_page_groups_users_by_idp_and_warns_it_is_a_mock(self):
        response = self.get(self.authorize_path(skin="devlab"))
        assert response.code == 200
        page = response.body.decode()
        assert "Mock CILogon for development" in page
        assert "not an identity provider" in page
        uni, github = page.index("Example University"), page.index(">GitHub<")
        assert uni < page.index("ada") < page.index("grace") < github < page.index("hedy")
        assert "uid 3000001, gid 2000001; groups: astro (2000101), pipelines (2000102)" in page
        assert 'name="state" value="st-1"' in page
        assert 'name="nonce" value="nonce-1"' in page
        assert response.headers["X-Frame-Options"] == "DENY"

    def test_login_page_escapes_request_values(self):
        page = self.get(self.authorize_path(state='"><script>x</script>')).body.decode()
        assert "<script>" not in page
        assert 'value="&#34;&gt;&lt;script&gt;x&lt;/script&gt;"' in page

    def test_selected_idp_shows_only_its_users(self):
        page = self.get(self.authorize_path(selected_idp=GITHUB_IDP)).body.decode()
        assert "hedy" in page
        assert "ada" not in page
        assert "Example University" not in page
        assert f'name="selected_idp" value="{GITHUB_IDP}"' in page

    def test_unknown_selected_idp_is_an_error_page(self):
        response = self.get(self.authorize_path(selected_idp="https://idp.nope.edu"))
        assert response.code == 400
        assert "Location" not in response.headers
        assert "https://idp.nope.edu" in response.body.decode()

    def test_scope_without_openid_goes_back_to_the_client_with_state(self):
        response = self.get(self.authorize_path(scope="email profile"))
        assert response.code == 302
        query = parse_qs(urlsplit(response.headers["Location"]).query)
        assert query["error"] == ["invalid_scope"]
        assert query["state"] == ["st-1"]

    def test_missing_pkce_goes_back_to_the_client(self):
        path = self.authorize_path(code_challenge="", code_challenge_method="")
        query = parse_qs(urlsplit(self.get(path).headers["Location"]).query)
        assert query["error"] == ["invalid_request"]

    def test_form_post_approves_the_chosen_user(self):
        query = parse_qs(urlsplit(self.authorize_path()).query)
        form = {name: values[0] for name, values in query.items()}
        response = self.post("/authorize/approve", {**form, "sub": CAROL})
        assert response.code == 302
        location = parse_qs(urlsplit(response.headers["Location"]).query)
        assert location["state"] == ["st-1"]
        tokens = json.loads(self.exchange(location["code"][0]).body)
        assert json.loads(self.userinfo(tokens["access_token"]).body)["sub"] == CAROL

    def test_cancel_tells_the_client(self):
        query = parse_qs(urlsplit(self.authorize_path()).query)
        form = {name: values[0] for name, values in query.items()}
        response = self.post("/authorize/approve", {**form, "deny": "1"})
        assert parse_qs(urlsplit(response.headers["Location"]).query)["error"] == ["access_denied"]


class TestTokensAndUserinfo(CILogonCase):
    def test_code_flow_gives_an_id_token_that_verifies_against_the_jwks(self):
        tokens = self.tokens_for(nonce="n-42")
        assert tokens["token_type"] == "Bearer"
        assert tokens["expires_in"] == ACCESS_TOKEN_TTL
        assert tokens["scope"] == SCOPE
        assert tokens["refresh_token"]
        jwks = json.loads(self.get("/oauth2/certs").body)
        header = jwt.get_unverified_header(tokens["id_token"])
        (key,) = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
        claims = jwt.decode(
            tokens["id_token"],
            jwt.PyJWK(key),
            algorithms=["RS256"],
            audience=CLIENT_ID,
            issuer=PUBLIC,
        )
        assert claims["nonce"] == "n-42"
        assert claims["sub"] == ALICE
        assert claims["uidNumber"] == 3000001
        with_devlab_check = verify_id_token(
            tokens["id_token"], jwks, issuer=PUBLIC, audience=CLIENT_ID, nonce="n-42"
        )
        assert with_devlab_check["eppn"] == "ada@example.edu"

    def test_http_basic_client_auth_as_oauthenticator_sends_it(self):
        body = {
            "grant_type": "authorization_code",
            "code": self.code_for(),
            "redirect_uri": self.redirect_uri,
            "code_verifier": VERIFIER,
        }
        assert self.token(body, headers=basic(CLIENT_ID, "s3cret")).code == 200
        rfc_6749 = basic(quote_plus(CLIENT_ID), "s3cret")
        assert self.token({**body, "code": self.code_for()}, headers=rfc_6749).code == 200
        response = self.token({**body, "code": self.code_for()}, headers=basic(CLIENT_ID, "wrong"))
        self.assert_oauth_error(response, 401, "invalid_client")
        assert response.headers["WWW-Authenticate"].startswith("Basic")

    def test_token_errors_are_oauth_json(self):
        self.assert_oauth_error(self.exchange("nope"), 400, "invalid_grant")
        wrong_secret = self.exchange(self.code_for(), client_secret="x")
        self.assert_oauth_error(wrong_secret, 401, "invalid_client")
        bad_verifier = self.exchange(self.code_for(), code_verifier="x" * 43)
        self.assert_oauth_error(bad_verifier, 400, "invalid_grant")
        grant = self.exchange("c", grant_type="password")
        self.assert_oauth_error(grant, 400, "unsupported_grant_type")

    def test_refresh_grant_rotates_the_refresh_token(self):
        first = self.tokens_for()
        body = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        response = self.token(body, headers=basic(CLIENT_ID, "s3cret"))
        assert response.code == 200, response.body
        second = json.loads(response.body)
        assert second["access_token"] != first["access_token"]
        assert self.userinfo(second["access_token"]).code == 200
        again = self.token(body, headers=basic(CLIENT_ID, "s3cret"))
        self.assert_oauth_error(again, 400, "invalid_grant")

    def test_userinfo_gives_the_users_claims(self):
        info = json.loads(self.userinfo(self.tokens_for()["access_token"]).body)
        assert info == {
            "sub": ALICE,
            "iss": PUBLIC,
            "aud": CLIENT_ID,
            "email": "ada@example.edu",
            "given_name": "Ada",
            "family_name": "Lovelace",
            "name": "Ada Lovelace",
            "idp": UNI,
            "idp_name": "Example University",
            "eppn": "ada@example.edu",
            "username": "ada",
            "uidNumber": 3000001,
            "gidNumber": 2000001,
            "isMemberOf": [{"name": "astro", "id": 2000101}, {"name": "pipelines", "id": 2000102}],
        }
        hedy = json.loads(self.userinfo(self.tokens_for(CAROL)["access_token"]).body)
        assert "eppn" not in hedy
        assert hedy["oidc"] == "7000003"
        assert hedy["idp_name"] == "GitHub"

    def test_userinfo_refuses_missing_bad_and_expired_tokens(self):
        missing = self.get("/oauth2/userinfo")
        self.assert_oauth_error(missing, 401, "invalid_request")
        self.assert_oauth_error(self.userinfo("nope"), 401, "invalid_token")
        token = self.tokens_for()["access_token"]
        self.clock.now += ACCESS_TOKEN_TTL
        expired = self.userinfo(token)
        self.assert_oauth_error(expired, 401, "invalid_token")
        assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]

    def test_revoked_tokens_stop_working(self):
        tokens = self.tokens_for()
        form = {"token": tokens["access_token"]}
        assert self.post("/oauth2/revoke", form, headers=basic(CLIENT_ID, "s3cret")).code == 200
        self.assert_oauth_error(self.userinfo(tokens["access_token"]), 401, "invalid_token")

    def test_unknown_paths_are_json_404s(self):
        self.assert_oauth_error(self.get("/nope"), 404, "not_found")


class TestDiscovery(CILogonCase):
    def test_discovery_puts_the_browser_on_the_issuer_and_the_hub_inside(self):
        doc = json.loads(self.get("/.well-known/openid-configuration").body)
        assert doc["issuer"] == PUBLIC
        assert doc["authorization_endpoint"] == f"{PUBLIC}/authorize"
        assert doc["token_endpoint"] == f"{INTERNAL}/oauth2/token"
        assert doc["userinfo_endpoint"] == f"{INTERNAL}/oauth2/userinfo"
        assert doc["jwks_uri"] == f"{INTERNAL}/oauth2/certs"
        assert doc["scopes_supported"] == ["openid", "email", "profile", "org.cilogon.userinfo"]
        assert doc["response_types_supported"] == ["code"]
        assert doc["grant_types_supported"] == ["authorization_code", "refresh_token"]
        assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
        assert doc["code_challenge_methods_supported"] == ["S256"]
        assert set(doc["token_endpoint_auth_methods_supported"]) == {
            "client_secret_basic",
            "client_secret_post",
        }

    def test_jwks_holds_the_signing_key(self):
        (key,) = json.loads(self.get("/oauth2/certs").body)["keys"]
        assert (key["kid"], key["use"], key["alg"]) == (KEY.kid, "sig", "RS256")
        assert "d" not in key


class TestOddUsers(CILogonCase):
    def identities(self) -> MockCILogon:
        return MockCILogon.model_validate(
            {
                "idps": {UNI: "Example University"},
                "users": [
                    {
                        "sub": "odd",
                        "idp": UNI,
                        "username": "odd",
                        "isMemberOf": [{"name": "nogid"}],
                    }
                ],
            }
        )

    def test_userinfo_leaves_out_what_the_user_lacks(self):
        info = json.loads(self.userinfo(self.tokens_for("odd")["access_token"]).body)
        assert info == {
            "sub": "odd",
            "iss": PUBLIC,
            "aud": CLIENT_ID,
            "idp": UNI,
            "idp_name": "Example University",
            "username": "odd",
            "isMemberOf": [{"name": "nogid"}],
        }


# -- end to end with the real CILogonOAuthenticator --------------------------------------


class _HubLogin(OAuth2Mixin, RequestHandler):
    """What CILogonLoginHandler does, minus the JupyterHub base handler."""

    def initialize(self, authenticator: CILogonOAuthenticator) -> None:
        self.authenticator = authenticator
        self._OAUTH_AUTHORIZE_URL = authenticator.authorize_url

    def get(self) -> None:
        verifier, challenge = OAuthLoginHandler._generate_pkce_params(self)  # type: ignore[arg-type]
        state_id = uuid.uuid4().hex
        self.set_cookie(
            STATE_COOKIE_NAME,
            _serialize_state({"state_id": state_id, "next_url": None, "code_verifier": verifier}),
        )
        self.authorize_redirect(
            redirect_uri=self.authenticator.get_callback_url(None),
            client_id=self.authenticator.client_id,
            scope=self.authenticator.scope,
            extra_params={
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": _serialize_state({"state_id": state_id}),
                "selected_idp": _get_select_idp_param(self.authenticator.idps),
                "skin": "devlab",
            },
            response_type="code",
        )


class _HubCallback(RequestHandler):
    def initialize(self, authenticator: CILogonOAuthenticator) -> None:
        self.authenticator = authenticator

    def get_state_cookie(self) -> str:
        return self.get_cookie(STATE_COOKIE_NAME) or ""

    async def get(self) -> None:
        user = await self.authenticator.get_authenticated_user(self, None)
        if user is None:
            self.set_status(403)
            self.finish({"denied": True})
            return
        self.finish({"name": user["name"], "auth_state": user["auth_state"]})


class TestRealCILogonOAuthenticator(CILogonCase):
    def setUp(self) -> None:
        super().setUp()
        self.authenticator = CILogonOAuthenticator(
            client_id=CLIENT_ID,
            client_secret="s3cret",
            oauth_callback_url=self.redirect_uri,
            authorize_url=self.get_url("/authorize"),
            token_url=self.get_url("/oauth2/token"),
            userdata_url=self.get_url("/oauth2/userinfo"),
            idps={
                UNI: {"username_derivation": {"username_claim": "username"}, "allow_all": True},
                GITHUB_IDP: {"username_derivation": {"username_claim": "username"}},
            },
        )
        hub = Application(
            [
                (r"/hub/oauth_login", _HubLogin, {"authenticator": self.authenticator}),
                (r"/hub/oauth_callback", _HubCallback, {"authenticator": self.authenticator}),
            ]
        )
        self.hub_server = HTTPServer(hub)
        self.hub_server.add_sockets([self.hub_socket])

    def tearDown(self) -> None:
        self.hub_server.stop()
        super().tearDown()

    def log_in(self, sub: str) -> HTTPResponse:
        """A browser: hub login, mock authorize (with sub=), back to the hub's callback."""
        hub = f"http://127.0.0.1:{self.hub_port}"
        start = self.fetch(f"{hub}/hub/oauth_login", follow_redirects=False)
        assert start.code == 302
        cookie = start.headers["Set-Cookie"].split(";")[0]
        authorize = start.headers["Location"]
        assert authorize.startswith(self.get_url("/authorize?"))
        back = self.fetch(f"{authorize}&{urlencode({'sub': sub})}", follow_redirects=False)
        assert back.code == 302, back.body
        callback = back.headers["Location"]
        assert callback.startswith(self.redirect_uri)
        return self.fetch(callback, headers={"Cookie": cookie}, follow_redirects=False)

    def test_institution_user_logs_in_with_the_unix_claims_in_auth_state(self):
        response = self.log_in(ALICE)
        assert response.code == 200, response.body
        user = json.loads(response.body)
        assert user["name"] == "ada"
        state = user["auth_state"]
        assert state["cilogon_user"]["uidNumber"] == 3000001
        assert state["cilogon_user"]["isMemberOf"][0] == {"name": "astro", "id": 2000101}
        assert state["token_response"]["token_type"] == "Bearer"
        jwks = json.loads(self.get("/oauth2/certs").body)
        claims = verify_id_token(state["id_token"], jwks, issuer=PUBLIC, audience=CLIENT_ID)
        assert claims["sub"] == ALICE

    def test_github_idp_user_without_allow_rules_is_refused(self):
        assert self.log_in(CAROL).code == 403
