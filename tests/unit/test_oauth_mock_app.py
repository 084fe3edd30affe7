"""The mock provider over real HTTP on 127.0.0.1, including the real GitHubOAuthenticator."""

from __future__ import annotations

import base64
import json
import uuid
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from oauthenticator.github import GitHubOAuthenticator
from oauthenticator.oauth2 import STATE_COOKIE_NAME, OAuthLoginHandler, _serialize_state
from requests.utils import parse_header_links
from tornado.auth import OAuth2Mixin
from tornado.httpclient import HTTPResponse
from tornado.httpserver import HTTPServer
from tornado.testing import AsyncHTTPTestCase, bind_unused_port
from tornado.web import Application, RequestHandler

from devlab.config import MockGitHub, MockOrg, MockUser, load_config
from devlab.oauth2.core import pkce_s256
from devlab.oauth2.web import hub_base
from devlab.oauth_mock import MockGitHubStore, RegisteredClient, make_app
from devlab.oauth_mock.__main__ import parse_args, registered_clients
from devlab.platform import DEFAULT_CONFIG as CONFIG

VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
JSON_ACCEPT = {"Accept": "application/json"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Page(HTMLParser):
    """The elements, text and hidden fields of a page, as a browser would read them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.hidden: dict[str, str] = {}
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        fields = dict(attrs)
        if tag == "input" and fields.get("type") == "hidden":
            self.hidden[fields["name"] or ""] = fields["value"] or ""

    def handle_data(self, data: str) -> None:
        self.text += data


def parse_page(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


class MockCase(AsyncHTTPTestCase):
    """Serves the mock; a second port is reserved for the hub the mock redirects to."""

    def identities(self) -> MockGitHub:
        return load_config(CONFIG).mock_github

    def setUp(self) -> None:
        self.hub_socket, self.hub_port = bind_unused_port()
        self.redirect_uri = f"http://127.0.0.1:{self.hub_port}/hub/oauth_callback"
        self.clock = Clock()
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        self.hub_socket.close()

    def get_app(self) -> Application:
        client = RegisteredClient("devlab-hub", "s3cret", self.redirect_uri)
        self.store = MockGitHubStore(self.identities(), client, clock=self.clock)
        return make_app(self.store, public_url="http://localhost:8090")

    # -- helpers -----------------------------------------------------------------------

    def get(self, path: str, **kwargs: Any) -> HTTPResponse:
        return self.fetch(path, follow_redirects=False, **kwargs)

    def post(self, path: str, body: dict[str, str] | str, **kwargs: Any) -> HTTPResponse:
        data = body if isinstance(body, str) else urlencode(body)
        return self.fetch(path, method="POST", body=data, follow_redirects=False, **kwargs)

    def authorize_path(self, **params: str) -> str:
        base = {"client_id": "devlab-hub", "redirect_uri": self.redirect_uri, "state": "st-1"}
        return "/login/oauth/authorize?" + urlencode({**base, **params})

    def code_for(self, login: str = "alice", **params: str) -> str:
        response = self.get(self.authorize_path(login=login, **params))
        assert response.code == 302, response.body
        return parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]

    def token_request(self, code: str, **overrides: str) -> dict[str, str]:
        return {
            "code": code,
            "client_id": "devlab-hub",
            "client_secret": "s3cret",
            "redirect_uri": self.redirect_uri,
            "grant_type": "authorization_code",
            **overrides,
        }

    def exchange(self, code: str, **overrides: str) -> HTTPResponse:
        return self.post(
            "/login/oauth/access_token", self.token_request(code, **overrides), headers=JSON_ACCEPT
        )

    def token_for(self, login: str = "alice") -> str:
        response = self.exchange(self.code_for(login))
        assert response.code == 200, response.body
        return json.loads(response.body)["access_token"]

    def api(self, path: str, login: str = "alice", scheme: str = "token") -> HTTPResponse:
        token = self.token_for(login)
        return self.get(path, headers={"Authorization": f"{scheme} {token}"})

    def assert_oauth_error(self, response: HTTPResponse, status: int, error: str) -> None:
        assert response.code == status, response.body
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        body = json.loads(response.body)
        assert body["error"] == error, body
        assert body["error_description"]


class TestHealthAndAuthorize(MockCase):
    def test_healthz(self):
        response = self.get("/healthz")
        assert response.code == 200
        assert response.body.strip() == b"ok"

    def test_login_page_lists_users_and_warns_it_is_a_mock(self):
        response = self.get(self.authorize_path(scope="read:org user:email"))
        assert response.code == 200
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        page = response.body.decode()
        assert "not an identity provider" in page
        for text in ("alice", "Alice Liddell", "devlab-devs, rubin-sci", "bob", "carol"):
            assert text in page
        assert 'name="state" value="st-1"' in page
        assert 'action="authorize/approve"' in page

    def test_login_page_escapes_request_values(self):
        state = '"><script>x</script>'
        page = parse_page(self.get(self.authorize_path(state=state)).body.decode())
        assert "script" not in page.tags
        assert page.hidden["state"] == state

    def test_unknown_client_gets_an_error_page_not_a_redirect(self):
        response = self.get(self.authorize_path(client_id="other"))
        assert response.code == 400
        assert "Location" not in response.headers
        assert "invalid_client" in response.body.decode()

    def test_unregistered_redirect_uri_gets_an_error_page_not_a_redirect(self):
        response = self.get(self.authorize_path(redirect_uri="http://evil.example/cb", login="a"))
        assert response.code == 400
        assert "Location" not in response.headers
        assert "evil.example" in response.body.decode()

    def test_login_parameter_approves_at_once(self):
        response = self.get(self.authorize_path(login="alice"))
        assert response.code == 302
        location = urlsplit(response.headers["Location"])
        assert location._replace(query="").geturl() == self.redirect_uri
        query = parse_qs(location.query)
        assert query["state"] == ["st-1"]
        assert len(query["code"][0]) == 20

    def test_unknown_login_gets_a_page_naming_the_users(self):
        response = self.get(self.authorize_path(login="mallory"))
        assert response.code == 400
        assert "Location" not in response.headers
        page = response.body.decode()
        assert "mallory" in page
        assert "alice, bob, carol" in page

    def test_later_errors_are_redirected_to_the_client_with_state(self):
        response = self.get(self.authorize_path(response_type="token"))
        assert response.code == 302
        query = parse_qs(urlsplit(response.headers["Location"]).query)
        assert query["error"] == ["unauthorized_client"]
        assert query["state"] == ["st-1"]

    def test_form_post_approves_the_chosen_user(self):
        form = {"client_id": "devlab-hub", "redirect_uri": self.redirect_uri, "state": "s"}
        response = self.post("/login/oauth/authorize/approve", {**form, "login": "bob"})
        assert response.code == 302
        code = parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]
        token = json.loads(self.exchange(code).body)["access_token"]
        user = self.get("/user", headers={"Authorization": f"token {token}"})
        assert json.loads(user.body)["login"] == "bob"

    def test_form_post_cancel_reports_access_denied(self):
        form = {"client_id": "devlab-hub", "redirect_uri": self.redirect_uri, "state": "s"}
        response = self.post("/login/oauth/authorize/approve", {**form, "deny": "1"})
        assert response.code == 302
        query = parse_qs(urlsplit(response.headers["Location"]).query)
        assert query["error"] == ["access_denied"]
        assert query["state"] == ["s"]

    def test_form_post_revalidates_the_redirect_uri(self):
        form = {"client_id": "devlab-hub", "redirect_uri": "http://evil.example/", "login": "bob"}
        response = self.post("/login/oauth/authorize/approve", form)
        assert response.code == 400
        assert "Location" not in response.headers

    def test_form_post_without_a_user_is_refused(self):
        form = {"client_id": "devlab-hub", "redirect_uri": self.redirect_uri}
        assert self.post("/login/oauth/authorize/approve", form).code == 400


class TestAccessToken(MockCase):
    def test_json_answer_when_json_is_accepted(self):
        code = self.code_for(scope="read:org user:email")
        response = self.exchange(code)
        assert response.code == 200
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        assert response.headers["Cache-Control"] == "no-store"
        body = json.loads(response.body)
        assert body["token_type"] == "bearer"
        assert body["scope"] == "read:org,user:email"
        assert body["access_token"].startswith("gho_")

    def test_form_encoded_answer_otherwise(self):
        response = self.post("/login/oauth/access_token", self.token_request(self.code_for()))
        assert response.code == 200
        assert response.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
        body = parse_qs(response.body.decode(), keep_blank_values=True)
        assert body["token_type"] == ["bearer"]
        assert body["access_token"][0].startswith("gho_")

    def test_form_encoded_errors_otherwise(self):
        response = self.post("/login/oauth/access_token", self.token_request("nope"))
        assert response.code == 400
        assert parse_qs(response.body.decode())["error"] == ["invalid_grant"]

    def test_json_request_body(self):
        body = json.dumps(self.token_request(self.code_for()))
        headers = {**JSON_ACCEPT, "Content-Type": "application/json"}
        response = self.post("/login/oauth/access_token", body, headers=headers)
        assert response.code == 200
        assert "access_token" in json.loads(response.body)

    def test_malformed_json_request_body(self):
        headers = {**JSON_ACCEPT, "Content-Type": "application/json"}
        response = self.post("/login/oauth/access_token", "{not json", headers=headers)
        self.assert_oauth_error(response, 400, "invalid_request")

    def test_client_credentials_by_basic_auth(self):
        params = self.token_request(self.code_for())
        del params["client_id"], params["client_secret"]
        basic = base64.b64encode(b"devlab-hub:s3cret").decode()
        headers = {**JSON_ACCEPT, "Authorization": f"Basic {basic}"}
        response = self.post("/login/oauth/access_token", params, headers=headers)
        assert response.code == 200, response.body

    def test_wrong_secret_by_basic_auth(self):
        basic = base64.b64encode(b"devlab-hub:guess").decode()
        headers = {**JSON_ACCEPT, "Authorization": f"Basic {basic}"}
        params = {"code": self.code_for(), "redirect_uri": self.redirect_uri}
        response = self.post("/login/oauth/access_token", params, headers=headers)
        self.assert_oauth_error(response, 401, "invalid_client")

    def test_unknown_client_id(self):
        self.assert_oauth_error(
            self.exchange(self.code_for(), client_id="x"), 401, "invalid_client"
        )

    def test_wrong_client_secret(self):
        response = self.exchange(self.code_for(), client_secret="guess")
        self.assert_oauth_error(response, 401, "invalid_client")

    def test_wrong_redirect_uri(self):
        response = self.exchange(self.code_for(), redirect_uri="http://127.0.0.1:1/cb")
        self.assert_oauth_error(response, 400, "invalid_grant")

    def test_unknown_code(self):
        self.assert_oauth_error(self.exchange("0" * 20), 400, "invalid_grant")

    def test_expired_code(self):
        code = self.code_for()
        self.clock.now += 61
        self.assert_oauth_error(self.exchange(code), 400, "invalid_grant")

    def test_reused_code(self):
        code = self.code_for()
        assert self.exchange(code).code == 200
        self.assert_oauth_error(self.exchange(code), 400, "invalid_grant")

    def test_pkce_round_trip(self):
        code = self.code_for(code_challenge=pkce_s256(VERIFIER), code_challenge_method="S256")
        assert self.exchange(code, code_verifier=VERIFIER).code == 200

    def test_pkce_mismatch(self):
        code = self.code_for(code_challenge=pkce_s256(VERIFIER), code_challenge_method="S256")
        self.assert_oauth_error(self.exchange(code, code_verifier="z" * 43), 400, "invalid_grant")

    def test_pkce_verifier_missing(self):
        code = self.code_for(code_challenge=pkce_s256(VERIFIER), code_challenge_method="S256")
        self.assert_oauth_error(self.exchange(code), 400, "invalid_request")

    def test_unsupported_grant_type(self):
        response = self.exchange(self.code_for(), grant_type="refresh_token")
        self.assert_oauth_error(response, 400, "unsupported_grant_type")


class TestApi(MockCase):
    def test_user(self):
        response = self.api("/user")
        assert response.code == 200
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        user = json.loads(response.body)
        assert user["login"] == "alice"
        assert user["id"] == 7000001
        assert user["name"] == "Alice Liddell"
        assert user["email"] == "alice@example.org"
        assert user["type"] == "User"
        assert user["node_id"] == base64.b64encode(b"04:User7000001").decode()
        assert user["html_url"] == "http://localhost:8090/alice"

    def test_bearer_scheme_and_enterprise_prefix(self):
        response = self.api("/api/v3/user", login="bob", scheme="Bearer")
        assert response.code == 200
        assert json.loads(response.body)["login"] == "bob"

    def test_missing_credentials(self):
        response = self.get("/user")
        assert response.code == 401
        assert json.loads(response.body)["message"] == "Requires authentication"

    def test_bad_credentials(self):
        for header in ("token gho_nope", "Bearer gho_nope", "Basic abc", "token"):
            response = self.get("/user/orgs", headers={"Authorization": header})
            assert response.code == 401, header
            body = json.loads(response.body)
            assert body["message"] == "Bad credentials"
            assert body["documentation_url"]

    def test_revoked_token_is_rejected(self):
        code = self.code_for()
        token = json.loads(self.exchange(code).body)["access_token"]
        self.exchange(code)  # replaying the code revokes the token
        assert self.get("/user", headers={"Authorization": f"token {token}"}).code == 401

    def test_emails(self):
        emails = json.loads(self.api("/user/emails").body)
        assert emails == [
            {
                "email": "alice@example.org",
                "primary": True,
                "verified": True,
                "visibility": "private",
            }
        ]

    def test_orgs(self):
        orgs = json.loads(self.api("/user/orgs").body)
        assert [(o["login"], o["id"]) for o in orgs] == [
            ("devlab-devs", 8000001),
            ("rubin-sci", 8000002),
        ]
        assert orgs[0]["url"] == self.get_url("/orgs/devlab-devs")
        assert json.loads(self.api("/user/orgs", login="carol").body) == []

    def test_teams(self):
        teams = json.loads(self.api("/user/teams").body)
        assert len(teams) == 1
        team = teams[0]
        assert (team["slug"], team["id"], team["name"]) == ("pipelines", 9000001, "Pipelines")
        assert team["organization"]["login"] == "rubin-sci"
        assert team["organization"]["id"] == 8000002
        assert json.loads(self.api("/user/teams", login="bob").body) == []

    def test_org_membership(self):
        assert self.api("/orgs/rubin-sci/members/bob").code == 204
        assert self.api("/orgs/rubin-sci/members/carol").code == 404
        assert self.api("/orgs/rubin-sci/members/nobody").code == 404
        response = self.api("/orgs/no-such-org/members/alice")
        assert response.code == 404
        assert json.loads(response.body)["message"] == "Not Found"

    def test_team_membership(self):
        assert self.api("/orgs/rubin-sci/teams/pipelines/members/alice").code == 204
        assert self.api("/orgs/rubin-sci/teams/pipelines/members/bob").code == 404
        assert self.api("/orgs/rubin-sci/teams/nope/members/alice").code == 404

    def test_membership_needs_a_token(self):
        assert self.get("/orgs/rubin-sci/members/bob").code == 401

    def test_unknown_paths_are_json_404s(self):
        response = self.get("/nope")
        assert response.code == 404
        assert json.loads(response.body)["message"] == "Not Found"

    def test_single_page_has_no_link_header(self):
        assert "Link" not in self.api("/user/orgs").headers


class TestPageEscaping(MockCase):
    """A display name is whatever its owner typed on GitHub: text on the page, never markup."""

    NAME = '<script>alert("x")</script> Eve'

    def identities(self) -> MockGitHub:
        return MockGitHub(users=(MockUser(login="eve", id=7000010, name=self.NAME),))

    def test_login_page_escapes_a_users_display_name(self):
        page = parse_page(self.get(self.authorize_path()).body.decode())
        assert "script" not in page.tags
        assert f"eve {self.NAME}" in page.text


class TestPagination(MockCase):
    def identities(self) -> MockGitHub:
        orgs = tuple(MockOrg(login=f"org-{n}", id=8000100 + n) for n in range(1, 8))
        user = MockUser(login="dana", id=7000009, orgs=tuple(o.login for o in orgs))
        return MockGitHub(orgs=orgs, users=(user,))

    def page(self, query: str) -> tuple[list[str], dict[str, str]]:
        response = self.api(f"/user/orgs?{query}", login="dana")
        assert response.code == 200
        links = parse_header_links(response.headers.get("Link", ""))
        return [o["login"] for o in json.loads(response.body)], {
            link["rel"]: link["url"] for link in links
        }

    def test_first_page_links_next_and_last(self):
        logins, links = self.page("per_page=3")
        assert logins == ["org-1", "org-2", "org-3"]
        assert set(links) == {"next", "last"}
        assert links["next"] == self.get_url("/user/orgs?per_page=3&page=2")
        assert links["last"] == self.get_url("/user/orgs?per_page=3&page=3")

    def test_middle_page_links_every_way(self):
        logins, links = self.page("per_page=3&page=2")
        assert logins == ["org-4", "org-5", "org-6"]
        assert set(links) == {"prev", "next", "last", "first"}
        assert links["prev"].endswith("page=1")
        assert links["first"].endswith("page=1")

    def test_last_page_links_back_only(self):
        logins, links = self.page("per_page=3&page=3")
        assert logins == ["org-7"]
        assert set(links) == {"prev", "first"}

    def test_following_next_collects_everything(self):
        logins, links = self.page("per_page=2")
        while "next" in links:
            more, links = self.page(urlsplit(links["next"]).query)
            logins += more
        assert logins == [f"org-{n}" for n in range(1, 8)]

    def test_default_page_size_is_30_and_max_100(self):
        assert len(self.page("")[0]) == 7
        assert len(self.page("per_page=1000")[0]) == 7

    def test_user_without_name_or_email(self):
        user = json.loads(self.api("/user", login="dana").body)
        assert user["name"] is None
        assert user["email"] is None
        assert json.loads(self.api("/user/emails", login="dana").body) == []


# -- the GitHub-link service's app, registered beside the hub's ----------------------------


class LinkCase(MockCase):
    """The mock with the hub's login app and the GitHub-link service's app."""

    def get_app(self) -> Application:
        hub = RegisteredClient("devlab-hub", "s3cret", self.redirect_uri)
        # Another host name for the hub than the login app's, so a page shows whose
        # callback it took the hub's address from.
        self.link_redirect = f"http://localhost:{self.hub_port}/services/github-link/oauth_callback"
        link = RegisteredClient("github-link", "l1nk", self.link_redirect)
        self.store = MockGitHubStore(self.identities(), hub, link, clock=self.clock)
        return make_app(self.store, public_url="http://localhost:8090")

    def link_params(self, **params: str) -> dict[str, str]:
        return {"client_id": "github-link", "redirect_uri": self.link_redirect, **params}

    def link_exchange(self, code: str, **overrides: str) -> HTTPResponse:
        return self.exchange(
            code,
            **{
                "client_id": "github-link",
                "client_secret": "l1nk",
                "redirect_uri": self.link_redirect,
                **overrides,
            },
        )

    def link_token_for(self, login: str = "alice") -> str:
        response = self.link_exchange(self.code_for(login, **self.link_params()))
        assert response.code == 200, response.body
        return json.loads(response.body)["access_token"]

    def user_status(self, token: str) -> int:
        return self.get("/user", headers={"Authorization": f"token {token}"}).code

    def app_call(
        self,
        method: str,
        token: str | None,
        client_id: str = "github-link",
        credentials: str | None = "github-link:l1nk",
        prefix: str = "",
        body: str | None = None,
    ) -> HTTPResponse:
        headers = {"Content-Type": "application/json", "Accept": "application/vnd.github+json"}
        if credentials is not None:
            headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
        if body is None:
            body = json.dumps({} if token is None else {"access_token": token})
        return self.fetch(
            f"{prefix}/applications/{client_id}/token",
            method=method,
            body=body,
            headers=headers,
            allow_nonstandard_methods=True,
        )

    def assert_message(self, response: HTTPResponse, status: int, message: str) -> None:
        assert response.code == status, response.body
        body = json.loads(response.body)
        assert body["message"] == message, body
        assert body["documentation_url"]


@pytest.mark.parametrize(
    ("redirect_uri", "hub"),
    [
        ("http://h:8000/hub/oauth_callback", "http://h:8000/hub/"),
        ("http://h:8000/jh/services/github-link/oauth_callback", "http://h:8000/jh/hub/"),
        ("http://services/services/x/cb", "http://services/hub/"),
        ("http://h/elsewhere/callback", None),
    ],
)
def test_hub_base_from_the_hubs_or_a_services_callback(redirect_uri, hub):
    assert hub_base(redirect_uri) == hub


class TestLinkAppFlow(LinkCase):
    def test_authorize_page_names_the_link_app_in_the_hubs_look(self):
        response = self.get(self.authorize_path(**self.link_params(scope="repo")))
        assert response.code == 200
        page = response.body.decode()
        hub = f"http://localhost:{self.hub_port}"
        assert "<code>github-link</code>" in page
        assert f'href="{hub}/hub/static/css/style.min.css"' in page
        assert hub in response.headers["Content-Security-Policy"]
        assert parse_page(page).hidden["redirect_uri"] == self.link_redirect

    def test_form_post_sends_the_code_to_the_link_apps_callback(self):
        form = self.link_params(state="s", login="bob")
        response = self.post("/login/oauth/authorize/approve", form)
        assert response.code == 302
        location = urlsplit(response.headers["Location"])
        assert location._replace(query="").geturl() == self.link_redirect

    def test_pkce_s256_round_trip_gives_a_token_for_the_api(self):
        challenge = {"code_challenge": pkce_s256(VERIFIER), "code_challenge_method": "S256"}
        code = self.code_for("bob", **self.link_params(scope="repo", **challenge))
        assert self.link_exchange(code, code_verifier="z" * 43).code == 400
        code = self.code_for("bob", **self.link_params(scope="repo", **challenge))
        response = self.link_exchange(code, code_verifier=VERIFIER)
        assert response.code == 200, response.body
        body = json.loads(response.body)
        assert body["scope"] == "repo"
        user = self.get("/user", headers={"Authorization": f"token {body['access_token']}"})
        assert json.loads(user.body)["login"] == "bob"

    def test_the_hub_apps_code_is_refused_to_the_link_app(self):
        response = self.link_exchange(self.code_for(), redirect_uri=self.redirect_uri)
        self.assert_oauth_error(response, 400, "invalid_grant")

    def test_the_link_app_cannot_use_the_hubs_callback(self):
        path = self.authorize_path(**self.link_params(redirect_uri=self.redirect_uri))
        response = self.get(path + "&login=alice")
        assert response.code == 400
        assert "Location" not in response.headers

    def test_the_link_apps_secret_is_its_own(self):
        code = self.code_for(**self.link_params())
        response = self.link_exchange(code, client_secret="s3cret")
        self.assert_oauth_error(response, 401, "invalid_client")


class TestAppTokenEndpoints(LinkCase):
    def test_check_a_live_token(self):
        token = self.link_token_for("alice")
        for prefix in ("", "/api/v3"):
            response = self.app_call("POST", token, prefix=prefix)
            assert response.code == 200, response.body
            body = json.loads(response.body)
            assert body["token"] == token
            assert body["token_last_eight"] == token[-8:]
            assert body["scopes"] == []
            assert body["app"] == {"client_id": "github-link"}
            assert (body["user"]["login"], body["user"]["id"]) == ("alice", 7000001)

    def test_delete_kills_the_token(self):
        token = self.link_token_for()
        assert self.user_status(token) == 200
        response = self.app_call("DELETE", token)
        assert response.code == 204, response.body
        assert response.body == b""
        self.assert_message(
            self.get("/user", headers={"Authorization": f"token {token}"}), 401, "Bad credentials"
        )
        self.assert_message(self.app_call("POST", token), 404, "Not Found")
        self.assert_message(self.app_call("DELETE", token), 404, "Not Found")

    def test_delete_under_the_enterprise_prefix(self):
        token = self.link_token_for()
        assert self.app_call("DELETE", token, prefix="/api/v3").code == 204
        assert self.user_status(token) == 401

    def test_another_apps_token_is_not_found_and_stays_alive(self):
        hub_token = self.token_for()
        self.assert_message(self.app_call("POST", hub_token), 404, "Not Found")
        self.assert_message(self.app_call("DELETE", hub_token), 404, "Not Found")
        assert self.user_status(hub_token) == 200

    def test_unknown_token_is_not_found(self):
        self.assert_message(self.app_call("POST", "gho_unknown"), 404, "Not Found")

    def test_wrong_app_credentials_are_bad_credentials(self):
        token = self.link_token_for()
        for credentials in ("github-link:guess", "devlab-hub:s3cret", "github-link"):
            response = self.app_call("DELETE", token, credentials=credentials)
            self.assert_message(response, 401, "Bad credentials")
        response = self.app_call("POST", token, client_id="other", credentials="other:l1nk")
        self.assert_message(response, 401, "Bad credentials")
        assert self.user_status(token) == 200

    def test_user_tokens_do_not_open_app_endpoints(self):
        token = self.link_token_for()
        response = self.fetch(
            "/applications/github-link/token",
            method="DELETE",
            body=json.dumps({"access_token": token}),
            headers={"Authorization": f"token {token}"},
            allow_nonstandard_methods=True,
        )
        self.assert_message(response, 401, "Bad credentials")
        response = self.app_call("POST", token, credentials=None)
        self.assert_message(response, 401, "Requires authentication")
        assert self.user_status(token) == 200

    def test_a_body_without_access_token_is_unprocessable(self):
        for body in ("{}", '{"access_token": ""}', '{"access_token": 5}', "[]"):
            response = self.app_call("DELETE", None, body=body)
            assert response.code == 422, body
            assert "access_token" in json.loads(response.body)["message"]

    def test_a_body_that_is_not_json(self):
        self.assert_message(self.app_call("POST", None, body="{no"), 400, "Problems parsing JSON")


class TestUserRevokesAccess(LinkCase):
    def revoke(self, client_id: str, form: dict[str, str]) -> HTTPResponse:
        return self.post(f"/settings/connections/applications/{client_id}", form)

    def test_revoke_kills_the_users_tokens_for_that_app_only(self):
        linked = self.link_token_for("alice")
        hub_token = self.token_for("alice")
        bobs = self.link_token_for("bob")
        response = self.revoke("github-link", {"login": "alice"})
        assert response.code == 204, response.body
        assert self.user_status(linked) == 401
        self.assert_message(self.app_call("POST", linked), 404, "Not Found")
        assert self.user_status(hub_token) == 200
        assert self.user_status(bobs) == 200

    def test_unknown_app_is_not_found(self):
        self.assert_message(self.revoke("other", {"login": "alice"}), 404, "Not Found")

    def test_unknown_user_is_not_found_naming_the_users(self):
        response = self.revoke("github-link", {"login": "mallory"})
        assert response.code == 404
        assert "alice, bob, carol" in json.loads(response.body)["message"]

    def test_missing_login_is_unprocessable(self):
        assert self.revoke("github-link", {}).code == 422


# -- python -m devlab.oauth_mock ----------------------------------------------------------


HUB_ARGS = ["--config", "c.yaml", "--client-id", "devlab-hub", "--redirect-uri", "http://h/cb"]


def test_the_link_app_is_registered_second_with_its_secret(tmp_path: Path):
    (tmp_path / "hub").write_text("s3cret\n")
    (tmp_path / "link").write_text("l1nk\n")
    args = parse_args(
        [
            *HUB_ARGS,
            "--client-secret-file",
            str(tmp_path / "hub"),
            "--link-client-id",
            "github-link",
            "--link-client-secret-file",
            str(tmp_path / "link"),
            "--link-redirect-uri",
            "http://h/services/github-link/oauth_callback",
        ]
    )
    assert registered_clients(args) == [
        RegisteredClient("devlab-hub", "s3cret", "http://h/cb"),
        RegisteredClient("github-link", "l1nk", "http://h/services/github-link/oauth_callback"),
    ]


def test_without_link_options_only_the_hub_app_is_registered(tmp_path: Path):
    (tmp_path / "hub").write_text("s3cret")
    args = parse_args([*HUB_ARGS, "--client-secret-file", str(tmp_path / "hub")])
    assert [c.client_id for c in registered_clients(args)] == ["devlab-hub"]


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--link-client-id", "gl"], "missing: --link-client-secret-file, --link-redirect-uri"),
        (
            ["--link-redirect-uri", "http://h/x"],
            "missing: --link-client-id, --link-client-secret-file",
        ),
        (
            [
                "--link-client-id",
                "devlab-hub",
                "--link-client-secret-file",
                "s",
                "--link-redirect-uri",
                "http://h/x",
            ],
            "is the hub's --client-id",
        ),
    ],
)
def test_link_options_are_all_or_none_and_a_client_id_of_its_own(extra, words, capsys):
    with pytest.raises(SystemExit) as exited:
        parse_args([*HUB_ARGS, "--client-secret-file", "s", *extra])
    assert exited.value.code == 2
    assert words in capsys.readouterr().err


# -- end to end with the real GitHubOAuthenticator ---------------------------------------


class _HubLogin(OAuth2Mixin, RequestHandler):
    """What JupyterHub's OAuthLoginHandler does, minus the JupyterHub base handler."""

    def initialize(self, authenticator: GitHubOAuthenticator) -> None:
        self.authenticator = authenticator
        self._OAUTH_AUTHORIZE_URL = authenticator.authorize_url

    def get(self) -> None:
        # OAuthLoginHandler's own PKCE generator; it does not use the handler it is bound to.
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
            },
            response_type="code",
        )


