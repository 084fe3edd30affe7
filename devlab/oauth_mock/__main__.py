"""`python -m devlab.oauth_mock`: serve the mock GitHub for the hub in the compose stack."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from tornado.httpserver import HTTPServer
from tornado.web import Application

from devlab.config import ConfigError, load_config
from devlab.oauth_mock.app import make_app
from devlab.oauth_mock.store import MockGitHubStore, RegisteredClient

log = logging.getLogger("devlab.oauth_mock")

WARNING = (
    "This is the devlab MOCK GitHub OAuth provider, a development tool and NOT an identity "
    "provider: anyone who can reach it can sign in as any configured user without a "
    "password. Never expose it beyond a development machine or CI."
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devlab.oauth_mock",
        description="Mock GitHub OAuth provider for development (NOT an identity provider).",
    )
    parser.add_argument("--config", required=True, help="devlab.yaml with the mock_github users")
    parser.add_argument("--client-id", required=True, help="client_id of the one registered app")
    parser.add_argument(
        "--client-secret-file",
        required=True,
        type=Path,
        help="file holding that app's client secret (e.g. a compose secret)",
    )
    parser.add_argument(
        "--redirect-uri",
        required=True,
        help="the app's registered callback, e.g. http://127.0.0.1:8000/hub/oauth_callback",
    )
    parser.add_argument("--listen", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8090, help="port to bind (default 8090)")
    parser.add_argument(
        "--public-url",
        default=None,
        help="where browsers reach this service, e.g. http://127.0.0.1:8090 "
        "(default: whatever host each request used)",
    )
    return parser


async def _serve(app: Application, listen: str, port: int) -> None:
    server = HTTPServer(app)
    server.listen(port, address=listen)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # As PID 1 in a container SIGTERM has no default action; without a handler every
    # `docker compose down` would wait out the stop timeout.
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping")
    server.stop()


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
        secret = args.client_secret_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        print(f"{args.client_secret_file}: cannot read the client secret: {exc}", file=sys.stderr)
        return 2
    if not secret:
        print(f"{args.client_secret_file}: the client secret file is empty", file=sys.stderr)
        return 2

    client = RegisteredClient(args.client_id, secret, args.redirect_uri)
    store = MockGitHubStore(config.mock_github, client)
    app = make_app(store, public_url=args.public_url)
    users = ", ".join(u.login for u in config.mock_github.users) or "(none)"
    public = (args.public_url or f"http://{args.listen}:{args.port}").rstrip("/")
    log.info("users: %s", users)
    log.info("authorize URL for browsers: %s/login/oauth/authorize", public)
    log.info("registered redirect_uri: %s", args.redirect_uri)
    try:
        asyncio.run(_serve(app, args.listen, args.port))
    except OSError as exc:
        print(f"cannot listen on {args.listen}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
