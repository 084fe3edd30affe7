"""The image menu end to end: a local registry, the prepuller, the form, and spawns."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import docker
import pytest
import yaml

from devlab.testing.login import post_spawn_form
from devlab.testing.user import SpawnError

REPO = Path(__file__).resolve().parents[2]
INTERVAL = 3  # seconds between prepull rounds in this test's config


def catalog_config(tmp_path: Path, registry: str) -> Path:
    config = yaml.safe_load((REPO / "config" / "devlab.yaml").read_text())
    config["local_registry"] = True
    config["catalog"] = {
        "sources": [
            {
                "repository": f"{registry}/devlab/lab",
                "api_url": "http://registry:5000",  # from the prepuller's container
                "recommended_tag": "recommended",
                "releases": 0,
                "weeklies": 1,
                "dailies": 2,
            }
        ],
        "images": [{"ref": f"{registry}/devlab/lab:no-such-tag", "display_name": "Missing"}],
        "prepull": {"interval_seconds": INTERVAL},
    }
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def wait_for(predicate, what: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def images_by_ref(devlab) -> dict[str, dict]:
    return {record["ref"]: record for record in devlab.status()["images"] or []}


@pytest.fixture(scope="module")
def registry(devlab, tmp_path_factory):
    """The session's stack with the local registry and a menu that follows it."""
    host = f"127.0.0.1:{devlab.settings.registry_port}"
    devlab.up(config=catalog_config(tmp_path_factory.mktemp("catalog"), host))
    yield host
    devlab.up()  # the session's own config for later modules


def variant_image(base: str) -> str:
    """A second, distinct lab image: the stack's lab image with one more label."""
    client = docker.from_env()
    dockerfile = f"FROM {base}\nLABEL devlab.test.variant=weekly\n".encode()
    image, _ = client.images.build(fileobj=io.BytesIO(dockerfile), rm=True)
    return image.id


def test_the_prepuller_pulls_what_the_registry_holds_and_the_form_lists_it(devlab, registry):
    devlab.cli("images", "push", "--tag", "recommended", "--tag", "d_2026_11_25")
    client = docker.from_env()
    lab_image = devlab.status()["lab_image"]
    weekly = f"{registry}/devlab/lab:w_2026_47"
    client.images.get(variant_image(lab_image)).tag(weekly)
    for line in client.images.push(f"{registry}/devlab/lab", "w_2026_47", stream=True, decode=True):
        assert "error" not in line, line
    client.images.remove(weekly)  # only the prepuller may bring it back

    daily = f"{registry}/devlab/lab:d_2026_11_25"
    wait_for(
        lambda: all(
            images_by_ref(devlab).get(r, {}).get("status") == "pulled" for r in (weekly, daily)
        ),
        "the prepuller to pull the weekly and the daily",
    )
    missing = images_by_ref(devlab)[f"{registry}/devlab/lab:no-such-tag"]
    assert missing["status"] == "failed"
    assert missing["reason"]

    alice = devlab.login("alice")
    form = alice.browser.get(f"{devlab.hub_url}hub/spawn/alice").text
    assert weekly in form
    assert daily in form
    assert "Weekly 2026_47" in form

    for ref, variant in ((weekly, "weekly"), (daily, None)):
        lab = alice.spawn(image=ref, size="small")
        info = json.loads(_image_info(lab))
        assert info["image"] == ref
        assert info["labels"].get("devlab.test.variant") == variant
        assert lab.execute("import os; print(os.environ['DEVLAB_IMAGE'])").stdout.strip() == ref
        lab.stop()


def _image_info(lab) -> str:
    result = lab.execute("print(open('/etc/devlab-image.json').read())")
    assert result.ok, result.error
    return result.stdout


def test_a_new_daily_appears_in_the_form_within_an_interval(devlab, registry):
    new_daily = f"{registry}/devlab/lab:d_2026_11_26"
    devlab.cli("images", "push", "--tag", "d_2026_11_26")
    alice = devlab.login("alice")
    wait_for(
        lambda: new_daily in alice.browser.get(f"{devlab.hub_url}hub/spawn/alice").text,
        "the new daily in the form",
        timeout=INTERVAL * 2 + 60,  # one round to see it, then the pull
    )


def test_images_outside_the_menu_are_refused_and_create_nothing(devlab, registry):
    bob = devlab.login("bob")
    with pytest.raises(SpawnError, match="not offered"):
        bob.spawn(image=f"{registry}/devlab/lab:not-listed")
    with pytest.raises(SpawnError, match="not offered"):
        bob.spawn(size="enormous")
    posted = post_spawn_form(
        bob.browser, devlab.hub_url, "bob", {"image": "evil/image:latest", "size": "small"}
    )
    assert "not offered" in posted.text
    assert not docker.from_env().containers.list(all=True, filters={"label": "devlab.user=bob"})


def test_devlab_images_lists_the_menu(devlab, registry):
    listing = devlab.cli("images", "list").stdout
    assert "Weekly 2026_47" in listing
    assert "failed" in listing
