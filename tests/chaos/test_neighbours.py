"""Noisy neighbours: a fork bomb, a CPU hog and a memory hog in one user's lab.

While each runs in alice's lab, bob spawns a lab and runs code in it: the platform stays
up, bob's spawn and kernel work, alice's lab is held to its limits (pids, CPU, memory),
and a lab killed for memory shows as stopped, with why, on its user's pages. Bob's spawn
time and kernel round trip under each hog, against the quiet figures, go to the chaos
report (a figure to read, goal <= 2x; timings are never asserted).
"""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import docker
import pytest

from devlab.hub.labs import LAB_HOST_CONFIG
from devlab.polling import poll_until
from devlab.stack import engine
from devlab.testing.lab import Lab

HOG, NEIGHBOUR = "alice", "bob"
ROUND_TRIPS = 5
# How long the hub may take to show a dead lab as stopped: a few of its polls (10 s).
STOP_SHOWN_WITHIN = 60

# Hogs: Python run by the lab's own interpreter as processes of their own (a new
# session: they outlive the kernel that starts them, which lab.execute shuts down), as a
# user's background job would.
# Every process forks for ever, and keeps trying at the pids limit.
FORK_BOMB = """
import os, time
while True:
    try:
        os.fork()
    except OSError:
        time.sleep(0.01)
"""
SPIN = "while True: pass"
# Allocates (and touches) 64 MiB at a time until the OOM killer ends it, then again.
ALLOCATE = "chunks = []\nwhile True:\n    chunks.append(b'x' * (64 << 20))\n"
MEMORY_HOG = f"""
import subprocess, sys, time
while True:
    subprocess.run([sys.executable, "-c", {ALLOCATE!r}])
    time.sleep(0.2)
"""


@dataclass(frozen=True)
class Neighbour:
    spawn: float  # seconds from the spawn request to the lab ready
    # Median seconds of an execute request and its reply on a running kernel (each over
    # a new websocket, as a page reconnecting would).
    round_trip: float


def measure_neighbour(devlab) -> Neighbour:
    """Bob spawns, runs code in a kernel a few times, and stops: each step must work."""
    bob = devlab.users.get(NEIGHBOUR) or devlab.login(NEIGHBOUR)
    started = time.monotonic()
    lab = bob.spawn()
    spawn = time.monotonic() - started
    kernel = lab.api("POST", "kernels", ok=(201,), json={"name": "python3"})["id"]
    try:
        lab.run_in_kernel(kernel, "pass", timeout=120)  # the kernel is up
        trips = []
        for _ in range(ROUND_TRIPS):
            started = time.monotonic()
            result = lab.run_in_kernel(kernel, "print(6 * 7)", timeout=60)
            trips.append(time.monotonic() - started)
            assert result.stdout.strip() == "42", result
    finally:
        lab.api("DELETE", f"kernels/{kernel}", ok=(204, 404))
    lab.stop()
    return Neighbour(spawn, statistics.median(trips))


@pytest.fixture(scope="module")
def quiet(devlab) -> Neighbour:
    """Bob's figures with no hog anywhere."""
    figures = measure_neighbour(devlab)
    print(f"quiet: {figures}")
    return figures


@pytest.fixture
def hog_lab(devlab) -> Iterator[tuple[Lab, docker.models.containers.Container]]:
    """Alice's running lab and its container; stopped afterwards, hog and all (a lab at
    its pids limit cannot shut down cleanly: the engine kills it after the stop timeout)."""
    alice = devlab.login(HOG)
    lab = alice.spawn()
    (container,) = engine.lab_containers(docker.from_env(), devlab.name, HOG)
    try:
        yield lab, container
    finally:
        if alice.api.server(HOG) is not None:
            alice.stop_server()


