"""`python -m devlab.github_link`: the link service, started by the hub (a managed service).

JupyterHub passes the service's own settings (API token, URL prefix, OAuth client) in
JUPYTERHUB_* variables; the arguments say where GitHub is and where links are kept.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from devlab.github_link.app import Service, make_app
from devlab.github_link.github import GitHub, GitHubApp
from devlab.github_link.pending import PendingFlows
from devlab.github_link.store import LinkStore, StoreError
from devlab.oauth2.serve import SecretFileError, read_client_secret, run


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devlab.github_link",
        description="Links hub users to GitHub accounts for git in their labs.",
    )
    parser.add_argument("--store", type=Path, required=True, help="the links' SQLite file")
    parser.add_argument(
        "--key-file", type=Path, required=True, help="file holding the store's key (hex)"
    )
    parser.add_argument("--client-id", required=True, help="the linking OAuth app at GitHub")
    parser.add_argument("--client-secret-file", type=Path, required=True)
    parser.add_argument("--authorize-url", required=True, help="GitHub's, as browsers reach it")
    parser.add_argument("--token-url", required=True, help="GitHub's, as this service reaches it")
    parser.add_argument("--api-url", required=True, help="GitHub's REST API, e.g. api.github.com")
    parser.add_argument("--redirect-uri", required=True, help="<hub>/services/github-link/callback")
    parser.add_argument("--scope", action="append", default=[], help="a scope to ask for")
    parser.add_argument(
        "--git-host", action="append", required=True, help="a host git gets the token for"
    )
    parser.add_argument("--listen", default="0.0.0.0")
    parser.add_argument("--port", type=int, required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        secret = read_client_secret(args.client_secret_file)
        key = bytes.fromhex(read_client_secret(args.key_file))
        store = LinkStore(args.store, key)
    except (SecretFileError, StoreError, ValueError) as exc:
        print(f"github-link: {exc}", file=sys.stderr)
        return 2
    github = GitHub(
        GitHubApp(
            client_id=args.client_id,
            client_secret=secret,
            authorize_url=args.authorize_url,
            token_url=args.token_url,
            api_url=args.api_url.rstrip("/"),
            redirect_uri=args.redirect_uri,
            scopes=tuple(args.scope),
        )
    )
    service = Service(
        store=store,
        github=github,
        flows=PendingFlows(),
        git_hosts=frozenset(h.lower() for h in args.git_host),
        prefix=os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/github-link/"),
        hub_prefix=os.environ.get("JUPYTERHUB_BASE_URL", "/") + "hub/",
    )
    # A fresh cookie secret per start: a restart only means a silent new hub OAuth round.
    return run(make_app(service, cookie_secret=os.urandom(32)), args.listen, args.port)


if __name__ == "__main__":
    sys.exit(main())
