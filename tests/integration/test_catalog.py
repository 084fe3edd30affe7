"""The image menu end to end: a local registry, the prepuller, the form, and spawns.

The registry runs as devlab runs it: on loopback only, every request behind the stack's
registry password, deletes off.
"""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import docker
import pytest
import requests
import yaml

from devlab.catalog.registry import LOCAL_REGISTRY_USER, MANIFEST_TYPES
from devlab.catalog.state import ImageRecord
from devlab.platform import DEFAULT_CONFIG
from devlab.polling import poll_until
from devlab.stack import engine
from devlab.stack.compose import run_compose
from devlab.stack.envfile import read_env_file, write_env_file
from devlab.stack.secrets import read_secret
from devlab.testing.login import post_spawn_form
from devlab.testing.user import SpawnError

INTERVAL = 3  # seconds between prepull rounds in this test's config


def catalog_config(tmp_path: Path, registry: str) -> Path:
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["local_registry"] = True
    config["catalog"] = {
        "sources": [
            {
                "repository": f"{registry}/devlab/lab",
                "api_url": "http://registry:5000",  # from the prepuller's container
                "recommended_tag": "recommended",
                "releases": 0,
                # The session's `up` (packaged config) published today's build here too:
                # two weeklies keep this module's w_2026_47 on the menu whatever the date.
                "weeklies": 2,
                "dailies": 2,
            }
        ],
        "images": [{"ref": f"{registry}/devlab/lab:no-such-tag", "display_name": "Missing"}],
        "prepull": {"interval_seconds": INTERVAL},
    }
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def images_by_ref(devlab) -> dict[str, ImageRecord]:
    return {record.ref: record for record in devlab.status().images or ()}


@pytest.fixture(scope="module")
def registry(devlab, tmp_path_factory):
    """The session's stack with the local registry and a menu that follows it."""
    host = f"127.0.0.1:{devlab.settings.registry_port}"
    devlab.up(config=catalog_config(tmp_path_factory.mktemp("catalog"), host))
    yield host
    devlab.up()  # the session's own config for later modules


def login(devlab) -> dict[str, str]:
    """The local registry's login, as `devlab images push` holds it."""
    password = read_secret(devlab.settings.secrets_dir, "registry_password")
    return {"username": LOCAL_REGISTRY_USER, "password": password}


def variant_image(base: str) -> str:
    """A second, distinct lab image: the stack's lab image with one more label."""
    client = docker.from_env()
    dockerfile = f"FROM {base}\nLABEL devlab.test.variant=weekly\n".encode()
    image, _ = client.images.build(fileobj=io.BytesIO(dockerfile), rm=True)
    return image.id


def test_the_prepuller_pulls_what_the_registry_holds_and_the_form_lists_it(devlab, registry):
    devlab.cli("images", "push", "--tag", "recommended", "--tag", "d_2026_11_25")
    client = docker.from_env()
    lab_image = devlab.status().lab_image
    weekly = f"{registry}/devlab/lab:w_2026_47"
    client.images.get(variant_image(lab_image)).tag(weekly)
    pushed = client.images.push(
        f"{registry}/devlab/lab", "w_2026_47", stream=True, decode=True, auth_config=login(devlab)
    )
    for line in pushed:
        assert "error" not in line, line
    client.images.remove(weekly)  # only the prepuller may bring it back

    daily = f"{registry}/devlab/lab:d_2026_11_25"
    poll_until(
        lambda: all(
            (record := images_by_ref(devlab).get(r)) is not None and record.pulled
            for r in (weekly, daily)
        ),
        "the prepuller to pull the weekly and the daily",
        timeout=120,
    )
    missing = images_by_ref(devlab)[f"{registry}/devlab/lab:no-such-tag"]
    assert missing.status == "failed"
    # The engine's own words for a tag the registry lacks, passed on to `devlab images`.
    assert missing.reason is not None
    assert "not found" in missing.reason or "manifest unknown" in missing.reason, missing

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
    poll_until(
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
    labels = [f"devlab.stack={devlab.name}", "devlab.user=bob"]
    assert not docker.from_env().containers.list(all=True, filters={"label": labels})


def test_devlab_images_lists_the_menu(devlab, registry):
    listing = devlab.cli("images", "list").stdout
    assert "Weekly 2026_47" in listing
    assert "failed" in listing


def test_anonymous_writes_and_deletes_are_refused_and_deletes_are_off(devlab, registry):
    devlab.cli("images", "push", "--tag", "recommended")
    api = f"http://{registry}/v2/devlab/lab"
    password = (LOCAL_REGISTRY_USER, login(devlab)["password"])
    accept = {"Accept": ", ".join(MANIFEST_TYPES)}
    head = requests.head(f"{api}/manifests/recommended", headers=accept, auth=password, timeout=10)
    assert head.status_code == 200
    digest = head.headers["Docker-Content-Digest"]
    manifest = requests.get(
        f"{api}/manifests/recommended", headers=accept, auth=password, timeout=10
    )

    # Nothing answers without the password, reads included.
    for method, url, body in (
        ("POST", f"{api}/blobs/uploads/", None),
        ("PUT", f"{api}/manifests/recommended", manifest.content),
        ("DELETE", f"{api}/manifests/{digest}", None),
        ("GET", f"{api}/tags/list", None),
    ):
        headers = {"Content-Type": manifest.headers["Content-Type"]} if body else {}
        answer = requests.request(method, url, data=body, headers=headers, timeout=10)
        assert answer.status_code == 401, (method, url, answer.status_code, answer.text)
        assert answer.headers["WWW-Authenticate"].startswith("Basic ")
        wrong = requests.request(
            method, url, data=body, headers=headers, auth=("devlab", "guess"), timeout=10
        )
        assert wrong.status_code == 401, (method, url, wrong.status_code)

    # With the password a delete is still refused: the registry has deletes off.
    deleted = requests.delete(f"{api}/manifests/{digest}", auth=password, timeout=10)
    assert deleted.status_code == 405, deleted.text
    after = requests.head(f"{api}/manifests/recommended", headers=accept, auth=password, timeout=10)
    assert after.headers["Docker-Content-Digest"] == digest


def test_the_registry_is_published_on_loopback_only(devlab, registry, tmp_path):
    client = docker.from_env()
    (container,) = engine.service_containers(client, devlab.name, "registry")
    bindings = container.attrs["NetworkSettings"]["Ports"]["5000/tcp"]
    assert {b["HostIp"] for b in bindings} == {"127.0.0.1"}

    # Rendered for a workshop (`up --bind 0.0.0.0`): the proxy follows the bind, the
    # registry stays on loopback.
    values = read_env_file(devlab.settings.env_file)
    assert "registry" in values["COMPOSE_PROFILES"].split(",")
    lan = replace(devlab.settings, state_dir=tmp_path)
    write_env_file(lan.env_file, {**values, "DEVLAB_BIND": "0.0.0.0"})
    rendered = run_compose(lan, ["config", "--format", "json"], capture=True)
    assert rendered.returncode == 0, rendered.stderr
    services = json.loads(rendered.stdout)["services"]
    assert [p["host_ip"] for p in services["proxy"]["ports"]] == ["0.0.0.0"]
    assert [p["host_ip"] for p in services["registry"]["ports"]] == ["127.0.0.1"]
