"""Tornado handlers that give `MockGitHubStore` GitHub's URLs, status codes and JSON shapes.

The shapes follow what `oauthenticator.GitHubOAuthenticator` (17.x) sends and reads, so the
hub runs the unmodified authenticator against this app exactly as against github.com:

* browser: `GET /login/oauth/authorize` (a page to pick a configured user);
* hub: `POST /login/oauth/access_token`, then `GET /user`, `/user/emails`, `/user/teams`,
  `/orgs/{org}/members/{user}` and `/orgs/{org}/teams/{team}/members/{user}`.

The REST API is served both at the root (like api.github.com) and under `/api/v3` (like
GitHub Enterprise Server), so setting `GitHubOAuthenticator.github_url` to this app's
in-network URL derives a working `github_api` without further settings.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit

from tornado.httputil import url_concat
from tornado.web import Application, RequestHandler

from devlab.config.models import MockOrg, MockTeam, MockUser
from devlab.oauth_mock.store import (
    ACCESS_DENIED,
    INVALID_CLIENT,
    INVALID_REQUEST,
    AuthorizationRequest,
    MockGitHubStore,
    OAuthError,
    Page,
    paginate,
    parse_page_args,
)
from devlab.templating import package_templates

JSON_TYPE = "application/json; charset=utf-8"
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
_TEMPLATES = package_templates("devlab.oauth_mock")
_LOGIN_PAGE = _TEMPLATES.get_template("login.html")
_ERROR_PAGE = _TEMPLATES.get_template("error.html")
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


class _Base(RequestHandler):
    store: MockGitHubStore
    public_url: str | None

    def initialize(self, store: MockGitHubStore, public_url: str | None = None) -> None:
        self.store = store
        self.public_url = public_url

    def set_default_headers(self) -> None:
        self.clear_header("Server")

    def own_base(self) -> str:
        """This app's URL as the caller reached it, so links work on any network."""
        return f"{self.request.protocol}://{self.request.host}"

    def web_base(self) -> str:
        """Where a browser reaches this app: `--public-url` when the caller is the hub."""
        return (self.public_url or self.own_base()).rstrip("/")

    def send_json(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(json.dumps(body, indent=2) + "\n")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Unexpected failures still answer in GitHub's JSON error shape.
        self.send_json({"message": self._reason, "documentation_url": DOCS}, status_code)


class HealthHandler(_Base):
    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("ok\n")


class NotFoundHandler(_Base):
    """GitHub answers unknown paths with JSON, not an HTML page."""

    def prepare(self) -> None:
        self.send_json({"message": "Not Found", "documentation_url": DOCS}, 404)


# -- browser side: the authorize page ----------------------------------------------------


def hub_base(redirect_uri: str) -> str | None:
    """The hub's URL prefix (`.../hub/`), from its registered callback, if it is one."""
    suffix = "oauth_callback"
    return redirect_uri[: -len(suffix)] if redirect_uri.endswith(suffix) else None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _login_page(
    request: AuthorizationRequest, users: Sequence[MockUser], hub: str | None = None
) -> str:
    """The page to pick a user; its hidden fields post the request back to be re-checked."""
    hidden = [
        (name, value)
        for name, value in (
            ("client_id", request.client_id),
            ("redirect_uri", request.redirect_uri),
            ("state", request.state),
            ("scope", " ".join(request.scopes)),
            ("code_challenge", request.code_challenge),
            ("code_challenge_method", request.code_challenge_method),
        )
        if value
    ]
    return _LOGIN_PAGE.render(request=request, hidden=hidden, users=users, hub=hub)


def _error_page(error: OAuthError, hub: str | None = None) -> str:
    """A refusal that cannot go back to the client: its redirect URI is not trusted."""
    return _ERROR_PAGE.render(error=error, hub=hub)


class _AuthorizeBase(_Base):
    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Referrer-Policy", "no-referrer")

    def prepare(self) -> None:
        # Here, not in set_default_headers: tornado calls that before initialize(), when
        # there is no store yet to tell the hub's origin.
        # The hub's own stylesheet and logo may load; nothing else, and no scripts.
        hub = self.hub_origin
        self.set_header(
            "Content-Security-Policy",
            f"default-src 'none'; style-src 'unsafe-inline' {hub}; img-src {hub}; font-src {hub}"
            if hub
            else "default-src 'none'; style-src 'unsafe-inline'",
        )

    @property
    def hub(self) -> str | None:
        return hub_base(self.store.client.redirect_uri)

    @property
    def hub_origin(self) -> str | None:
        return _origin(self.hub) if self.hub else None

    def authorization_request(self) -> AuthorizationRequest | None:
        """The validated request, or None once the refusal has been sent."""
        args = {name: self.get_argument(name, None) for name in _AUTHORIZE_PARAMS}
        try:
            return self.store.validate_authorization(**args)
        except OAuthError as error:
            self.refuse(error)
            return None

    def refuse(self, error: OAuthError) -> None:
        if error.redirect_uri is None:
            self.set_status(400)
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(_error_page(error, self.hub))
            return
        params = {"error": error.error, "error_description": error.description}
        if error.state:
            params["state"] = error.state
        self.redirect(url_concat(error.redirect_uri, params))

    def approve(self, request: AuthorizationRequest, login: str) -> None:
        try:
            code = self.store.approve(request, login)
        except OAuthError as error:
            self.refuse(error)
            return
        params = {"code": code}
        if request.state:
            params["state"] = request.state
        self.redirect(url_concat(request.redirect_uri, params))


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
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(_login_page(request, self.store.identities.users, self.hub))


class ApproveHandler(_AuthorizeBase):
    """The login page's form target; everything is re-validated, hidden fields are input."""

    def post(self) -> None:
        request = self.authorization_request()
        if request is None:
            return
        if self.get_argument("deny", None):
            self.refuse(
                OAuthError(
                    ACCESS_DENIED,
                    "The user has denied your application access.",
                    redirect_uri=request.redirect_uri,
                    state=request.state,
                )
            )
            return
        login = self.get_argument("login", None)
        if not login:
            self.refuse(OAuthError(INVALID_REQUEST, "no user was chosen"))
            return
        self.approve(request, login)


# -- hub side: the token endpoint --------------------------------------------------------


class AccessTokenHandler(_Base):
    """Exchanges a code; answers JSON when asked (as the hub does), else form-encoded."""

    def post(self) -> None:
        try:
            params = self._params()
            client_id, client_secret = self._client_credentials(params)
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

    def _params(self) -> dict[str, str]:
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() == "application/json":
            try:
                body = json.loads(self.request.body or b"{}")
            except ValueError as exc:
                raise OAuthError(INVALID_REQUEST, "the JSON body cannot be parsed") from exc
            if not isinstance(body, dict):
                raise OAuthError(INVALID_REQUEST, "the JSON body must be an object")
            return {str(k): v for k, v in body.items() if isinstance(v, str)}
        # Form body and query string alike, as GitHub accepts both.
        return {
            name: value
            for name in self.request.arguments
            if (value := self.get_argument(name, None)) is not None
        }

    def _client_credentials(self, params: dict[str, str]) -> tuple[str | None, str | None]:
        """Credentials from HTTP Basic (RFC 6749 section 2.3.1) or else the body."""
        header = self.request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return params.get("client_id"), params.get("client_secret")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise OAuthError(INVALID_CLIENT, "the Basic Authorization header is malformed") from exc
        user, sep, password = decoded.partition(":")
        if not sep:
            raise OAuthError(INVALID_CLIENT, "the Basic Authorization header is malformed")
        client_id, client_secret = unquote_plus(user), unquote_plus(password)
        if params.get("client_id") not in (None, client_id):
            raise OAuthError(INVALID_REQUEST, "client_id in the body differs from Basic auth")
        return client_id, client_secret

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


class _Api(_Base):
    """Authenticated like GitHub's API: `Authorization: token X` or `Bearer X`."""

    api_prefix: str
    login: str

    def initialize(
        self, store: MockGitHubStore, public_url: str | None = None, api_prefix: str = ""
    ) -> None:
        super().initialize(store, public_url)
        self.api_prefix = api_prefix

    def prepare(self) -> None:
        scheme, _, credential = self.request.headers.get("Authorization", "").partition(" ")
        if not scheme:
            self.send_json({"message": "Requires authentication", "documentation_url": DOCS}, 401)
            return
        token = None
        if scheme.lower() in ("token", "bearer"):
            token = self.store.resolve_token(credential.strip())
        if token is None:
            self.send_json({"message": "Bad credentials", "documentation_url": DOCS}, 401)
            return
        self.login = token.login
        self.set_header("X-OAuth-Scopes", ", ".join(token.scopes))

    def api(self) -> str:
        return self.own_base() + self.api_prefix

    def not_found(self, message: str = "Not Found") -> None:
        self.send_json({"message": message, "documentation_url": DOCS}, 404)

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

    def current_user_record(self) -> MockUser:
        user = self.store.user(self.login)
        if user is None:  # resolve_token only returns tokens of configured users
            raise RuntimeError(f"token for unknown user {self.login!r}")
        return user


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


def make_app(store: MockGitHubStore, *, public_url: str | None = None) -> Application:
    """The mock's tornado application; `public_url` is where browsers reach it."""
    common: dict[str, Any] = {"store": store, "public_url": public_url}
    handlers: list[Any] = [
        (r"/healthz", HealthHandler, common),
        (r"/login/oauth/authorize", AuthorizeHandler, common),
        (r"/login/oauth/authorize/approve", ApproveHandler, common),
        (r"/login/oauth/access_token", AccessTokenHandler, common),
    ]
    api_routes: list[tuple[str, type[_Api]]] = [
        (r"/user", UserHandler),
        (r"/user/emails", UserEmailsHandler),
        (r"/user/orgs", UserOrgsHandler),
        (r"/user/teams", UserTeamsHandler),
        (r"/orgs/([^/]+)/members/([^/]+)", OrgMemberHandler),
        (r"/orgs/([^/]+)/teams/([^/]+)/members/([^/]+)", TeamMemberHandler),
    ]
    for prefix in API_PREFIXES:
        for path, handler in api_routes:
            handlers.append((prefix + path, handler, {**common, "api_prefix": prefix}))
    return Application(
        handlers,
        default_handler_class=NotFoundHandler,
        default_handler_args=common,
    )
