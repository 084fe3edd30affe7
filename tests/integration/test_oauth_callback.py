"""Tampered OAuth callbacks, through the real proxy, hub and mock GitHub.

Each callback below carries a valid state (the browser's own state cookie matches it)
unless the case is about the state, so the hub gets as far as exchanging the code with
the provider, which refuses it. The person must get a page telling them to log in
again, never a 500, and no code may reach the hub's log.
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import requests

from devlab.testing.login import github_mock_callback, github_mock_login

USER = "carol"
# The hub scrubs the values of these, so the page is not enough: the log is read too.
used_codes: list[str] = []


def with_params(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = {**dict(parse_qsl(parts.query)), **params}
    return urlunsplit(parts._replace(query=urlencode(query)))


def param(url: str, name: str) -> str:
    return dict(parse_qsl(urlsplit(url).query))[name]


def start(devlab) -> tuple[requests.Session, str]:
    """A browser that has just been sent back by the provider with a fresh code."""
    session, callback = github_mock_callback(devlab.hub_url, USER)
    used_codes.append(param(callback, "code"))
    return session, callback


def refused(session: requests.Session, url: str, cookies: dict[str, str] | None = None) -> str:
    reply = session.get(url, allow_redirects=False, timeout=30, cookies=cookies)
    assert 400 <= reply.status_code < 500, (reply.status_code, reply.text[:2000])
    return reply.text


def test_a_bogus_code_with_a_valid_state_is_refused(devlab):
    session, callback = start(devlab)
    bogus = secrets.token_hex(10)
    used_codes.append(bogus)
    page = refused(session, with_params(callback, code=bogus))
    assert "Log in again" in page


def test_a_code_another_login_already_exchanged_is_refused(devlab):
    first, first_callback = start(devlab)
    assert first.get(first_callback, allow_redirects=False, timeout=30).status_code == 302
    session, callback = start(devlab)
    refused(session, with_params(callback, code=param(first_callback, "code")))


def test_a_code_moved_into_another_login_is_refused_and_dies(devlab):
    """PKCE binds a code to the browser that asked for it; the provider spends a code on
    any failed exchange, so the victim's own callback fails too (the stale code case:
    a code that was never exchanged but that the provider no longer honours)."""
    victim, victim_callback = start(devlab)
    attacker, attacker_callback = start(devlab)
    refused(attacker, with_params(attacker_callback, code=param(victim_callback, "code")))
    refused(victim, victim_callback)


def test_a_replayed_callback_is_refused(devlab):
    session, callback = start(devlab)
    state_cookie = dict(session.cookies)  # the hub clears it once used; a replay resends it
    assert session.get(callback, allow_redirects=False, timeout=30).status_code == 302
    refused(requests.Session(), callback, cookies=state_cookie)


def test_a_code_with_a_mismatched_state_is_refused(devlab):
    session, callback = start(devlab)
    _, other = start(devlab)
    page = refused(session, with_params(callback, state=param(other, "state")))
    assert "state mismatch" in page


def test_the_hub_still_logs_people_in(devlab):
    github_mock_login(devlab.hub_url, USER)


def test_no_code_reaches_the_hub_log(devlab):
    if not used_codes:
        pytest.skip("run with the tests above: they make the codes")
    log = devlab.logs("hub", tail=5000)
    # The refusals were logged (scrubbed), so the log read is the right one.
    assert "/hub/oauth_callback?code=[secret]" in log
    leaked = [code for code in used_codes if code in log]
    assert not leaked, f"codes in the hub log: {leaked}"
