"""The stack the bench runs against: brought up with the bench's config, and put back
as it was found afterwards (up with its own config, or down with its volumes kept)."""

from __future__ import annotations

import dataclasses
import time

from devlab.bench.config import write_bench_config
from devlab.bench.errors import BenchError
from devlab.bench.report import FootprintSection
from devlab.config import DevlabConfig, load_config
from devlab.stack import lifecycle
from devlab.stack.lifecycle import Say
from devlab.stack.settings import StackSettings


@dataclasses.dataclass
class BenchStack:
    own: StackSettings  # the stack as the user runs it
    settings: StackSettings  # the same stack on the bench's config
    config: DevlabConfig  # the bench's config
    own_config: DevlabConfig
    was_up: bool

    @classmethod
    def prepare(cls, settings: StackSettings, users: int) -> BenchStack:
        """Check the stack can be benched, and write the bench's config for `users`.

        The stack must have no running labs: the bench stops and restarts the stack to
        time a warm `up`, and its users' cycles must not compete with real users for
        the CPU.
        """
        before = lifecycle.status(settings)
        if before.labs:
            running = ", ".join(str(lab.user) for lab in before.labs)
            raise BenchError(
                f"stack {settings.name!r} has labs running ({running}): the bench restarts "
                "the stack and needs the CPU to itself; stop them, or bench another --stack"
            )
        was_up = before.service("hub").state == "running"
        own_config = load_config(settings.config_path)
        bench_settings, config = write_bench_config(settings, users)
        return cls(settings, bench_settings, config, own_config, was_up)

    def up(self, footprint: FootprintSection, measure_up: bool, say: Say) -> None:
        """Up with the bench's config; with `measure_up`, then a timed warm down and up."""
        say(f"bench: bringing stack {self.own.name!r} up with the bench config")
        lifecycle.up(self.settings, say=say)
        if measure_up:
            say("bench: timing a warm `down` and `up`")
            tic = time.time()
            lifecycle.down(self.settings, volumes=False, say=lambda _line: None)
            footprint.down_s = time.time() - tic
            tic = time.time()
            lifecycle.up(self.settings, say=say)
            footprint.up_warm_s = time.time() - tic

    def lab_image(self) -> str:
        image = lifecycle.status(self.settings).lab_image
        if image is None:
            raise BenchError(f"stack {self.settings.name!r} has no lab image: was it brought up?")
        return image

    def added_users(self) -> bool:
        """Whether the bench's config has mock users the stack's own has not."""
        return self.config.mock_github != self.own_config.mock_github

    def put_back(self, say: Say) -> None:
        if self.was_up:
            say("bench: bringing the stack back up with its own config")
            lifecycle.up(self.own, say=say)
        else:
            say("bench: stopping the stack again (volumes kept)")
            lifecycle.down(self.own, volumes=False, say=lambda _line: None)