def start(lab: Lab, source: str, copies: str = "1") -> None:
    """Start `copies` (Python, evaluated in the lab) of the Python `source` in the lab."""
    code = (
        "import os, subprocess, sys\n"
        f"for _ in range({copies}):\n"
        f"    subprocess.Popen([sys.executable, '-c', {source!r}], start_new_session=True,\n"
        "        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    )
    assert lab.execute(code).ok


def stats(container) -> dict:
    return container.stats(stream=False, one_shot=True)


@contextlib.contextmanager
def sampling_pids(container) -> Iterator[list[int]]:
    """The lab's process count, sampled every half second while the block runs."""
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(stats(container)["pids_stats"]["current"])
            done.wait(0.5)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        done.set()
        thread.join()


def platform_is_up(devlab) -> None:
    assert devlab.hub_answers()
    assert docker.from_env().ping()
    subprocess.run(["true"], check=True, timeout=10)  # the host still forks


def record(chaos_report, hog: str, quiet: Neighbour, loud: Neighbour) -> None:
    print(f"under {hog}: {loud} (quiet: {quiet})")
    chaos_report.record(
        f"neighbour slowdown under {hog}: spawn", loud.spawn / quiet.spawn, "x", "<= 2"
    )
    chaos_report.record(
        f"neighbour slowdown under {hog}: kernel round trip",
        loud.round_trip / quiet.round_trip,
        "x",
        "<= 2",
    )


def test_a_fork_bomb_is_held_at_the_pids_limit(devlab, quiet, hog_lab, chaos_report):
    lab, container = hog_lab
    limit = container.attrs["HostConfig"]["PidsLimit"]
    assert limit == LAB_HOST_CONFIG["pids_limit"]
    start(lab, FORK_BOMB)
    poll_until(
        lambda: stats(container)["pids_stats"]["current"] >= 0.9 * limit,
        "the fork bomb to fill alice's lab up to its pids limit",
        timeout=60,
    )
    with sampling_pids(container) as pids:
        loud = measure_neighbour(devlab)
    print(f"fork bomb: {min(pids)} to {max(pids)} processes in alice's lab (limit {limit})")
    assert max(pids) <= limit
    assert min(pids) >= 0.5 * limit, "the fork bomb died out: the neighbour ran beside nothing"
    platform_is_up(devlab)
    record(chaos_report, "fork bomb", quiet, loud)


def test_a_cpu_hog_is_held_to_its_cpu_limit(devlab, quiet, hog_lab, chaos_report):
    lab, container = hog_lab
    cores = container.attrs["HostConfig"]["NanoCpus"] / 1e9
    assert cores > 0
    start(lab, SPIN, copies="os.cpu_count()")  # every core the lab can see
    before, since = stats(container)["cpu_stats"], time.monotonic()
    loud = measure_neighbour(devlab)
    after, elapsed = stats(container)["cpu_stats"], time.monotonic() - since
    used = (after["cpu_usage"]["total_usage"] - before["cpu_usage"]["total_usage"]) / 1e9 / elapsed
    throttled = (
        after["throttling_data"]["throttled_periods"]
        - before["throttling_data"]["throttled_periods"]
    )
    print(f"cpu hog: alice's lab used {used:.2f} cores (limit {cores:g}), {throttled} throttled")
    chaos_report.record("cpu hog: cores the hog's lab used", used, "cores", f"<= {cores:g}")
    assert throttled > 0, "the lab's CPU quota never held the hog back"
    assert used <= cores * 1.1
    platform_is_up(devlab)
    record(chaos_report, "cpu hog", quiet, loud)


def test_a_memory_hog_is_oom_killed_and_a_killed_lab_shows_why(
    devlab, quiet, hog_lab, chaos_report
):
    lab, container = hog_lab
    host = container.attrs["HostConfig"]
    assert host["Memory"] > 0
    assert host["MemorySwap"] == host["Memory"]  # no swap beyond the limit
    client = docker.from_env()
    since = int(time.time())
    start(lab, MEMORY_HOG)
    loud = measure_neighbour(devlab)
    oom_kills = list(
        client.events(
            since=since,
            until=int(time.time()) + 1,
            filters={"container": container.id, "event": "oom"},
            decode=True,
        )
    )
    container.reload()
    print(f"memory hog: {len(oom_kills)} OOM kills in alice's lab")
    assert oom_kills, "the memory hog was never OOM-killed"
    assert container.attrs["State"]["Running"], "the hog, not the lab, is what gets killed"
    platform_is_up(devlab)
    record(chaos_report, "memory hog", quiet, loud)

    # Now the lab's server is what the OOM killer takes (as when the server itself is
    # what grows): a user may raise their own process's score. From a shell in the lab
    # as the user, not from a kernel: the hog may kill the server at its next allocation,
    # before a kernel's reply or shutdown could get through. ("singleuse[r]": not the
    # shell's own command line; "bin/": not docker-init's.)
    raised = container.exec_run(
        [
            "sh",
            "-c",
            "pid=$(pgrep -n -f 'bin/jupyterhub-singleuse[r]') && "
            "echo 1000 > /proc/$pid/oom_score_adj && tr '\\0' ' ' < /proc/$pid/cmdline",
        ]
    )
    assert raised.exit_code == 0, raised.output
    assert b"jupyterhub-singleuser" in raised.output, raised.output
    killed = time.monotonic()
    alice = devlab.users[HOG]
    home = f"{devlab.hub_url}hub/home"
    expected = "Your last server stopped: killed because it ran out of memory"

    def says_why() -> bool:
        return expected in " ".join(alice.browser.get(home, timeout=10).text.split())

    poll_until(
        says_why,
        "alice's home page to say her lab was killed for memory",
        timeout=STOP_SHOWN_WITHIN,
    )
    shown_after = time.monotonic() - killed
    chaos_report.record(
        "memory hog: seconds until the hub shows the lab stopped, with why",
        shown_after,
        "s",
        "<= 10 (poll)",
    )
    assert alice.api.server(HOG) is None
    page = alice.browser.get(f"{devlab.hub_url}user/{HOG}/lab", timeout=10)
    assert page.status_code == 424  # JupyterHub's "server not running" page
    assert expected in " ".join(page.text.split())
    assert "lab stopped: killed because it ran out of memory" in devlab.logs("hub", tail=500)
    poll_until(
        lambda: not engine.lab_containers(client, devlab.name, HOG),
        "the hub to remove alice's dead lab",
        timeout=30,
    )
    # A new start is a new server: the old reason is gone from the page.
    lab = alice.spawn()
    assert expected not in alice.browser.get(home, timeout=10).text
