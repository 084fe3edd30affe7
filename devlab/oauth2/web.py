"""Tornado pieces shared by the mock providers: base handler, authorize pages, token input.

A provider's handlers subclass `MockHandler` (and `AuthorizePage` for the browser-facing
pages) and add their own URLs and JSON shapes; the parts here carry the security rules
both must keep: no caching or framing of the authorize pages, a Content-Security-Policy
without scripts, refusals that go back to the client only once its redirect URI is
verified, and client credentials from HTTP Basic or the body as RFC 6749 allows.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from jinja2 import Environment
from tornado.httputil import url_concat
from tornado.web import RequestHandler

from devlab.oauth2.core import (
    ACCESS_DENIED,
    INVALID_CLIENT,
    INVALID_REQUEST,
    AuthorizationRequest,
    OAuthError,
    RegisteredClient,
)
from devlab.templating import package_templates

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"


def provider_templates(package: str) -> Environment:
    """`package`'s templates over the shared ones (page.html with the banner, error.html)."""
    return package_templates(package, "devlab.oauth2")


def hub_base(redirect_uri: str) -> str | None:
    """The hub's URL prefix (`.../hub/`), from a registered callback, if it is the hub's.

    That is the hub's own `.../hub/oauth_callback`, or a hub-managed service's under
    `{base_url}services/<name>/`, whose hub lives at `{base_url}hub/`.
    """
    parts = urlsplit(redirect_uri)
    base, service, _ = parts.path.partition("/services/")
    if service:
        return f"{parts.scheme}://{parts.netloc}{base}/hub/"
    suffix = "oauth_callback"
    return redirect_uri[: -len(suffix)] if redirect_uri.endswith(suffix) else None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def authorize_fields(
    request: AuthorizationRequest, *extra: tuple[str, str | None]
) -> list[tuple[str, str]]:
    """A login form's hidden fields: the request, posted back to be validated again."""
    return [
        (name, value)
        for name, value in (
            ("client_id", request.client_id),
            ("redirect_uri", request.redirect_uri),
            ("state", request.state),
            ("scope", " ".join(request.scopes)),
            ("code_challenge", request.code_challenge),
            ("code_challenge_method", request.code_challenge_method),
            *extra,
        )
        if value
    ]


class MockHandler(RequestHandler):
    """A mock provider's handler: JSON answers and the URLs it is reached at."""

    public_url: str | None = None

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


class HealthHandler(MockHandler):
    """For the compose healthcheck: answers once the server listens."""

    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("ok\n")


