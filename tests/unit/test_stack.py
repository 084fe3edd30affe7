"""Stack settings, secrets, the env file and content-addressed image tags."""

import stat
from pathlib import Path

import pytest

from devlab.stack.envfile import compose_env, parse, read_env_file, render, write_env_file
from devlab.stack.images import HUB, LAB, content_hash, image_tag
from devlab.stack.secrets import SECRETS, ensure_secrets, read_secret
from devlab.stack.settings import SettingsError, resolve_settings

REPO = Path(__file__).resolve().parents[2]


def settings(tmp_path, **kwargs):
    env = {"DEVLAB_STATE_DIR": str(tmp_path / "state"), **kwargs.pop("env", {})}
    return resolve_settings(project_dir=str(REPO), env=env, **kwargs)


def test_defaults_are_loopback_and_per_stack_state(tmp_path):
    s = settings(tmp_path)
    assert s.name == "devlab"
    assert s.bind == "127.0.0.1"
    assert s.hub_url == "http://127.0.0.1:8000/"
    assert s.state_dir == (tmp_path / "state" / "devlab").resolve()
    assert s.config_path == REPO / "config" / "devlab.yaml"
    assert s.base_image == "debian:bookworm-slim"


def test_options_beat_environment(tmp_path):
    s = settings(
        tmp_path, stack="ci-1", port=9001, env={"DEVLAB_STACK": "x", "DEVLAB_HTTP_PORT": "9"}
    )
    assert (s.name, s.http_port) == ("ci-1", 9001)
    assert s.network == "ci-1_default"


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"stack": "Bad Name"}, "Compose project name"),
        ({"port": 70000}, "out of range"),
        ({"env": {"DEVLAB_HTTP_PORT": "http"}}, "not a number"),
        ({"env": {"DEVLAB_CA_BUNDLE": "/nonexistent.pem"}}, "is not a file"),
    ],
)
def test_bad_settings_say_how_to_fix(tmp_path, kwargs, fragment):
    with pytest.raises(SettingsError, match=fragment):
        settings(tmp_path, **kwargs)


def test_project_dir_is_found_from_a_subdirectory(tmp_path):
    s = resolve_settings(env={"DEVLAB_STATE_DIR": str(tmp_path)}, cwd=REPO / "devlab" / "stack")
    assert s.project_dir == REPO


def test_secrets_are_private_generated_once_and_kept(tmp_path):
    directory = tmp_path / "secrets"
    assert sorted(ensure_secrets(directory)) == sorted(SECRETS)
    first = {name: read_secret(directory, name) for name in SECRETS}
    assert ensure_secrets(directory) == []
    assert {name: read_secret(directory, name) for name in SECRETS} == first
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for name in SECRETS:
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600
        assert len(first[name]) == 64
    assert len(set(first.values())) == len(SECRETS)


def test_env_file_round_trips_and_is_private(tmp_path):
    s = settings(tmp_path)
    values = compose_env(s, images={"hub": "h:1", "lab": "l:1"}, ca_bundle=tmp_path / "ca.pem")
    path = tmp_path / "compose.env"
    write_env_file(path, values)
    assert read_env_file(path) == values
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert values["DEVLAB_BIND"] == "127.0.0.1"
    assert (values["DEVLAB_HUB_IMAGE"], values["DEVLAB_LAB_IMAGE"]) == ("h:1", "l:1")
    assert read_env_file(tmp_path / "absent.env") is None


def test_the_prepuller_is_told_of_the_local_registry_only_when_it_runs(tmp_path):
    s = settings(tmp_path, registry_port=5123)
    without = compose_env(s, images={}, ca_bundle=tmp_path / "ca.pem")
    assert without["DEVLAB_LOCAL_REGISTRY"] == ""
    with_registry = compose_env(s, images={}, ca_bundle=tmp_path / "ca.pem", profiles=("registry",))
    assert with_registry["DEVLAB_LOCAL_REGISTRY"] == "127.0.0.1:5123"


def test_env_file_refuses_values_it_cannot_hold():
    with pytest.raises(ValueError, match="newline"):
        render({"A": "x\ny"})
    assert parse("# comment\n\nA='b'\n") == {"A": "b"}


def test_image_tag_follows_content(tmp_path):
    (tmp_path / "images" / "lab").mkdir(parents=True)
    dockerfile = tmp_path / "images" / "lab" / "Dockerfile"
    dockerfile.write_text("FROM x\n")
    first = image_tag(LAB, tmp_path, "debian:bookworm-slim")
    assert first.startswith("devlab/lab:")
    assert image_tag(LAB, tmp_path, "debian:bookworm-slim") == first
    assert image_tag(LAB, tmp_path, "other:base") != first
    dockerfile.write_text("FROM y\n")
    assert image_tag(LAB, tmp_path, "debian:bookworm-slim") != first


def test_hub_tag_covers_the_package_but_not_bytecode(tmp_path):
    (tmp_path / "devlab" / "__pycache__").mkdir(parents=True)
    (tmp_path / "devlab" / "a.py").write_text("x = 1\n")
    before = content_hash(tmp_path, HUB.inputs, "b")
    (tmp_path / "devlab" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"junk")
    assert content_hash(tmp_path, HUB.inputs, "b") == before
    (tmp_path / "devlab" / "a.py").write_text("x = 2\n")
    assert content_hash(tmp_path, HUB.inputs, "b") != before


def test_compose_never_sees_the_callers_devlab_variables():
    from devlab.stack.compose import compose_environment

    env = compose_environment(
        {"PATH": "/bin", "DEVLAB_STACK": "other", "COMPOSE_PROJECT_NAME": "x", "HOME": "/root"}
    )
    assert env == {"PATH": "/bin", "HOME": "/root"}
