"""The link service's pages and API, behind JupyterHub's own OAuth (HubOAuthenticated).

Browser pages (cookie, XSRF-checked POSTs): the link page, `link` (starts GitHub's web
flow), `callback` (GitHub's redirect), `unlink`. Labs (their API token in the
Authorization header): `api/credential`, which git's credential helper asks.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import web

from devlab.github_link.github import GitHub, GitHubError
from devlab.github_link.pending import FlowError, PendingFlows
from devlab.github_link.store import AlreadyLinked, LinkStore
from devlab.templating import package_templates

log = logging.getLogger("devlab.github_link")
_TEMPLATES = package_templates("devlab.github_link")


@dataclass(frozen=True)
class Service:
    """What every handler shares."""

    store: LinkStore
    github: GitHub
    flows: PendingFlows
    git_hosts: frozenset[str]
    prefix: str  # /services/github-link/
    hub_prefix: str  # /hub/


class _Handler(HubOAuthenticated, web.RequestHandler):
    def initialize(self, service: Service) -> None:
        self.service = service

    @property
    def hub_user(self) -> str:
        return str(self.current_user["name"])

    def page(self, status: int = 200, *, message: str | None = None, failed: bool = False) -> None:
        link = self.service.store.get(self.hub_user)
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(
            _TEMPLATES.get_template("link.html").render(
                hub=self.service.hub_prefix,
                user=self.hub_user,
                link=link.public() if link else None,
                scopes=self.service.github.app.scopes,
                xsrf=self.xsrf_token.decode("ascii"),
                message=message,
                failed=failed,
            )
        )


class PageHandler(_Handler):
    @web.authenticated
    def get(self) -> None:
        self.page()


class LinkHandler(_Handler):
    """Starts GitHub's web flow, bound to this hub user."""

    @web.authenticated
    def post(self) -> None:
        flow = self.service.flows.begin(self.hub_user)
        self.redirect(self.service.github.authorize_url(flow))


class CallbackHandler(_Handler):
    """GitHub's redirect: the code and state, or the error GitHub reports."""

    @web.authenticated
    async def get(self) -> None:
        error = self.get_query_argument("error", None)
        if error:
            why = self.get_query_argument("error_description", None) or error
            self.page(400, message=f"GitHub did not link your account: {why}", failed=True)
            return
        try:
            flow = self.service.flows.finish(self.get_query_argument("state", None), self.hub_user)
            code = self.get_query_argument("code", None)
            if not code:
                raise FlowError("GitHub sent no code; start again from the Link GitHub button")
            token, scopes = await self.service.github.exchange(code, flow)
            link = await self.service.github.account(token, scopes)
        except (FlowError, GitHubError) as exc:
            self.page(400, message=str(exc), failed=True)
            return
        try:
            self.service.store.put(self.hub_user, link)
        except AlreadyLinked as exc:
            # The token this flow bought is of no use to anyone: give it back at once.
            await _revoke_quietly(self.service.github, token)
            log.warning("%s tried to link GitHub %s, linked elsewhere", self.hub_user, link.login)
            self.page(409, message=str(exc), failed=True)
            return
        log.info("%s linked GitHub %s (id %d)", self.hub_user, link.login, link.github_id)
        self.redirect(self.service.prefix)


class UnlinkHandler(_Handler):
    @web.authenticated
    async def post(self) -> None:
        link = self.service.store.remove(self.hub_user)
        if link is None:
            self.page(message="No GitHub account was linked.")
            return
        revoked = await _revoke_quietly(self.service.github, link.token)
        log.info("%s unlinked GitHub %s (revoked: %s)", self.hub_user, link.login, revoked)
        message = f"Unlinked GitHub account {link.login}" + (
            " and revoked its token."
            if revoked
            else "; GitHub could not be told to revoke the token: revoke the app's access "
            "in your GitHub settings (Applications)."
        )
        self.page(message=message, failed=not revoked)


class CredentialHandler(_Handler):
    """git's credential request from a lab: the linked token, for GitHub's hosts only."""

    async def post(self) -> None:
        if self.current_user is None:
            self.answer(403, message="this needs the lab's API token (JUPYTERHUB_API_TOKEN)")
            return
        try:
            request = json.loads(self.request.body or b"{}")
        except ValueError:
            self.answer(400, message="the body must be JSON with protocol and host")
            return
        host = str(request.get("host", "")).lower()
        if host not in self.service.git_hosts:
            self.answer(200)  # not GitHub: nothing to say, git asks its other helpers
            return
        link_page = self.service.prefix
        link = self.service.store.get(self.hub_user)
        if link is None:
            self.answer(404, message=f"no GitHub account is linked: link one at {link_page}")
            return
        try:
            alive = await self.service.github.alive(link.token)
        except GitHubError as exc:
            self.answer(503, message=str(exc))
            return
        if not alive:
            self.answer(
                410, message=f"GitHub no longer accepts the linked token: link again at {link_page}"
            )
            return
        self.answer(200, username=link.login, password=link.token)

    def answer(self, status: int, **body: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(body))


async def _revoke_quietly(github: GitHub, token: str) -> bool:
    try:
        await github.revoke(token)
    except GitHubError as exc:
        log.warning("could not revoke a GitHub token: %s", exc)
        return False
    return True


def make_app(service: Service, cookie_secret: bytes) -> web.Application:
    prefix = service.prefix
    args: dict[str, Any] = {"service": service}
    return web.Application(
        [
            (prefix, PageHandler, args),
            (url_path_join(prefix, "link"), LinkHandler, args),
            (url_path_join(prefix, "callback"), CallbackHandler, args),
            (url_path_join(prefix, "unlink"), UnlinkHandler, args),
            (url_path_join(prefix, "api/credential"), CredentialHandler, args),
            (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
        ],
        cookie_secret=cookie_secret,
    )
