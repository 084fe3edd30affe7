"""The GitHub link's rules: what a lab gets from a link, the sealed store, the flows."""

import sqlite3

import pytest

from devlab.github_link.links import (
    Link,
    git_config_environment,
    git_hosts,
    lab_git_entries,
    primary_email,
)
from devlab.github_link.pending import FlowError, PendingFlows
from devlab.github_link.store import AlreadyLinked, LinkStore, StoreError
from devlab.oauth2.core import verify_pkce

KEY = bytes(range(32))
ALICE = Link(
    github_id=7000001,
    login="alice",
    name="Alice Example",
    email="alice@example.org",
    token="gho_" + "a" * 36,
    scopes=("repo", "user:email"),
)


def test_commits_are_signed_with_githubs_name_and_verified_email():
    assert ALICE.commit_identity() == ("Alice Example", "alice@example.org")


def test_without_a_verified_email_commits_use_githubs_noreply_address():
    private = Link(7000002, "bob", None, None, "t", ())
    assert private.commit_identity() == ("bob", "7000002+bob@users.noreply.github.com")


def test_only_a_verified_primary_address_counts():
    emails = [
        {"email": "old@example.org", "primary": False, "verified": True},
        {"email": "new@example.org", "primary": True, "verified": False},
    ]
    assert primary_email(emails) is None
    emails.append({"email": "ok@example.org", "primary": True, "verified": True})
    assert primary_email(emails) == "ok@example.org"


def test_the_page_never_shows_the_token():
    shown = ALICE.public()
    assert ALICE.token not in repr(shown)
    assert shown == {
        "login": "alice",
        "id": 7000001,
        "name": "Alice Example",
        "email": "alice@example.org",
    }


def test_the_token_is_for_githubs_host_and_the_stand_in_only():
    assert git_hosts("https://github.com", None) == {"github.com"}
    assert git_hosts("https://github.com", "http://git.devlab.test:8080/") == {
        "github.com",
        "git.devlab.test:8080",
    }


def test_labs_get_git_settings_as_environment_not_files():
    entries = lab_git_entries(ALICE, "http://git.devlab.test:8080/")
    env = git_config_environment(entries)
    got = {
        env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"]
        for i in range(int(env["GIT_CONFIG_COUNT"]))
    }
    assert got == {
        "credential.helper": "devlab",
        "url.http://git.devlab.test:8080/.insteadOf": "https://github.com/",
        "user.name": "Alice Example",
        "user.email": "alice@example.org",
    }
    assert ALICE.token not in repr(env)


def test_without_a_link_labs_get_only_the_helper():
    assert lab_git_entries(None, None) == [("credential.helper", "devlab")]


def test_the_store_seals_links_and_gives_them_back(tmp_path):
    store = LinkStore(tmp_path / "links.sqlite", KEY)
    assert store.get("ada") is None
    store.put("ada", ALICE)
    assert store.get("ada") == ALICE
    raw = (tmp_path / "links.sqlite").read_bytes()
    for secret in (ALICE.token, ALICE.login, ALICE.email, str(ALICE.github_id)):
        assert secret.encode() not in raw
    assert (tmp_path / "links.sqlite").stat().st_mode & 0o077 == 0


def test_one_github_account_links_one_hub_user(tmp_path):
    store = LinkStore(tmp_path / "links.sqlite", KEY)
    store.put("ada", ALICE)
    with pytest.raises(AlreadyLinked, match="already linked to another user") as refused:
        store.put("grace", ALICE)
    assert "ada" not in str(refused.value)  # not grace's to know
    assert store.get("grace") is None
    assert store.get("ada") == ALICE


def test_relinking_replaces_the_users_own_link(tmp_path):
    store = LinkStore(tmp_path / "links.sqlite", KEY)
    store.put("ada", ALICE)
    bob = Link(7000002, "bob", None, None, "gho_b", ())
    store.put("ada", bob)
    assert store.get("ada") == bob
    store.put("grace", ALICE)  # alice's account is free again
    assert store.get("grace") == ALICE


def test_unlinking_forgets_and_returns_the_link_to_revoke(tmp_path):
    store = LinkStore(tmp_path / "links.sqlite", KEY)
    store.put("ada", ALICE)
    assert store.remove("ada") == ALICE
    assert store.get("ada") is None
    assert store.remove("ada") is None


def test_a_changed_key_is_an_error_that_says_what_to_do(tmp_path):
    LinkStore(tmp_path / "links.sqlite", KEY).put("ada", ALICE)
    with pytest.raises(StoreError, match="link GitHub again"):
        LinkStore(tmp_path / "links.sqlite", bytes(32)).get("ada")


def test_a_short_key_is_refused(tmp_path):
    with pytest.raises(StoreError, match="32 bytes"):
        LinkStore(tmp_path / "links.sqlite", b"short")


def test_the_store_is_one_row_per_hub_user(tmp_path):
    store = LinkStore(tmp_path / "links.sqlite", KEY)
    store.put("ada", ALICE)
    store.put("ada", ALICE)
    with sqlite3.connect(tmp_path / "links.sqlite") as db:
        assert db.execute("SELECT count(*) FROM links").fetchone() == (1,)


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


def test_a_flow_finishes_once_for_the_user_who_began_it():
    flows = PendingFlows()
    flow = flows.begin("ada")
    assert verify_pkce(flow.challenge, "S256", flow.verifier)
    assert flows.finish(flow.state, "ada") == flow
    with pytest.raises(FlowError, match="unknown or was already used"):
        flows.finish(flow.state, "ada")


def test_a_callback_for_another_users_flow_links_nobody():
    flows = PendingFlows()
    flow = flows.begin("ada")
    with pytest.raises(FlowError, match="started by another hub user"):
        flows.finish(flow.state, "grace")
    with pytest.raises(FlowError, match="unknown"):  # and the flow is spent
        flows.finish(flow.state, "ada")


def test_a_missing_or_forged_state_is_refused():
    flows = PendingFlows()
    flows.begin("ada")
    for state in (None, "", "forged"):
        with pytest.raises(FlowError):
            flows.finish(state, "ada")


def test_a_flow_expires():
    clock = Clock()
    flows = PendingFlows(clock=clock, ttl=10)
    flow = flows.begin("ada")
    clock.now = 10
    with pytest.raises(FlowError, match="expired"):
        flows.finish(flow.state, "ada")


def test_a_link_in_a_log_line_does_not_carry_the_token():
    assert ALICE.token not in repr(ALICE)
    assert "alice" in repr(ALICE)
