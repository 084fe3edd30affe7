"""Workshop passwords: one-time passwords from `devlab users import`, and who may log in.

An imported account has no password of its own until its first login. Without a secret
issued beforehand, whoever typed the name first would own it. So the organiser's import
issues each new account a one-time password; the first login must present it and choose
the account's own password in the same form, and from then on only that password works.

Pure logic (bcrypt is computation, not I/O): the hub's authenticator stores the hashes
and applies the `decide` outcome; the CLI generates and hashes what it hands out.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from enum import Enum

import bcrypt

# Lower case letters and digits without the look-alikes 0/o, 1/l/i: read off a printout
# or a projector and typed on any keyboard.
ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
# 12 symbols of 31: 59 bits. Guessing happens online, one bcrypt check per try.
GROUPS = 3
GROUP_LENGTH = 4
_BCRYPT_HASH = re.compile(rb"^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$")

REFUSED = "Invalid username or password"


def new_one_time_password() -> str:
    """A random one-time password such as `k7pm-2xq9-hdr4`."""
    return "-".join(
        "".join(secrets.choice(ALPHABET) for _ in range(GROUP_LENGTH)) for _ in range(GROUPS)
    )


def normalize_one_time_password(text: str) -> str:
    """What a person typed, without the case, spaces and hyphens they may add or drop."""
    return re.sub(r"[\s-]", "", text).lower()


def hash_one_time_password(one_time_password: str) -> bytes:
    return hash_password(normalize_one_time_password(one_time_password))


def hash_password(password: str) -> bytes:
    """bcrypt, as FirstUseAuthenticator stores passwords, so both hashes share one format."""
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt())


def is_password_hash(value: bytes) -> bool:
    """Whether `value` is a bcrypt hash: what the hub accepts as a one-time password's hash."""
    return bool(_BCRYPT_HASH.match(value))


def _matches(password: str, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(password.encode("utf-8"), hashed)
    except ValueError:  # a stored value that is not a bcrypt hash matches nothing
        return False


@dataclass(frozen=True)
class Account:
    """What the hub knows about a name when someone tries to log in with it.

    `exists`: the hub has the user (imported, an admin from the config, or signed up).
    A pending one-time password wins over a stored password: a reissue (a forgotten or
    leaked password) makes the old password useless before it is deleted.
    """

    exists: bool
    password_hash: bytes | None = None
    one_time_hash: bytes | None = None


@dataclass(frozen=True)
class Attempt:
    """The login form: `password` (the one-time password at first login), and at first
    login the chosen password, typed twice."""

    password: str
    new_password: str = ""
    new_password_again: str = ""


@dataclass(frozen=True)
class Policy:
    open_signup: bool
    min_password_length: int


class Outcome(Enum):
    LOG_IN = "log in"
    SET_PASSWORD = "set password, forget the one-time password, log in"
    SIGN_UP = "store the first password, log in"
    REFUSE = "refuse"


@dataclass(frozen=True)
class Decision:
    """What the authenticator does; `message` is shown on the login page, `log` goes only
    to the hub's log (it names facts a stranger must not learn from the page)."""

    outcome: Outcome
    new_hash: bytes | None = None
    message: str = REFUSED
    log: str | None = None


def decide(name: str, account: Account, attempt: Attempt, policy: Policy) -> Decision:
    """The login state machine: pending one-time password -> own password -> plain login.

    Messages beyond "invalid username or password" appear only after the one-time
    password was right, so the page never tells a stranger which names exist.
    """
    if account.one_time_hash is not None:
        return _first_login(name, account.one_time_hash, attempt, policy)
    if account.password_hash is not None:
        if _matches(attempt.password, account.password_hash):
            return Decision(Outcome.LOG_IN)
        return Decision(Outcome.REFUSE)
    if account.exists:
        return Decision(
            Outcome.REFUSE,
            log=(
                f"{name} has neither a password nor a one-time password: "
                f"`devlab users reset-password {name}` issues one"
            ),
        )
    if not policy.open_signup:
        return Decision(Outcome.REFUSE, log=f"{name} is not a user and open_signup is off")
    if len(attempt.password) < policy.min_password_length:
        return Decision(Outcome.REFUSE, message=_too_short(policy))
    return Decision(Outcome.SIGN_UP, new_hash=hash_password(attempt.password))


def _first_login(name: str, one_time_hash: bytes, attempt: Attempt, policy: Policy) -> Decision:
    one_time = normalize_one_time_password(attempt.password)
    if not _matches(one_time, one_time_hash):
        return Decision(Outcome.REFUSE)
    new = attempt.new_password
    if not new:
        return Decision(
            Outcome.REFUSE,
            message=(
                "That is your one-time password. Choose your own password under "
                "'New password' (twice) and sign in again with the one-time password."
            ),
        )
    if new != attempt.new_password_again:
        return Decision(
            Outcome.REFUSE, message="The two new passwords differ: type the same one twice."
        )
    if len(new) < policy.min_password_length:
        return Decision(Outcome.REFUSE, message=_too_short(policy))
    if normalize_one_time_password(new) == one_time:
        return Decision(
            Outcome.REFUSE,
            message="Choose a password of your own, not the one-time password.",
        )
    return Decision(
        Outcome.SET_PASSWORD,
        new_hash=hash_password(new),
        log=f"{name} used their one-time password and chose a password",
    )


def _too_short(policy: Policy) -> str:
    return f"Choose a password at least {policy.min_password_length} characters long."
