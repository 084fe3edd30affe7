"""The mock CILogon's OIDC rules, keys and config, without HTTP."""

from __future__ import annotations

import stat
from pathlib import Path

import jwt
import pytest

from devlab.cilogon_mock.keys import KeyFileError, SigningKey, load_or_create, thumbprint
from devlab.cilogon_mock.store import (
    ACCESS_TOKEN_TTL,
    ID_TOKEN_TTL,
    MockCILogonStore,
    OIDCRequest,
    TokenResponse,
    parse_selected_idp,
)
from devlab.config import ConfigError, load_config, parse_config
from devlab.config.mock_cilogon import GITHUB_IDP, MockCILogon
from devlab.oauth2.core import OAuthError, RegisteredClient, pkce_s256
from devlab.platform import DEFAULT_CONFIG

REDIRECT = "http://127.0.0.1:8000/hub/oauth_callback"
CLIENT = RegisteredClient("cilogon:/client_id/devlab", "s3cret", REDIRECT)
ISSUER = "http://127.0.0.1:8091"
UNI = "https://idp.example.edu/idp/shibboleth"
ALICE = "http://cilogon.org/serverA/users/1001"
CAROL = "http://cilogon.org/serverA/users/1003"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
SCOPE = "openid email profile org.cilogon.userinfo"
# One key for the module: generating RSA keys is the slow part.
KEY = SigningKey.generate()

ODD = MockCILogon.model_validate(
    {
        "idps": {UNI: "Example University"},
        "username_claim": "uid",
        "users": [
            {
                "sub": "http://cilogon.org/serverA/users/9",
                "idp": UNI,
                "username": "odd",
                "gidNumber": "2000009",
                "isMemberOf": [{"name": "nogid"}, {"name": "astro", "id": 2000101}],
            }
        ],
    }
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> MockCILogonStore:
    identities = load_config(DEFAULT_CONFIG).mock_cilogon
    return MockCILogonStore(identities, CLIENT, KEY, issuer=ISSUER + "/", clock=clock)


def validate(store: MockCILogonStore, **overrides: str | None) -> OIDCRequest:
    params: dict[str, str | None] = {
        "client_id": CLIENT.client_id,
        "redirect_uri": REDIRECT,
        "state": "st",
        "scope": SCOPE,
        "response_type": "code",
        "code_challenge": pkce_s256(VERIFIER),
        "code_challenge_method": "S256",
        "nonce": "n-1",
        **overrides,
    }
    return store.validate_authorization(**params)


def code_for(store: MockCILogonStore, sub: str = ALICE, **overrides: str | None) -> str:
    return store.approve(validate(store, **overrides), sub)


def exchange(store: MockCILogonStore, code: str, **overrides: str) -> TokenResponse:
    params = {"code": code, "redirect_uri": REDIRECT, "code_verifier": VERIFIER, **overrides}
    return store.token(
        grant_type=params.pop("grant_type", "authorization_code"),
        client_id=params.pop("client_id", CLIENT.client_id),
        client_secret=params.pop("client_secret", CLIENT.client_secret),
        params=params,
    )


def refresh(store: MockCILogonStore, token: str, **params: str) -> TokenResponse:
    return store.token(
        grant_type="refresh_token",
        client_id=CLIENT.client_id,
        client_secret=CLIENT.client_secret,
        params={"refresh_token": token, **params},
    )


def refused(error: str, call, *args, **kwargs) -> OAuthError:
    with pytest.raises(OAuthError) as caught:
        call(*args, **kwargs)
    assert caught.value.error == error, caught.value
    return caught.value


def id_claims(tokens: TokenResponse) -> dict:
    return jwt.decode(
        tokens.id_token,
        KEY.private_key.public_key(),
        algorithms=["RS256"],
        audience=CLIENT.client_id,
        issuer=ISSUER,
        options={"verify_exp": False, "verify_iat": False},
    )


# -- authorize ---------------------------------------------------------------------------


def test_state_and_nonce_are_carried():
    request = validate(
        MockCILogonStore(load_config(DEFAULT_CONFIG).mock_cilogon, CLIENT, KEY, issuer=ISSUER),
        state="xyz",
    )
    assert (request.oauth.state, request.nonce) == ("xyz", "n-1")


def test_pkce_is_required_and_s256_only(store):
    no_pkce = {"code_challenge": None, "code_challenge_method": None}
    error = refused("invalid_request", validate, store, **no_pkce)
    assert "PKCE is required" in error.description
    assert error.redirect_uri == REDIRECT
    assert error.state == "st"
    error = refused("invalid_request", validate, store, code_challenge_method="plain")
    assert "'plain' is not supported (use S256)" in error.description


def test_scope_must_include_openid_and_be_known(store):
    error = refused("invalid_scope", validate, store, scope="email profile")
    assert error.redirect_uri == REDIRECT
    refused("invalid_scope", validate, store, scope="openid read:org")


def test_unknown_client_and_foreign_redirect_never_redirect(store):
    assert refused("invalid_client", validate, store, client_id="other").redirect_uri is None
    error = refused("invalid_request", validate, store, redirect_uri="https://evil.example/cb")
    assert error.redirect_uri is None


def test_selected_idp_limits_and_orders_the_idps(store):
    request = validate(store, selected_idp=f"{GITHUB_IDP},{UNI}")
    assert request.idps == (GITHUB_IDP, UNI)
    only_github = store.users_by_idp(validate(store, selected_idp=GITHUB_IDP))
    assert [(idp, name, [u.sub for u in users]) for idp, name, users in only_github] == [
        (GITHUB_IDP, "GitHub", [CAROL])
    ]
    everyone = store.users_by_idp(validate(store))
    assert [idp for idp, _, _ in everyone] == [UNI, GITHUB_IDP]


def test_unknown_selected_idp_is_shown_not_redirected(store):
    error = refused("invalid_request", validate, store, selected_idp=f"{UNI},urn:nope")
    assert error.redirect_uri is None
    assert "'urn:nope'" in error.description
    assert UNI in error.description


def test_selected_idp_parsing():
    assert parse_selected_idp(" a, b,,a ") == ("a", "b")
    assert parse_selected_idp(None) == ()


def test_a_user_outside_the_selected_idp_cannot_be_chosen(store):
    request = validate(store, selected_idp=GITHUB_IDP)
    error = refused("access_denied", store.approve, request, ALICE)
    assert CAROL in error.description
    refused("access_denied", store.approve, request, "http://cilogon.org/serverA/users/404")


# -- code exchange -----------------------------------------------------------------------


def test_code_flow_issues_signed_tokens(store, clock):
    tokens = exchange(store, code_for(store))
    body = tokens.body()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == ACCESS_TOKEN_TTL
    assert body["scope"] == SCOPE
    assert jwt.get_unverified_header(tokens.id_token)["kid"] == KEY.kid
    claims = id_claims(tokens)
    assert claims["sub"] == ALICE
    assert claims["aud"] == CLIENT.client_id
    assert claims["nonce"] == "n-1"
    assert claims["exp"] - claims["iat"] == ID_TOKEN_TTL
    assert claims["iat"] == int(clock.now)
    assert claims["uidNumber"] == 3000001
    assert claims["idp_name"] == "Example University"


def test_codes_are_single_use_and_a_replay_revokes_the_token(store):
    code = code_for(store)
    tokens = exchange(store, code)
    assert store.resolve_token(tokens.access_token) is not None
    error = refused("invalid_grant", exchange, store, code)
    assert "already been used" in error.description
    assert store.resolve_token(tokens.access_token) is None
    refused("invalid_grant", refresh, store, tokens.refresh_token)


def test_codes_expire(store, clock):
    code = code_for(store)
    clock.now += 61
    refused("invalid_grant", exchange, store, code)


def test_pkce_mismatch_and_missing_verifier_are_refused(store):
    refused("invalid_grant", exchange, store, code_for(store), code_verifier="x" * 43)
    refused("invalid_request", exchange, store, code_for(store), code_verifier="")


def test_wrong_client_secret_is_a_401_and_spends_nothing(store):
    code = code_for(store)
    error = refused("invalid_client", exchange, store, code, client_secret="nope")
    assert error.http_status == 401
    assert exchange(store, code).access_token


def test_unsupported_grant_type(store):
    refused("unsupported_grant_type", exchange, store, "c", grant_type="password")


# -- refresh and revocation --------------------------------------------------------------


def test_refresh_issues_new_tokens_and_retires_the_old_refresh_token(store, clock):
    first = exchange(store, code_for(store))
    clock.now += 60
    second = refresh(store, first.refresh_token)
    assert second.access_token != first.access_token
    assert second.refresh_token != first.refresh_token
    assert store.resolve_token(second.access_token) is not None
    claims = id_claims(second)
    assert claims["iat"] == int(clock.now)
    assert claims["nonce"] == "n-1"
    assert claims["auth_time"] == id_claims(first)["auth_time"]
    refused("invalid_grant", refresh, store, first.refresh_token)
    assert refresh(store, second.refresh_token).access_token


def test_refresh_may_narrow_scopes_but_not_widen_them(store):
    tokens = exchange(store, code_for(store, scope="openid org.cilogon.userinfo"))
    refused("invalid_scope", refresh, store, tokens.refresh_token, scope="openid email")
    tokens = exchange(store, code_for(store))
    narrowed = refresh(store, tokens.refresh_token, scope="openid")
    assert narrowed.scopes == ("openid",)
    assert "email" not in id_claims(narrowed)


def test_refresh_needs_the_client_and_a_token(store):
    tokens = exchange(store, code_for(store))
    error = refused(
        "invalid_client",
        store.token,
        grant_type="refresh_token",
        client_id=CLIENT.client_id,
        client_secret="nope",
        params={"refresh_token": tokens.refresh_token},
    )
    assert error.http_status == 401
    refused("invalid_request", refresh, store, "")


def test_access_tokens_expire(store, clock):
    tokens = exchange(store, code_for(store))
    clock.now += ACCESS_TOKEN_TTL
    assert store.resolve_token(tokens.access_token) is None
    assert refresh(store, tokens.refresh_token).access_token


def test_revocation_of_an_access_token_takes_its_refresh_token(store):
    tokens = exchange(store, code_for(store))
    creds = {"client_id": CLIENT.client_id, "client_secret": CLIENT.client_secret}
    store.revoke_token(**creds, token=tokens.access_token)
    assert store.resolve_token(tokens.access_token) is None
    refused("invalid_grant", refresh, store, tokens.refresh_token)
    store.revoke_token(**creds, token="never-issued")
    refused("invalid_client", store.revoke_token, client_id="x", client_secret="y", token="t")


# -- claims ------------------------------------------------------------------------------


def test_claims_follow_the_scopes(store):
    login = store.resolve_token(exchange(store, code_for(store, scope="openid")).access_token)
    assert store.claims(login) == {"sub": ALICE, "iss": ISSUER, "aud": CLIENT.client_id}
    login = store.resolve_token(exchange(store, code_for(store)).access_token)
    claims = store.claims(login)
    assert claims["name"] == "Ada Lovelace"
    assert claims["isMemberOf"] == [
        {"name": "astro", "id": 2000101},
        {"name": "pipelines", "id": 2000102},
    ]
    assert claims["username"] == "ada"
    assert claims["eppn"] == "ada@example.edu"
    assert claims["gidNumber"] == 2000001


def test_missing_attributes_are_left_out_never_empty(clock):
    store = MockCILogonStore(ODD, CLIENT, KEY, issuer=ISSUER, clock=clock)
    sub = ODD.users[0].sub
    login = store.resolve_token(exchange(store, code_for(store, sub)).access_token)
    claims = store.claims(login)
    for absent in ("email", "given_name", "family_name", "name", "eppn", "oidc", "uidNumber"):
        assert absent not in claims
    assert claims["uid"] == "odd"  # the configured username claim
    assert "username" not in claims
    assert claims["gidNumber"] == "2000009"  # served as written: the hub parses it
    assert claims["isMemberOf"] == [{"name": "nogid"}, {"name": "astro", "id": 2000101}]


# -- keys --------------------------------------------------------------------------------


def test_key_file_is_created_0600_and_reused(tmp_path: Path):
    path = tmp_path / "signing.pem"
    created = load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_or_create(path)
    assert again.kid == created.kid
    assert again.jwks() == created.jwks()


def test_kid_is_the_rfc_7638_thumbprint():
    # RFC 7638 section 3.1's example key and thumbprint.
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSo"
        "c_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YG"
        "jQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt"
        "-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDK"
        "gw"
    )
    assert thumbprint({"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256"}) == (
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    )


