"""Logging in to a devlab hub over plain HTTP, the way a browser does, for tests and benches.

requests only: `devlab bench` logs in without the test extra.
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests

from devlab.polling import PollTimeout, poll_until


class LoginError(RuntimeError):
    """The login was refused or went somewhere unexpected; the message shows where."""


def _with_query(url: str, **extra: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), *extra.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def github_mock_login(hub_url: str, login: str, timeout: float = 30) -> requests.Session:
    """The full OAuth redirect flow (state and PKCE included) as mock GitHub user `login`.

    Returns a session holding the hub's login cookie.
    """
    return _mock_login(hub_url, {"login": login}, login, timeout)


def cilogon_mock_login(hub_url: str, sub: str, timeout: float = 30) -> requests.Session:
    """The full OpenID Connect flow as the mock CILogon user whose subject is `sub`.

    Returns a session holding the hub's login cookie.
    """
    return _mock_login(hub_url, {"sub": sub}, sub, timeout)


def _mock_login(
    hub_url: str, approve: dict[str, str], who: str, timeout: float
) -> requests.Session:
    session, callback_url = mock_callback(hub_url, approve, who, timeout)
    callback = session.get(callback_url, allow_redirects=False, timeout=timeout)
    if callback.status_code != 302:
        raise LoginError(
            f"the hub refused {who}: {callback.status_code} {_page_message(callback.text)}"
        )
    return session


def github_mock_callback(
    hub_url: str, login: str, timeout: float = 30
) -> tuple[requests.Session, str]:
    """The OAuth flow as mock GitHub user `login` up to the provider's redirect back."""
    return mock_callback(hub_url, {"login": login}, login, timeout)


def mock_callback(
    hub_url: str, approve: dict[str, str], who: str, timeout: float = 30
) -> tuple[requests.Session, str]:
    """The OAuth flow through a mock provider up to its redirect back to the hub.

    Returns the session holding the hub's OAuth state cookie and the callback URL with
    the code and state, not yet visited. `approve` is the query that stands in for
    clicking the user on the provider's page (mock GitHub's `login=`, mock CILogon's
    `sub=`).
    """
    session = requests.Session()
    hub = hub_url.rstrip("/")
    start = session.get(f"{hub}/hub/oauth_login", allow_redirects=False, timeout=timeout)
    if start.status_code != 302:
        raise LoginError(f"/hub/oauth_login answered {start.status_code}, not a redirect")
    authorize = start.headers["Location"]
    approved = session.get(
        _with_query(authorize, **approve), allow_redirects=False, timeout=timeout
    )
    if approved.status_code != 302:
        raise LoginError(
            f"the provider refused {who}: {approved.status_code} {approved.text[:300]}"
        )
    return session, approved.headers["Location"]


def firstuse_login(
    hub_url: str,
    username: str,
    password: str,
    new_password: str | None = None,
    timeout: float = 30,
) -> requests.Session:
    """Log in through the hub's own login form.

    At an imported user's first login `password` is the one-time password from
    `devlab users import` and `new_password` the password they choose (typed twice, as
    the form asks); afterwards `password` is that chosen password.
    """
    session = requests.Session()
    hub = hub_url.rstrip("/")
    page = session.get(f"{hub}/hub/login", timeout=timeout)
    data = {"username": username, "password": password, **_xsrf(page.text)}
    if new_password is not None:
        data.update(new_password=new_password, new_password_again=new_password)
    reply = session.post(f"{hub}/hub/login", data=data, allow_redirects=False, timeout=timeout)
    if reply.status_code != 302:
        shown = re.search(r'<p class="login_error">(.*?)</p>', reply.text, re.DOTALL)
        message = unescape(shown.group(1)).strip() if shown else _page_message(reply.text)
        raise LoginError(f"the hub refused {username}: {reply.status_code} {message}")
    return session


def post_spawn_form(
    session: requests.Session,
    hub_url: str,
    username: str,
    options: dict[str, str] | None = None,
    timeout: float = 120,
) -> requests.Response:
    """Submit the spawn form as a browser does, with `options` over its preselected
    defaults; returns the hub's answer (the form itself when it has no form to post)."""
    spawn = f"{hub_url.rstrip('/')}/hub/spawn/{username}"
    page = session.get(spawn, timeout=timeout)
    if page.url.split("?")[0] != spawn or "<form" not in page.text:
        return page
    target = urljoin(page.url, _form_action(page.text) or spawn)
    return session.post(target, data={**_xsrf(page.text), **(options or {})}, timeout=timeout)


