"""Workshop accounts: imported names are claimed only with their one-time password."""

from __future__ import annotations

import csv
import stat

import docker
import pytest
import requests

from devlab.stack.engine import service_containers
from devlab.testing.login import LoginError, firstuse_login

ROSTER = "username,admin,group\norganiser,yes,staff\nann,,room-a\nben,,room-a\n"


@pytest.fixture(scope="module")
def workshop(devlab):
    """The shipped workshop profile as is: FirstUse, open_signup left at its default."""
    devlab.up(profile="workshop")
    # Earlier modules of the session may have imported these names: start from none
    # (deleting a user drops their password and one-time password too).
    for name in ("organiser", "ann", "ben"):
        reply = devlab.admin.request("DELETE", f"/hub/api/users/{name}")
        assert reply.status_code in (204, 404), reply.text
    yield devlab
    devlab.up()  # the session's own config for later modules


@pytest.fixture(scope="module")
def issued(workshop, tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("workshop")
    roster = folder / "room.csv"
    roster.write_text(ROSTER)
    out = folder / "room-passwords.csv"
    result = workshop.cli("users", "import", str(roster), "--passwords-csv", str(out))
    assert "Wrote 3 one-time passwords" in result.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    with out.open(newline="") as f:
        passwords = {row["username"]: row["one_time_password"] for row in csv.DictReader(f)}
    assert set(passwords) == {"organiser", "ann", "ben"}
    for one_time in passwords.values():
        assert one_time not in result.stdout + result.stderr  # only in the file
    return passwords


def refused(workshop, name: str, password: str, new_password: str | None = None) -> str:
    with pytest.raises(LoginError) as caught:
        firstuse_login(workshop.hub_url, name, password, new_password)
    return str(caught.value)


def table_passwords(stdout: str) -> dict[str, str]:
    """The USER / ONE-TIME PASSWORD table the CLI prints when no CSV is asked for."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("USER"))
    rows = {}
    for line in lines[start + 1 :]:
        cells = line.split()
        if len(cells) != 2:
            break
        rows[cells[0]] = cells[1]
    return rows


def test_the_login_page_asks_for_the_new_password_of_a_first_login(workshop):
    page = requests.get(f"{workshop.hub_url}/hub/login", timeout=30).text
    for field in ('name="password"', 'name="new_password"', 'name="new_password_again"'):
        assert field in page


def test_an_imported_name_cannot_be_claimed_by_arriving_first(workshop, issued):
    for guess in ("a good password", "", issued["ben"]):
        assert "Invalid username or password" in refused(workshop, "ann", guess)
        assert "Invalid username or password" in refused(
            workshop, "ann", guess, "mallory's password"
        )
    # The one-time password alone logs nobody in: it asks for the new password.
    assert "New password" in refused(workshop, "ann", issued["ann"])
    assert "at least 8" in refused(workshop, "ann", issued["ann"], "short")

    ann = workshop.login("ann", issued["ann"], new_password="ann's own password")
    assert ann.name == "ann"
    assert "Invalid username or password" in refused(workshop, "ann", issued["ann"])
    assert "Invalid username or password" in refused(
        workshop, "ann", issued["ann"], "a takeover password"
    )
    firstuse_login(workshop.hub_url, "ann", "ann's own password")
    assert "Invalid username or password" in refused(workshop, "ann", "mallory's password")


def test_the_organiser_gets_in_the_same_way_and_is_an_admin(workshop, issued):
    assert "Invalid username or password" in refused(workshop, "organiser", "first come!")
    firstuse_login(workshop.hub_url, "organiser", issued["organiser"], "organiser's password")
    firstuse_login(workshop.hub_url, "organiser", "organiser's password")
    assert workshop.admin.user("organiser")["admin"] is True


def test_unknown_names_cannot_sign_up(workshop, issued):
    refused(workshop, "stranger", "a good password")
    refused(workshop, "stranger", "a good password", "a good password")
    assert workshop.admin.request("GET", "/hub/api/users/stranger").status_code == 404


def test_reimport_issues_nothing_new_and_never_overwrites_the_csv(workshop, issued, tmp_path):
    roster = tmp_path / "room.csv"
    roster.write_text(ROSTER)
    existing = tmp_path / "taken.csv"
    existing.write_text("keep me\n")
    clash = workshop.cli(
        "users", "import", str(roster), "--passwords-csv", str(existing), check=False
    )
    assert clash.returncode == 1
    assert "never overwrites" in clash.stderr
    assert existing.read_text() == "keep me\n"

    again = workshop.cli("users", "import", str(roster))
    assert "ONE-TIME PASSWORD" not in again.stdout
    for name in ("organiser", "ann", "ben"):
        assert f"{name}: has a password or an unused one-time password" in again.stdout
    # ben's first one-time password was not replaced by the re-import.
    firstuse_login(workshop.hub_url, "ben", issued["ben"], "ben's own password")


def test_reset_password_replaces_both_and_survives_a_hub_restart(workshop, issued):
    firstuse_login(workshop.hub_url, "ann", "ann's own password")
    reset = workshop.cli("users", "reset-password", "ann")
    assert "Shown once" in reset.stdout
    new_one_time = table_passwords(reset.stdout)["ann"]
    assert new_one_time != issued["ann"]
    assert "Invalid username or password" in refused(workshop, "ann", "ann's own password")

    client = docker.from_env()
    (hub,) = service_containers(client, workshop.name, "hub")
    hub.restart(timeout=10)
    workshop.up(profile="workshop")  # waits until the hub is healthy again

    assert "Invalid username or password" in refused(workshop, "ann", issued["ann"], "x" * 12)
    firstuse_login(workshop.hub_url, "ann", new_one_time, "ann's second password")
    firstuse_login(workshop.hub_url, "ann", "ann's second password")
    missing = workshop.cli("users", "reset-password", "nobody", check=False)
    assert missing.returncode == 1
    assert "devlab users import" in missing.stderr
