"""A person's whole visit, in a real browser: log in, choose a lab, work, leave.

Mock GitHub login by clicking a user, the spawn form (image and size), JupyterLab with
the standard notebooks refreshed from a local git repository, a cell run in a new
notebook, and devlab's "Save All, Stop Server and Log Out" ending on the hub's
logged-out page with the work saved and the server stopped.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import nbformat
import pytest

from devlab.testing.stack import DevlabStack

# Browser tests need a Docker engine like the integration tests: the integration mark
# makes tests/conftest.py skip them loudly without one (and fail under CI).
pytestmark = [pytest.mark.browser, pytest.mark.integration]

USER = "alice"
CILOGON_USER = "ada"  # the mock CILogon's; its own name, so never alice's home
UID = 7000001  # alice's GitHub id in config/devlab.yaml
SIZE = "medium"  # not the default, so the test sees that the choice reaches the lab
TUTORIAL = "welcome.ipynb"
TUTORIALS_DIR = "project-tutorials"
TUTORIAL_TEXT = "Welcome to the devlab tutorials"
LAB_TIMEOUT_MS = 180_000  # first start of a lab under a CPU quota, on a busy CI machine


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=devlab test", "-c", "user.email=test@example.org", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def tutorials_repo(tmp_path: Path) -> Path:
    """A local git repository (branch main) holding one notebook."""
    repo = tmp_path / "tutorials"
    repo.mkdir()
    # The lab reads the bind-mounted repository as alice's uid: world-readable.
    repo.chmod(0o755)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {TUTORIAL_TEXT}")])
    nbformat.write(notebook, repo / TUTORIAL)
    (repo / TUTORIAL).chmod(0o644)
    _git(repo, "init", "--quiet", "--initial-branch=main")
    _git(repo, "add", TUTORIAL)
    _git(repo, "commit", "--quiet", "-m", "A first tutorial")
    return repo


@pytest.fixture
def stack_with_tutorials(
    devlab: DevlabStack, tutorials_repo: Path, tmp_path: Path
) -> Iterator[DevlabStack]:
    """The session's stack, brought up again with lab.tutorials set; restored after."""

    def with_tutorials(config: dict) -> None:
        # Its own folder: alice's notebooks/tutorials already holds the builtin tutorials
        # (another repository's history, which nbgitpuller does not merge into).
        config.setdefault("lab", {})["tutorials"] = {
            "repository": str(tutorials_repo),
            "directory": f"notebooks/{TUTORIALS_DIR}",
        }

    with devlab.reconfigured(with_tutorials, tmp_path) as stack:
        yield stack


def _read_home_file(devlab: DevlabStack, relative: str) -> str:
    """A file in alice's home, read from the homes volume (her lab is stopped by then)."""
    image = devlab.status().hub_image
    output = docker.from_env().containers.run(
        image,
        ["cat", f"/homes/{USER}/{relative}"],
        volumes={f"{devlab.name}_homes": {"bind": "/homes", "mode": "ro"}},
        entrypoint=[],
        remove=True,
    )
    return output.decode()


