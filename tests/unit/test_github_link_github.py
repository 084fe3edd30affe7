"""The link service's GitHub client against the real mock GitHub (which speaks GitHub's
shapes): the web flow with PKCE, the account, a token's life and its revocation."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from tornado.httpclient import AsyncHTTPClient
from tornado.testing import AsyncHTTPTestCase, gen_test
from tornado.web import Application

from devlab.config import load_config
from devlab.github_link.github import GitHub, GitHubApp, GitHubError
from devlab.github_link.pending import PendingFlows
from devlab.oauth2.core import RegisteredClient
from devlab.oauth_mock import MockGitHubStore, make_app
from devlab.platform import DEFAULT_CONFIG

CALLBACK = "http://127.0.0.1:8000/services/github-link/callback"


class GitHubClientCase(AsyncHTTPTestCase):
    def get_app(self) -> Application:
        hub = RegisteredClient("devlab-hub", "s3cret", "http://127.0.0.1:8000/hub/oauth_callback")
        link = RegisteredClient("devlab-github-link", "l1nk", CALLBACK)
        self.store = MockGitHubStore(load_config(DEFAULT_CONFIG).mock_github, hub, link)
        return make_app(self.store)

    def github(self, secret: str = "l1nk") -> GitHub:
        base = self.get_url("")
        return GitHub(
            GitHubApp(
                client_id="devlab-github-link",
                client_secret=secret,
                authorize_url=f"{base}/login/oauth/authorize",
                token_url=f"{base}/login/oauth/access_token",
                api_url=base,
                redirect_uri=CALLBACK,
                scopes=("repo", "user:email"),
            ),
            AsyncHTTPClient(),
        )

    async def code_for(self, github: GitHub, login: str, flows: PendingFlows) -> tuple:
        """The browser's part: GitHub's authorize URL, approved as `login`."""
        flow = flows.begin("ada")
        url = github.authorize_url(flow) + f"&login={login}"
        answer = await AsyncHTTPClient().fetch(url, follow_redirects=False, raise_error=False)
        assert answer.code == 302, answer.body
        back = urlsplit(answer.headers["Location"])
        query = parse_qs(back.query)
        assert query["state"] == [flow.state]
        return query["code"][0], flows.finish(query["state"][0], "ada")

    @gen_test
    async def test_a_link_carries_the_account_and_dies_with_its_revocation(self):
        github = self.github()
        code, flow = await self.code_for(github, "alice", PendingFlows())
        token, scopes = await github.exchange(code, flow)
        assert scopes == ("repo", "user:email")
        link = await github.account(token, scopes)
        assert (link.login, link.name, link.email) == (
            "alice",
            "Alice Liddell",
            "alice@example.org",
        )
        assert await github.alive(token)
        await github.revoke(token)
        assert not await github.alive(token)
        await github.revoke(token)  # revoking a dead token is what was wanted: no error

    @gen_test
    async def test_a_code_without_its_verifier_buys_nothing(self):
        github = self.github()
        flows = PendingFlows()
        code, _ = await self.code_for(github, "alice", flows)
        other_flow = flows.begin("ada")  # another verifier than the code's challenge
        with pytest.raises(GitHubError, match="code_verifier does not match"):
            await github.exchange(code, other_flow)

    @gen_test
    async def test_a_wrong_app_secret_is_refused_with_githubs_reason(self):
        code, flow = await self.code_for(self.github(), "bob", PendingFlows())
        with pytest.raises(GitHubError, match="client_secret is incorrect"):
            await self.github(secret="wrong").exchange(code, flow)
