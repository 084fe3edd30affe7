"""JupyterHub's identity provider for labs, answering 503 instead of 500 when the hub is down.

jupyter_server's documented extension point for authentication is
ServerApp.identity_provider_class. jupyterhub-singleuser sets it to its
JupyterHubIdentityProvider above config files, but below the command line, where
devlab-lab-start names this subclass. Requests whose token the lab has cached never
reach here with an error: they keep working while the hub is down.
"""

from __future__ import annotations

from jupyter_server.auth.identity import User
from jupyter_server.base.handlers import APIHandler
from jupyterhub.singleuser.extension import JupyterHubIdentityProvider
from tornado.web import Finish, HTTPError, RequestHandler

from devlab_singleuser.hub_down import MESSAGE, RETRY_AFTER_SECONDS, hub_unreachable


class DevlabIdentityProvider(JupyterHubIdentityProvider):
    """JupyterHub's provider, with a retryable 503 when the hub cannot be reached."""

    async def get_user(self, handler: RequestHandler) -> User | None:
        try:
            return await super().get_user(handler)
        except HTTPError as error:
            if not hub_unreachable(error):
                raise
            # An HTTPError's response loses every header set before it (tornado's
            # send_error clears them), so the 503 is written here and ended with Finish,
            # tornado's documented way to send a response of one's own with its headers.
            handler.set_status(503)
            handler.set_header("Retry-After", str(RETRY_AFTER_SECONDS))
            if isinstance(handler, APIHandler):
                handler.write({"message": MESSAGE})  # JSON, as jupyter_server's API errors
            else:
                handler.set_header("Content-Type", "text/plain; charset=UTF-8")
                handler.write(MESSAGE)
            raise Finish from error
