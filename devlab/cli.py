"""The devlab command line. It parses, calls devlab.stack, and prints; nothing more."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from devlab import __version__
from devlab.bench import BenchError, render_table, run_bench
from devlab.config import ConfigError, load_config
from devlab.config.starter import StarterExists, write_starter
from devlab.hubapi import HubAPIError
from devlab.identity.roster import RosterError, parse_roster
from devlab.platform import defaults
from devlab.stack import disk, doctor, isolation, lab_images, lifecycle, users
from devlab.stack.compose import ComposeError, run_compose
from devlab.stack.engine import EngineError
from devlab.stack.secrets import SecretError
from devlab.stack.settings import SettingsError, StackSettings, resolve_settings
from devlab.stack.summary import render_up

EXPECTED_ERRORS = (
    BenchError,
    ConfigError,
    ComposeError,
    EngineError,
    HubAPIError,
    RosterError,
    SecretError,
    SettingsError,
    StarterExists,
    lifecycle.StackError,
)


CONFIG_HELP = "platform config [DEVLAB_CONFIG, ./devlab.yaml, the packaged default]"


def _stack_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--stack", help=f"stack (Compose project) name [DEVLAB_STACK, {defaults.STACK}]"
    )
    common.add_argument(
        "--project-dir", help="a devlab checkout to run instead of the installed devlab"
    )
    common.add_argument("--quiet", "-q", action="store_true", help="print only results")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="devlab", description="A JupyterHub science platform on one machine."
    )
    parser.add_argument("--version", action="version", version=f"devlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _stack_options()

    up = sub.add_parser("up", parents=[common], help="check, build what is missing, start")
    up.add_argument("--config", help=CONFIG_HELP)
    up.add_argument("--profile", help="a profile from the config, e.g. workshop")
    for flag, what, variable, default in (
        ("--port", "hub port on the host", "DEVLAB_HTTP_PORT", defaults.HTTP_PORT),
        ("--oauth-port", "mock GitHub port on the host", "DEVLAB_OAUTH_PORT", defaults.OAUTH_PORT),
        (
            "--cilogon-port",
            "mock CILogon port on the host",
            "DEVLAB_CILOGON_PORT",
            defaults.CILOGON_PORT,
        ),
        ("--nfs-port", "NFS port on the host", "DEVLAB_NFS_PORT", defaults.NFS_PORT),
        ("--registry-port", "local registry port", "DEVLAB_REGISTRY_PORT", defaults.REGISTRY_PORT),
    ):
        up.add_argument(flag, type=int, help=f"{what} [{variable}, {default}]")
    up.add_argument(
        "--bind", help=f"host address to publish on [DEVLAB_BIND, {defaults.BIND}]; others need TLS"
    )
    up.add_argument("--public-host", help="the name participants use to reach this machine")
    up.add_argument("--tls-cert", help="TLS certificate (PEM) for --bind beyond loopback")
    up.add_argument("--tls-key", help="its private key (PEM)")
    up.add_argument(
        "--tls-self-signed", action="store_true", help="have devlab make a TLS certificate"
    )

    down = sub.add_parser("down", parents=[common], help="stop the stack and every lab")
    down.add_argument("--volumes", action="store_true", help="also delete homes and hub data")
    down.add_argument("--yes", action="store_true", help="confirm --volumes without asking")
    reset = sub.add_parser("reset", parents=[common], help="down, deleting every volume")
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    status = sub.add_parser("status", parents=[common], help="services, health and labs")
    status.add_argument("--json", action="store_true", help="one JSON object")
    logs = sub.add_parser("logs", parents=[common], help="service logs")
    logs.add_argument("service", nargs="?", help="hub, proxy, oauth, nfs, prepuller ...")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("--tail", default="200", help="lines from the end [200, or all]")
    sub.add_parser("token", parents=[common], help="print an admin-scoped hub API token")
    check = sub.add_parser("doctor", parents=[common], help="check this machine for devlab")
    check.add_argument("--json", action="store_true", help="one JSON object")
    check.add_argument("--config", help=CONFIG_HELP)

    sub.add_parser("init", help="write a devlab.yaml to edit into the current folder")
    config = sub.add_parser("config", help="the platform config")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    show = config_sub.add_parser("show", parents=[common], help="the config after defaults")
    show.add_argument("--config", help=CONFIG_HELP)
    show.add_argument("--profile", help="a profile from the config")

    # Stack options go on the actions only: argparse lets a subparser's defaults
    # overwrite what its parent parsed.
    images = sub.add_parser("images", help="the image menu and its state")
    images_sub = images.add_subparsers(dest="images_command", metavar="ACTION")
    images_sub.add_parser("list", parents=[common], help="the menu's images and their state")
    images_sub.add_parser(
        "build", parents=[common], help="rebuild devlab's lab image (then lab.build's)"
    )
    push = images_sub.add_parser(
        "push", parents=[common], help="push the lab image into the local registry"
    )
    push.add_argument(
        "--tag",
        action="append",
        dest="tags",
        help="tag to push (repeatable) [recommended, this week's weekly, today's daily]",
    )
    images_sub.add_parser(
        "refresh", parents=[common], help="have the prepuller check the registries now"
    )

    people = sub.add_parser("users", help="hub accounts (workshops)")
    people_sub = people.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    passwords_csv = argparse.ArgumentParser(add_help=False)
    passwords_csv.add_argument(
        "--passwords-csv",
        metavar="OUT.csv",
        help="write the one-time passwords to this new file (mode 0600) instead of printing",
    )
    load = people_sub.add_parser(
        "import",
        parents=[common, passwords_csv],
        help="create users from a CSV file, each with a one-time password",
    )
    load.add_argument("file", help="CSV: username[,admin][,group] per line")
    people_sub.add_parser("list", parents=[common], help="users, groups and their servers")
    reissue = people_sub.add_parser(
        "reset-password",
        parents=[common, passwords_csv],
        help="issue a user a new one-time password (their password stops working)",
    )
    reissue.add_argument("name", help="the user")

    bench = sub.add_parser(
        "bench", parents=[common], help="spawn latency, concurrency and footprint vs raw Docker"
    )
    bench.add_argument("--cycles", type=int, default=10, help="sequential start/stop cycles [10]")
    bench.add_argument("--users", type=int, default=10, help="users starting at once [10]")
    bench.add_argument("--quick", action="store_true", help="a few minutes: 3 cycles, 3 users")
    bench.add_argument("--json", action="store_true", help="one JSON object")

    check = sub.add_parser("check", help="probe the running stack")
    check_sub = check.add_subparsers(dest="check_command", required=True, metavar="WHAT")
    isolation_check = check_sub.add_parser(
        "isolation",
        parents=[common],
        help="from a running lab, count the platform's internal ports it can reach (goal 0)",
    )
    isolation_check.add_argument("--user", required=True, help="whose running lab to probe from")
    isolation_check.add_argument("--json", action="store_true", help="one JSON object")

    notebooks = sub.add_parser("notebooks", help="run repositories of notebooks in real labs")
    notebooks_sub = notebooks.add_subparsers(
        dest="notebooks_command", required=True, metavar="ACTION"
    )
    nb_run = notebooks_sub.add_parser(
        "run",
        parents=[common],
        help="execute notebooks in labs of the menu's images, as a user; non-zero on failure",
    )
    nb_run.add_argument(
        "paths", nargs="+", metavar="PATH", help="a notebook, a folder, a git URL, or `tutorials`"
    )
    nb_run.add_argument(
        "--image",
        default="recommended",
        help="recommended, weekly, daily, release, all, an image reference, or a comma list "
        "[recommended]",
    )
    nb_run.add_argument("--user", help="who runs them [the provider's first mock user]")
    nb_run.add_argument(
        "--param", action="append", default=[], metavar="K=V", help="a parameter (YAML value)"
    )
    nb_run.add_argument(
        "--timeout", type=float, default=600.0, help="seconds per cell, unless a notebook says"
    )
    nb_run.add_argument("--jobs", type=int, default=1, help="notebooks at once in one lab [1]")
    nb_run.add_argument("--junit", metavar="OUT.xml", help="write JUnit XML here")
    nb_run.add_argument("--html", metavar="OUT_DIR", help="write an HTML report here")
    nb_run.add_argument(
        "--executed", metavar="OUT_DIR", help="write the executed notebooks (with outputs) here"
    )
    nb_run.add_argument("--json", action="store_true", help="print the results as JSON")

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
        profile=getattr(args, "profile", None),
        port=getattr(args, "port", None),
        oauth_port=getattr(args, "oauth_port", None),
        cilogon_port=getattr(args, "cilogon_port", None),
        nfs_port=getattr(args, "nfs_port", None),
        registry_port=getattr(args, "registry_port", None),
        bind=getattr(args, "bind", None),
        public_host=getattr(args, "public_host", None),
        tls_cert=getattr(args, "tls_cert", None),
        tls_key=getattr(args, "tls_key", None),
        tls_self_signed=getattr(args, "tls_self_signed", False),
    )
    return (
        settings
        if args.command in ("up", "config", "doctor")
        else lifecycle.as_brought_up(settings)
    )


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _progress(args: argparse.Namespace) -> Callable[[str], None]:
    """Progress lines go to stderr (and nowhere with --quiet), so stdout stays parseable."""
    if getattr(args, "quiet", False):
        return lambda line: None
    return lambda line: print(line, file=sys.stderr, flush=True)


def _notebooks(settings: StackSettings, args: argparse.Namespace) -> int:
    try:  # the notebooks extra: nbformat and nbconvert
        from devlab.notebooks import report
        from devlab.notebooks.plan import PlanError, parse_params
        from devlab.notebooks.session import run_notebooks
    except ImportError as exc:
        print(
            f"devlab notebooks needs the notebooks extra ({exc.name} is missing): "
            "pip install 'devlab[notebooks]'",
            file=sys.stderr,
        )
        return 2
    try:
        run = run_notebooks(
            settings,
            args.paths,
            images=args.image,
            user=args.user,
            parameters=parse_params(args.param),
            timeout=args.timeout,
            jobs=args.jobs,
            progress=_progress(args),
        )
    except PlanError as exc:
        print(f"devlab: {exc}", file=sys.stderr)
        return 2
    results = run.results
    if args.junit:
        Path(args.junit).write_text(report.junit_xml(results), encoding="utf-8")
    if args.executed:
        report.write_executed(results, Path(args.executed))
    if args.html:
        index = report.write_html(results, Path(args.html))
        _progress(args)(f"HTML report: {index}")
    if args.json:
        print(
            json.dumps(
                {**report.to_json(results), "user": run.user, "wall_s": run.wall_s}, indent=2
            )
        )
    else:
        print(f"{report.table(results)}\n{len(run.images)} images in {run.wall_s:.1f} s")
    return 0 if report.all_passed(results) else 1


def _down(settings: StackSettings, args: argparse.Namespace, volumes: bool) -> int:
    if (
        volumes
        and not args.yes
        and not _confirm(f"Delete every home and the hub database of stack {settings.name!r}?")
    ):
        print(
            "Nothing deleted: deleting volumes needs confirmation; pass --yes to confirm.",
            file=sys.stderr,
        )
        return 1
    lifecycle.down(settings, volumes=volumes, say=_progress(args))
    print(f"devlab stack {settings.name!r} is down" + (", volumes deleted" if volumes else ""))
    return 0


def _password_sheet(args: argparse.Namespace) -> users.PasswordSheet:
    return users.PasswordSheet(Path(args.passwords_csv) if args.passwords_csv else None)


def _print_if(text: str) -> None:
    if text:
        print(text)


def run(args: argparse.Namespace) -> int:
    command = args.command
    if command == "init":
        written = write_starter(Path.cwd())
        print(f"Wrote {written}: edit it, then `devlab up` here uses it")
        return 0
    settings = _settings(args)
    if command == "up":
        result = lifecycle.up(settings, say=_progress(args))
        if args.quiet:
            print(result.hub_url)
        else:
            storage = (result.storage_mode, result.storage_reason)
            print(render_up(settings, result.config, result.healthy_after, result.health, storage))
    elif command == "down":
        return _down(settings, args, args.volumes)
    elif command == "reset":
        return _down(settings, args, volumes=True)
    elif command == "status":
        usage = disk.report(settings.name)
        info = lifecycle.status(settings).model_copy(update={"disk": usage.to_json()})
        if args.json:
            print(info.model_dump_json(indent=2))
        else:
            print("\n".join([*info.render(), *usage.render()]))
    elif command == "logs":
        lifecycle.require_env(settings)
        follow = ["--follow"] if args.follow else []
        service = [args.service] if args.service else []
        return run_compose(
            settings, [*lifecycle.ALL_PROFILES, "logs", "--tail", args.tail, *follow, *service]
        ).returncode
    elif command == "token":
        print(lifecycle.admin_token(settings))
    elif command == "doctor":
        report = doctor.run_doctor(settings)
        if args.json:
            print(report.to_json())
        else:
            print(doctor.render(report, color=sys.stdout.isatty()))
        return 0 if report.ok else 1
    elif command == "config":
        config = load_config(settings.config_path, settings.profile)
        print(f"# {settings.config_path} (from {settings.config_source})")
        print(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), end="")
    elif command == "images":
        action = args.images_command or "list"
        if action == "list":
            print(lab_images.table(lifecycle.status(settings).images))
        elif action == "build":
            for ref in lab_images.build(settings):
                print(f"Built {ref}")
        elif action == "push":
            for ref in lab_images.push(settings, args.tags):
                print(f"Pushed {ref}")
        elif action == "refresh":
            lab_images.refresh(settings)
            print("The prepuller is checking the registries (`devlab images list` shows the menu)")
    elif command == "users":
        if args.users_command == "import":
            path = Path(args.file)
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise RosterError(f"cannot read {path}: {exc.strerror}; check the path") from exc
            entries = parse_roster(text, str(path))
            sheet = _password_sheet(args)
            try:
                result = users.import_users(settings, entries, sheet.add)
            finally:
                _print_if(sheet.close())  # issued passwords are shown even if a later step fails
            print(
                f"Imported {len(entries)} users ({len(result.created)} new) into {settings.name!r}"
            )
            if not result.uses_passwords:
                print("This stack's users log in through their identity provider: no passwords.")
            for name in result.kept:
                print(
                    f"{name}: has a password or an unused one-time password, nothing new issued "
                    f"(`devlab users reset-password {name}` issues a new one)"
                )
        elif args.users_command == "reset-password":
            sheet = _password_sheet(args)
            try:
                sheet.add(args.name, users.reset_password(settings, args.name))
            finally:
                _print_if(sheet.close())
        else:
            print(users.users_table(users.list_users(settings)))
    elif command == "bench":
        report = run_bench(
            settings, cycles=args.cycles, users=args.users, quick=args.quick, say=_progress(args)
        )
        print(json.dumps(report.to_json(), indent=2) if args.json else render_table(report))
    elif command == "check":
        report = isolation.run_check(settings, args.user)
        print(json.dumps(report.to_json(), indent=2) if args.json else report.render())
        return 0 if report.ok else 1
    elif command == "notebooks":
        return _notebooks(settings, args)
    elif command == "export-homes":
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
