"""`python -m devlab.oauth_mock`: serve the mock GitHub for the hub in the compose stack."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    log.warning(WARNING)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        secret = read_client_secret(args.client_secret_file)
    except SecretFileError as exc:
        print(exc, file=sys.stderr)
        return 2

    client = RegisteredClient(args.client_id, secret, args.redirect_uri)
    store = MockGitHubStore(config.mock_github, client)
    app = make_app(store, public_url=args.public_url)
    users = ", ".join(u.login for u in config.mock_github.users) or "(none)"
    public = (args.public_url or f"http://{args.listen}:{args.port}").rstrip("/")
    log.info("users: %s", users)
    log.info("authorize URL for browsers: %s/login/oauth/authorize", public)
    log.info("registered redirect_uri: %s", args.redirect_uri)
    return run(app, args.listen, args.port)


if __name__ == "__main__":
    sys.exit(main())
