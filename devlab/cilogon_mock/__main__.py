"""`python -m devlab.cilogon_mock`: serve the mock CILogon for the hub in the compose stack."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from devlab.cilogon_mock.app import make_app
from devlab.cilogon_mock.keys import KeyFileError, load_or_create
from devlab.cilogon_mock.store import MockCILogonStore
from devlab.config import ConfigError, load_config
from devlab.oauth2.core import RegisteredClient
from devlab.oauth2.serve import SecretFileError, provider_parser, read_client_secret, run

log = logging.getLogger("devlab.cilogon_mock")

WARNING = (
    "This is the devlab MOCK CILogon (OpenID Connect) provider, a development tool and NOT "
    "an identity provider: anyone who can reach it can sign in as any configured user "
    "without a password. Never expose it beyond a development machine or CI."
)


def _parser() -> argparse.ArgumentParser:
    parser = provider_parser(
        "python -m devlab.cilogon_mock",
        "Mock CILogon OIDC provider for development (NOT an identity provider).",
        "mock_cilogon",
        8091,
    )
    parser.add_argument(
        "--signing-key-file",
        required=True,
        type=Path,
        help="PEM file of the RSA key that signs id_tokens; created (mode 0600) if missing",
    )
    parser.add_argument(
        "--public-url",
        default=None,
        help="where browsers reach this service, e.g. http://127.0.0.1:8091; also the "
        "id_token issuer (default: http://LISTEN:PORT)",
    )
    parser.add_argument(
        "--internal-url",
        default=None,
        help="where the hub reaches this service, e.g. http://cilogon:8091; discovery "
        "publishes the token, userinfo and JWKS endpoints there (default: --public-url)",
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
    try:
        key = load_or_create(args.signing_key_file)
    except KeyFileError as exc:
        print(exc, file=sys.stderr)
        return 2

    public = (args.public_url or f"http://{args.listen}:{args.port}").rstrip("/")
    client = RegisteredClient(args.client_id, secret, args.redirect_uri)
    store = MockCILogonStore(config.mock_cilogon, client, key, issuer=public)
    app = make_app(store, internal_url=args.internal_url)
    for user in config.mock_cilogon.users:
        log.info("user %s (%s) at %s", user.username or "-", user.sub, user.idp)
    log.info("issuer and authorize URL for browsers: %s/authorize", public)
    log.info("discovery for the hub: %s/.well-known/openid-configuration", public)
    log.info("signing key %s (kid %s)", args.signing_key_file, key.kid)
    log.info("registered redirect_uri: %s", args.redirect_uri)
    return run(app, args.listen, args.port)


if __name__ == "__main__":
    sys.exit(main())
