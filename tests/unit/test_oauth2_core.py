"""The OAuth rules both mock providers share (devlab.oauth2.core), without HTTP."""

from __future__ import annotations

import pytest

from devlab.oauth2.core import (
    AuthorizationCodes,
    OAuthError,
    RegisteredClient,
    parse_scopes,
    pkce_s256,
    validate_authorization,
    verify_pkce,
)

CLIENT = RegisteredClient("hub", "s3cret", "http://127.0.0.1:8000/hub/oauth_callback")
# RFC 7636 appendix B.
RFC_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_s256_matches_rfc_7636_vector():
    assert pkce_s256(RFC_VERIFIER) == RFC_CHALLENGE
    assert verify_pkce(RFC_CHALLENGE, "S256", RFC_VERIFIER)
    assert not verify_pkce(RFC_CHALLENGE, "S256", RFC_VERIFIER[:-1] + "A")


def test_plain_pkce_compares_verbatim_and_rejects_malformed_verifiers():
    assert verify_pkce(RFC_VERIFIER, "plain", RFC_VERIFIER)
    assert not verify_pkce("short", "plain", "short")


def test_scopes_split_on_spaces_and_commas_without_repeats():
    assert parse_scopes("read:org user:email,read:org") == ("read:org", "user:email")
    assert parse_scopes(None) == ()


def test_a_provider_may_require_pkce_and_restrict_its_methods():
    def request(**pkce: str | None):
        return validate_authorization(
            CLIENT,
            client_id="hub",
            redirect_uri=None,
            state="s",
            pkce_methods=("S256",),
            pkce_required=True,
            **pkce,
        )

    with pytest.raises(OAuthError, match="PKCE is required") as caught:
        request()
    assert caught.value.redirect_uri == CLIENT.redirect_uri
    with pytest.raises(OAuthError, match="use S256"):
        request(code_challenge=RFC_VERIFIER, code_challenge_method="plain")
    assert request(code_challenge=RFC_CHALLENGE, code_challenge_method="S256").state == "s"


def test_a_replayed_code_revokes_what_it_was_bound_to():
    revoked: list[str] = []
    codes: AuthorizationCodes[str] = AuthorizationCodes(
        new_code=lambda: "c1", revoke=revoked.append, clock=lambda: 0.0
    )
    request = validate_authorization(CLIENT, client_id="hub", redirect_uri=None)
    code = codes.issue(request, "alice")
    grant = codes.redeem(code, client_id="hub", redirect_uri=None, code_verifier=None)
    assert (grant.code, grant.subject) == ("c1", "alice")
    codes.bind(code, "token-1")
    with pytest.raises(OAuthError, match="already been used"):
        codes.redeem(code, client_id="hub", redirect_uri=None, code_verifier=None)
    assert revoked == ["token-1"]
