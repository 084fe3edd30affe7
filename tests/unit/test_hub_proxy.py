"""Which routes a restarted proxy lost: the decision DevlabProxy acts on, without a proxy."""

from types import SimpleNamespace

from devlab.hub.proxy import missing_routes, ready_routes


def _user(*servers):
    return SimpleNamespace(
        spawners={
            name: SimpleNamespace(proxy_spec=spec, ready=ready) for name, spec, ready in servers
        }
    )


def test_only_running_servers_need_a_route():
    users = [_user(("", "/user/alice/", True)), _user(("", "/user/bob/", False))]
    assert ready_routes(users) == {"/user/alice/"}


def test_a_restarted_proxy_with_only_its_default_route_lost_every_lab():
    fresh = {"/": {"routespec": "/", "target": "http://hub:8081", "data": {}}}
    assert missing_routes(fresh, {"/user/alice/", "/user/bob/"}) == {"/user/alice/", "/user/bob/"}


def test_routes_in_place_need_nothing_and_non_user_routes_do_not_count():
    routes = {
        "/": {"data": {"hub": True}},
        "/user/alice/": {"data": {"user": "alice", "server_name": ""}},
        "/user/bob/": {"data": {}},  # someone else's route at that path, not the hub's
    }
    assert missing_routes(routes, {"/user/alice/"}) == set()
    assert missing_routes(routes, {"/user/alice/", "/user/bob/"}) == {"/user/bob/"}
