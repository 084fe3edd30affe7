"""DevlabStack and the plugin without a stack: which config a test stack runs with, and
what testcontainers' Compose runs (devlab's command line, without the shell's DEVLAB_*)."""

from __future__ import annotations

import os

from devlab.platform import DEFAULT_CONFIG, defaults
from devlab.testing.stack import (
    TEST_STACK_PREFIX,
    DevlabStack,
    crashed_run,
    pid_namespace,
    stack_compose,
)

pytest_plugins = ["pytester"]


def _stack(tmp_path, config=None, **env):
    return DevlabStack(
        config, root=tmp_path, state_dir=tmp_path / "state", env={"HOME": str(tmp_path), **env}
    )


def test_a_stack_runs_the_packaged_default_unless_its_root_has_a_devlab_yaml(tmp_path):
    stack = _stack(tmp_path)
    assert stack.settings.config_path == DEFAULT_CONFIG.resolve()
    assert stack.settings.config_source == "packaged default"
    (tmp_path / "devlab.yaml").write_text("{}\n")
    stack = _stack(tmp_path)
    assert stack.settings.config_path == tmp_path / "devlab.yaml"
    # `cli()` runs devlab against the same file, from whatever folder.
    assert stack.env["DEVLAB_CONFIG"] == str(tmp_path / "devlab.yaml")


def test_a_given_config_wins_and_each_stack_gets_its_own_name_ports_and_state(tmp_path):
    (tmp_path / "devlab.yaml").write_text("{}\n")
    given = tmp_path / "ci.yaml"
    one, two = _stack(tmp_path, given), _stack(tmp_path, given, DEVLAB_STACK="devlab")
    assert one.settings.config_path == two.settings.config_path == given
    assert one.name.startswith(f"{TEST_STACK_PREFIX}{os.getpid()}-{pid_namespace()}-")
    assert two.name != one.name  # never the user's own stack, whatever the shell says
    assert one.settings.http_port != defaults.HTTP_PORT  # never the user's own stack's port
    assert one.settings.state_dir == (tmp_path / "state" / one.name).resolve()


def test_without_a_state_dir_the_stack_keeps_its_state_in_a_folder_stop_removes(tmp_path):
    stack = DevlabStack(root=tmp_path, env={"HOME": str(tmp_path)})
    root = stack.settings.state_dir.parent
    assert root.is_dir()
    stack.stop()  # never brought up: nothing for Compose to remove
    assert not root.exists()


def test_compose_runs_devlabs_command_line_without_the_shells_devlab_variables(
    tmp_path, monkeypatch
):
    stack = _stack(tmp_path)
    up, down = stack_compose(stack.settings), stack_compose(stack.settings, every_profile=True)
    env_file = ["--env-file", str(stack.settings.env_file)]
    assert up.docker_compose_command()[-2:] == env_file
    assert down.docker_compose_command()[-4:] == [*env_file, "--profile", "*"]
    # Compose lets the shell override the env file: an exported stack name would retarget it.
    monkeypatch.setenv("DEVLAB_STACK", "devlab")
    monkeypatch.setenv("COMPOSE_PROFILES", "registry")
    seen = up._run_command(["env"]).stdout.decode()
    assert "DEVLAB_STACK" not in seen
    assert "COMPOSE_PROFILES" not in seen
    assert "PATH=" in seen


def test_the_plugin_reads_devlab_test_config_then_the_rootdir_never_devlab_config(
    pytester, monkeypatch
):
    pytester.makepyfile(
        """
        from devlab.testing.plugin import stack_for

        def test_config(request, tmp_path):
            print("CONFIG", stack_for(request.config, tmp_path).settings.config_path)
        """
    )
    # The inner runs' own ini, as pyproject.toml sets it for this suite: pytest-asyncio
    # (installed, so loaded there too) warns into this test's report without it.
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    mine = pytester.path / "devlab.yaml"
    mine.write_text("{}\n")
    monkeypatch.setenv("DEVLAB_CONFIG", "/somewhere/my-own-stack.yaml")
    pytester.runpytest_inprocess("-s").stdout.fnmatch_lines([f"*CONFIG {mine}*"])
    monkeypatch.setenv("DEVLAB_TEST_CONFIG", str(pytester.path / "ci.yaml"))
    pytester.runpytest_inprocess("-s").stdout.fnmatch_lines([f"*CONFIG {pytester.path}/ci.yaml*"])
    given = pytester.path / "other.yaml"
    result = pytester.runpytest_inprocess("-s", "--devlab-config", str(given))
    result.stdout.fnmatch_lines([f"*CONFIG {given}*"])


def test_a_run_is_crashed_only_when_its_pid_is_gone_in_this_pid_namespace():
    def gone(pid: int) -> bool:
        return False

    def alive(pid: int) -> bool:
        return True

    ours, theirs = "f0000001", "f0000002"
    assert crashed_run(f"{TEST_STACK_PREFIX}42-{ours}-deadbeef", ours, gone)
    assert not crashed_run(f"{TEST_STACK_PREFIX}42-{ours}-deadbeef", ours, alive)
    # Another CI job on the same engine: its pids mean nothing here.
    assert not crashed_run(f"{TEST_STACK_PREFIX}42-{theirs}-deadbeef", ours, gone)
    # A name that does not say its namespace (an older devlab's) is nobody's to purge.
    assert not crashed_run(f"{TEST_STACK_PREFIX}42-deadbeef", ours, gone)
    assert not crashed_run("devlab", ours, gone)
    assert not crashed_run(f"{TEST_STACK_PREFIX}installed-x", ours, gone)
