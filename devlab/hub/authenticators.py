"""devlab's layers over JupyterHub's authenticators: they add what the originals lack."""

from __future__ import annotations

import dbm
import json
from pathlib import Path
from typing import Any

import jwt
from firstuseauthenticator import FirstUseAuthenticator
from jupyterhub.apihandlers import APIHandler
from jupyterhub.scopes import needs_scope
from oauthenticator.cilogon import CILogonOAuthenticator
from oauthenticator.github import GitHubOAuthenticator
from oauthenticator.oauth2 import OAuthenticator
from tornado import web
from tornado.httpclient import HTTPClientError
from traitlets import Bool, Float, Unicode, default

from devlab.hub.oauth_callback import DevlabOAuthCallbackHandler, token_refusal
from devlab.identity.cilogon import ClaimError, ClaimNames, identity_from_claims
from devlab.identity.id_token import IdTokenError, UnknownKeyError, verify_id_token
from devlab.identity.model import AUTH_STATE_KEY
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


class RefusedCodes(OAuthenticator):
    """What devlab adds to every OAuth provider's authenticator (first in the bases).

    A refused code is answered as a page (403) telling the person to log in again instead
    of an uncaught 500, and the callback's failures are logged without code and state.
    """

    callback_handler = DevlabOAuthCallbackHandler

    async def get_token_info(self, handler: Any, params: dict[str, Any]) -> dict[str, Any]:
        try:
            return await super().get_token_info(handler, params)
        except HTTPClientError as error:  # oauthenticator has logged the provider's answer
            body = error.response.body if error.response is not None else None
            raise token_refusal(error.code, body) from error
        except OSError as error:
            self.log.error("The token request to %s failed: %s", self.token_url, error)
            raise token_refusal(None, None) from error


class DevlabGitHubOAuthenticator(RefusedCodes, GitHubOAuthenticator):
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


# The hub groups of a CILogon login (every groups-claim name, with or without a gid).
CILOGON_GROUPS_KEY = "cilogon_groups"
CLAIMS = ClaimNames()  # the default claim names


