"""Stack settings, secrets, the env file and content-addressed image tags."""

import re
import stat
from pathlib import Path

import pytest

from devlab.config.models import AuthConfig
from devlab.platform import DEFAULT_CONFIG, PACKAGE_DIR, PLATFORM_DIR, defaults
from devlab.stack.envfile import compose_env, parse, read_env_file, render, write_env_file
from devlab.stack.images import HUB, LAB, content_hash, image_tag
from devlab.stack.secrets import SECRETS, ensure_secrets, read_secret
from devlab.stack.settings import SettingsError, check_exposure, resolve_settings

REPO = Path(__file__).resolve().parents[2]


def settings(tmp_path, **kwargs):
    env = {"DEVLAB_STATE_DIR": str(tmp_path / "state"), **kwargs.pop("env", {})}
    kwargs.setdefault("cwd", tmp_path)
    return resolve_settings(env=env, **kwargs)


def test_defaults_are_loopback_and_per_stack_state(tmp_path):
    s = settings(tmp_path)
    assert s.name == defaults.STACK
    assert s.bind == "127.0.0.1"  # safe by default: nothing beyond this machine
    assert s.hub_url == f"http://127.0.0.1:{defaults.HTTP_PORT}/"
    assert s.state_dir == (tmp_path / "state" / "devlab").resolve()
    assert s.config_path == DEFAULT_CONFIG
    assert s.config_source == "packaged default"
    assert s.base_image == defaults.BASE_IMAGE


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


def test_the_installed_package_is_the_stack_wherever_devlab_runs(tmp_path):
    s = resolve_settings(env={"DEVLAB_STATE_DIR": str(tmp_path)}, cwd=tmp_path)
    assert s.project_dir == PLATFORM_DIR
    assert s.compose_file.is_file()


@pytest.mark.parametrize("given", [REPO, REPO / "devlab", PLATFORM_DIR])
def test_project_dir_takes_a_checkout_its_package_or_its_platform_folder(tmp_path, given):
    s = settings(tmp_path, project_dir=str(given))
    assert s.project_dir == PLATFORM_DIR


def test_a_project_dir_without_a_stack_says_what_to_pass(tmp_path):
    with pytest.raises(SettingsError, match=r"holds no devlab stack.*--project-dir"):
        resolve_settings(project_dir=str(tmp_path), env={"DEVLAB_STATE_DIR": str(tmp_path)})


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
    (tmp_path / "platform" / "images" / "lab").mkdir(parents=True)
    dockerfile = tmp_path / "platform" / "images" / "lab" / "Dockerfile"
    dockerfile.write_text("FROM x\n")
    first = image_tag(LAB, "debian:bookworm-slim", tmp_path)
    assert first.startswith("devlab/lab:")
    assert image_tag(LAB, "debian:bookworm-slim", tmp_path) == first
    assert image_tag(LAB, "other:base", tmp_path) != first
    dockerfile.write_text("FROM y\n")
    assert image_tag(LAB, "debian:bookworm-slim", tmp_path) != first


def test_hub_tag_covers_the_package_and_its_build_files_only(tmp_path):
    (tmp_path / "hub" / "__pycache__").mkdir(parents=True)
    (tmp_path / "platform" / "images" / "hub").mkdir(parents=True)
    (tmp_path / "platform" / "images" / "lab").mkdir(parents=True)
    (tmp_path / "hub" / "a.py").write_text("x = 1\n")
    (tmp_path / "platform" / "images" / "hub" / "Dockerfile").write_text("FROM x\n")
    before = content_hash(tmp_path, HUB.inputs, "b", HUB.excludes)
    (tmp_path / "hub" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"junk")
    (tmp_path / "platform" / "images" / "lab" / "Dockerfile").write_text("FROM lab\n")
    (tmp_path / "platform" / "compose.yaml").write_text("services: {}\n")
    assert content_hash(tmp_path, HUB.inputs, "b", HUB.excludes) == before
    (tmp_path / "hub" / "a.py").write_text("x = 2\n")
    after_code = content_hash(tmp_path, HUB.inputs, "b", HUB.excludes)
    assert after_code != before
    (tmp_path / "platform" / "images" / "hub" / "Dockerfile").write_text("FROM y\n")
    assert content_hash(tmp_path, HUB.inputs, "b", HUB.excludes) != after_code


