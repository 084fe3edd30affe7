"""devlab's layers over JupyterHub's authenticators: they add what the originals lack."""

from __future__ import annotations

import dbm
import json
from pathlib import Path
from typing import Any

from firstuseauthenticator import FirstUseAuthenticator
from jupyterhub.apihandlers import APIHandler
from jupyterhub.scopes import needs_scope
from oauthenticator.github import GitHubOAuthenticator
from tornado import web
from tornado.httpclient import HTTPClientError
from traitlets import Unicode

from devlab.hub.oauth_callback import DevlabOAuthCallbackHandler, token_refusal
from devlab.identity.passwords import (
    Account,
    Attempt,
    Outcome,
    Policy,
    decide,
    is_password_hash,
)

# The login page with the first-login fields; wiring puts it on JupyterHub's template path.
FIRSTUSE_TEMPLATES = Path(__file__).parent / "templates"


class DevlabGitHubOAuthenticator(GitHubOAuthenticator):
    """GitHubOAuthenticator that also records the user's organisations in auth_state.

    The platform maps each org to a Unix group (GID = org id); GitHubOAuthenticator only
    fetches teams, so orgs are read from `/user/orgs` here, with GitHub's pagination.
    """

    callback_handler = DevlabOAuthCallbackHandler

    async def get_token_info(self, handler: Any, params: dict[str, Any]) -> dict[str, Any]:
        """oauthenticator's token request, with a refused code answered as a page (403)
        telling the person to log in again instead of an uncaught 500."""
        try:
            return await super().get_token_info(handler, params)
        except HTTPClientError as error:  # oauthenticator has logged the provider's answer
            body = error.response.body if error.response is not None else None
            raise token_refusal(error.code, body) from error
        except OSError as error:
            self.log.error("The token request to %s failed: %s", self.token_url, error)
            raise token_refusal(None, None) from error

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


class DevlabFirstUseAuthenticator(FirstUseAuthenticator):
    """FirstUseAuthenticator where an existing account's first login needs a one-time password.

    FirstUse lets whoever logs in first choose the password of any user that exists without
    one (imported users, admins from the config). Here such a user needs the one-time
    password `devlab users import` issued (its bcrypt hash, set through this
    authenticator's admin API) and chooses their password on the same form; `create_users`
    (devlab's `open_signup`) still decides whether unknown names may sign up. The rules
    are devlab.identity.passwords.decide; FirstUse's password dbm, login page errors,
    change-password page and user deletion are reused as they are.
    """

    one_time_dbm_path = Unicode(
        "one-time-passwords.dbm",
        config=True,
        help="dbm file of username -> bcrypt hash of the user's unused one-time password.",
    )

    def _get(self, path: str, name: str) -> bytes | None:
        with dbm.open(path, "c", 0o600) as db:
            return db.get(name.encode("utf-8"))

    def _set(self, path: str, name: str, value: bytes | None) -> None:
        with dbm.open(path, "c", 0o600) as db:
            if value is not None:
                db[name.encode("utf-8")] = value
            elif name.encode("utf-8") in db:
                del db[name.encode("utf-8")]

    def account(self, name: str) -> Account:
        return Account(
            exists=self._user_exists(name),
            password_hash=self._get(self.dbm_path, name),
            one_time_hash=self._get(self.one_time_dbm_path, name),
        )

    async def authenticate(self, handler: Any, data: dict[str, str]) -> str | None:
        # No await between reading the state and writing it: two logins racing with one
        # one-time password cannot both use it.
        name = self.normalize_username(data["username"])
        attempt = Attempt(
            password=data.get("password", ""),
            new_password=data.get("new_password", ""),
            new_password_again=data.get("new_password_again", ""),
        )
        policy = Policy(open_signup=self.create_users, min_password_length=self.min_password_length)
        decision = decide(name, self.account(name), attempt, policy)
        if decision.log:
            self.log.info("FirstUse: %s", decision.log)
        if decision.outcome is Outcome.REFUSE:
            handler.custom_login_error = decision.message  # FirstUse's login handler shows it
            return None
        if decision.new_hash is not None:
            self._set(self.dbm_path, name, decision.new_hash)
        if decision.outcome is Outcome.SET_PASSWORD:
            self._set(self.one_time_dbm_path, name, None)  # after the password: crash-safe
        return name

    def issue_one_time_password(self, name: str, one_time_hash: bytes, *, replace: bool) -> bool:
        """Store a one-time password's hash; False if the account was claimed and not `replace`.

        Replacing drops the user's password: the one-time password is how they get back in.
        """
        account = self.account(name)
        if not replace and (account.password_hash or account.one_time_hash):
            return False
        self._set(self.one_time_dbm_path, name, one_time_hash)
        if replace:
            self._set(self.dbm_path, name, None)  # after the one-time hash: it already wins
        return True

    def pending_one_time_passwords(self) -> list[str]:
        with dbm.open(self.one_time_dbm_path, "c", 0o600) as db:
            # keys(): not every dbm backend (gdbm) can be iterated.
            return sorted(key.decode("utf-8") for key in db.keys())  # noqa: SIM118

    def reset_password(self, username: str, new_password: str) -> str:
        """FirstUse's change-password page; refused while a reissued one-time password is
        unused, so a session left open elsewhere cannot undo the reissue."""
        if self._get(self.one_time_dbm_path, username) is not None:
            return (
                "Your organiser issued you a new one-time password: sign out and sign in "
                "with it to choose your password."
            )
        return super().reset_password(username, new_password)

    def delete_user(self, user: Any) -> None:
        super().delete_user(user)
        self._set(self.one_time_dbm_path, user.name, None)

    def get_handlers(self, app: Any) -> list[tuple[str, Any]]:
        return [
            *super().get_handlers(app),
            (r"/api/devlab/one-time-passwords", OneTimePasswordListAPIHandler),
            (r"/api/devlab/one-time-passwords/([^/]+)", OneTimePasswordAPIHandler),
        ]


class OneTimePasswordAPIHandler(APIHandler):
    """Admin API for `devlab users import` / `reset-password`: body {"hash": bcrypt hash}.

    POST issues only to an unclaimed account (409 otherwise); PUT reissues, dropping the
    user's password. The plain one-time password never reaches the hub.
    """

    @needs_scope("admin:users")
    async def post(self, user_name: str) -> None:
        self._issue(user_name, replace=False)

    @needs_scope("admin:users")
    async def put(self, user_name: str) -> None:
        self._issue(user_name, replace=True)

    def _issue(self, user_name: str, *, replace: bool) -> None:
        user = self.find_user(self.authenticator.normalize_username(user_name))
        if user is None:
            raise web.HTTPError(
                404, f"no user {user_name!r}: add them with `devlab users import FILE.csv`"
            )
        body = self.get_json_body() or {}
        one_time_hash = str(body.get("hash", "")).encode("utf-8")
        if not is_password_hash(one_time_hash):
            raise web.HTTPError(400, 'the body must be {"hash": "<bcrypt hash>"}')
        if not self.authenticator.issue_one_time_password(
            user.name, one_time_hash, replace=replace
        ):
            raise web.HTTPError(
                409,
                f"{user.name} already has a password or an unused one-time password: "
                f"`devlab users reset-password {user.name}` issues a new one",
            )
        self.set_status(200 if replace else 201)
        self.write(json.dumps({"name": user.name}))


class OneTimePasswordListAPIHandler(APIHandler):
    """Who has not used their one-time password yet; a 404 here means no FirstUse hub."""

    @needs_scope("admin:users")
    async def get(self) -> None:
        self.write(json.dumps({"pending": self.authenticator.pending_one_time_passwords()}))
