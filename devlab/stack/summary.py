"""What `devlab up` prints on success: one table of everything a person needs next."""

from __future__ import annotations

from devlab.config import DevlabConfig
from devlab.config.mock_cilogon import MockCILogonUser
from devlab.stack.settings import StackSettings, is_loopback

SECURITY_NOTICE = (
    "This is a local development stack: identities are mock or workshop accounts, "
    "secrets live in {state}, and ports are published on {bind} only."
)


def _cilogon_user(user: MockCILogonUser, idp: str) -> str:
    """One mock CILogon user as `devlab up` lists it; '-' for a claim the mock leaves out."""

    def shown(value: object) -> str:
        return "-" if value is None else str(value)

    groups = ", ".join(f"{g.name} ({shown(g.id)})" for g in user.isMemberOf or ()) or "-"
    return (
        f"{shown(user.username):<10} uid {shown(user.uidNumber):<9} "
        f"gid {shown(user.gidNumber):<9} groups {groups}  [{idp}]"
    )


def _users(config: DevlabConfig) -> list[str]:
    auth = config.auth
    if auth.provider == "github-mock":
        orgs = {o.login: o.id for o in config.mock_github.orgs}
        return [
            f"{u.login:<10} uid {u.id:<9} groups "
            + (", ".join(f"{o} ({orgs[o]})" for o in u.orgs) or "-")
            for u in config.mock_github.users
        ]
    if auth.provider == "cilogon-mock":
        mock = config.mock_cilogon
        return [_cilogon_user(u, mock.idps.get(u.idp, u.idp)) for u in mock.users]
    if auth.provider == "cilogon":
        return ["real CILogon accounts: uid, gid and groups from the claims (auth.cilogon)"]
    if auth.provider == "firstuse":
        first, last = auth.firstuse.uid_range
        groups = ", ".join(f"{g.name} ({g.gid})" for g in auth.firstuse.groups) or "-"
        return [
            f"participants choose a password at first login; uids {first}-{last}; groups {groups}"
        ]
    if auth.provider == "github":
        return ["real GitHub accounts: uid = GitHub id, groups = organisations"]
    return ["no login (API tokens only)"]


def render_up(
    settings: StackSettings,
    config: DevlabConfig,
    services: dict[str, float | None],
    health: dict[str, str],
    storage: tuple[str, str],
) -> str:
    rows = [("Hub", settings.hub_url)]
    link = config.auth.github_link
    if config.auth.provider == "github-mock" or (link is not None and link.uses_mock):
        rows.append(("Mock GitHub", settings.oauth_url))
    if config.auth.provider == "cilogon-mock":
        rows.append(("Mock CILogon", settings.cilogon_url))
    if link is not None:
        rows.append(("GitHub link", f"{settings.hub_url.rstrip('/')}/services/github-link/"))
    rows.append(("Admin token", "devlab token"))
    if settings.profile:
        rows.append(("Profile", settings.profile))
    rows.append(("Storage", f"{storage[0]} ({storage[1]})"))
    for service in sorted(services):
        took = services[service]
        timing = f"healthy after {took:.1f} s" if took is not None else "already running"
        rows.append((f"  {service}", f"{health.get(service, '-')}, {timing}"))
    lines = [f"{label:<12} {value}" for label, value in rows]
    lines.append("Users")
    lines += [f"  {line}" for line in _users(config)]
    if link is not None and link.uses_mock and config.auth.provider != "github-mock":
        accounts = ", ".join(u.login for u in config.mock_github.users) or "-"
        lines.append(f"  GitHub accounts to link (mock GitHub): {accounts}")
    notice = SECURITY_NOTICE.format(state=settings.state_dir, bind=settings.bind)
    if not is_loopback(settings.bind):
        notice += " The hub is reachable from your network; every other port stays on 127.0.0.1."
    lines += ["", notice]
    return "\n".join(lines)
