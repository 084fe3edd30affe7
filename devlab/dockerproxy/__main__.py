"""`python -m devlab.dockerproxy`: the only holder of the Docker socket, serving a filtered
socket to each client (the hub, the prepuller) under that client's policy."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from devlab.config import ConfigError, load_config
from devlab.dockerproxy.policy import Policy, hub_policy, prepuller_policy
from devlab.dockerproxy.server import DockerProxy


def _listen(value: str) -> tuple[str, str]:
    policy, sep, path = value.partition("=")
    if not sep or policy not in ("hub", "prepuller") or not path.startswith("/"):
        raise argparse.ArgumentTypeError(
            f"{value!r}: expected POLICY=SOCKET, POLICY hub or prepuller, SOCKET an absolute path"
        )
    return policy, path


def policies(args: argparse.Namespace) -> dict[str, Policy]:
    """The policies to serve, with what the hub may bind and network from the config."""
    binds = list(args.allow_bind)
    pool = None
    if args.config:
        lab = load_config(args.config, args.profile or None).lab
        if lab.tutorials is not None and lab.tutorials.is_local:
            binds.append(lab.tutorials.repository)  # DevlabSpawner mounts it read-only
        pool = lab.network_pool
    return {
        "hub": hub_policy(args.stack, binds, args.nfs_port, pool),
        "prepuller": prepuller_policy(args.stack),
    }


async def serve(args: argparse.Namespace) -> None:
    table = policies(args)
    servers = [
        await DockerProxy(table[name], args.engine).serve(path) for name, path in args.listen
    ]
    if args.ready_file:
        # Every socket listens: a file check is all the healthcheck needs, cheap enough to
        # run every second, and it lives on a tmpfs so a restart never finds an old one.
        Path(args.ready_file).touch()
    await asyncio.gather(*(server.serve_forever() for server in servers))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devlab.dockerproxy",
        description="Forward the Docker API calls the hub and prepuller need; refuse the rest.",
    )
    parser.add_argument(
        "--listen",
        type=_listen,
        action="append",
        default=[],
        metavar="POLICY=SOCKET",
        help="Serve POLICY (hub or prepuller) on the unix socket SOCKET; repeatable.",
    )
    parser.add_argument(
        "--stack", required=True, help="The Compose project whose labs and networks are allowed."
    )
    parser.add_argument("--engine", default="/var/run/docker.sock", help="The engine's socket.")
    parser.add_argument(
        "--config", help="devlab.yaml: a local lab.tutorials repository and lab.network_pool."
    )
    parser.add_argument("--profile", help="Config profile in use (devlab up --profile).")
    parser.add_argument(
        "--ready-file", help="Created once every socket listens (for the healthcheck)."
    )
    parser.add_argument(
        "--allow-bind",
        action="append",
        default=[],
        metavar="PATH",
        help="A host path labs may mount read-only (besides a local tutorials repository).",
    )
    parser.add_argument("--nfs-port", type=int, help="The only port NFS volumes may use.")
    args = parser.parse_args(argv)
    if not args.listen:
        parser.error("give at least one --listen POLICY=SOCKET")
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stdout,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(serve(args))
    except ConfigError as exc:
        print(f"docker-proxy: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
