"""Where the config comes from (--config, DEVLAB_CONFIG, ./devlab.yaml, packaged) and init."""

import pytest

from devlab.cli import main
from devlab.config import load_config
from devlab.config.starter import StarterExists, starter_text, write_starter
from devlab.platform import DEFAULT_CONFIG
from devlab.stack.settings import discover_config, resolve_settings


@pytest.fixture
def folder(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    return project


def test_each_source_wins_over_the_ones_after_it(folder, tmp_path):
    (folder / "devlab.yaml").write_text("{}\n")
    from_env = tmp_path / "env.yaml"
    option = tmp_path / "option.yaml"
    env = {"DEVLAB_CONFIG": str(from_env)}

    assert discover_config(str(option), env, folder, DEFAULT_CONFIG).path == option
    assert discover_config(None, env, folder, DEFAULT_CONFIG).source == "DEVLAB_CONFIG"
    local = discover_config(None, {}, folder, DEFAULT_CONFIG)
    assert (local.path, local.source) == (folder / "devlab.yaml", "./devlab.yaml")
    (folder / "devlab.yaml").unlink()
    packaged = discover_config(None, {}, folder, DEFAULT_CONFIG)
    assert (packaged.path, packaged.source) == (DEFAULT_CONFIG, "packaged default")


def test_a_relative_config_option_is_read_from_where_it_was_typed(folder, monkeypatch):
    monkeypatch.chdir(folder)
    choice = discover_config("conf/x.yaml", {}, folder, DEFAULT_CONFIG)
    assert choice.path == folder / "conf" / "x.yaml"
    assert choice.path.is_absolute()


def test_settings_carry_the_discovered_file_and_its_source(folder, tmp_path):
    (folder / "devlab.yaml").write_text("{}\n")
    settings = resolve_settings(env={"DEVLAB_STATE_DIR": str(tmp_path / "s")}, cwd=folder)
    assert (settings.config_path, settings.config_source) == (
        folder / "devlab.yaml",
        "./devlab.yaml",
    )


def test_init_writes_a_commented_config_that_validates(folder):
    written = write_starter(folder)
    text = written.read_text()
    assert text.startswith("# devlab.yaml for this project")
    for section in ("auth:", "provider:", "mock_github:", "orgs:", "users:", "catalog:", "sizes"):
        assert section in text, section
    assert load_config(written) == load_config(DEFAULT_CONFIG)
    assert text == starter_text()


def test_init_never_overwrites(folder):
    (folder / "devlab.yaml").write_text("auth: {provider: none}\n")
    with pytest.raises(StarterExists, match="never overwrites"):
        write_starter(folder)
    assert (folder / "devlab.yaml").read_text() == "auth: {provider: none}\n"


def test_devlab_init_and_config_show_from_a_project_folder(folder, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(folder)
    monkeypatch.delenv("DEVLAB_CONFIG", raising=False)
    monkeypatch.setenv("DEVLAB_STATE_DIR", str(tmp_path / "state"))
    assert main(["init"]) == 0
    assert main(["config", "show"]) == 0
    shown = capsys.readouterr().out
    assert f"# {folder / 'devlab.yaml'} (from ./devlab.yaml)" in shown
    assert main(["init"]) == 1
    assert "never overwrites" in capsys.readouterr().err
