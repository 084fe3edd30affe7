"""devlab's own tutorials on the default stack: in a fresh user's lab, and each one runs.

The packaged config sets `lab.tutorials: builtin`: the hub publishes the notebooks as a
git repository in the stack's tutorials volume, and every lab refreshes
~/notebooks/tutorials from it at start. Each tutorial is then run in that lab, as its
user, the way a test of any project would run a notebook there.
"""

from __future__ import annotations

import re

import docker
import nbformat
import pytest

from devlab.config import load_config
from devlab.polling import poll_until
from devlab.testing.lab import Lab, LabError
from devlab.tutorials import BUILTIN_DIR

FOLDER = "notebooks/tutorials"


@pytest.fixture(scope="module")
def alice_lab(devlab) -> Lab:
    tutorials = load_config(devlab.settings.config_path).lab.tutorials
    assert tutorials is not None, "the test stack runs the packaged default"
    assert tutorials.is_builtin
    lab = devlab.login("alice").spawn(size="small")
    # The refresh runs beside the server's start: wait for its line in the log.
    poll_until(lambda: _refresh_log(lab), "the tutorials refresh to log its result", timeout=60)
    return lab


def _refresh_log(lab: Lab) -> str | None:
    try:
        log = lab.read_file("notebooks/tutorials-refresh.log")
    except LabError:
        return None  # not written yet
    return log if ": ok" in log or ": FAILED" in log else None


def run(lab: Lab, name: str, **parameters: object) -> str:
    """Run the lab's own copy of a tutorial; returns what its code cells printed."""
    notebook = nbformat.reads(lab.read_file(f"{FOLDER}/{name}"), as_version=4)
    executed = lab.run_notebook(notebook, parameters=parameters)
    return "".join(
        output.get("text", "")
        for cell in executed.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )


def test_a_fresh_lab_has_the_tutorials(alice_lab):
    listing = alice_lab.api("GET", f"contents/{FOLDER}")
    assert {item["name"] for item in listing["content"]} >= {
        path.name for path in BUILTIN_DIR.iterdir()
    }
    log = alice_lab.read_file("notebooks/tutorials-refresh.log")
    assert "refresh /srv/devlab/tutorials.git (branch main)" in log
    assert log.splitlines()[0].endswith(": ok"), log


def test_who_am_i_shows_the_users_identity_home_and_project_space(alice_lab):
    out = run(alice_lab, "01-who-am-i.ipynb")
    assert "user:  alice (uid 7000001)" in out
    assert "group: alice (gid 7000001)" in out
    assert "org:   devlab-devs (gid 8000001)" in out
    assert "org:   rubin-sci (gid 8000002)" in out
    assert re.search(r"^drwx------  alice\s+alice\s+/home/alice$", out, re.M), out
    assert re.search(r"^drwxrws---  root\s+rubin-sci\s+/project/rubin-sci$", out, re.M), out


def test_sharing_writes_a_group_owned_group_writable_file(alice_lab):
    out = run(alice_lab, "02-sharing-with-my-org.ipynb")
    assert "my organisations: devlab-devs, rubin-sci" in out
    assert "wrote /project/devlab-devs/hello-from-alice.txt" in out
    assert "owner alice, group devlab-devs" in out
    assert "group-writable: yes" in out


def test_image_and_size_shows_the_choice_and_its_enforced_limits(devlab, alice_lab):
    out = run(alice_lab, "03-my-image-and-size.ipynb")
    container = docker.from_env().containers.get(f"{devlab.name}-lab-alice")
    assert f"image: {container.attrs['Config']['Image']}\n" in out
    assert "size:  small\n" in out
    assert "devlab.image: lab" in out  # the image's own labels
    small = {s.name: s for s in load_config(devlab.settings.config_path).catalog.sizes}["small"]
    assert f"CPU limit:    {small.cpu_limit:g} CPUs" in out
    assert f"memory limit: {small.mem_limit / 2**20:.0f} MiB" in out


def test_the_ci_tutorial_runs_with_parameters(alice_lab):
    assert "Hello from my lab" in run(alice_lab, "04-testing-notebooks-in-ci.ipynb")
    assert "Hello from CI" in run(
        alice_lab, "04-testing-notebooks-in-ci.ipynb", greeting="Hello from CI"
    )


def test_the_tutorials_repository_is_read_only_to_the_user(alice_lab):
    """The volume every lab mounts: nobody may rewrite what the next user's lab pulls."""
    result = alice_lab.execute(
        "import os, errno\n"
        "for path in ('/srv/devlab/tutorials.git/HEAD', '/srv/devlab/tutorials.git/x'):\n"
        "    try:\n"
        "        open(path, 'a').close()\n"
        "        print('wrote', path)\n"
        "    except OSError as exc:\n"
        "        print('refused', errno.errorcode[exc.errno])\n"
    )
    assert result.ok, result.error
    # The files are root's (0644): refused before the mount is asked; a new file meets the
    # read-only mount itself.
    assert result.stdout.split() == ["refused", "EACCES", "refused", "EROFS"], result.stdout
