"""Refused OAuth codes: the page the person gets, and what the hub may log."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from tornado import web
from tornado.testing import AsyncHTTPTestCase, bind_unused_port, gen_test

from devlab.config import load_config
from devlab.hub.authenticators import DevlabGitHubOAuthenticator
from devlab.hub.oauth_callback import scrub_oauth_params, token_refusal
from devlab.oauth_mock import MockGitHubStore, RegisteredClient, make_app
from devlab.oauth_mock.store import DEFAULT_CODE_TTL
from devlab.platform import DEFAULT_CONFIG

CALLBACK = "http://127.0.0.1:8000/hub/oauth_callback"


def test_scrub_hides_code_and_state_and_keeps_the_rest():
    line = "400 GET /hub/oauth_callback?code=0f1e2d&state=eyJzdGF0ZV9pZCI6&next=%2Fhub (1.2.3.4)"
    assert scrub_oauth_params(line) == (
        "400 GET /hub/oauth_callback?code=[secret]&state=[secret]&next=%2Fhub (1.2.3.4)"
    )
    assert scrub_oauth_params("GET /x?state=s1&code=c1") == "GET /x?state=[secret]&code=[secret]"
    assert scrub_oauth_params("GET /x?barcode=1&codec=2") == "GET /x?barcode=1&codec=2"


def grant_error(error: str, description: str = "") -> bytes:
    return json.dumps({"error": error, "error_description": description}).encode()


@pytest.mark.parametrize(
    "body",
    [
        grant_error("invalid_grant", "the code is incorrect or expired"),
        urlencode({"error": "invalid_grant"}).encode(),  # GitHub's form-encoded answer
        grant_error("invalid_request", "code_verifier is required"),
    ],
)
def test_a_refused_code_asks_the_person_to_log_in_again(body):
    refusal = token_refusal(400, body)
    assert refusal.status_code == 403
    assert "Log in again" in refusal.get_message()


def test_the_providers_description_is_shown():
    refusal = token_refusal(400, grant_error("invalid_grant", "the code is 100% used"))
    assert "the code is 100% used" in refusal.get_message()


@pytest.mark.parametrize(
    ("status", "body"),
    [(401, grant_error("invalid_client")), (400, grant_error("unauthorized_client"))],
)
def test_a_refused_client_is_the_administrators_to_fix(status, body):
    refusal = token_refusal(status, body)
    assert refusal.status_code == 500
    assert "client id and secret" in refusal.get_message()


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (None, None, "did not answer"),
        (599, None, "did not answer"),
        (503, b"<html>down</html>", "answered HTTP 503"),
        (404, b"Not Found", "answered HTTP 404"),
        (400, b"<html>bad</html>", "answered HTTP 400"),  # not an OAuth error response
    ],
)
def test_a_failing_provider_stays_a_server_error(status, body, words):
    refusal = token_refusal(status, body)
    assert refusal.status_code == 502
    assert words in refusal.get_message()


class TestAgainstTheMockProvider(AsyncHTTPTestCase):
    """DevlabGitHubOAuthenticator's token request against the mock's real token endpoint."""

    def get_app(self) -> web.Application:
        client = RegisteredClient("devlab-hub", "s3cret", CALLBACK)
        self.now = 1000.0  # the mock's clock, so a code can expire without waiting
        self.store = MockGitHubStore(
            load_config(DEFAULT_CONFIG).mock_github, client, clock=lambda: self.now
        )
        return make_app(self.store)

    def authenticator(self, token_url: str | None = None) -> DevlabGitHubOAuthenticator:
        return DevlabGitHubOAuthenticator(
            client_id="devlab-hub",
            client_secret="s3cret",
            oauth_callback_url=CALLBACK,
            token_url=token_url or self.get_url("/login/oauth/access_token"),
            enable_pkce=False,
        )

    def params(self, code: str, secret: str = "s3cret") -> dict[str, str]:
        return {
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": CALLBACK,
            "client_id": "devlab-hub",
            "client_secret": secret,
        }

    def valid_code(self) -> str:
        request = self.store.validate_authorization(client_id="devlab-hub", redirect_uri=CALLBACK)
        return self.store.approve(request, "alice")

    @gen_test
    async def test_a_valid_code_buys_a_token(self):
        token = await self.authenticator().get_token_info(None, self.params(self.valid_code()))
        assert token["access_token"].startswith("gho_")

    @gen_test
    async def test_a_bogus_code_is_a_403(self):
        with pytest.raises(web.HTTPError) as refused:
            await self.authenticator().get_token_info(None, self.params("0" * 20))
        assert refused.value.status_code == 403

    @gen_test
    async def test_an_expired_code_is_a_403(self):
        code = self.valid_code()
        self.now += DEFAULT_CODE_TTL + 1
        with pytest.raises(web.HTTPError) as refused:
            await self.authenticator().get_token_info(None, self.params(code))
        assert refused.value.status_code == 403
        assert "log in again" in str(refused.value).lower()

    @gen_test
    async def test_a_replayed_code_is_a_403(self):
        code = self.valid_code()
        await self.authenticator().get_token_info(None, self.params(code))
        with pytest.raises(web.HTTPError) as refused:
            await self.authenticator().get_token_info(None, self.params(code))
        assert refused.value.status_code == 403

    @gen_test
    async def test_a_wrong_client_secret_is_a_500_for_the_administrator(self):
        with pytest.raises(web.HTTPError) as refused:
            await self.authenticator().get_token_info(None, self.params("0" * 20, "nope"))
        assert refused.value.status_code == 500

    @gen_test
    async def test_an_unreachable_provider_is_a_502(self):
        sock, port = bind_unused_port()
        sock.close()  # nothing listens there now
        authenticator = self.authenticator(f"http://127.0.0.1:{port}/login/oauth/access_token")
        with pytest.raises(web.HTTPError) as refused:
            await authenticator.get_token_info(None, self.params("0" * 20))
        assert refused.value.status_code == 502
