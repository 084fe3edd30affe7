"""Publishing the lab build into the local registry, and nudging the prepuller (pure parts)."""

from __future__ import annotations

import shlex
import signal
import threading

import pytest

from devlab.catalog.prepull_main import NUDGE, wait_for_nudge
from devlab.config import ConfigError, load_config, parse_config
from devlab.platform import DEFAULT_CONFIG
from devlab.stack.publish import NUDGE_COMMAND, follows_build, pushed_digests, tags_to_push

REPO = "127.0.0.1:5000/devlab/lab"
MINE = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
TAGS = ("recommended", "w_2026_48", "d_2026_11_29")


def test_a_warm_up_pushes_nothing():
    digests = dict.fromkeys(TAGS, MINE)
    assert tags_to_push(TAGS, digests, {MINE}) == []


def test_missing_tags_and_tags_on_another_image_are_pushed():
    digests = {"recommended": OTHER, "w_2026_48": MINE, "d_2026_11_29": None}
    assert tags_to_push(TAGS, digests, {MINE}) == ["recommended", "d_2026_11_29"]
    # An image never pushed there has no digest in it: every tag goes.
    assert tags_to_push(TAGS, dict.fromkeys(TAGS), set()) == list(TAGS)


def test_pushed_digests_are_those_of_that_repository_only():
    repo_digests = [
        f"{REPO}@{MINE}",
        f"127.0.0.1:5001/devlab/lab@{OTHER}",
        f"{REPO}-other@{OTHER}",
    ]
    assert pushed_digests(repo_digests, REPO) == {MINE}


def test_the_shipped_config_publishes_the_build_and_its_workshop_profile_too():
    assert follows_build(load_config(DEFAULT_CONFIG))
    assert follows_build(load_config(DEFAULT_CONFIG, "workshop"))


@pytest.mark.parametrize(
    ("text", "publishes"),
    [
        ("local_registry: true\ncatalog: {sources: [{repository: local/devlab/lab}]}", True),
        # The registry alone, or the registry's address spelled out: up pushes nothing.
        ("local_registry: true", False),
        (
            "local_registry: true\ncatalog: {sources: [{repository: '127.0.0.1:5000/devlab/lab'}]}",
            False,
        ),
        ("local_registry: true\ncatalog: {sources: [{repository: local/team/lab}]}", False),
    ],
)
def test_up_publishes_only_when_the_menu_follows_local_devlab_lab(text, publishes):
    assert follows_build(parse_config(text)) is publishes


def test_a_local_source_without_the_registry_is_a_config_error():
    with pytest.raises(ConfigError, match="local_registry: true"):
        parse_config("catalog: {sources: [{repository: local/devlab/lab}]}")


def test_a_source_must_still_name_a_registry():
    with pytest.raises(ConfigError, match="local/devlab/lab for the stack's own registry"):
        parse_config("local_registry: true\ncatalog: {sources: [{repository: devlab/lab}]}")


def test_the_nudge_command_sends_the_signal_the_prepuller_waits_for_to_its_process():
    shell, flag, script = NUDGE_COMMAND
    assert (shell, flag) == ("sh", "-c")
    # PID 1 of the prepuller's container, where tini passes the signal on.
    assert shlex.split(script) == ["kill", f"-{NUDGE.name.removeprefix('SIG')}", "1"]


def test_a_nudge_ends_the_prepullers_wait_and_one_sent_mid_round_is_kept():
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {NUDGE})
    try:
        assert wait_for_nudge(0.01) is False
        # Sent while no wait runs (as during a round): pending until the next wait. To
        # this thread: pytest's process has other threads by now (earlier tests' pools),
        # and a signal sent to the process may go to one that does not block it, whose
        # default action for SIGHUP ends the whole run (the prepuller blocks it before it
        # starts any thread, in devlab.catalog.__main__).
        signal.pthread_kill(threading.get_ident(), NUDGE)
        assert wait_for_nudge(60) is True
        assert wait_for_nudge(0.01) is False  # taken once
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
