"""Tornado handlers that give `MockGitHubStore` GitHub's URLs, status codes and JSON shapes.

The shapes follow what `oauthenticator.GitHubOAuthenticator` (17.x) sends and reads, so the
hub runs the unmodified authenticator against this app exactly as against github.com:

* browser: `GET /login/oauth/authorize` (a page to pick a configured user);
* hub: `POST /login/oauth/access_token`, then `GET /user`, `/user/emails`, `/user/teams`,
  `/orgs/{org}/members/{user}` and `/orgs/{org}/teams/{team}/members/{user}`;
* an app (the GitHub-link service): `POST` and `DELETE /applications/{client_id}/token`,
  GitHub's "Check a token" and "Delete an app token", authenticated as the app;
* a user's browser: `POST /settings/connections/applications/{client_id}`, the "Revoke
  access" button of GitHub's settings page, so tests can kill a token behind an app's back.

The REST API is served both at the root (like api.github.com) and under `/api/v3` (like
GitHub Enterprise Server), so setting `GitHubOAuthenticator.github_url` to this app's
in-network URL derives a working `github_api` without further settings.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from tornado.web import Application

from devlab.config.models import MockOrg, MockTeam, MockUser
from devlab.oauth2.core import OAuthError, RegisteredClient
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
from devlab.oauth_mock.store import MockGitHubStore, Page, paginate, parse_page_args

FORM_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
DOCS = "https://docs.github.com/rest"
TOKEN_ERROR_DOCS = (
    "https://docs.github.com/apps/managing-oauth-apps/"
    "troubleshooting-oauth-app-access-token-request-errors"
)
# A fixed timestamp: the mock has no history, and stable output keeps tests and diffs calm.
EPOCH = "2020-01-01T00:00:00Z"
API_PREFIXES = ("", "/api/v3")
# The authorize and error pages (templates/), autoescaped: request values are input.
_TEMPLATES = provider_templates("devlab.oauth_mock")
_AUTHORIZE_PARAMS = (
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "response_type",
    "code_challenge",
    "code_challenge_method",
)


def node_id(kind: str, number: int) -> str:
    """GitHub's legacy global node id, e.g. `MDQ6VXNlcjE=` for user 1."""
    type_code = {"User": "04", "Organization": "012", "Team": "04"}[kind]
    return base64.b64encode(f"{type_code}:{kind}{number}".encode()).decode()


class _Base(MockHandler):
    store: MockGitHubStore

    def initialize(self, store: MockGitHubStore, public_url: str | None = None) -> None:
        self.store = store
        self.public_url = public_url

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Unexpected failures still answer in GitHub's JSON error shape.
        self.send_json({"message": self._reason, "documentation_url": DOCS}, status_code)


class NotFoundHandler(_Base):
    """GitHub answers unknown paths with JSON, not an HTML page."""

    def prepare(self) -> None:
        self.send_json({"message": "Not Found", "documentation_url": DOCS}, 404)


# -- browser side: the authorize page ----------------------------------------------------


class _AuthorizeBase(_Base, ChooserPage):
    templates = _TEMPLATES
    provider = "mock GitHub"
    authorize_params = _AUTHORIZE_PARAMS
    chooser = "login"

    @property
    def client(self) -> RegisteredClient:
        """The app the request names: the hub's login app or the GitHub-link service's."""
        return self.store.client_for(self.get_argument("client_id", None))


class AuthorizeHandler(_AuthorizeBase):
    """GitHub's authorize URL; `login=<user>` approves at once, for scripts and tests."""

    def get(self) -> None:
        request = self.authorization_request()
        if request is None:
            return
        login = self.get_argument("login", None)
        if login:
            self.approve(request, login)
            return
        self.render_page(
            "login.html",
            request=request,
            hidden=authorize_fields(request),
            users=self.store.identities.users,
        )


class ApproveHandler(_AuthorizeBase, ChoiceForm):
    """The login page's form target (ChoiceForm)."""


