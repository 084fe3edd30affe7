"""lab.build: a project's own lab image, its config, where its files are, and its tag."""

from pathlib import Path

import pytest

from devlab.config import ConfigError, LabBuildPaths, lab_build_paths, load_config, parse_config
from devlab.stack import lifecycle
from devlab.stack.envfile import compose_env, read_env_file, spawn_image
from devlab.stack.images import project_lab_tag
from devlab.stack.settings import resolve_settings

BUILD = "lab:\n  build:\n    context: lab\n"


def project(tmp_path: Path, config: str = BUILD, dockerfile: str = "Dockerfile") -> Path:
    """A project folder: its devlab.yaml and a lab/ folder with a Dockerfile."""
    (tmp_path / "lab").mkdir(parents=True, exist_ok=True)
    (tmp_path / "lab" / dockerfile).write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
    path = tmp_path / "devlab.yaml"
    path.write_text(config)
    return path


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "conf.yaml")
    return str(info.value)


def test_build_takes_a_context_and_defaults_the_dockerfile():
    build = parse_config(BUILD).lab.build
    assert build is not None
    assert (build.context, build.dockerfile) == ("lab", "Dockerfile")
    assert parse_config("").lab.build is None


def test_image_and_build_together_name_both_keys():
    err = error_of("lab:\n  image: my/lab:1\n  build:\n    context: lab\n")
    assert err.startswith("conf.yaml:1: lab:")
    assert "lab.image and lab.build are both set" in err


@pytest.mark.parametrize("dockerfile", ["/etc/Dockerfile", "../Dockerfile", "a/../../Dockerfile"])
def test_the_dockerfile_must_be_inside_the_context(dockerfile):
    err = error_of(f"lab:\n  build:\n    context: lab\n    dockerfile: {dockerfile}\n")
    assert "conf.yaml:4: lab.build.dockerfile" in err
    assert "inside the context" in err


def test_build_without_a_context_or_with_a_misspelt_key_is_refused():
    assert "lab.build.context: Field required" in error_of("lab:\n  build: {}\n")
    assert "conf.yaml:4: lab.build.dockerfle: unknown key" in error_of(
        "lab:\n  build:\n    context: lab\n    dockerfle: x\n"
    )


def test_a_relative_context_starts_at_the_config_files_folder(tmp_path, monkeypatch):
    path = project(tmp_path)
    monkeypatch.chdir("/")  # not where devlab runs
    paths = lab_build_paths(load_config(path), path)
    assert paths == LabBuildPaths(tmp_path.resolve() / "lab", "Dockerfile")


def test_an_absolute_context_is_taken_as_is(tmp_path):
    project(tmp_path)
    path = tmp_path / "elsewhere" / "devlab.yaml"
    path.parent.mkdir()
    path.write_text(f"lab:\n  build:\n    context: {tmp_path / 'lab'}\n")
    assert lab_build_paths(load_config(path), path).context == tmp_path.resolve() / "lab"


def test_no_build_resolves_to_nothing(tmp_path):
    path = tmp_path / "devlab.yaml"
    path.write_text("")
    assert lab_build_paths(load_config(path), path) is None


def test_a_missing_context_names_file_line_key_and_the_folder_looked_in(tmp_path):
    path = tmp_path / "devlab.yaml"
    path.write_text("auth:\n  provider: none\nlab:\n  build:\n    context: nowhere\n")
    with pytest.raises(ConfigError) as info:
        lab_build_paths(load_config(path), path)
    assert f"{path}:5: lab.build.context: no folder {tmp_path.resolve() / 'nowhere'}" in str(
        info.value
    )


def test_a_missing_dockerfile_names_its_key(tmp_path):
    path = project(tmp_path, BUILD + "    dockerfile: lab.Dockerfile\n")
    with pytest.raises(ConfigError) as info:
        lab_build_paths(load_config(path), path)
    assert f"{path}:4: lab.build.dockerfile: no file" in str(info.value)


