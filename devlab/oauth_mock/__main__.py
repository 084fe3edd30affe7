"""`python -m devlab.oauth_mock`: serve the mock GitHub for the hub in the compose stack."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from devlab.config import ConfigError, load_config
from devlab.oauth2.core import RegisteredClient
from devlab.oauth2.serve import SecretFileError, provider_parser, read_client_secret, run
from devlab.oauth_mock.app import make_app
from devlab.oauth_mock.store import MockGitHubStore

log = logging.getLogger("devlab.oauth_mock")

WARNING = (
    "This is the devlab MOCK GitHub OAuth provider, a development tool and NOT an identity "
    "provider: anyone who can reach it can sign in as any configured user without a "
    "password. Never expose it beyond a development machine or CI."
)


def _parser() -> argparse.ArgumentParser:
    parser = provider_parser(
        "python -m devlab.oauth_mock",
        "Mock GitHub OAuth provider for development (NOT an identity provider).",
        "mock_github",
        8090,
    )
    parser.add_argument(
        "--public-url",
        default=None,
        help="where browsers reach this service, e.g. http://127.0.0.1:8090 "
        "(default: whatever host each request used)",
    )
    link = parser.add_argument_group(
        "GitHub-link app",
        "a second OAuth app, the hub service that links a GitHub account to a hub user; "
        "give all three options or none",
    )
    link.add_argument("--link-client-id", help="client_id of the GitHub-link app")
    link.add_argument(
        "--link-client-secret-file", type=Path, help="file holding the GitHub-link app's secret"
    )
    link.add_argument(
        "--link-redirect-uri",
        help="its registered callback, e.g. "
        "http://127.0.0.1:8000/services/github-link/oauth_callback",
    )
    return parser


LINK_OPTIONS = ("link_client_id", "link_client_secret_file", "link_redirect_uri")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The options, refusing a GitHub-link app given in part or under the hub's client_id."""
    parser = _parser()
    args = parser.parse_args(argv)
    given = [name for name in LINK_OPTIONS if getattr(args, name) is not None]
    if given and len(given) < len(LINK_OPTIONS):
        missing = ", ".join("--" + n.replace("_", "-") for n in LINK_OPTIONS if n not in given)
        parser.error(f"the GitHub-link app needs all three --link-* options; missing: {missing}")
    if args.link_client_id is not None and args.link_client_id == args.client_id:
        parser.error(
            f"--link-client-id {args.link_client_id!r} is the hub's --client-id; "
            "the GitHub-link app needs a client_id of its own"
        )
    return args


def registered_clients(args: argparse.Namespace) -> list[RegisteredClient]:
    """The hub's login app and, when given, the GitHub-link app, their secrets read."""
    clients = [(args.client_id, args.client_secret_file, args.redirect_uri)]
    if args.link_client_id is not None:
        clients.append((args.link_client_id, args.link_client_secret_file, args.link_redirect_uri))
    return [
        RegisteredClient(client_id, read_client_secret(secret_file), redirect_uri)
        for client_id, secret_file, redirect_uri in clients
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    log.warning(WARNING)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        registered = registered_clients(args)
    except SecretFileError as exc:
        print(exc, file=sys.stderr)
        return 2

    store = MockGitHubStore(config.mock_github, *registered)
    app = make_app(store, public_url=args.public_url)
    users = ", ".join(u.login for u in config.mock_github.users) or "(none)"
    public = (args.public_url or f"http://{args.listen}:{args.port}").rstrip("/")
    log.info("users: %s", users)
    log.info("authorize URL for browsers: %s/login/oauth/authorize", public)
    for client in registered:
        log.info("registered app %s with redirect_uri %s", client.client_id, client.redirect_uri)
    return run(app, args.listen, args.port)


if __name__ == "__main__":
    sys.exit(main())
