"""Config validation: good files load, bad ones name file, line and key."""

import pytest

from devlab.config import ConfigError, DevlabConfig, load_config, parse_config
from devlab.platform import DEFAULT_CONFIG


def test_shipped_config_loads_with_the_documented_identities():
    config = load_config(DEFAULT_CONFIG)
    alice = config.mock_github.user("alice")
    assert alice is not None
    assert alice.id == 7000001
    assert alice.orgs == ("devlab-devs", "rubin-sci")
    assert config.mock_github.org("rubin-sci").id == 8000002
    assert config.mock_github.user("carol").orgs == ()


def test_an_empty_file_or_mapping_is_every_default():
    assert parse_config("") == parse_config("{}\n") == DevlabConfig()


def error_of(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "conf.yaml")
    return info.value


def test_misspelt_key_names_line_and_key():
    err = error_of("auth:\n  provider: github-mock\n  admin_userz: [alice]\n")
    assert "conf.yaml:3: auth.admin_userz: unknown key" in str(err)


def test_bad_value_names_its_line():
    err = error_of("lab:\n  start_timeout: 1\n")
    assert str(err).startswith("conf.yaml:2: lab.start_timeout:")


def test_bad_enum_lists_choices():
    err = error_of("auth:\n  provider: gitlab\n")
    assert "conf.yaml:2: auth.provider" in str(err)
    assert "github-mock" in str(err)


def test_error_inside_a_list_points_at_the_item():
    text = "mock_github:\n  users:\n    - {login: alice, id: 7000001}\n    - {login: bob, id: 12}\n"
    err = error_of(text)
    assert "conf.yaml:4: mock_github.users[1].id" in str(err)
    assert "below 1000" in str(err)


def test_unknown_org_reference_is_explained():
    text = "mock_github:\n  users:\n    - {login: alice, id: 7000001, orgs: [nowhere]}\n"
    err = error_of(text)
    assert "conf.yaml:1: mock_github" in str(err)
    assert "'nowhere'" in str(err)
    assert "mock_github.orgs" in str(err)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "mock_github:\n  users: [{login: a, id: 7000001}, {login: A, id: 7000002}]\n",
            "user login 'a' is listed twice",
        ),
        (
            "mock_github:\n  users: [{login: a, id: 7000001}, {login: b, id: 7000001}]\n",
            "user id 7000001 is listed twice",
        ),
        (
            "mock_github:\n  orgs: [{login: o, id: 7000001}]\n  users: [{login: a, id: 7000001}]\n",
            "both a user id and an org id",
        ),
        ("mock_github:\n  users: [{login: -bad, id: 7000001}]\n", "not a GitHub-style login"),
        ("mock_github:\n  users: [{login: a, id: 65534}]\n", "reserved"),
    ],
)
def test_identity_rules(text, fragment):
    assert fragment in str(error_of(text))


def test_yaml_syntax_error_has_a_line():
    err = error_of("auth:\n  provider: [unclosed\n")
    assert str(err).startswith("conf.yaml:")
    assert "not valid YAML" in str(err)


def test_top_level_must_be_a_mapping():
    assert "must be a mapping" in str(error_of("- a\n- b\n"))


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")


def test_every_message_ends_with_how_to_fix():
    assert str(error_of("nope: 1\n")).endswith("and run again.")
