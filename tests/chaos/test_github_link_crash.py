"""The GitHub-link service crashed (killed inside the hub's container, as the OOM killer
would): JupyterHub starts it again, and the links it keeps on disk still answer git.

Seconds until it answers again go in the chaos report; the test fails only when it does
not answer within a minute. JupyterHub notices a managed service's exit at its next poll
of the process, every 30 s (+/- 20 % jitter, Spawner.poll_interval): its service spawner
takes no configuration, so up to 36 s is what it gives today.
"""

from __future__ import annotations

import time

import docker
import requests

from devlab.polling import poll_until
from devlab.stack import engine
from devlab.testing.crash import crash

ANSWERS_AGAIN_WITHIN = 60


def test_a_crashed_link_service_comes_back_with_its_links(devlab, tmp_path, chaos_report):
    def with_link(config: dict) -> None:
        config["auth"].update(provider="cilogon-mock", github_link={})

    with devlab.reconfigured(with_link, tmp_path):
        ada = devlab.login("ada")
        ada.link_github("alice")
        url = f"{devlab.hub_url}services/github-link/api/credential"

        def credential() -> requests.Response | None:
            try:
                return ada.api.session.post(url, json={"host": "github.com"}, timeout=5)
            except requests.RequestException:
                return None

        before = credential()
        assert before is not None
        assert before.status_code == 200, before.text
        (hub,) = engine.service_containers(docker.from_env(), devlab.name, "hub")
        crash(hub, "-m devlab.github_link")
        crashed = time.monotonic()

        def answers() -> bool:
            reply = credential()
            return reply is not None and reply.status_code == 200

        poll_until(answers, "the link service to answer again", timeout=ANSWERS_AGAIN_WITHIN)
        back = time.monotonic() - crashed
        chaos_report.record("link service crash: seconds until git is answered", back, "s", "<= 36")
        after = credential()
        assert after is not None
        assert after.json() == before.json()  # the same link, from disk
        assert "Service github-link exited" in devlab.logs("hub", tail=400)
        ada.unlink_github()