def test_a_profiles_build_is_reported_at_the_profiles_line(tmp_path):
    text = "profiles:\n  demo:\n    lab:\n      build:\n        context: gone\n"
    path = tmp_path / "devlab.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        lab_build_paths(load_config(path, "demo"), path, "demo")
    assert f"{path}:5: profiles.demo.lab.build.context: no folder" in str(info.value)


def test_the_tag_follows_the_context_the_dockerfile_and_devlabs_lab(tmp_path):
    project(tmp_path)
    (tmp_path / "lab" / "other.Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")
    build = LabBuildPaths(tmp_path / "lab", "Dockerfile")
    first = project_lab_tag(build, "devlab/lab:1")
    assert first.startswith("devlab/project-lab:")
    assert project_lab_tag(build, "devlab/lab:1") == first  # a warm `up` builds nothing
    assert project_lab_tag(build, "devlab/lab:2") != first
    assert project_lab_tag(LabBuildPaths(build.context, "other.Dockerfile"), "devlab/lab:1") != (
        first
    )
    (tmp_path / "lab" / "requirements.txt").write_text("numpy\n")
    second = project_lab_tag(build, "devlab/lab:1")
    assert second != first
    (tmp_path / "lab" / "requirements.txt").write_text("scipy\n")
    assert project_lab_tag(build, "devlab/lab:1") not in (first, second)


def test_the_env_file_offers_the_projects_image_for_spawning(tmp_path):
    settings = resolve_settings(env={"DEVLAB_STATE_DIR": str(tmp_path)}, cwd=tmp_path)
    plain = compose_env(settings, images={"lab": "devlab/lab:1"}, ca_bundle=tmp_path / "ca")
    assert "DEVLAB_PROJECT_LAB_IMAGE" not in plain
    assert spawn_image(plain) == "devlab/lab:1"
    build = LabBuildPaths(tmp_path / "lab", "docker/lab.Dockerfile")
    values = compose_env(
        settings,
        images={"lab": "devlab/lab:1", "project_lab": "devlab/project-lab:1"},
        ca_bundle=tmp_path / "ca",
        project_lab=build,
    )
    assert values["DEVLAB_LAB_IMAGE"] == "devlab/lab:1"  # what the project's image starts from
    assert values["DEVLAB_PROJECT_LAB_CONTEXT"] == str(tmp_path / "lab")
    assert values["DEVLAB_PROJECT_LAB_DOCKERFILE"] == "docker/lab.Dockerfile"
    assert spawn_image(values) == "devlab/project-lab:1"


def test_prepare_writes_the_projects_build_and_refuses_a_missing_one_writing_nothing(tmp_path):
    path = project(tmp_path / "proj")
    env = {"DEVLAB_STATE_DIR": str(tmp_path / "state"), "DEVLAB_CONFIG": str(path)}
    settings = resolve_settings(env=env, cwd=tmp_path)
    values, _ = lifecycle.prepare(settings, load_config(path))
    written = read_env_file(settings.env_file)
    assert written == values
    assert written["DEVLAB_PROJECT_LAB_CONTEXT"] == str((tmp_path / "proj" / "lab").resolve())
    assert written["DEVLAB_PROJECT_LAB_IMAGE"] == project_lab_tag(
        LabBuildPaths((tmp_path / "proj" / "lab").resolve(), "Dockerfile"),
        written["DEVLAB_LAB_IMAGE"],
    )

    (tmp_path / "proj" / "lab" / "Dockerfile").unlink()
    other = resolve_settings(env={**env, "DEVLAB_STATE_DIR": str(tmp_path / "s2")}, cwd=tmp_path)
    with pytest.raises(ConfigError, match=r"lab\.build\.dockerfile"):
        lifecycle.prepare(other, load_config(path))
    assert not (tmp_path / "s2").exists()
