"""The packaged config's menu: today's build from the local registry, pushes seen in seconds.

The session's stack runs the packaged default config: local registry on, the menu
following local/devlab/lab, the prepuller's round every 600 s. Every wait below is capped
at 60 s, far below that interval, so what shows up was brought by a nudge, not a round.
"""

from __future__ import annotations

import datetime

import docker
import pytest

from devlab.catalog.registry import LOCAL_REGISTRY_USER
from devlab.catalog.state import ImageRecord
from devlab.catalog.tags import tags_for_day
from devlab.config import load_config
from devlab.polling import poll_until
from devlab.stack import engine
from devlab.stack.secrets import read_secret
from devlab.testing.crash import crash

NUDGED_WITHIN = 60  # seconds; the prepuller's own interval is 600


@pytest.fixture(scope="module")
def repository(devlab) -> str:
    config = load_config(devlab.settings.config_path)
    sources = [s.repository for s in config.catalog.sources]
    assert config.local_registry, "not the packaged default"
    assert "local/devlab/lab" in sources, "not the packaged default"
    return f"127.0.0.1:{devlab.settings.registry_port}/devlab/lab"


def form(devlab, user) -> str:
    return user.browser.get(f"{devlab.hub_url}hub/spawn/{user.name}").text


def offered(devlab) -> dict[str, ImageRecord]:
    return {r.ref: r for r in devlab.status().images or () if r.desired}


def daily(days_from_today: int) -> str:
    return tags_for_day(datetime.date.today() + datetime.timedelta(days=days_from_today))[2]


def test_the_first_up_offers_todays_build_from_the_local_registry(devlab, repository):
    today = [f"{repository}:{tag}" for tag in tags_for_day(datetime.date.today())]
    images = offered(devlab)
    for ref in today:
        assert ref in images, images
        assert images[ref].pulled, images[ref]
    assert images[today[0]].display_name.startswith("Recommended")

    alice = devlab.login("alice")
    page = form(devlab, alice)
    assert page.count('name="image"') > 1, page
    assert "Default lab image" not in page
    for ref in today:
        assert ref in page

    # The hub starts a lab from the registry's image: the prepuller has it here.
    lab = alice.spawn(image=today[0], size="small")
    try:
        shown = lab.execute("import os; print(os.environ['DEVLAB_IMAGE'])")
        assert shown.stdout.strip() == today[0]
    finally:
        lab.stop()


def test_a_push_is_in_the_form_within_seconds(devlab, repository):
    tag = daily(1)
    ref = f"{repository}:{tag}"
    alice = devlab.login("alice")
    assert ref not in form(devlab, alice)
    pushed = devlab.cli("images", "push", "--tag", tag).stdout
    assert f"Pushed {ref}" in pushed
    poll_until(
        lambda: ref in form(devlab, alice),
        f"{ref} in the spawn form after the push",
        timeout=NUDGED_WITHIN,
    )
    assert offered(devlab)[ref].pulled


def test_refresh_brings_a_tag_pushed_behind_devlabs_back(devlab, repository):
    tag = daily(2)
    ref = f"{repository}:{tag}"
    client = docker.from_env()
    client.images.get(devlab.status().lab_image).tag(repository, tag)
    password = read_secret(devlab.settings.secrets_dir, "registry_password")
    login = {"username": LOCAL_REGISTRY_USER, "password": password}
    for line in client.images.push(repository, tag, stream=True, decode=True, auth_config=login):
        assert "error" not in line, line
    assert ref not in offered(devlab)  # a plain `docker push` nudges nothing

    devlab.cli("images", "refresh")
    poll_until(
        lambda: ref in offered(devlab),
        f"{ref} on the menu after `devlab images refresh`",
        timeout=NUDGED_WITHIN,
    )


def test_a_nudged_prepuller_is_still_restarted_after_a_crash(devlab):
    # `docker kill --signal` would have marked it stopped by hand, and then
    # `restart: unless-stopped` leaves a crashed prepuller down.
    devlab.cli("images", "refresh")
    client = docker.from_env()
    (prepuller,) = engine.service_containers(client, devlab.name, "prepuller")
    restarts = prepuller.attrs["RestartCount"]
    crash(prepuller, "python3 -m devlab.catalog")  # dies inside, nobody stopped it

    def restarted() -> bool:
        prepuller.reload()
        return prepuller.attrs["RestartCount"] > restarts and prepuller.status == "running"

    poll_until(restarted, "the crashed prepuller to be restarted", timeout=120)
