"""lab.build end to end: a project's own lab image, which `devlab up` builds on top of
devlab's lab image and the hub spawns by default."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import docker
import pytest
import yaml

from devlab.platform import DEFAULT_CONFIG

# What a project writes: devlab's lab image comes in as BASE_IMAGE. The RUN step reads
# the optional extra CA bundle as devlab's own builds do (a compose build secret).
DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY marker.txt /opt/project/marker.txt
USER 0
RUN --mount=type=secret,id=ca_bundle test -e /run/secrets/ca_bundle \\
 && echo mounted > /opt/project/ca-secret
USER 65534:65534
"""


def project_config(folder: Path, build: dict) -> Path:
    """devlab's default config with lab.build, and no menu images: the spawn's default is
    the locally built lab image, here the project's."""
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["lab"]["build"] = build
    config["local_registry"] = False
    for key in ("images", "sources"):
        config.get("catalog", {}).pop(key, None)
    path = folder / "devlab.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def project(devlab, tmp_path_factory):
    folder = tmp_path_factory.mktemp("project")
    (folder / "lab").mkdir()
    (folder / "lab" / "Dockerfile").write_text(DOCKERFILE)
    # Unique per run: the build runs every time, never an image left by an earlier run.
    (folder / "lab" / "marker.txt").write_text(f"built {uuid.uuid4().hex}\n")
    path = project_config(folder, {"context": "lab"})  # relative to devlab.yaml's folder
    devlab.up(config=path)
    image = devlab.status().lab_image
    yield path, image
    devlab.up()  # the session's own config for later modules
    docker.from_env().images.remove(image)


def test_the_hub_spawns_the_projects_image_as_the_user(devlab, project):
    path, image = project
    assert image.startswith("devlab/project-lab:")
    fallback = [r.ref for r in devlab.status().images or () if r.role == "fallback"]
    assert fallback == [image]  # what the prepuller offers when the menu has nothing else

    lab = devlab.login("alice").spawn()
    try:
        info = lab.execute("print(open('/etc/devlab-image.json').read())")
        assert info.ok, info.error
        assert json.loads(info.stdout)["image"] == image
        result = lab.execute(
            "import os, pwd\n"
            "print(pwd.getpwuid(os.getuid()).pw_name, os.getuid())\n"
            "print(open('/opt/project/marker.txt').read().strip())\n"
            "print(open('/opt/project/ca-secret').read().strip())\n"
        )
        assert result.ok, result.error
        marker = (path.parent / "lab" / "marker.txt").read_text().strip()
        # devlab's lab underneath: the user's own identity, from the spawner.
        assert result.stdout.splitlines() == ["alice 7000001", marker, "mounted"]
    finally:
        lab.stop()


def test_a_warm_up_does_not_rebuild_it(devlab, project):
    path, image = project
    before = docker.from_env().images.get(image).id
    result = devlab.cli("up", "--config", str(path))
    # Only this image's line: devlab's own may rebuild when its checkout changed meanwhile.
    assert f"Building {image}" not in result.stdout + result.stderr
    assert docker.from_env().images.get(image).id == before
    assert devlab.status().lab_image == image


def test_a_missing_context_is_named_by_up_and_doctor_before_anything_starts(devlab, tmp_path):
    path = project_config(tmp_path, {"context": "no-such-folder"})
    stack = f"devlab-labbuild-{uuid.uuid4().hex[:8]}"
    up = devlab.cli("up", "--config", str(path), "--stack", stack, check=False)
    assert up.returncode == 1
    assert f"{path}:" in up.stderr
    assert f"lab.build.context: no folder {tmp_path.resolve() / 'no-such-folder'}" in up.stderr
    client = docker.from_env()
    assert not client.containers.list(
        all=True, filters={"label": f"com.docker.compose.project={stack}"}
    )

    doctor = devlab.cli("doctor", "--config", str(path), check=False)
    assert doctor.returncode == 1
    assert "lab.build.context: no folder" in doctor.stdout
