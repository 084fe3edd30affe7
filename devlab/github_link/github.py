"""GitHub's side of linking: the web flow's URLs, the code exchange, the account, revocation.

The same calls serve github.com and the mock GitHub (which speaks GitHub's shapes); only
the URLs differ. A GitHub that cannot be reached or answers oddly is a `GitHubError`
whose message the link page shows.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse

from devlab.github_link.links import Link, primary_email
from devlab.github_link.pending import Flow

TIMEOUT = 10.0


class GitHubError(Exception):
    """GitHub refused or failed; str() is for the person linking."""


@dataclass(frozen=True)
class GitHubApp:
    """The linking OAuth app and where GitHub answers: the browser's authorize URL, the
    service's token and API URLs (the mock's in-network address in a devlab stack)."""

    client_id: str
    client_secret: str
    authorize_url: str
    token_url: str
    api_url: str
    redirect_uri: str
    scopes: tuple[str, ...]


class GitHub:
    def __init__(self, app: GitHubApp, http: AsyncHTTPClient | None = None) -> None:
        self.app = app
        self._http = http or AsyncHTTPClient()

    def authorize_url(self, flow: Flow) -> str:
        query = {
            "client_id": self.app.client_id,
            "redirect_uri": self.app.redirect_uri,
            "scope": " ".join(self.app.scopes),
            "state": flow.state,
            "code_challenge": flow.challenge,
            "code_challenge_method": "S256",
            "allow_signup": "false",
        }
        return f"{self.app.authorize_url}?{urlencode(query)}"

    async def exchange(self, code: str, flow: Flow) -> tuple[str, tuple[str, ...]]:
        """The token and granted scopes for a callback's code (GitHub answers errors 200)."""
        body = urlencode(
            {
                "client_id": self.app.client_id,
                "client_secret": self.app.client_secret,
                "code": code,
                "redirect_uri": self.app.redirect_uri,
                "code_verifier": flow.verifier,
            }
        )
        answer = await self._json("POST", self.app.token_url, body=body, what="the token exchange")
        if "error" in answer or "access_token" not in answer:
            why = answer.get("error_description") or answer.get("error") or "no access_token"
            raise GitHubError(f"GitHub refused the link: {why}")
        granted = str(answer.get("scope", ""))
        scopes = tuple(s for s in granted.replace(",", " ").split() if s)
        return str(answer["access_token"]), scopes

    async def account(self, token: str, scopes: tuple[str, ...]) -> Link:
        user = await self._json("GET", f"{self.app.api_url}/user", token=token, what="/user")
        try:
            emails = await self._json(
                "GET", f"{self.app.api_url}/user/emails", token=token, what="/user/emails"
            )
        except GitHubError:
            emails = []  # no user:email scope granted: commits use the noreply address
        return Link(
            github_id=int(user["id"]),
            login=str(user["login"]),
            name=user.get("name") or None,
            email=primary_email(emails if isinstance(emails, list) else []),
            token=token,
            scopes=scopes,
        )

    async def alive(self, token: str) -> bool:
        """Whether GitHub still honours the token (the user may have revoked the app)."""
        try:
            await self._fetch("GET", f"{self.app.api_url}/user", token=token)
        except HTTPClientError as exc:
            if exc.code == 401:
                return False
            raise GitHubError(f"GitHub answered /user with {exc.code}") from exc
        except OSError as exc:
            raise GitHubError(f"GitHub cannot be reached: {exc}") from exc
        return True

    async def revoke(self, token: str) -> None:
        """GitHub's "delete an app token": the app's own credentials, the token in the body."""
        try:
            await self._fetch(
                "DELETE",
                f"{self.app.api_url}/applications/{self.app.client_id}/token",
                body=json.dumps({"access_token": token}),
                basic=True,
            )
        except HTTPClientError as exc:
            if exc.code != 404:  # 404: already dead, which is what revoking wants
                raise GitHubError(f"GitHub did not revoke the token ({exc.code})") from exc
        except OSError as exc:
            raise GitHubError(f"GitHub cannot be reached to revoke the token: {exc}") from exc

    async def _json(
        self,
        method: str,
        url: str,
        *,
        what: str,
        body: str | None = None,
        token: str | None = None,
    ) -> Any:
        try:
            response = await self._fetch(method, url, body=body, token=token)
            return json.loads(response.body)
        except HTTPClientError as exc:
            raise GitHubError(f"GitHub answered {what} with {exc.code}{_reason(exc)}") from exc
        except (OSError, ValueError) as exc:
            raise GitHubError(f"GitHub cannot be reached for {what}: {exc}") from exc

    async def _fetch(
        self,
        method: str,
        url: str,
        *,
        body: str | None = None,
        token: str | None = None,
        basic: bool = False,
    ) -> HTTPResponse:
        headers = {"Accept": "application/json", "User-Agent": "devlab-github-link"}
        if token is not None:
            headers["Authorization"] = f"token {token}"
        if basic:
            pair = f"{self.app.client_id}:{self.app.client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        request = HTTPRequest(
            url,
            method=method,
            headers=headers,
            body=body,
            allow_nonstandard_methods=body is not None and method == "DELETE",
            request_timeout=TIMEOUT,
            connect_timeout=TIMEOUT,
        )
        return await self._http.fetch(request)


def _reason(error: HTTPClientError) -> str:
    """GitHub's own words from an error's JSON body (OAuth's error_description, the REST
    API's message), so the link page says why rather than just a status."""
    try:
        body = json.loads(error.response.body) if error.response is not None else {}
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    why = body.get("error_description") or body.get("message") or body.get("error")
    return f": {why}" if why else ""
