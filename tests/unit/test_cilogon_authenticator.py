"""DevlabCILogonOAuthenticator against a scripted CILogon: every login it must refuse, and
the identity it leaves in auth_state for the spawner."""

from __future__ import annotations

import json
import logging
import time
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from tornado import web
from tornado.testing import AsyncHTTPTestCase, bind_unused_port, gen_test

from devlab.hub.authenticators import CILOGON_GROUPS_KEY, DevlabCILogonOAuthenticator
from devlab.identity import Group
from devlab.identity.github import identity_from_auth_state

CLIENT = "cilogon:/client_id/devlab"
CALLBACK = "http://127.0.0.1:8000/hub/oauth_callback"
NCSA = "https://idp.ncsa.illinois.edu/idp/shibboleth"
GITHUB = "http://github.com/login/oauth/authorize"
SUB = "http://cilogon.org/serverA/users/12345"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
NEW_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(private_key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    return {**json.loads(RSAAlgorithm.to_jwk(private_key.public_key())), "kid": kid}


class FakeCILogon:
    """What the scripted provider answers; tests change it before logging in."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.jwks: dict[str, Any] = {"keys": [jwk(KEY, "k1")]}
        self.key_fetches = 0
        self.userinfo: dict[str, Any] = {
            "sub": SUB,
            "idp": NCSA,
            "username": "mjuric",
            "name": "Mario Juric",
            "uidNumber": "5000101",
            "isMemberOf": [
                {"name": "lsst_users", "id": 5_000_900},
                {"name": "jira-users"},
            ],
        }
        self.token_reply: dict[str, Any] | None = None  # None: a good reply
        self.token_status = 200

    def id_token(self, key: Any = KEY, kid: str = "k1", **changes: Any) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": CLIENT, "sub": SUB, "iat": now, "exp": now + 900}
        claims.update(changes)
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})

    def reply(self) -> dict[str, Any]:
        if self.token_reply is not None:
            return self.token_reply
        return {
            "access_token": "at-1",
            "token_type": "Bearer",
            "expires_in": 900,
            "refresh_token": "rt-1",
            "scope": "openid email profile org.cilogon.userinfo",
            "id_token": self.id_token(),
        }


class Token(web.RequestHandler):
    def post(self) -> None:
        provider: FakeCILogon = self.settings["provider"]
        self.set_status(provider.token_status)
        self.write(provider.reply())


class UserInfo(web.RequestHandler):
    def get(self) -> None:
        self.write(self.settings["provider"].userinfo)


class Certs(web.RequestHandler):
    def get(self) -> None:
        provider: FakeCILogon = self.settings["provider"]
        provider.key_fetches += 1
        self.write(provider.jwks)


class TestLogin(AsyncHTTPTestCase):
    def get_app(self) -> web.Application:
        self.provider = FakeCILogon(issuer="https://cilogon.example")
        return web.Application(
            [
                (r"/oauth2/token", Token),
                (r"/oauth2/userinfo", UserInfo),
                (r"/oauth2/certs", Certs),
            ],
            provider=self.provider,
        )

    def authenticator(self, **traits: Any) -> DevlabCILogonOAuthenticator:
        settings: dict[str, Any] = {
            "client_id": CLIENT,
            "client_secret": "s3cret",
            "oauth_callback_url": CALLBACK,
            "authorize_url": "http://127.0.0.1:9/authorize",  # the browser's; never fetched
            "token_url": self.get_url("/oauth2/token"),
            "userdata_url": self.get_url("/oauth2/userinfo"),
            "jwks_url": self.get_url("/oauth2/certs"),
            "issuer": "https://cilogon.example",
            "enable_pkce": False,
            "enable_auth_state": True,
            "manage_groups": True,
            "idps": {
                NCSA: {"username_derivation": {"username_claim": "username"}, "allow_all": True},
                GITHUB: {"username_derivation": {"username_claim": "username"}},
            },
        }
        settings.update(traits)
        return DevlabCILogonOAuthenticator(**settings)

    handler = SimpleNamespace(get_argument=lambda name, default=None: "the-code")

    async def refused(self, status: int = 403, **traits: Any) -> str:
        with pytest.raises(web.HTTPError) as refusal:
            await self.authenticator(**traits).get_authenticated_user(self.handler, None)
        assert refusal.value.status_code == status
        return refusal.value.log_message % refusal.value.args

    @gen_test
    async def test_a_good_login_leaves_the_identity_for_the_spawner(self):
        user = await self.authenticator().get_authenticated_user(self.handler, None)
        assert user["name"] == "mjuric"
        identity = identity_from_auth_state(user["auth_state"])
        assert (identity.uid, identity.gid) == (5_000_101, 5_000_101)
        assert identity.groups == (Group("lsst_users", 5_000_900),)
        assert identity.full_name == "Mario Juric"

    @gen_test
    async def test_hub_groups_include_groups_without_an_id_which_are_logged(self):
        with self._caplog.at_level(logging.WARNING):
            user = await self.authenticator().get_authenticated_user(self.handler, None)
        assert user["groups"] == ["jira-users", "lsst_users"]
        assert user["auth_state"][CILOGON_GROUPS_KEY] == ["lsst_users", "jira-users"]
        assert "'jira-users' has no id in claim 'isMemberOf'" in self._caplog.text

    @gen_test
    async def test_the_directorys_primary_group_when_configured(self):
        self.provider.userinfo["gidNumber"] = 5_000_900
        authenticator = self.authenticator(user_private_groups=False)
        user = await authenticator.get_authenticated_user(self.handler, None)
        identity = identity_from_auth_state(user["auth_state"])
        assert (identity.gid, identity.primary_group_name, identity.groups) == (
            5_000_900,
            "lsst_users",
            (),
        )

    @gen_test
    async def test_keys_are_fetched_once(self):
        authenticator = self.authenticator()
        await authenticator.get_authenticated_user(self.handler, None)
        await authenticator.get_authenticated_user(self.handler, None)
        assert self.provider.key_fetches == 1

    @gen_test
    async def test_a_rotated_key_is_fetched_again(self):
        authenticator = self.authenticator()
        await authenticator.get_authenticated_user(self.handler, None)
        self.provider.jwks = {"keys": [jwk(NEW_KEY, "k2")]}
        self.provider.token_reply = {
            **self.provider.reply(),
            "id_token": self.provider.id_token(key=NEW_KEY, kid="k2"),
        }
        user = await authenticator.get_authenticated_user(self.handler, None)
        assert user["name"] == "mjuric"
        assert self.provider.key_fetches == 2

    def bad_token(self, **changes: Any) -> None:
        self.provider.token_reply = {
            **self.provider.reply(),
            "id_token": self.provider.id_token(**changes),
        }

    @gen_test
    async def test_an_expired_id_token(self):
        past = int(time.time()) - 3600
        self.bad_token(iat=past - 900, exp=past)
        with self._caplog.at_level(logging.WARNING):
            assert "expired" in await self.refused()
        assert "Refused a CILogon login: the id_token has expired" in self._caplog.text

    @gen_test
    async def test_an_id_token_for_another_client(self):
        self.bad_token(aud="cilogon:/client_id/other")
        assert "not for this hub" in await self.refused()

    @gen_test
    async def test_an_id_token_from_another_issuer(self):
        self.bad_token(iss="https://evil.example")
        assert "https://evil.example" in await self.refused()

    @gen_test
    async def test_an_unknown_kid_is_refused_after_fetching_the_keys_again(self):
        self.bad_token(kid="k9")
        assert "'k9'" in await self.refused()
        assert self.provider.key_fetches == 2

    @gen_test
    async def test_a_bad_signature(self):
        self.bad_token(key=NEW_KEY)
        assert "signature" in await self.refused()

    @gen_test
    async def test_alg_none(self):
        now = int(time.time())
        claims = {"iss": "https://cilogon.example", "aud": CLIENT, "sub": SUB}
        unsigned = jwt.encode(
            {**claims, "iat": now, "exp": now + 900}, None, algorithm="none", headers={"kid": "k1"}
        )
        self.provider.token_reply = {**self.provider.reply(), "id_token": unsigned}
        assert "'none'" in await self.refused()

    @gen_test
    async def test_no_id_token(self):
        reply = self.provider.reply()
        del reply["id_token"]
        self.provider.token_reply = reply
        assert "no id_token" in await self.refused()

    @gen_test
    async def test_userinfo_about_someone_else(self):
        self.provider.userinfo["sub"] = "http://cilogon.org/serverA/users/999"
        assert "disagree" in await self.refused()

    @gen_test
    async def test_a_token_reply_with_an_error(self):
        self.provider.token_reply = {"error": "access_denied", "error_description": "denied"}
        assert "denied" in await self.refused()

    @gen_test
    async def test_a_refused_code_asks_to_log_in_again(self):
        self.provider.token_status = 400
        self.provider.token_reply = {"error": "invalid_grant", "error_description": "expired"}
        assert "Log in again" in await self.refused()

    @gen_test
    async def test_unreachable_keys(self):
        sock, port = bind_unused_port()
        sock.close()  # nothing listens there now
        await self.refused(502, jwks_url=f"http://127.0.0.1:{port}/oauth2/certs")

    @gen_test
    async def test_a_missing_uid_names_the_claim(self):
        del self.provider.userinfo["uidNumber"]
        message = await self.refused()
        assert "mjuric cannot run labs" in message
        assert "claim 'uidNumber'" in message

    @gen_test
    async def test_a_group_gid_below_1000(self):
        self.provider.userinfo["isMemberOf"] = [{"name": "wheel", "id": 10}]
        assert "below 1000" in await self.refused()

    @gen_test
    async def test_configured_claim_names(self):
        info = self.provider.userinfo
        info["uid"] = info.pop("uidNumber")
        user = await self.authenticator(uid_claim="uid").get_authenticated_user(self.handler, None)
        assert identity_from_auth_state(user["auth_state"]).uid == 5_000_101

    @gen_test
    async def test_an_idp_not_configured_is_a_403(self):
        self.provider.userinfo["idp"] = "https://idp.elsewhere.example/idp"
        assert "not pre-configured" in await self.refused()

    @gen_test
    async def test_an_idp_without_allow_all_lets_in_only_allowed_groups(self):
        self.provider.userinfo["idp"] = GITHUB
        authenticator = self.authenticator()
        assert await authenticator.get_authenticated_user(self.handler, None) is None
        allowed = self.authenticator(allowed_groups={"lsst_users"})
        assert (await allowed.get_authenticated_user(self.handler, None))["name"] == "mjuric"

    @gen_test
    async def test_a_refresh_keeps_the_identity_from_fresh_claims(self):
        authenticator = self.authenticator()
        login = await authenticator.get_authenticated_user(self.handler, None)
        self.provider.userinfo["isMemberOf"].append({"name": "lsst-pipelines", "id": 5_000_902})

        async def get_auth_state() -> dict[str, Any]:
            return login["auth_state"]

        user = SimpleNamespace(name="mjuric", get_auth_state=get_auth_state)
        refreshed = await authenticator.refresh_user(user)
        identity = identity_from_auth_state(refreshed["auth_state"])
        assert identity.supplementary_gids == (5_000_900, 5_000_902)

    @pytest.fixture(autouse=True)
    def _logs(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog
