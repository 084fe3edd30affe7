"""The mock provider's OAuth rules, without HTTP."""

from __future__ import annotations

import pytest

from devlab.config import load_config
from devlab.oauth2.core import OAuthError, RegisteredClient
from devlab.oauth_mock.store import MockGitHubStore, paginate, parse_page_args
from devlab.platform import DEFAULT_CONFIG

REDIRECT = "http://127.0.0.1:8000/hub/oauth_callback"
CLIENT = RegisteredClient("devlab-hub", "s3cret", REDIRECT)
# The GitHub-link service's app, registered beside the hub's login app.
LINK_REDIRECT = "http://127.0.0.1:8000/services/github-link/oauth_callback"
LINK = RegisteredClient("github-link", "l1nk", LINK_REDIRECT)
# RFC 7636 appendix B.
RFC_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> MockGitHubStore:
    return MockGitHubStore(load_config(DEFAULT_CONFIG).mock_github, CLIENT, LINK, clock=clock)


def authorize(store: MockGitHubStore, login: str = "alice", **extra: str) -> str:
    params = {"client_id": "devlab-hub", "redirect_uri": REDIRECT, "state": "st", **extra}
    return store.approve(store.validate_authorization(**params), login)


def exchange(store: MockGitHubStore, code: str, **overrides: str | None):
    params: dict[str, str | None] = {
        "code": code,
        "client_id": "devlab-hub",
        "client_secret": "s3cret",
        "redirect_uri": REDIRECT,
        "grant_type": "authorization_code",
        **overrides,
    }
    return store.exchange_code(**params)


def link_authorize(store: MockGitHubStore, login: str = "alice", **extra: str) -> str:
    params = {"client_id": "github-link", "redirect_uri": LINK_REDIRECT, **extra}
    return store.approve(store.validate_authorization(**params), login)


def link_exchange(store: MockGitHubStore, code: str, **overrides: str | None):
    params: dict[str, str | None] = {
        "client_id": "github-link",
        "client_secret": "l1nk",
        "redirect_uri": LINK_REDIRECT,
        **overrides,
    }
    return exchange(store, code, **params)


def refused(error: str, call, *args, **kwargs) -> OAuthError:
    with pytest.raises(OAuthError) as caught:
        call(*args, **kwargs)
    assert caught.value.error == error, caught.value
    return caught.value


# -- paging ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "per_page", "expected"),
    [
        (None, None, (1, 30)),
        ("2", "5", (2, 5)),
        ("0", "500", (1, 100)),
        ("x", "-3", (1, 30)),
    ],
)
def test_page_arguments_fall_back_like_github(page, per_page, expected):
    assert parse_page_args(page, per_page) == expected


def test_paginate_counts_pages():
    page = paginate(list(range(7)), 2, 3)
    assert (page.items, page.number, page.last) == ((3, 4, 5), 2, 3)
    assert paginate([], 1, 30).last == 1
    assert paginate(list(range(3)), 5, 3).items == ()


# -- authorize ---------------------------------------------------------------------------


def test_unknown_client_is_refused_without_a_redirect(store):
    error = refused(
        "invalid_client", store.validate_authorization, client_id="other", redirect_uri=REDIRECT
    )
    assert error.redirect_uri is None
    assert error.http_status == 401


def test_missing_client_id_is_refused(store):
    refused("invalid_request", store.validate_authorization, client_id=None, redirect_uri=REDIRECT)


def test_unregistered_redirect_uri_is_refused_without_a_redirect(store):
    error = refused(
        "invalid_request",
        store.validate_authorization,
        client_id="devlab-hub",
        redirect_uri="http://evil.example/cb",
    )
    assert error.redirect_uri is None
    assert "evil.example" in error.description


def test_missing_redirect_uri_means_the_registered_one(store):
    request = store.validate_authorization(client_id="devlab-hub", redirect_uri=None)
    assert request.redirect_uri == REDIRECT


def test_errors_after_client_checks_go_back_to_the_client(store):
    error = refused(
        "unauthorized_client",
        store.validate_authorization,
        client_id="devlab-hub",
        redirect_uri=REDIRECT,
        state="st",
        response_type="token",
    )
    assert (error.redirect_uri, error.state) == (REDIRECT, "st")


@pytest.mark.parametrize(
    ("challenge", "method"),
    [(RFC_CHALLENGE, "S512"), ("too-short", "S256"), (None, "S256")],
)
def test_bad_pkce_parameters_are_invalid_requests(store, challenge, method):
    error = refused(
        "invalid_request",
        store.validate_authorization,
        client_id="devlab-hub",
        redirect_uri=REDIRECT,
        code_challenge=challenge,
        code_challenge_method=method,
    )
    assert error.redirect_uri == REDIRECT


def test_unknown_user_is_denied_naming_the_configured_users(store):
    request = store.validate_authorization(client_id="devlab-hub", redirect_uri=REDIRECT)
    error = refused("access_denied", store.approve, request, "mallory")
    assert error.redirect_uri is None
    assert "alice, bob, carol" in error.description


def test_logins_match_ignoring_case_and_tokens_carry_the_configured_login(store):
    token = exchange(store, authorize(store, "ALICE"))
    assert token.login == "alice"


# -- token exchange ----------------------------------------------------------------------


def test_code_exchange_with_s256_issues_a_github_style_token(store):
    code = authorize(
        store,
        scope="read:org user:email",
        code_challenge=RFC_CHALLENGE,
        code_challenge_method="S256",
    )
    token = exchange(store, code, code_verifier=RFC_VERIFIER)
    assert token.token.startswith("gho_")
    assert len(token.token) == 40
    assert token.scope == "read:org,user:email"
    assert store.resolve_token(token.token) == token


def test_plain_challenge_and_no_challenge_both_work(store):
    code = authorize(store, code_challenge=RFC_VERIFIER, code_challenge_method="plain")
    assert exchange(store, code, code_verifier=RFC_VERIFIER).login == "alice"
    assert exchange(store, authorize(store, "bob")).login == "bob"


def test_challenge_without_method_is_plain(store):
    code = authorize(store, code_challenge=RFC_VERIFIER)
    assert exchange(store, code, code_verifier=RFC_VERIFIER).login == "alice"


def test_unknown_client_id_is_invalid_client(store):
    refused("invalid_client", exchange, store, authorize(store), client_id="other")
    refused("invalid_client", exchange, store, authorize(store), client_id=None)


def test_wrong_secret_is_invalid_client_and_does_not_spend_the_code(store):
    code = authorize(store)
    refused("invalid_client", exchange, store, code, client_secret="guess")
    refused("invalid_client", exchange, store, code, client_secret=None)
    assert exchange(store, code).login == "alice"


def test_wrong_redirect_uri_is_invalid_grant(store):
    refused("invalid_grant", exchange, store, authorize(store), redirect_uri="http://x/cb")


def test_missing_code_is_invalid_request(store):
    refused("invalid_request", exchange, store, None)


def test_unknown_code_is_invalid_grant(store):
    refused("invalid_grant", exchange, store, "0123456789abcdef0123")


def test_codes_expire_after_60_seconds(store, clock):
    code = authorize(store)
    clock.now += 59
    assert exchange(store, code).login == "alice"
    late = authorize(store)
    clock.now += 60
    refused("invalid_grant", exchange, store, late)


def test_reused_code_fails_and_revokes_its_token(store):
    code = authorize(store)
    token = exchange(store, code)
    error = refused("invalid_grant", exchange, store, code)
    assert "already been used" in error.description
    assert store.resolve_token(token.token) is None


def test_a_failed_exchange_spends_the_code(store):
    code = authorize(store, code_challenge=RFC_CHALLENGE, code_challenge_method="S256")
    refused("invalid_grant", exchange, store, code, code_verifier="x" * 43)
    refused("invalid_grant", exchange, store, code, code_verifier=RFC_VERIFIER)


def test_missing_verifier_for_a_challenge_is_refused(store):
    code = authorize(store, code_challenge=RFC_CHALLENGE, code_challenge_method="S256")
    refused("invalid_request", exchange, store, code)


def test_mismatching_verifier_is_invalid_grant(store):
    code = authorize(store, code_challenge=RFC_CHALLENGE, code_challenge_method="S256")
    refused("invalid_grant", exchange, store, code, code_verifier="y" * 43)


def test_verifier_without_a_challenge_is_a_downgrade(store):
    refused("invalid_grant", exchange, store, authorize(store), code_verifier=RFC_VERIFIER)


def test_only_the_authorization_code_grant_is_supported(store):
    refused("unsupported_grant_type", exchange, store, authorize(store), grant_type="password")
    assert exchange(store, authorize(store), grant_type=None).login == "alice"


# -- identities --------------------------------------------------------------------------


def test_unknown_tokens_resolve_to_nothing(store):
    assert store.resolve_token("gho_nope") is None


def test_orgs_teams_and_membership(store):
    assert [o.login for o in store.orgs_of("alice")] == ["devlab-devs", "rubin-sci"]
    assert store.orgs_of("carol") == []
    assert store.orgs_of("nobody") == []
    assert [t.slug for t in store.teams_of("Alice")] == ["pipelines"]
    assert store.teams_of("bob") == []
    rubin = store.org("RUBIN-SCI")
    assert rubin is not None
    assert store.is_org_member(rubin, "bob")
    assert not store.is_org_member(rubin, "carol")
    team = store.team("rubin-sci", "Pipelines")
    assert team is not None
    assert store.is_team_member(team, "alice")
    assert not store.is_team_member(team, "bob")
    assert store.team("rubin-sci", "nope") is None


# -- several registered apps -------------------------------------------------------------


def test_a_client_id_registered_twice_is_refused():
    twin = RegisteredClient("devlab-hub", "other", LINK_REDIRECT)
    with pytest.raises(ValueError, match="devlab-hub is registered twice"):
        MockGitHubStore(load_config(DEFAULT_CONFIG).mock_github, CLIENT, twin)


def test_each_app_is_looked_up_by_its_client_id(store):
    assert store.registered("github-link") == LINK
    assert store.registered("devlab-hub") == CLIENT
    assert store.registered("other") is None
    assert store.registered(None) is None


def test_the_link_app_authorizes_to_its_own_callback(store):
    request = store.validate_authorization(client_id="github-link", redirect_uri=None)
    assert (request.client_id, request.redirect_uri) == ("github-link", LINK_REDIRECT)


def test_an_app_cannot_send_codes_to_the_other_apps_callback(store):
    error = refused(
        "invalid_request",
        store.validate_authorization,
        client_id="github-link",
        redirect_uri=REDIRECT,
    )
    assert error.redirect_uri is None


def test_the_link_app_redeems_its_code_with_pkce_s256(store):
    code = link_authorize(
        store, scope="repo", code_challenge=RFC_CHALLENGE, code_challenge_method="S256"
    )
    token = link_exchange(store, code, code_verifier=RFC_VERIFIER)
    assert (token.client_id, token.login, token.scopes) == ("github-link", "alice", ("repo",))
    assert store.resolve_token(token.token) == token


def test_the_link_app_checks_the_pkce_verifier(store):
    code = link_authorize(store, code_challenge=RFC_CHALLENGE, code_challenge_method="S256")
    refused("invalid_grant", link_exchange, store, code, code_verifier="y" * 43)


def test_a_code_issued_to_one_app_cannot_be_redeemed_by_the_other(store):
    hub_code = authorize(store)
    error = refused("invalid_grant", link_exchange, store, hub_code, redirect_uri=None)
    assert "another client" in error.description
    # The attempt spent the code: it is no use to its own app either.
    refused("invalid_grant", exchange, store, hub_code)
    refused("invalid_grant", exchange, store, link_authorize(store), redirect_uri=None)


def test_an_apps_id_with_the_other_apps_secret_is_invalid_client(store):
    code = link_authorize(store)
    refused("invalid_client", link_exchange, store, code, client_secret="s3cret")
    assert link_exchange(store, code).client_id == "github-link"


# -- revocation ---------------------------------------------------------------------------


def test_an_app_authenticates_with_its_own_credentials_only(store):
    assert store.authenticate_app("github-link", "github-link", "l1nk") == LINK
    for given in [
        ("github-link", "s3cret"),  # the hub app's secret
        ("devlab-hub", "s3cret"),  # the hub app's valid credentials, on the link app's URL
        ("github-link", None),
        (None, "l1nk"),
    ]:
        refused("invalid_client", store.authenticate_app, "github-link", *given)
    refused("invalid_client", store.authenticate_app, "other", "other", "l1nk")


def test_an_app_sees_its_own_live_tokens_only(store):
    linked = link_exchange(store, link_authorize(store))
    login = exchange(store, authorize(store))
    assert store.app_token(LINK, linked.token) == linked
    assert store.app_token(LINK, login.token) is None
    assert store.app_token(CLIENT, linked.token) is None
    assert store.app_token(LINK, "gho_unknown") is None


def test_an_app_deletes_its_token(store):
    linked = link_exchange(store, link_authorize(store))
    assert store.delete_app_token(LINK, linked.token)
    assert store.resolve_token(linked.token) is None
    assert store.app_token(LINK, linked.token) is None
    assert not store.delete_app_token(LINK, linked.token)


def test_an_app_cannot_delete_another_apps_token(store):
    login = exchange(store, authorize(store))
    assert not store.delete_app_token(LINK, login.token)
    assert store.resolve_token(login.token) == login


def test_a_user_revoking_an_app_kills_only_their_tokens_for_it(store):
    first = link_exchange(store, link_authorize(store, "alice"))
    second = link_exchange(store, link_authorize(store, "alice"))
    login = exchange(store, authorize(store, "alice"))
    bobs = link_exchange(store, link_authorize(store, "bob"))
    assert store.revoke_authorization(LINK, "ALICE") == 2
    assert store.resolve_token(first.token) is None
    assert store.resolve_token(second.token) is None
    assert store.resolve_token(login.token) == login
    assert store.resolve_token(bobs.token) == bobs
    assert store.revoke_authorization(LINK, "alice") == 0


def test_revoking_for_an_unknown_user_names_the_configured_ones(store):
    with pytest.raises(LookupError, match="alice, bob, carol"):
        store.revoke_authorization(LINK, "mallory")