# -- hub side: the token endpoint --------------------------------------------------------


class AccessTokenHandler(_Base):
    """Exchanges a code; answers JSON when asked (as the hub does), else form-encoded."""

    def post(self) -> None:
        try:
            params = token_request_params(self)
            client_id, client_secret = client_credentials(self, params)
            token = self.store.exchange_code(
                code=params.get("code"),
                client_id=client_id,
                client_secret=client_secret,
                redirect_uri=params.get("redirect_uri"),
                code_verifier=params.get("code_verifier"),
                grant_type=params.get("grant_type"),
            )
        except OAuthError as error:
            self._answer(
                {
                    "error": error.error,
                    "error_description": error.description,
                    "error_uri": TOKEN_ERROR_DOCS,
                },
                error.http_status,
            )
            return
        self._answer(
            {"access_token": token.token, "token_type": "bearer", "scope": token.scope}, 200
        )

    def _answer(self, body: dict[str, str], status: int) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("Pragma", "no-cache")
        if "application/json" in self.request.headers.get("Accept", ""):
            self.send_json(body, status)
            return
        self.set_status(status)
        self.set_header("Content-Type", FORM_TYPE)
        self.finish(urlencode(body))


# -- hub side: the REST API --------------------------------------------------------------


class _Rest(_Base):
    """A REST API URL (at the root or under `/api/v3`) and GitHub's JSON shapes."""

    api_prefix: str

    def initialize(
        self, store: MockGitHubStore, public_url: str | None = None, api_prefix: str = ""
    ) -> None:
        super().initialize(store, public_url)
        self.api_prefix = api_prefix

    def send_message(self, message: str, status: int) -> None:
        """GitHub's JSON error shape."""
        self.send_json({"message": message, "documentation_url": DOCS}, status)

    def api(self) -> str:
        return self.own_base() + self.api_prefix

    def not_found(self, message: str = "Not Found") -> None:
        self.send_message(message, 404)

    def send_page(self, items: Sequence[dict[str, Any]]) -> None:
        number, per_page = parse_page_args(
            self.get_query_argument("page", None), self.get_query_argument("per_page", None)
        )
        page = paginate(items, number, per_page)
        link = self._link_header(page)
        if link:
            self.set_header("Link", link)
        self.send_json(list(page.items))

    def _link_header(self, page: Page[Any]) -> str | None:
        """RFC 8288 links in GitHub's order, as GitHubOAuthenticator follows rel="next"."""
        base = f"{self.own_base()}{self.request.path}"
        kept = [
            (name, value.decode("utf-8", "replace"))
            for name, values in self.request.query_arguments.items()
            if name != "page"
            for value in values
        ]

        def url(number: int) -> str:
            return f"{base}?{urlencode([*kept, ('page', str(number))])}"

        links: list[tuple[int, str]] = []
        if page.number > 1:
            links.append((min(page.number - 1, page.last), "prev"))
        if page.number < page.last:
            links += [(page.number + 1, "next"), (page.last, "last")]
        if page.number > 1:
            links.append((1, "first"))
        return ", ".join(f'<{url(n)}>; rel="{rel}"' for n, rel in links) or None

    def user_json(self, user: MockUser) -> dict[str, Any]:
        api, web = self.api(), self.web_base()
        return {
            "login": user.login,
            "id": user.id,
            "node_id": node_id("User", user.id),
            "avatar_url": "",
            "gravatar_id": "",
            "url": f"{api}/users/{user.login}",
            "html_url": f"{web}/{user.login}",
            "organizations_url": f"{api}/users/{user.login}/orgs",
            "type": "User",
            "site_admin": False,
            "name": user.name,
            "company": None,
            "blog": "",
            "location": None,
            "email": user.email,
            "hireable": None,
            "bio": None,
            "twitter_username": None,
            "public_repos": 0,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": EPOCH,
            "updated_at": EPOCH,
        }

    def org_json(self, org: MockOrg) -> dict[str, Any]:
        url = f"{self.api()}/orgs/{org.login}"
        return {
            "login": org.login,
            "id": org.id,
            "node_id": node_id("Organization", org.id),
            "url": url,
            "repos_url": f"{url}/repos",
            "events_url": f"{url}/events",
            "hooks_url": f"{url}/hooks",
            "issues_url": f"{url}/issues",
            "members_url": f"{url}/members{{/member}}",
            "public_members_url": f"{url}/public_members{{/member}}",
            "avatar_url": "",
            "description": None,
        }

    def team_json(self, team: MockTeam, org: MockOrg) -> dict[str, Any]:
        url = f"{self.api()}/teams/{team.id}"
        return {
            "name": team.name or team.slug,
            "id": team.id,
            "node_id": node_id("Team", team.id),
            "slug": team.slug,
            "description": None,
            "privacy": "closed",
            "notification_setting": "notifications_enabled",
            "url": url,
            "html_url": f"{self.web_base()}/orgs/{org.login}/teams/{team.slug}",
            "members_url": f"{url}/members{{/member}}",
            "repositories_url": f"{url}/repos",
            "permission": "pull",
            "parent": None,
            "members_count": len(team.members),
            "repos_count": 0,
            "created_at": EPOCH,
            "updated_at": EPOCH,
            "organization": self.org_json(org),
        }

    def user_record(self, login: str) -> MockUser:
        user = self.store.user(login)
        if user is None:  # resolve_token only returns tokens of configured users
            raise RuntimeError(f"token for unknown user {login!r}")
        return user


