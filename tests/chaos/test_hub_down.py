"""The hub down (stopped, then started again): a lab keeps serving the tokens it has
cached, and a request it cannot check without the hub gets a 503 with Retry-After and
a hint to retry (JupyterHub alone answers 500), which works once the hub is back.

Not a crash: the hub is held down on purpose (`docker stop`), for as long as the test
needs, and always started again for the tests after it. A stopped hub's address leaves
the lab's network, so the lab's first check runs into the connect timeout of JupyterHub's
own HTTP client (aiohttp's 30 s, which the lab cannot configure) and later ones fail in
about 3 s; the recorded figure is that first wait.
"""

from __future__ import annotations

import time

import docker
import requests

from devlab.polling import poll_until
from devlab.stack import engine


def test_with_the_hub_down_labs_serve_cached_tokens_and_ask_the_rest_to_retry(devlab, chaos_report):
    user = devlab.login("alice")
    lab = user.spawn()
    status = f"{lab.base}/api/status"
    assert lab.http.get(status, timeout=30).status_code == 200  # her token is now cached
    # A token of hers the lab has never seen: made while the hub is up, shown to the lab
    # only once the hub is down, so the lab must ask the hub about it.
    made = devlab.admin.request(
        "POST", "/hub/api/users/alice/tokens", json={"note": "hub down", "expires_in": 3600}
    )
    assert made.status_code == 201, made.text
    stranger = requests.Session()
    stranger.headers["Authorization"] = f"token {made.json()['token']}"

    (hub,) = engine.service_containers(docker.from_env(), devlab.name, "hub")
    hub.stop(timeout=10)
    try:
        assert not devlab.hub_answers()
        # Cached: the lab serves her as before, files and kernels alike.
        lab.write_file("hub-down.txt", "written while the hub was down")
        assert lab.read_file("hub-down.txt") == "written while the hub was down"
        assert lab.execute("print(6 * 7)").stdout.strip() == "42"

        asked = time.monotonic()
        api = stranger.get(status, timeout=60)
        answered_in = time.monotonic() - asked
        assert api.status_code == 503, api.text
        assert api.headers["Retry-After"] == "5"
        assert "retry in 5 seconds" in api.json()["message"]
        # A page of the lab (not its API): the same answer, as text a browser shows.
        page = stranger.get(f"{lab.base}/lab", allow_redirects=False, timeout=60)
        assert page.status_code == 503, page.text
        assert page.headers["Retry-After"] == "5"
        assert "retry in 5 seconds" in page.text
    finally:
        hub.start()
        poll_until(devlab.hub_answers, "the hub to answer after its start", timeout=120)

    print(f"with the hub down, an unchecked token got its 503 in {answered_in:.2f} s")
    chaos_report.record("hub down: seconds until an unchecked token's 503", answered_in, "s", "-")
    # Back: the same token is checked with the hub and served.
    poll_until(
        lambda: stranger.get(status, timeout=30).status_code == 200,
        "the lab to serve the new token once the hub is back",
        timeout=60,
    )
    assert lab.execute("print(1 + 1)").stdout.strip() == "2"
