"""The devlab command line. It parses, calls devlab.stack, and prints; nothing more."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from devlab import __version__
from devlab.config import ConfigError
from devlab.stack import lab_images, lifecycle
from devlab.stack.compose import ComposeError
from devlab.stack.engine import EngineError
from devlab.stack.secrets import SecretError
from devlab.stack.settings import SettingsError, StackSettings, resolve_settings

EXPECTED_ERRORS = (
    ConfigError,
    ComposeError,
    EngineError,
    SecretError,
    SettingsError,
    lifecycle.StackError,
)


def _stack_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stack", help="stack (Compose project) name [DEVLAB_STACK, devlab]")
    common.add_argument("--project-dir", help="devlab checkout holding compose.yaml")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="devlab", description="A JupyterHub science platform on one machine."
    )
    parser.add_argument("--version", action="version", version=f"devlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _stack_options()

    up = sub.add_parser("up", parents=[common], help="build what is missing and start the stack")
    up.add_argument("--config", help="platform config [config/devlab.yaml]")
    up.add_argument("--port", type=int, help="hub port on the host [DEVLAB_HTTP_PORT, 8000]")
    up.add_argument(
        "--oauth-port", type=int, help="mock GitHub port on the host [DEVLAB_OAUTH_PORT, 8090]"
    )
    up.add_argument("--nfs-port", type=int, help="NFS port on the host [DEVLAB_NFS_PORT, 12049]")
    up.add_argument(
        "--registry-port", type=int, help="local registry port [DEVLAB_REGISTRY_PORT, 5000]"
    )
    up.add_argument("--bind", help="host address to publish on [127.0.0.1]")

    down = sub.add_parser("down", parents=[common], help="stop the stack and every lab")
    down.add_argument("--volumes", action="store_true", help="also delete homes and hub data")
    down.add_argument("--yes", action="store_true", help="confirm --volumes without asking")

    status = sub.add_parser("status", parents=[common], help="services, health and labs")
    status.add_argument("--json", action="store_true", help="one JSON object")

    sub.add_parser("token", parents=[common], help="print an admin-scoped hub API token")

    # Stack options go on the actions only: argparse lets a subparser's defaults
    # overwrite what its parent parsed.
    images = sub.add_parser("images", help="the image menu and its state")
    images_sub = images.add_subparsers(dest="images_command", metavar="ACTION")
    images_sub.add_parser("list", parents=[common], help="the menu's images and their state")
    images_sub.add_parser("build", parents=[common], help="rebuild devlab's lab image")
    push = images_sub.add_parser(
        "push", parents=[common], help="push the lab image into the local registry"
    )
    push.add_argument(
        "--tag",
        action="append",
        dest="tags",
        help="tag to push (repeatable) [recommended, this week's weekly, today's daily]",
    )

    export = sub.add_parser(
        "export-homes", parents=[common], help="write homes to a .tar.gz (owners and modes kept)"
    )
    export.add_argument("out", help="the archive to write, e.g. homes.tar.gz")
    export.add_argument("--user", help="only this user's home")
    return parser


def _settings(args: argparse.Namespace) -> StackSettings:
    settings = resolve_settings(
        stack=getattr(args, "stack", None),
        project_dir=getattr(args, "project_dir", None),
        config=getattr(args, "config", None),
        port=getattr(args, "port", None),
        oauth_port=getattr(args, "oauth_port", None),
        nfs_port=getattr(args, "nfs_port", None),
        registry_port=getattr(args, "registry_port", None),
        bind=getattr(args, "bind", None),
    )
    return settings if args.command == "up" else lifecycle.as_brought_up(settings)


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.command == "up":
        result = lifecycle.up(settings)
        print(f"devlab stack {settings.name!r} is up: {result.hub_url}")
        print(f"Storage: {result.storage_mode} ({result.storage_reason})")
        print("Admin API token: `devlab token`. Stop with `devlab down`.")
    elif args.command == "down":
        if (
            args.volumes
            and not args.yes
            and not _confirm(f"Delete every home and the hub database of stack {settings.name!r}?")
        ):
            print("Nothing deleted: pass --yes to delete volumes.", file=sys.stderr)
            return 1
        lifecycle.down(settings, volumes=args.volumes)
        print(
            f"devlab stack {settings.name!r} is down"
            + (", volumes deleted" if args.volumes else "")
        )
    elif args.command == "status":
        if args.json:
            print(lifecycle.status_json(settings))
        else:
            info = lifecycle.status(settings)
            print(f"stack {info['stack']}: {info['hub_url']}")
            for name, svc in info["services"].items():
                print(f"  {name:<10} {svc['state']:<10} {svc['health'] or '-'}")
            for lab in info["labs"]:
                print(f"  lab {lab['user']:<6} {lab['state']}")
    elif args.command == "token":
        print(lifecycle.admin_token(settings))
    elif args.command == "images":
        action = args.images_command or "list"
        if action == "list":
            print(lab_images.table(lifecycle.status(settings)["images"]))
        elif action == "build":
            for ref in lab_images.build(settings):
                print(f"Built {ref}")
        elif action == "push":
            for ref in lab_images.push(settings, args.tags):
                print(f"Pushed {ref}")
    elif args.command == "export-homes":
        out = lifecycle.export_homes(settings, Path(args.out), user=args.user)
        print(f"Wrote {out} ({out.stat().st_size} bytes)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except EXPECTED_ERRORS as exc:
        print(f"devlab: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
