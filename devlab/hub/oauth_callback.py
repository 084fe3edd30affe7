"""How the hub answers and logs an OAuth callback whose code the provider refuses.

A callback can carry a code that is bogus, expired, already used or bound to another
login (PKCE). GitHub reports that with a 200 and an `error` field, which oauthenticator
turns into a 403; RFC 6749 providers (the mock among them) answer 400, which
oauthenticator lets escape as a 500 with a traceback. Here both become the same page
telling the person to log in again, and the provider's own failures stay 5xx.

Tornado logs each refused request with its full URI, and JupyterHub scrubs only its own
access log, so without the handler below every refused callback would leave its code
in the hub's log.
"""

from __future__ import annotations

import json
import re
from types import TracebackType
from urllib.parse import parse_qs

from oauthenticator.oauth2 import OAuthCallbackHandler
from tornado import web
from tornado.log import app_log, gen_log

# What the redirect carries that must not be written down: the one-time code and the
# state bound to the person's browser.
_ONE_TIME_PARAM = re.compile(r"([?&](?:code|state)=)[^&#\s'\"]*")

# RFC 6749 section 5.2: the hub's own client credentials were refused.
_CLIENT_ERRORS = ("invalid_client", "unauthorized_client")


def scrub_oauth_params(text: str) -> str:
    """`text` with the value of every `code=` and `state=` query parameter replaced."""
    return _ONE_TIME_PARAM.sub(r"\1[secret]", text)


def _oauth_error(body: bytes | None) -> tuple[str, str]:
    """RFC 6749 section 5.2's `error` and `error_description`, from a JSON or form body."""
    text = (body or b"").decode("utf-8", "replace")
    try:
        fields = json.loads(text)
    except ValueError:
        fields = {k: v[0] for k, v in parse_qs(text).items()}
    if not isinstance(fields, dict):
        return "", ""
    return str(fields.get("error") or ""), str(fields.get("error_description") or "")


def token_refusal(status: int | None, body: bytes | None) -> web.HTTPError:
    """The page for a token request that failed with HTTP `status` (None or 599: no answer).

    A refused code is the person's to fix by logging in again (403, as oauthenticator
    answers GitHub's refusals). A refused client is the administrator's to fix (500),
    and anything else is the provider failing (502): logging in again would not help.
    """
    error, description = _oauth_error(body)
    if status == 401 or error in _CLIENT_ERRORS:
        return web.HTTPError(
            500,
            "%s",
            "The identity provider does not accept this hub's OAuth client id and secret: "
            "the administrator must check the OAuth app's settings.",
        )
    if status == 400 and error:
        return web.HTTPError(
            403,
            "%s",
            f"Sign-in failed ({description or error}). Log in again to start a fresh sign-in.",
        )
    failure = "did not answer" if status in (None, 599) else f"answered HTTP {status}"
    return web.HTTPError(
        502, "%s", f"The identity provider {failure}. Try logging in again in a moment."
    )


class DevlabOAuthCallbackHandler(OAuthCallbackHandler):
    """oauthenticator's callback handler, logging its failures without code and state."""

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Tornado's own log_exception, with the URI scrubbed and without the request's
        # repr (which repeats the URI).
        request = self.request
        summary = f"{request.method} {scrub_oauth_params(request.uri or '')} ({request.remote_ip})"
        if isinstance(value, web.HTTPError):
            message = value.get_message()
            if message:
                gen_log.warning("%d %s: %s", value.status_code, summary, message)
        else:
            app_log.error("Uncaught exception %s", summary, exc_info=(typ, value, tb))