class _Api(_Rest):
    """Authenticated like GitHub's API: `Authorization: token X` or `Bearer X`."""

    login: str

    def prepare(self) -> None:
        scheme, _, credential = self.request.headers.get("Authorization", "").partition(" ")
        if not scheme:
            self.send_message("Requires authentication", 401)
            return
        token = None
        if scheme.lower() in ("token", "bearer"):
            token = self.store.resolve_token(credential.strip())
        if token is None:
            self.send_message("Bad credentials", 401)
            return
        self.login = token.login
        self.set_header("X-OAuth-Scopes", ", ".join(token.scopes))

    def current_user_record(self) -> MockUser:
        return self.user_record(self.login)


class UserHandler(_Api):
    def get(self) -> None:
        self.send_json(self.user_json(self.current_user_record()))


class UserEmailsHandler(_Api):
    def get(self) -> None:
        email = self.current_user_record().email
        emails = (
            [{"email": email, "primary": True, "verified": True, "visibility": "private"}]
            if email
            else []
        )
        self.send_page(emails)


class UserOrgsHandler(_Api):
    def get(self) -> None:
        self.send_page([self.org_json(org) for org in self.store.orgs_of(self.login)])


class UserTeamsHandler(_Api):
    def get(self) -> None:
        teams = []
        for team in self.store.teams_of(self.login):
            org = self.store.org(team.org)
            if org is not None:
                teams.append(self.team_json(team, org))
        self.send_page(teams)


class OrgMemberHandler(_Api):
    """204 for a member, 404 otherwise, as for a token that may see private membership."""

    def get(self, org_login: str, login: str) -> None:
        org = self.store.org(org_login)
        if org is None:
            self.not_found()
        elif self.store.is_org_member(org, login):
            self.set_status(204)
            self.finish()
        else:
            self.not_found("User does not exist or is not a member of the organization")


class TeamMemberHandler(_Api):
    """GitHub's legacy team-member check, which GitHubOAuthenticator uses for `org:team`."""

    def get(self, org_login: str, slug: str, login: str) -> None:
        team = self.store.team(org_login, slug)
        if team is None:
            self.not_found()
        elif self.store.is_team_member(team, login):
            self.set_status(204)
            self.finish()
        else:
            self.not_found()


# -- an app's own endpoints and the user's settings page ----------------------------------


