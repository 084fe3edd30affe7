"""Workshop passwords: one-time passwords, and the first-login state machine."""

import math
import re

import bcrypt
import pytest

from devlab.identity import passwords
from devlab.identity.passwords import (
    ALPHABET,
    REFUSED,
    Account,
    Attempt,
    Outcome,
    Policy,
    decide,
    hash_one_time_password,
    hash_password,
    is_password_hash,
    new_one_time_password,
    normalize_one_time_password,
)

CLOSED = Policy(open_signup=False, min_password_length=8)
OPEN = Policy(open_signup=True, min_password_length=8)


@pytest.fixture(autouse=True)
def _fast_bcrypt(monkeypatch):
    """Cost 4 instead of 12: the same algorithm, checked in milliseconds."""
    gensalt = bcrypt.gensalt
    monkeypatch.setattr(passwords.bcrypt, "gensalt", lambda: gensalt(rounds=4))


def test_one_time_passwords_are_typable_groups_with_enough_entropy():
    issued = {new_one_time_password() for _ in range(200)}
    assert len(issued) == 200
    for one_time in issued:
        assert re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", one_time)
        assert not set(one_time) & set("01ilo")  # no look-alikes
    # Every symbol of the alphabet in use (2400 draws of 31), and nothing else: 12
    # symbols of that many give the strength the printed sheet relies on.
    symbols = set("".join(issued).replace("-", ""))
    assert symbols == set(ALPHABET)
    assert 12 * math.log2(len(symbols)) > 59


def test_typing_slips_in_case_spaces_and_hyphens_are_forgiven():
    assert normalize_one_time_password(" K7PM 2xq9-hdr4\n") == "k7pm2xq9hdr4"
    hashed = hash_one_time_password("k7pm-2xq9-hdr4")
    pending = Account(exists=True, one_time_hash=hashed)
    for typed in ("k7pm-2xq9-hdr4", "K7PM2XQ9HDR4", "k7pm 2xq9 hdr4"):
        decision = decide("ann", pending, Attempt(typed, "ann's own pw", "ann's own pw"), CLOSED)
        assert decision.outcome is Outcome.SET_PASSWORD


def test_only_bcrypt_hashes_are_accepted_as_hashes():
    assert is_password_hash(hash_password("x"))
    assert not is_password_hash(b"k7pm-2xq9-hdr4")
    assert not is_password_hash(b"")
    assert not is_password_hash(hash_password("x") + b"tail")


@pytest.fixture
def pending():
    return Account(exists=True, one_time_hash=hash_one_time_password("k7pm-2xq9-hdr4"))


def test_a_pending_account_refuses_any_other_password_without_saying_why(pending):
    for attempt in (
        Attempt("whatever-I-like"),
        Attempt("whatever-I-like", "my password", "my password"),
        Attempt(""),
    ):
        decision = decide("ann", pending, attempt, OPEN)
        assert decision.outcome is Outcome.REFUSE
        assert decision.message == REFUSED
        assert decision.new_hash is None


def test_the_one_time_password_alone_asks_for_a_password_and_logs_nobody_in(pending):
    decision = decide("ann", pending, Attempt("k7pm-2xq9-hdr4"), CLOSED)
    assert decision.outcome is Outcome.REFUSE
    assert "one-time password" in decision.message
    assert "New password" in decision.message


@pytest.mark.parametrize(
    ("new", "again", "says"),
    [
        ("a fine password", "a fine passw0rd", "differ"),
        ("short", "short", "at least 8"),
        ("K7PM-2XQ9-HDR4", "K7PM-2XQ9-HDR4", "not the one-time password"),
    ],
)
def test_a_bad_new_password_is_refused_with_the_fix(pending, new, again, says):
    decision = decide("ann", pending, Attempt("k7pm-2xq9-hdr4", new, again), CLOSED)
    assert decision.outcome is Outcome.REFUSE
    assert says in decision.message


def test_the_one_time_password_sets_the_chosen_password(pending):
    decision = decide(
        "ann", pending, Attempt("k7pm-2xq9-hdr4", "a fine password", "a fine password"), CLOSED
    )
    assert decision.outcome is Outcome.SET_PASSWORD
    assert bcrypt.checkpw(b"a fine password", decision.new_hash)
    # What the authenticator stores next: the password, and no one-time password.
    claimed = Account(exists=True, password_hash=decision.new_hash)
    assert decide("ann", claimed, Attempt("a fine password"), CLOSED).outcome is Outcome.LOG_IN
    used = decide("ann", claimed, Attempt("k7pm-2xq9-hdr4", "x" * 9, "x" * 9), CLOSED)
    assert used.outcome is Outcome.REFUSE


def test_a_pending_one_time_password_wins_over_an_old_password():
    reissued = Account(
        exists=True,
        password_hash=hash_password("old password"),
        one_time_hash=hash_one_time_password("abcd-efgh-jkmn"),
    )
    assert decide("ann", reissued, Attempt("old password"), CLOSED).outcome is Outcome.REFUSE


def test_an_existing_account_with_no_secret_cannot_be_claimed_even_with_open_signup():
    organiser = Account(exists=True)  # an admin from the config, never imported
    for policy in (CLOSED, OPEN):
        decision = decide("organiser", organiser, Attempt("first come first served"), policy)
        assert decision.outcome is Outcome.REFUSE
        assert decision.message == REFUSED
        assert "devlab users reset-password organiser" in decision.log


def test_unknown_names_sign_up_only_with_open_signup():
    stranger = Account(exists=False)
    closed = decide("zed", stranger, Attempt("a long password"), CLOSED)
    assert closed.outcome is Outcome.REFUSE
    assert closed.message == REFUSED
    opened = decide("zed", stranger, Attempt("a long password"), OPEN)
    assert opened.outcome is Outcome.SIGN_UP
    assert bcrypt.checkpw(b"a long password", opened.new_hash)
    short = decide("zed", stranger, Attempt("short"), OPEN)
    assert short.outcome is Outcome.REFUSE
    assert "at least 8" in short.message


def test_a_stored_password_is_checked_as_firstuse_stores_it():
    stored = bcrypt.hashpw(b"correct horse", bcrypt.gensalt())  # FirstUse's own format
    account = Account(exists=True, password_hash=stored)
    assert decide("dave", account, Attempt("correct horse"), CLOSED).outcome is Outcome.LOG_IN
    assert decide("dave", account, Attempt("Correct horse"), CLOSED).outcome is Outcome.REFUSE
    broken = Account(exists=True, password_hash=b"not a hash")
    assert decide("dave", broken, Attempt("not a hash"), CLOSED).outcome is Outcome.REFUSE
