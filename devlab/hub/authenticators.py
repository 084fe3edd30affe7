"""devlab's layer over the real GitHubOAuthenticator: it adds what GitHub's lacks."""

from __future__ import annotations

from typing import Any

from oauthenticator.github import GitHubOAuthenticator


class DevlabGitHubOAuthenticator(GitHubOAuthenticator):
    """GitHubOAuthenticator that also records the user's organisations in auth_state.

    The platform maps each org to a Unix group (GID = org id); GitHubOAuthenticator only
    fetches teams, so orgs are read from `/user/orgs` here, with GitHub's pagination.
    """

    async def update_auth_model(self, auth_model: dict[str, Any]) -> dict[str, Any]:
        auth_model = await super().update_auth_model(auth_model)
        auth_state = auth_model["auth_state"]
        token = auth_state["token_response"]
        auth_state["orgs"] = await self._paginated_fetch(
            f"{self.github_api}/user/orgs?per_page=100",
            token["access_token"],
            token.get("token_type", "bearer"),
        )
        return auth_model