class _HubCallback(RequestHandler):
    """What OAuthCallbackHandler does: hand the request to the authenticator."""

    def initialize(self, authenticator: GitHubOAuthenticator) -> None:
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


class TestRealGitHubOAuthenticator(MockCase):
    def setUp(self) -> None:
        super().setUp()
        self.authenticator = GitHubOAuthenticator(
            client_id="devlab-hub",
            client_secret="s3cret",
            oauth_callback_url=self.redirect_uri,
            authorize_url=self.get_url("/login/oauth/authorize"),
            token_url=self.get_url("/login/oauth/access_token"),
            userdata_url=self.get_url("/api/v3/user"),
            github_api=self.get_url("/api/v3"),
            scope=["read:org"],
            allowed_organizations={"rubin-sci:pipelines", "devlab-devs"},
            populate_teams_in_auth_state=True,
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

    def log_in(self, login: str) -> HTTPResponse:
        """A browser: hub login, mock authorize (with login=), back to the hub's callback."""
        hub = f"http://127.0.0.1:{self.hub_port}"
        start = self.fetch(f"{hub}/hub/oauth_login", follow_redirects=False)
        assert start.code == 302
        cookie = start.headers["Set-Cookie"].split(";")[0]
        authorize = start.headers["Location"]
        assert authorize.startswith(self.get_url("/login/oauth/authorize?"))
        back = self.fetch(f"{authorize}&login={login}", follow_redirects=False)
        assert back.code == 302, back.body
        callback = back.headers["Location"]
        assert callback.startswith(self.redirect_uri)
        return self.fetch(callback, headers={"Cookie": cookie}, follow_redirects=False)

    def test_team_member_logs_in_with_pkce_and_teams_in_auth_state(self):
        response = self.log_in("alice")
        assert response.code == 200, response.body
        user = json.loads(response.body)
        assert user["name"] == "alice"
        state = user["auth_state"]
        assert state["github_user"]["id"] == 7000001
        assert state["token_response"]["token_type"] == "bearer"
        assert state["scope"] == ["read:org"]
        assert [t["slug"] for t in state["teams"]] == ["pipelines"]

    def test_non_member_is_refused_by_the_org_and_team_checks(self):
        assert self.log_in("bob").code == 403
