"""The hub's view of configurable-http-proxy: routes back within seconds of a proxy restart.

CHP keeps its routing table in memory, and devlab runs it as its own service so labs keep
their routes while the hub restarts. The other way round, a proxy that crashes (OOM, a
process killed) comes back empty, and JupyterHub only re-adds routes at its periodic
activity check (every 5 minutes): users with a lab open would be sent to the hub for
that long. DevlabProxy watches the table with one light GET a second and, as soon as a
running lab's route is missing, runs JupyterHub's own route check to put it back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from jupyterhub.proxy import ConfigurableHTTPProxy
from tornado.ioloop import PeriodicCallback
from traitlets import Float


def missing_routes(routes: Mapping[str, Mapping[str, Any]], expected: Iterable[str]) -> set[str]:
    """The expected user routes (routespecs) absent from the proxy's table `routes`."""
    present = {spec for spec, route in routes.items() if "user" in (route.get("data") or {})}
    return set(expected) - present


def ready_routes(users: Iterable[Any]) -> set[str]:
    """The routespecs of every server the hub knows to be running (JupyterHub's `ready`)."""
    return {
        spawner.proxy_spec for user in users for spawner in user.spawners.values() if spawner.ready
    }


class DevlabProxy(ConfigurableHTTPProxy):
    """ConfigurableHTTPProxy (external, should_start false) that restores lost routes."""

    route_watch_interval = Float(
        1.0,
        config=True,
        help="Seconds between checks of the proxy's routing table (0: never, as upstream).",
    )

    _watch: PeriodicCallback | None = None
    _services: Mapping[str, Any] = {}

    async def check_routes(
        self, user_dict: Any, service_dict: Any, routes: dict | None = None
    ) -> None:
        """JupyterHub calls this at start (and every activity check): the watch starts with it."""
        self._services = service_dict
        if self._watch is None and self.route_watch_interval > 0:
            self._watch = PeriodicCallback(
                self._restore_lost_routes, 1e3 * self.route_watch_interval
            )
            self._watch.start()
        await super().check_routes(user_dict, service_dict, routes)

    async def _restore_lost_routes(self) -> None:
        try:
            routes = await self.get_all_routes()
        except Exception as exc:  # the proxy is restarting: the next tick tries again
            self.log.debug("Proxy routing table not readable yet: %s", exc)
            return
        lost = missing_routes(routes, ready_routes(self.app.users.values()))
        if lost:
            self.log.warning(
                "The proxy lost %d route(s) (restarted?): restoring %s",
                len(lost),
                ", ".join(sorted(lost)),
            )
            await super().check_routes(self.app.users, self._services, routes)