class AppTokenHandler(_Rest):
    """GitHub's "Check a token" (POST) and "Delete an app token" (DELETE).

    These are the app's endpoints, not a user's: HTTP Basic with the app's client_id and
    secret, and the token in a JSON body, so no token ever appears in a URL or a log.
    Wrong app credentials get 401 "Bad credentials" in GitHub's JSON shape (github.com
    sometimes answers 404 here instead), so a misconfigured secret is told apart from a
    dead token, which is 404 "Not Found" like a token of another app.
    """

    def post(self, client_id: str) -> None:
        found = self._app_and_token(client_id)
        if found is None:
            return
        token = self.store.app_token(*found)
        if token is None:
            self.not_found()
            return
        self.send_json(
            {
                "token": token.token,
                "token_last_eight": token.token[-8:],
                "hashed_token": hashlib.sha256(token.token.encode()).hexdigest(),
                "scopes": list(token.scopes),
                "app": {"client_id": token.client_id},
                "user": self.user_json(self.user_record(token.login)),
                "created_at": EPOCH,
                "updated_at": EPOCH,
                "expires_at": None,
            }
        )

    def delete(self, client_id: str) -> None:
        found = self._app_and_token(client_id)
        if found is None:
            return
        if not self.store.delete_app_token(*found):
            self.not_found()
            return
        self.set_status(204)
        self.finish()

    def _app_and_token(self, client_id: str) -> tuple[RegisteredClient, str] | None:
        """The authenticated app and the token it asks about, or None once refused."""
        if not self.request.headers.get("Authorization"):
            self.send_message("Requires authentication", 401)
            return None
        try:
            given_id, given_secret = client_credentials(self, {}, client_id)
            app = self.store.authenticate_app(client_id, given_id, given_secret)
        except OAuthError:
            self.send_message("Bad credentials", 401)
            return None
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            self.send_message("Problems parsing JSON", 400)
            return None
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            self.send_message('Invalid request.\n\n"access_token" wasn\'t supplied.', 422)
            return None
        return app, token


class RevokeAccessHandler(_Rest):
    """The "Revoke access" button of github.com/settings/connections/applications/{id}.

    Form field `login` names the user revoking the app: every token they hold for it
    dies. No authentication, since anyone can sign in as anyone on this mock anyway.
    """

    def post(self, client_id: str) -> None:
        app = self.store.registered(client_id)
        if app is None:
            self.not_found()
            return
        login = self.get_argument("login", None)
        if not login:
            self.send_message("the form field login is missing: name the user who revokes", 422)
            return
        try:
            self.store.revoke_authorization(app, login)
        except LookupError as error:
            self.not_found(str(error))
            return
        self.set_status(204)
        self.finish()


def make_app(store: MockGitHubStore, *, public_url: str | None = None) -> Application:
    """The mock's tornado application; `public_url` is where browsers reach it."""
    common: dict[str, Any] = {"store": store, "public_url": public_url}
    handlers: list[Any] = [
        (r"/healthz", HealthHandler),
        (r"/login/oauth/authorize", AuthorizeHandler, common),
        (r"/login/oauth/authorize/approve", ApproveHandler, common),
        (r"/login/oauth/access_token", AccessTokenHandler, common),
        (r"/settings/connections/applications/([^/]+)", RevokeAccessHandler, common),
    ]
    api_routes: list[tuple[str, type[_Rest]]] = [
        (r"/user", UserHandler),
        (r"/user/emails", UserEmailsHandler),
        (r"/user/orgs", UserOrgsHandler),
        (r"/user/teams", UserTeamsHandler),
        (r"/orgs/([^/]+)/members/([^/]+)", OrgMemberHandler),
        (r"/orgs/([^/]+)/teams/([^/]+)/members/([^/]+)", TeamMemberHandler),
        (r"/applications/([^/]+)/token", AppTokenHandler),
    ]
    for prefix in API_PREFIXES:
        for path, handler in api_routes:
            handlers.append((prefix + path, handler, {**common, "api_prefix": prefix}))
    return Application(
        handlers,
        default_handler_class=NotFoundHandler,
        default_handler_args=common,
    )