class AuthorizePage(MockHandler):
    """A browser-facing page of the authorize flow, in the hub's look when it is known.

    Subclasses set `templates` (from `provider_templates`) and `provider` (the name on
    the banner, e.g. "mock GitHub"), and return their registered client from `client`.
    """

    templates: Environment
    provider: str

    @property
    def client(self) -> RegisteredClient:
        raise NotImplementedError

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Referrer-Policy", "no-referrer")

    def prepare(self) -> None:
        # Here, not in set_default_headers: tornado calls that before initialize(), when
        # there is no client yet to tell the hub's origin.
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
        return hub_base(self.client.redirect_uri)

    @property
    def hub_origin(self) -> str | None:
        return _origin(self.hub) if self.hub else None

    def render_page(self, template: str, status: int = 200, **context: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", HTML_TYPE)
        page = self.templates.get_template(template)
        self.finish(page.render(hub=self.hub, provider=self.provider, **context))

    def refuse(self, error: OAuthError) -> None:
        """Back to the client when its redirect URI is verified, else a page for the person."""
        if error.redirect_uri is None:
            self.render_page("error.html", 400, error=error)
            return
        params = {"error": error.error, "error_description": error.description}
        if error.state:
            params["state"] = error.state
        self.redirect(url_concat(error.redirect_uri, params))

    def deny(self, request: AuthorizationRequest) -> None:
        """The person pressed Cancel: tell the client, as the real providers do."""
        self.refuse(
            OAuthError(
                ACCESS_DENIED,
                "The user has denied your application access.",
                redirect_uri=request.redirect_uri,
                state=request.state,
            )
        )

    def send_code(self, redirect_uri: str, code: str, state: str | None) -> None:
        """Approve: the code (and the state, echoed) to the client's redirect URI."""
        params = {"code": code}
        if state:
            params["state"] = state
        self.redirect(url_concat(redirect_uri, params))


def token_request_params(handler: RequestHandler) -> dict[str, str]:
    """A token request's parameters: a JSON object, or the form body and query string."""
    content_type = handler.request.headers.get("Content-Type", "")
    if content_type.split(";")[0].strip().lower() == "application/json":
        try:
            body = json.loads(handler.request.body or b"{}")
        except ValueError as exc:
            raise OAuthError(INVALID_REQUEST, "the JSON body cannot be parsed") from exc
        if not isinstance(body, dict):
            raise OAuthError(INVALID_REQUEST, "the JSON body must be an object")
        return {str(k): v for k, v in body.items() if isinstance(v, str)}
    return {
        name: value
        for name in handler.request.arguments
        if (value := handler.get_argument(name, None)) is not None
    }


def client_credentials(
    handler: RequestHandler, params: dict[str, str], registered_id: str | None = None
) -> tuple[str | None, str | None]:
    """Credentials from HTTP Basic (RFC 6749 section 2.3.1) or else the body.

    RFC 6749 form-encodes both before joining them with a colon; oauthenticator does not,
    and CILogon's client ids contain colons (`cilogon:/client_id/...`). So a header that
    starts with the `registered_id` and a colon is split there, anything else at its
    first colon and decoded.
    """
    header = handler.request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return params.get("client_id"), params.get("client_secret")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise OAuthError(INVALID_CLIENT, "the Basic Authorization header is malformed") from exc
    if registered_id and decoded.startswith(f"{registered_id}:"):
        client_id, client_secret = registered_id, decoded[len(registered_id) + 1 :]
    else:
        user, sep, password = decoded.partition(":")
        if not sep:
            raise OAuthError(INVALID_CLIENT, "the Basic Authorization header is malformed")
        client_id, client_secret = unquote_plus(user), unquote_plus(password)
    if params.get("client_id") not in (None, client_id):
        raise OAuthError(INVALID_REQUEST, "client_id in the body differs from Basic auth")
    return client_id, client_secret


class ChooserPage(AuthorizePage):
    """An authorize page where a person picks who to be: the request checked by the
    provider's store, then a code for the chosen user, or a refusal.

    Subclasses set `authorize_params` (the query parameters their store's
    `validate_authorization` takes) and `chooser` (the parameter naming the user, e.g.
    mock GitHub's `login`), and, when their store wraps the OAuth request in one of its
    own, say how to get it back (`oauth_request`).
    """

    authorize_params: tuple[str, ...]
    chooser: str
    store: Any  # has validate_authorization(**params) and approve(request, chosen)

    @staticmethod
    def oauth_request(request: Any) -> AuthorizationRequest:
        return request

    def authorization_request(self) -> Any | None:
        """The validated request, or None once the refusal has been sent."""
        args = {name: self.get_argument(name, None) for name in self.authorize_params}
        try:
            return self.store.validate_authorization(**args)
        except OAuthError as error:
            self.refuse(error)
            return None

    def approve(self, request: Any, chosen: str) -> None:
        try:
            code = self.store.approve(request, chosen)
        except OAuthError as error:
            self.refuse(error)
            return
        oauth = self.oauth_request(request)
        self.send_code(oauth.redirect_uri, code, oauth.state)


class ChoiceForm(ChooserPage):
    """The login page's form target; everything is re-validated, hidden fields are input."""

    def post(self) -> None:
        request = self.authorization_request()
        if request is None:
            return
        if self.get_argument("deny", None):
            self.deny(self.oauth_request(request))
            return
        chosen = self.get_argument(self.chooser, None)
        if not chosen:
            self.refuse(OAuthError(INVALID_REQUEST, "no user was chosen"))
            return
        self.approve(request, chosen)
