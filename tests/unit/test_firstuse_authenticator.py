"""devlab's FirstUse authenticator on real dbm files: one-time passwords issued, used, reissued.

The hub's user table is the one thing stood in for (a set of names); the login through a
real hub is in tests/integration/test_workshop.py.
"""

import asyncio
import os
import types
from pathlib import Path

import bcrypt
import jupyterhub
import pytest
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader

from devlab.hub.authenticators import FIRSTUSE_TEMPLATES, DevlabFirstUseAuthenticator
from devlab.identity import passwords
from devlab.identity.passwords import hash_one_time_password


@pytest.fixture(autouse=True)
def _fast_bcrypt(monkeypatch):
    gensalt = bcrypt.gensalt
    monkeypatch.setattr(passwords.bcrypt, "gensalt", lambda: gensalt(rounds=4))


@pytest.fixture
def hub_users():
    return {"ann", "organiser"}


@pytest.fixture
def auth(tmp_path, hub_users, monkeypatch):
    authenticator = DevlabFirstUseAuthenticator(
        dbm_path=str(tmp_path / "passwords.dbm"),
        one_time_dbm_path=str(tmp_path / "one-time.dbm"),
        create_users=False,
        min_password_length=8,
    )
    monkeypatch.setattr(authenticator, "_user_exists", lambda name: name in hub_users)
    return authenticator


def login(auth, name, password, new=None):
    handler = types.SimpleNamespace(custom_login_error="")
    data = {"username": name, "password": password}
    if new is not None:
        data.update(new_password=new, new_password_again=new)
    return asyncio.run(auth.authenticate(handler, data)), handler.custom_login_error


def test_first_login_needs_the_one_time_password_which_then_stops_working(auth):
    assert login(auth, "ann", "first come first served")[0] is None  # nothing issued yet
    assert auth.issue_one_time_password(
        "ann", hash_one_time_password("abcd-efgh-jkmn"), replace=False
    )
    assert auth.pending_one_time_passwords() == ["ann"]
    assert login(auth, "ann", "first come first served", "first come first served")[0] is None

    name, error = login(auth, "ann", "abcd-efgh-jkmn")
    assert name is None
    assert "New password" in error
    assert login(auth, "ann", "ABCD-EFGH-JKMN", "ann's password")[0] == "ann"
    assert auth.pending_one_time_passwords() == []
    assert login(auth, "ann", "abcd-efgh-jkmn", "mallory's password")[0] is None
    assert login(auth, "ann", "ann's password")[0] == "ann"


def test_issuing_skips_claimed_accounts_and_reissuing_drops_the_password(auth):
    first = hash_one_time_password("abcd-efgh-jkmn")
    assert auth.issue_one_time_password("ann", first, replace=False)
    assert not auth.issue_one_time_password("ann", hash_one_time_password("x"), replace=False)
    login(auth, "ann", "abcd-efgh-jkmn", "ann's password")
    assert not auth.issue_one_time_password("ann", hash_one_time_password("x"), replace=False)

    assert auth.issue_one_time_password(
        "ann", hash_one_time_password("pqrs-tuvw-xyz2"), replace=True
    )
    assert login(auth, "ann", "ann's password")[0] is None
    # A session left open cannot undo the reissue through the change-password page.
    assert "one-time password" in auth.reset_password("ann", "a new password")
    assert login(auth, "ann", "pqrs-tuvw-xyz2", "ann's second password")[0] == "ann"
    assert "success" in auth.reset_password("ann", "ann's third password")


def test_unknown_names_and_unissued_admins_are_refused_unless_signup_is_open(auth, hub_users):
    assert login(auth, "stranger", "a long password") == (None, "Invalid username or password")
    assert login(auth, "organiser", "a long password")[0] is None
    auth.create_users = True
    assert login(auth, "stranger", "a long password")[0] == "stranger"
    hub_users.add("stranger")
    assert login(auth, "stranger", "a long password")[0] == "stranger"
    assert login(auth, "organiser", "a long password")[0] is None  # exists: no first come


def test_deleting_a_user_forgets_their_one_time_password(auth):
    auth.issue_one_time_password("ann", hash_one_time_password("abcd-efgh-jkmn"), replace=False)
    auth.delete_user(types.SimpleNamespace(name="ann"))
    assert auth.pending_one_time_passwords() == []


def test_hash_files_are_private(auth, tmp_path):
    auth.issue_one_time_password("ann", hash_one_time_password("abcd-efgh-jkmn"), replace=False)
    login(auth, "ann", "abcd-efgh-jkmn", "ann's password")
    files = [p for p in tmp_path.iterdir() if ".dbm" in p.name]
    assert files
    for path in files:
        assert os.stat(path).st_mode & 0o777 == 0o600, path


def test_the_login_page_extends_jupyterhubs_with_the_first_login_fields():
    # The loaders as JupyterHub arranges them (JupyterHub.init_tornado_settings).
    share = Path(jupyterhub.__file__).parents[4] / "share" / "jupyterhub" / "templates"
    assert (share / "login.html").exists(), share
    env = Environment(
        loader=ChoiceLoader(
            [
                PrefixLoader({"templates": FileSystemLoader([str(share)])}, "/"),
                FileSystemLoader([str(FIRSTUSE_TEMPLATES), str(share)]),
            ]
        ),
        autoescape=True,
    )
    html = env.get_template("login.html").render(
        authenticator=types.SimpleNamespace(request_otp=False),
        static_url=lambda path, **_: f"/static/{path}",
        base_url="/hub/",
        xsrf="token",
        login_error="That is your one-time password.",
    )
    for field in ('name="username"', 'name="password"', 'name="new_password"'):
        assert field in html
    assert 'name="new_password_again"' in html
    assert '<details id="first_login" class="mt-3" open>' in html