def open_lab(
    session: requests.Session,
    hub_url: str,
    username: str,
    options: dict[str, str] | None = None,
    timeout: float = 120,
) -> None:
    """Start the user's server as a browser would (submitting the spawn form with
    `options`, or its preselected defaults), and wait until the lab answers."""
    hub = hub_url.rstrip("/")
    post_spawn_form(session, hub_url, username, options, timeout)
    lab = f"{hub}/user/{username}/lab"

    def lab_answers() -> bool:
        # Until the lab is up the hub answers with its pending page; once up, the lab's
        # own OAuth handshake with the hub sets the lab cookie on the way to /lab.
        reply = session.get(lab, timeout=timeout)
        if reply.status_code != 200 or reply.url.split("?")[0] != lab:
            return False
        status = session.get(f"{hub}/user/{username}/api/status", timeout=timeout)
        return status.status_code == 200

    try:
        poll_until(lab_answers, f"{username}'s lab", timeout=timeout, interval=0.5)
    except PollTimeout as exc:
        raise LoginError(f"{username}'s lab did not answer within {timeout:.0f} s") from exc


def link_github_mock(
    session: requests.Session, hub_url: str, login: str, timeout: float = 30
) -> None:
    """Link mock GitHub user `login` to the hub user of `session`, as the link page's
    button does: the hub's OAuth into the service, then GitHub's web flow back to it."""
    page = _link_page(session, hub_url, timeout)
    start = session.post(
        urljoin(page.url, "link"), data=_xsrf(page.text), allow_redirects=False, timeout=timeout
    )
    if start.status_code != 302:
        raise LoginError(f"the link service did not start: {start.status_code}")
    approved = session.get(
        _with_query(start.headers["Location"], login=login), allow_redirects=False, timeout=timeout
    )
    if approved.status_code != 302:
        raise LoginError(f"mock GitHub refused {login}: {approved.status_code}")
    back = session.get(approved.headers["Location"], allow_redirects=False, timeout=timeout)
    if back.status_code != 302:
        raise LoginError(
            f"the link service refused {login}: {back.status_code} {_link_message(back.text)}"
        )


def unlink_github(session: requests.Session, hub_url: str, timeout: float = 30) -> str:
    """Press the link page's Unlink button; returns the message the page shows."""
    page = _link_page(session, hub_url, timeout)
    reply = session.post(urljoin(page.url, "unlink"), data=_xsrf(page.text), timeout=timeout)
    if reply.status_code != 200:
        raise LoginError(f"unlinking failed: {reply.status_code} {_page_message(reply.text)}")
    return _link_message(reply.text)


def _link_page(session: requests.Session, hub_url: str, timeout: float) -> requests.Response:
    """The link page, through the hub's OAuth into the service when it is the first visit."""
    page = session.get(f"{hub_url.rstrip('/')}/services/github-link/", timeout=timeout)
    if page.status_code != 200 or 'id="github-link-status"' not in page.text:
        raise LoginError(f"no link page: {page.status_code} {_page_message(page.text)}")
    return page


def _link_message(html: str) -> str:
    match = re.search(r'id="github-link-message"[^>]*>(.*?)</p>', html, re.DOTALL)
    return unescape(match.group(1)).strip() if match else _page_message(html)


def _form_action(html: str) -> str | None:
    """Where the page's form posts to (JupyterHub 6 carries the XSRF token there)."""
    match = re.search(r'<form[^>]*\saction="([^"]*)"', html)
    return unescape(match.group(1)) if match else None


def _xsrf(html: str) -> dict[str, str]:
    """The XSRF field JupyterHub puts in its forms, to post them back."""
    match = re.search(r'name="_xsrf"\s+value="([^"]+)"', html)
    return {"_xsrf": match.group(1)} if match else {}


def _page_message(html: str) -> str:
    """The error text of a JupyterHub page, without its markup."""
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.DOTALL | re.IGNORECASE)
    text = unescape(re.sub(r"<[^>]+>", " ", text))
    return " ".join(text.split())[:400]
