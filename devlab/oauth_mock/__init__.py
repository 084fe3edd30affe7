"""A mock GitHub OAuth provider for development and CI; NOT an identity provider.

It lets the unmodified `oauthenticator.GitHubOAuthenticator` log people in as the users,
orgs and teams listed under `mock_github` in config/devlab.yaml, so the hub's real GitHub
code path runs without a GitHub OAuth app or network access. Anyone who can reach it can
sign in as anyone: never expose it beyond a development machine.

Run it with `python -m devlab.oauth_mock --help`. `make_app` is imported lazily: tornado
and Jinja2 come with the hub extra, not devlab's base dependencies, and the store needs
neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devlab.oauth2.core import AuthorizationRequest, OAuthError, RegisteredClient
from devlab.oauth_mock.store import AccessToken, MockGitHubStore

if TYPE_CHECKING:
    from devlab.oauth_mock.app import make_app

__all__ = [
    "AccessToken",
    "AuthorizationRequest",
    "MockGitHubStore",
    "OAuthError",
    "RegisteredClient",
    "make_app",
]


def __getattr__(name: str) -> Any:
    if name == "make_app":
        from devlab.oauth_mock.app import make_app

        return make_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