class DevlabCILogonOAuthenticator(RefusedCodes, CILogonOAuthenticator):
    """CILogonOAuthenticator that checks the id_token and gives the login a Unix identity.

    oauthenticator keeps CILogon's id_token without checking it. Here every token reply
    (the login's, and a refresh's when it carries one) must hold an id_token signed with
    one of the provider's published keys (`jwks_url`), for this client, from `issuer`, not
    expired; otherwise the login is refused (403) and the reason logged. The userinfo's
    `sub` must be the id_token's.

    The userinfo claims become devlab's identity (devlab.identity.cilogon) at login and at
    every refresh, kept in auth_state where the spawner reads it; claims that cannot make
    one refuse the login (403) naming the claim. Hub groups (`manage_groups`) are the
    groups claim's names, including groups without a gid, which labs do not get.
    """

    jwks_url = Unicode(
        config=True,
        help="The provider's JWKS (CILogon: /oauth2/certs), fetched by the hub; cached.",
    )
    issuer = Unicode(config=True, help="The `iss` every id_token must carry.")
    id_token_leeway = Float(
        60.0,
        config=True,
        help="Seconds of clock difference tolerated on the id_token's `exp` and `iat`.",
    )
    unix_username_claim = Unicode(
        CLAIMS.username, config=True, help="The userinfo claim holding the lab's Unix user name."
    )
    uid_claim = Unicode(CLAIMS.uid, config=True, help="The userinfo claim holding the uid.")
    gid_claim = Unicode(
        CLAIMS.gid,
        config=True,
        help="The userinfo claim holding the primary gid, when user_private_groups is off.",
    )
    groups_claim = Unicode(
        CLAIMS.groups, config=True, help="The userinfo claim listing groups as [{name, id}]."
    )
    user_private_groups = Bool(
        True,
        config=True,
        help="Each user's primary group is their own (gid = uid); off: the gid claim.",
    )

    _jwks: dict[str, Any] | None = None

    @default("jwks_url")
    def _jwks_url_default(self) -> str:
        return f"https://{self.cilogon_host}/oauth2/certs"

    @default("issuer")
    def _issuer_default(self) -> str:
        return f"https://{self.cilogon_host}"

    @default("auth_state_groups_key")
    def _groups_key_default(self) -> str:
        return CILOGON_GROUPS_KEY

    @property
    def claim_names(self) -> ClaimNames:
        return ClaimNames(
            username=self.unix_username_claim,
            uid=self.uid_claim,
            gid=self.gid_claim,
            groups=self.groups_claim,
        )

    async def get_token_info(self, handler: Any, params: dict[str, Any]) -> dict[str, Any]:
        token_info = await super().get_token_info(handler, params)
        id_token = token_info.get("id_token")
        if id_token or params.get("grant_type") == "authorization_code":
            await self.verify_id_token(id_token)
        return token_info

    async def verify_id_token(self, id_token: object) -> dict[str, Any]:
        """The id_token's claims, or a 403 (logged) saying why it is refused."""
        try:
            if not isinstance(id_token, str) or not id_token:
                raise IdTokenError("the token reply has no id_token (is `openid` in the scope?)")
            try:
                return verify_id_token(id_token, await self._keys(), **self._expected())
            except UnknownKeyError:
                # The provider may have rotated its keys since they were fetched.
                return verify_id_token(id_token, await self._keys(refetch=True), **self._expected())
        except IdTokenError as exc:
            self.log.warning("Refused a CILogon login: %s", exc)
            raise web.HTTPError(
                403,
                "%s",
                f"Sign-in refused: {exc}. Log in again; if it persists, tell the hub's "
                "administrator.",
            ) from exc

    def _expected(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "audience": self.client_id, "leeway": self.id_token_leeway}

    async def _keys(self, *, refetch: bool = False) -> dict[str, Any]:
        """The provider's JWKS, fetched once and again only when a key is unknown."""
        if self._jwks is None or refetch:
            try:
                jwks = await self.httpfetch(
                    self.jwks_url,
                    label="fetching the provider's keys (JWKS)",
                    method="GET",
                    validate_cert=self.validate_server_cert,
                )
            except (HTTPClientError, OSError, ValueError) as exc:
                self.log.error("Cannot check id_tokens: %s answered %s", self.jwks_url, exc)
                raise web.HTTPError(
                    502,
                    "%s",
                    "The identity provider's keys could not be fetched. Try again in a moment.",
                ) from exc
            if not isinstance(jwks, dict):
                self.log.error("Cannot check id_tokens: %s is not a JWKS", self.jwks_url)
                raise web.HTTPError(502, "%s", "The identity provider's keys are unreadable.")
            self._jwks = jwks
        return self._jwks

    async def update_auth_model(self, auth_model: dict[str, Any]) -> dict[str, Any]:
        auth_model = await super().update_auth_model(auth_model)
        auth_state = auth_model["auth_state"]
        user_info = auth_state[self.user_auth_state_key]
        self._same_subject(auth_state.get("id_token"), user_info)
        name = auth_model["name"]
        try:
            claimed = identity_from_claims(
                user_info, self.claim_names, user_private_groups=self.user_private_groups
            )
        except ClaimError as exc:
            self.log.warning("Refused CILogon login of %s: %s", name, exc)
            raise web.HTTPError(
                403,
                "%s",
                f"{name} cannot run labs on this hub: the identity provider's {exc}. "
                "Tell the hub's administrator.",
            ) from exc
        for group in claimed.groups_without_id:
            self.log.warning(
                "%s's group %r has no id in claim %r: a hub group, not a group in labs",
                name,
                group,
                self.groups_claim,
            )
        auth_state[AUTH_STATE_KEY] = claimed.identity.as_dict()
        auth_state[CILOGON_GROUPS_KEY] = list(claimed.hub_groups)
        return auth_model

    def _same_subject(self, id_token: object, user_info: dict[str, Any]) -> None:
        """OIDC Core 5.3.2: userinfo about someone else than the id_token must be refused.

        The id_token was verified when it arrived (get_token_info); read again here
        without the checks, as a refresh re-reads userinfo with the login's token.
        """
        if not isinstance(id_token, str):
            return  # a refresh reply without an id_token keeps none
        subject = jwt.decode(id_token, options={"verify_signature": False}).get("sub")
        if subject != user_info.get("sub"):
            self.log.warning(
                "Refused a CILogon login: userinfo sub %r is not the id_token's %r",
                user_info.get("sub"),
                subject,
            )
            raise web.HTTPError(
                403, "%s", "Sign-in refused: the identity provider's answers disagree."
            )


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
