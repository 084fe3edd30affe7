"""The prepuller's command line and loop: `python -m devlab.catalog` (see `__main__`).

Parses the arguments, builds a `Prepuller` (devlab.catalog.prepuller) and runs a round
every interval, or at once when nudged. No decisions here: a failed round is logged and
the loop goes on, so nothing the prepuller meets stops it.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

from devlab.catalog.prepuller import Prepuller
from devlab.catalog.registry import LocalRegistry
from devlab.config import ConfigError, load_config

log = logging.getLogger(__name__)

# The nudge `devlab images push` and `refresh` send (`kill -HUP 1` run in the container:
# tini passes it on). Not `docker kill --signal`: the engine then counts the container as
# stopped by hand, and `restart: unless-stopped` would no longer restart it after a crash.
NUDGE = signal.SIGHUP


def wait_for_nudge(seconds: float) -> bool:
    """Sleep `seconds`, or less when nudged; True when nudged.

    NUDGE is blocked (see `main`) and taken here with sigtimedwait, so no handler runs in
    the middle of a round, and a nudge that arrives during a round ends the next wait at
    once: the round after it sees what the push added.
    """
    if signal.sigtimedwait({NUDGE}, seconds) is None:
        return False
    log.info("Nudged: checking the registries now")
    return True


def run_forever(prepuller: Prepuller, interval: float, wait: Callable[[float], object]) -> NoReturn:
    """Run rounds for ever; a failed round (engine down, disk full) is logged.

    `wait(seconds)` sleeps between rounds; `main` passes `wait_for_nudge`, which also
    returns at SIGHUP, so a push is on the menu in seconds rather than an interval.
    """
    while True:
        try:
            prepuller.run_once()
        except Exception:
            log.exception("Prepull round failed; next try in %ss", interval)
        wait(interval)


def main(argv: Sequence[str] | None = None) -> int:
    # First thing, before any thread exists (all inherit the mask): a nudge that arrives
    # while starting up waits for the first wait instead of killing the process.
    signal.pthread_sigmask(signal.SIG_BLOCK, {NUDGE})
    parser = argparse.ArgumentParser(
        prog="python -m devlab.catalog",
        description="Keep the lab images the spawn menu offers pulled on this machine.",
    )
    parser.add_argument("--config", required=True, help="Platform config (config/devlab.yaml).")
    parser.add_argument("--state", required=True, help="State file the hub and status read.")
    parser.add_argument("--fallback-image", help="The locally built lab image; never pulled.")
    parser.add_argument("--profile", help="Config profile in use (devlab up --profile).")
    parser.add_argument("--interval", type=float, help="Seconds between rounds (config).")
    parser.add_argument(
        "--local-registry",
        help="The stack's registry as the engine names it (127.0.0.1:PORT); empty for none.",
    )
    parser.add_argument(
        "--local-registry-password-file",
        type=Path,
        help="Its password (user devlab), sent to that registry only.",
    )
    parser.add_argument("--once", action="store_true", help="Run one round and exit.")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = load_config(args.config, args.profile or None).catalog
    except ConfigError as exc:
        print(f"prepuller: {exc}", file=sys.stderr)
        return 2
    local = None
    if args.local_registry:
        if args.local_registry_password_file is None:
            print(
                "prepuller: --local-registry needs --local-registry-password-file", file=sys.stderr
            )
            return 2
        try:
            local = LocalRegistry.from_password_file(
                args.local_registry, args.local_registry_password_file
            )
        except (OSError, ValueError) as exc:
            print(
                f"prepuller: cannot read the local registry's password ({exc}): "
                "`devlab up` creates it in the stack's secrets",
                file=sys.stderr,
            )
            return 2
    prepuller = Prepuller(
        config, Path(args.state), fallback_image=args.fallback_image, local_registry=local
    )
    if args.once:
        state = prepuller.run_once()
        return 1 if state.problems or any(r.status == "failed" for r in state.images) else 0

    def _terminate(signum: int, frame: FrameType | None) -> None:
        # As PID 1 in a container a signal without a handler is ignored: compose stop
        # would wait for its timeout and kill. The state file is replaced atomically,
        # so leaving mid-round is safe.
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _terminate)
    run_forever(prepuller, args.interval or config.prepull.interval_seconds, wait_for_nudge)