def test_visit_from_login_to_logout(stack_with_tutorials, browser, screenshots: Path) -> None:
    from playwright.sync_api import expect

    devlab = stack_with_tutorials
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    try:
        # The hub's login page, then mock GitHub's: choose alice by clicking her.
        page.goto(devlab.hub_url)
        expect(page).to_have_url(re.compile(r"/hub/login"))
        page.screenshot(path=screenshots / "01-hub-login.png")
        page.locator("a[href*=oauth_login]").click()
        expect(page).to_have_url(re.compile(rf":{devlab.oauth_port}/login/oauth/authorize"))
        page.screenshot(path=screenshots / "02-mock-github-login.png")
        page.get_by_role("button", name=re.compile(rf"^{USER}\b")).click()

        # The spawn form: the image menu and the sizes.
        expect(page).to_have_url(re.compile(r"/hub/spawn"))
        image = page.locator("input[type=radio][name=image]").first
        expect(image).to_be_visible()
        expect(page.locator("input[type=radio][name=size]")).to_have_count(3)
        image.check()
        page.locator(f"input[type=radio][name=size][value={SIZE}]").check()
        page.screenshot(path=screenshots / "03-spawn-form.png", full_page=True)
        page.get_by_role("button", name=re.compile("Start", re.IGNORECASE)).click()

        # JupyterLab, as alice.
        expect(page).to_have_url(re.compile(rf"/user/{USER}/lab"), timeout=LAB_TIMEOUT_MS)
        # A fresh layout (launcher, file browser at home), whatever a reused home's
        # saved workspace holds.
        page.goto(f"{devlab.hub_url.rstrip('/')}/user/{USER}/lab?reset")
        launcher = page.locator(".jp-LauncherCard[data-category=Notebook]").first
        expect(launcher).to_be_visible(timeout=LAB_TIMEOUT_MS)

        # The tutorials folder, refreshed from the local repository at start, with
        # its log beside it.
        listing = page.locator(".jp-DirListing-content")
        listing.get_by_text("notebooks", exact=True).dblclick()
        # The refresh runs beside the server's start; the file browser polls for it.
        log_entry = listing.get_by_text("tutorials-refresh.log", exact=True)
        expect(log_entry).to_be_visible(timeout=LAB_TIMEOUT_MS)
        listing.get_by_text(TUTORIALS_DIR, exact=True).dblclick()
        expect(listing.get_by_text(TUTORIAL, exact=True)).to_be_visible(timeout=LAB_TIMEOUT_MS)
        page.screenshot(path=screenshots / "04-jupyterlab-tutorials.png")

        # A new notebook in the home (not inside the clone), from the launcher (Python 3,
        # no kernel dialog), and one cell.
        page.locator(".jp-BreadCrumbs-home").click()
        expect(listing.get_by_text("notebooks", exact=True)).to_be_visible()
        launcher.click()
        cell = page.locator(".jp-Notebook .jp-Cell .cm-content").first
        expect(cell).to_be_visible(timeout=60_000)
        # A cell run before the kernel is connected is not queued: wait for it.
        expect(page.locator("#jp-main-statusbar")).to_contain_text(
            "Python 3 (ipykernel) | Idle", timeout=60_000
        )
        cell.click()
        page.keyboard.type(
            "import os; m = os.umask(0); os.umask(m); "
            "print(os.getuid(), os.environ['DEVLAB_SIZE'], oct(m))"
        )
        page.keyboard.press("Shift+Enter")
        output = page.locator(".jp-OutputArea-output").first
        expect(output).to_have_text(re.compile(rf"{UID} {SIZE} 0o2"), timeout=60_000)
        page.screenshot(path=screenshots / "05-jupyterlab-notebook.png")
        tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel")
        notebook_path = tab.inner_text().strip()

        # Leave: File > Save All, Stop Server and Log Out, and confirm.
        page.locator(".lm-MenuBar-itemLabel", has_text="File").click()
        item = page.locator(".lm-Menu-itemLabel", has_text="Save All, Stop Server and Log Out")
        expect(item).to_be_visible()
        page.screenshot(path=screenshots / "06-file-menu.png")
        item.click()
        page.get_by_role("button", name="Stop and Log Out").click()

        # The hub's logged-out page: its login page again, with no one logged in.
        expect(page).to_have_url(re.compile(r"/hub/(login|logout)"), timeout=60_000)
        expect(page.locator("a[href*=oauth_login]")).to_be_visible()
        page.screenshot(path=screenshots / "07-logged-out.png")
    except Exception:
        page.screenshot(path=screenshots / "failure.png")
        raise
    finally:
        context.close()

    # The hub stopped the server through its API, with the lab page's own token (the
    # extension falls back to shutting the lab down itself, and says so, if the hub
    # does not grant that token delete:servers!server) ...
    refused = [line for line in console if "hub refused to stop" in line]
    assert not refused, f"the hub refused the lab's stop request: {refused}"
    devlab.admin.wait_stopped(USER, timeout=30)
    # ... after the notebook was saved, output included.
    saved = json.loads(_read_home_file(devlab, notebook_path))
    outputs = [o for c in saved["cells"] for o in c.get("outputs", [])]
    assert any(f"{UID} {SIZE} 0o2" in "".join(o.get("text", "")) for o in outputs), saved
    log = _read_home_file(devlab, "notebooks/tutorials-refresh.log")
    assert "refresh /srv/devlab/tutorials.git (branch main)" in log, log
    assert ": ok" in log, log


@pytest.fixture
def stack_with_cilogon(devlab: DevlabStack, tmp_path: Path) -> Iterator[DevlabStack]:
    """The session's stack on the packaged config with the mock CILogon, and GitHub
    linking against the mock GitHub; restored after."""

    def with_cilogon(config: dict) -> None:
        config["auth"]["provider"] = "cilogon-mock"
        config["auth"]["github_link"] = {}

    with devlab.reconfigured(with_cilogon, tmp_path) as stack:
        yield stack


def test_sign_in_through_the_mock_cilogon(stack_with_cilogon, browser, screenshots: Path) -> None:
    """The mock CILogon's page lists each IdP's users with their uid and groups; choosing
    one lands on the hub, signed in as that user's username claim."""
    from playwright.sync_api import expect

    devlab = stack_with_cilogon
    cilogon_url = devlab.status().cilogon_url
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(devlab.hub_url)
        page.locator("a[href*=oauth_login]").click()
        expect(page).to_have_url(re.compile(rf"^{re.escape(cilogon_url)}/authorize"))
        expect(page.locator("section.idp h2")).to_have_text(["Example University", "GitHub"])
        expect(page.locator("p.warn")).to_contain_text("not an identity provider")
        page.screenshot(path=screenshots / "11-mock-cilogon-login.png", full_page=True)
        page.get_by_role("button", name=re.compile(rf"^{CILOGON_USER}\b")).click()
        expect(page).to_have_url(re.compile(r"/hub/(spawn|home)"))
        page.screenshot(path=screenshots / "12-cilogon-signed-in.png")
        user = devlab.admin.user(CILOGON_USER)
        assert {"astro", "pipelines"} <= set(user["groups"])
        _link_github(page, devlab, screenshots)
    finally:
        context.close()


def _link_github(page, devlab: DevlabStack, screenshots: Path) -> None:
    """From the hub's home page's button: link mock GitHub's alice, then unlink."""
    from playwright.sync_api import expect

    page.goto(f"{devlab.hub_url}hub/home")
    button = page.locator("#devlab-github-link")
    expect(button).to_be_visible()
    page.screenshot(path=screenshots / "13-home-github-link-button.png")
    button.click()
    expect(page.locator("#github-link-status")).to_contain_text("No GitHub account is linked")
    page.screenshot(path=screenshots / "14-github-link-page.png")
    page.locator("#github-link").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(devlab.status().oauth_url)}/login/oauth"))
    page.get_by_role("button", name=re.compile(r"^alice\b")).click()
    expect(page.locator("#github-link-status")).to_contain_text("Linked to GitHub account alice")
    expect(page.locator("#github-link-status")).to_contain_text("alice@example.org")
    page.screenshot(path=screenshots / "15-github-linked.png")
    page.locator("#github-unlink").click()
    expect(page.locator("#github-link-message")).to_contain_text("revoked its token")
    expect(page.locator("#github-link")).to_be_visible()