def test_the_hub_tag_hashes_what_the_hub_build_context_sends():
    """devlab/.dockerignore and HUB describe the same files: one cannot change alone."""
    ignore = (PACKAGE_DIR / ".dockerignore").read_text().split()
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert kept == {i for i in HUB.inputs if i != "."}
    assert "platform/" in ignore
    assert HUB.excludes == ("platform",)


def test_compose_never_sees_the_callers_devlab_variables():
    from devlab.stack.compose import compose_environment

    env = compose_environment(
        {"PATH": "/bin", "DEVLAB_STACK": "other", "COMPOSE_PROJECT_NAME": "x", "HOME": "/root"}
    )
    assert env == {"PATH": "/bin", "HOME": "/root"}


def test_compose_reads_every_value_from_the_env_file_and_keeps_no_defaults(tmp_path):
    """compose.yaml requires what `devlab up` writes, and defaults nothing it writes: a
    default there would be a second source that silently wins when the env file lacks it."""
    text = (PLATFORM_DIR / "compose.yaml").read_text()
    values = compose_env(
        settings(tmp_path),
        images={"hub": "h:1", "lab": "l:1", "nfs": "n:1"},
        ca_bundle=tmp_path / "ca.pem",
    )
    required = set(re.findall(r"\$\{(DEVLAB_\w+):\?", text))
    assert required, "compose.yaml names no required variable: the pattern is wrong"
    assert required - values.keys() == set()
    defaulted = dict(re.findall(r"\$\{(DEVLAB_\w+):-([^}$]+)\}", text))
    assert {name: default for name, default in defaulted.items() if name in values} == {}


def test_the_readmes_settings_table_shows_the_defaults_devlab_uses():
    """The table a new user reads is the one the code follows (platform/defaults.py)."""
    text = (REPO / "README.md").read_text()
    table = dict(re.findall(r"^\|[^|]+\|[^|]*\| `(DEVLAB_\w+)` \| `([^`]+)` \|$", text, re.M))
    expected = {
        "DEVLAB_STACK": defaults.STACK,
        "DEVLAB_HTTP_PORT": str(defaults.HTTP_PORT),
        "DEVLAB_OAUTH_PORT": str(defaults.OAUTH_PORT),
        "DEVLAB_CILOGON_PORT": str(defaults.CILOGON_PORT),
        "DEVLAB_NFS_PORT": str(defaults.NFS_PORT),
        "DEVLAB_REGISTRY_PORT": str(defaults.REGISTRY_PORT),
        "DEVLAB_BIND": defaults.BIND,
        "DEVLAB_BASE_IMAGE": defaults.BASE_IMAGE,
    }
    assert {name: table.get(name) for name in expected} == expected


@pytest.mark.parametrize(
    ("auth", "words"),
    [
        ({"provider": "github-mock"}, "any mock GitHub user"),
        ({"provider": "cilogon-mock"}, "any mock CILogon user"),
        ({"provider": "firstuse", "github_link": {}}, "link any mock GitHub account"),
    ],
)
def test_mocks_are_refused_beyond_loopback(tmp_path, auth, words):
    lan = settings(tmp_path, bind="0.0.0.0", tls_self_signed=True)
    with pytest.raises(SettingsError, match=words):
        check_exposure(lan, AuthConfig(**auth))
    check_exposure(settings(tmp_path), AuthConfig(**auth))  # on loopback: fine


def test_a_real_github_link_may_go_beyond_loopback(tmp_path):
    lan = settings(tmp_path, bind="0.0.0.0", tls_self_signed=True)
    link = {"client_id": "Iv1.abc", "client_secret_file": "/s"}
    check_exposure(lan, AuthConfig(provider="firstuse", github_link=link))
