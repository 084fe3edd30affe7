"""auth.cilogon: real CILogon needs its client and IdPs; mistakes name file, line and key."""

from __future__ import annotations

import pytest
from oauthenticator.cilogon import CILogonOAuthenticator

from devlab.config import ConfigError, parse_config

REAL = """\
auth:
  provider: cilogon
  cilogon:
    client_id: cilogon:/client_id/abc
    client_secret_file: /etc/devlab/cilogon-secret
    idps:
      https://idp.ncsa.illinois.edu/idp/shibboleth:
        username_derivation: {username_claim: uid}
        allow_all: true
        default: true
      https://github.com/login/oauth/authorize:
        username_derivation: {username_claim: preferred_username}
        allowed_domains: ["*.illinois.edu"]
    username_claim: uid
    allowed_groups: [lsst_users]
"""


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "conf.yaml")
    return str(info.value)


def test_a_real_cilogon_config_loads():
    cilogon = parse_config(REAL).auth.cilogon
    assert cilogon is not None
    ncsa = cilogon.idps["https://idp.ncsa.illinois.edu/idp/shibboleth"]
    assert ncsa.allow_all
    assert ncsa.username_derivation.username_claim == "uid"
    assert (cilogon.uid_claim, cilogon.groups_claim) == ("uidNumber", "isMemberOf")
    assert cilogon.user_private_groups


def test_the_mock_needs_no_cilogon_section():
    assert parse_config("auth:\n  provider: cilogon-mock\n").auth.cilogon is None


@pytest.mark.parametrize(
    ("dropped", "named"),
    [
        ("    client_id: cilogon:/client_id/abc\n", "auth.cilogon.client_id"),
        ("    client_secret_file: /etc/devlab/cilogon-secret\n", "auth.cilogon.client_secret_file"),
    ],
)
def test_real_cilogon_needs_its_client(dropped, named):
    message = error_of(REAL.replace(dropped, ""))
    assert message.startswith("conf.yaml:1: auth: provider cilogon needs")
    assert named in message


def test_real_cilogon_needs_a_section_and_idps():
    message = error_of("auth:\n  provider: cilogon\n")
    assert "auth.cilogon.client_id, auth.cilogon.client_secret_file, auth.cilogon.idps" in message
    assert "cilogon.org/oauth2/register" in message


def test_an_idp_named_by_domain_is_refused_at_its_line():
    text = REAL.replace("https://github.com/login/oauth/authorize:", "github.com:")
    message = error_of(text)
    assert message.startswith("conf.yaml:6: auth.cilogon.idps:")
    assert "'github.com' is not a CILogon entity id" in message


def test_a_username_action_needs_its_value():
    text = REAL.replace("{username_claim: uid}", "{username_claim: eppn, action: strip_idp_domain}")
    message = error_of(text)
    key = "auth.cilogon.idps.https://idp.ncsa.illinois.edu/idp/shibboleth.username_derivation"
    assert f"conf.yaml:8: {key}:" in message
    assert "needs `domain`" in message


def test_a_misspelt_idp_key_is_named():
    message = error_of(REAL.replace("allow_all: true", "allow_al: true"))
    assert "conf.yaml:9: auth.cilogon.idps.https://idp.ncsa.illinois.edu/idp/shibboleth" in message
    assert "allow_al: unknown key" in message


def test_two_default_idps_are_refused():
    message = error_of(REAL.replace("allowed_domains:", "default: true\n        allowed_domains:"))
    assert "only one IdP may be the default" in message


def test_allowed_groups_need_managed_groups():
    message = error_of(REAL + "    manage_groups: false\n")
    assert "conf.yaml:3: auth.cilogon: allowed_groups needs manage_groups" in message


def test_idps_are_handed_to_oauthenticator_in_the_shape_its_schema_accepts():
    cilogon = parse_config(REAL).auth.cilogon
    assert cilogon is not None
    idps = {e: idp.for_oauthenticator() for e, idp in cilogon.idps.items()}
    authenticator = CILogonOAuthenticator(idps=idps)  # validates each against its schema
    github = authenticator.idps["https://github.com/login/oauth/authorize"]
    assert github["allowed_domains"] == ["*.illinois.edu"]
    assert "action" not in github["username_derivation"]


def test_allowed_groups_match_the_lower_cased_claim_names():
    cilogon = parse_config(REAL.replace("[lsst_users]", "[LSST_Users]")).auth.cilogon
    assert cilogon is not None
    assert cilogon.allowed_groups == ("lsst_users",)


def test_a_github_link_on_the_mock_needs_nothing_more():
    link = parse_config("auth:\n  provider: cilogon-mock\n  github_link: {}\n").auth.github_link
    assert link is not None
    assert link.uses_mock
    assert link.url == "https://github.com"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("client_id: Iv1.abc", "client_secret_file"),
        ("git_url: http://git.devlab.test:8080", "ending in /"),
        ("url: http://github.example.org", "GitHub base URL"),
    ],
)
def test_a_bad_github_link_names_file_line_and_key(body, named):
    text = f"auth:\n  provider: cilogon-mock\n  github_link:\n    {body}\n"
    message = error_of(text)
    assert "conf.yaml" in message
    assert "auth.github_link" in message
    assert named in message