def test_jwks_publishes_only_the_public_key():
    (key,) = KEY.jwks()["keys"]
    assert (key["kid"], key["use"], key["alg"], key["kty"]) == (KEY.kid, "sig", "RS256", "RSA")
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
    assert jwt.PyJWK(key).key.public_numbers() == KEY.private_key.public_key().public_numbers()


def test_unusable_key_files_say_how_to_fix_them(tmp_path: Path):
    path = tmp_path / "signing.pem"
    path.write_text("not a key\n")
    with pytest.raises(KeyFileError, match="delete the file"):
        load_or_create(path)


# -- config ------------------------------------------------------------------------------


def test_packaged_users_cover_both_idps_with_their_own_numbers():
    config = load_config(DEFAULT_CONFIG)
    cilogon, github = config.mock_cilogon, config.mock_github
    assert {u.idp for u in cilogon.users} == set(cilogon.idps)
    github_ids = {u.id for u in github.users} | {o.id for o in github.orgs}
    numbers = {u.uidNumber for u in cilogon.users} | {u.gidNumber for u in cilogon.users}
    assert not numbers & github_ids


def test_a_user_at_an_unknown_idp_names_file_line_and_key():
    text = (
        "mock_cilogon:\n"
        "  idps: {'https://idp.example.edu/idp/shibboleth': Example}\n"
        "  users:\n"
        "    - sub: http://cilogon.org/serverA/users/1\n"
        "      idp: https://idp.example.edu/idp/shibboleth\n"
        "    - sub: http://cilogon.org/serverA/users/2\n"
        "      idp: https://idp.nope.edu\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "conf.yaml")
    message = str(caught.value)
    assert message.startswith("conf.yaml:7: mock_cilogon.users[1].idp: IdP 'https://idp.nope.edu'")
    assert "add it there" in message


def test_two_users_with_one_sub_are_refused():
    user = {"sub": "s", "idp": GITHUB_IDP}
    with pytest.raises(ValueError, match="user sub 's' is listed twice"):
        MockCILogon.model_validate({"users": [user, user]})
