"""Running a mock provider as a service: its client secret and its server loop."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from tornado.httpserver import HTTPServer
from tornado.web import Application

log = logging.getLogger(__name__)


def provider_parser(
    prog: str, description: str, section: str, default_port: int
) -> argparse.ArgumentParser:
    """The options every mock provider takes: its config, its one client, where to listen."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", required=True, help=f"devlab.yaml with the {section} users")
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
    parser.add_argument(
        "--port", type=int, default=default_port, help=f"port to bind (default {default_port})"
    )
    return parser


class SecretFileError(Exception):
    """The client secret file cannot be used; str() names the file and the problem."""


def read_client_secret(path: Path) -> str:
    """The registered client's secret from a file (e.g. a compose secret)."""
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretFileError(f"{path}: cannot read the client secret: {exc}") from exc
    if not secret:
        raise SecretFileError(f"{path}: the client secret file is empty")
    return secret


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


def run(app: Application, listen: str, port: int) -> int:
    """Serve until SIGTERM or SIGINT; the exit status (1 when the port cannot be bound)."""
    try:
        asyncio.run(_serve(app, listen, port))
    except OSError as exc:
        print(f"cannot listen on {listen}:{port}: {exc}", file=sys.stderr)
        return 1
    return 0
