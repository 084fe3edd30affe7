"""The bench's copy of the stack's config: the mock provider, with the bench's users added.

The concurrency part needs that many identities; the mock provider serves them, and the
spawner resolves admin-created users from the same list. The rewrite is pure, on the
config file's mapping, so it is unit-tested.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import yaml

from devlab.bench.errors import BenchError
from devlab.config import DevlabConfig, load_config
from devlab.config.catalog import LabSize
from devlab.identity import Identity
from devlab.identity.github import identity_from_github
from devlab.stack.settings import StackSettings

BENCH_USER = "bench-user-{:02d}"
BENCH_UID_BASE = 7100000


def with_bench_users(raw: dict[str, Any], users: int) -> dict[str, Any]:
    """A copy of a devlab.yaml mapping on the mock provider, with mock users
    bench-user-01..`users` (uids from BENCH_UID_BASE + 1, in the first mock org) added
    where it does not have them already."""
    raw = copy.deepcopy(raw)
    raw.setdefault("auth", {})["provider"] = "github-mock"
    mock = raw.setdefault("mock_github", {})
    orgs = mock.setdefault("orgs", [])
    existing = {u["login"] for u in mock.setdefault("users", [])}
    for index in range(1, users + 1):
        login = BENCH_USER.format(index)
        if login not in existing:
            mock["users"].append(
                {
                    "login": login,
                    "id": BENCH_UID_BASE + index,
                    "name": f"Bench user {index}",
                    "email": f"{login}@example.org",
                    "orgs": [orgs[0]["login"]] if orgs else [],
                }
            )
    return raw


def write_bench_config(settings: StackSettings, users: int) -> tuple[StackSettings, DevlabConfig]:
    """The stack's config with the bench users, written under the stack's state dir (0700),
    and the settings that bring the stack up with it."""
    raw = yaml.safe_load(settings.config_path.read_text(encoding="utf-8")) or {}
    path = settings.state_dir / "bench" / "devlab-bench.yaml"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(yaml.safe_dump(with_bench_users(raw, users), sort_keys=False), "utf-8")
    return dataclasses.replace(settings, config_path=path), load_config(path)


def default_size(config: DevlabConfig) -> LabSize:
    name = config.catalog.default_size_name
    return next(s for s in config.catalog.sizes if s.name == name)


def identity_of(config: DevlabConfig, login: str) -> Identity:
    """The identity the spawner gives `login` (devlab.hub.wiring.mock_identity_lookup)."""
    user = config.mock_github.user(login)
    if user is None:
        raise BenchError(f"{login!r} is not a mock_github user of the bench config")
    orgs = [o for o in (config.mock_github.org(name) for name in user.orgs) if o is not None]
    return identity_from_github(
        {"login": user.login, "id": user.id, "name": user.name},
        [{"login": o.login, "id": o.id} for o in orgs],
    )
