"""`devlab notebooks run`: the shipped tutorials and a failing notebook across two images
of the local registry, in real labs as alice; JUnit, HTML, executed notebooks and exit
codes; bad input refused before any lab starts; the plugin's helpers."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest

from devlab.testing.notebooks import assert_notebooks_pass, notebook_params
from devlab.tutorials import BUILTIN_DIR

TUTORIALS = sorted(p.name for p in BUILTIN_DIR.glob("*.ipynb"))


def write(path: Path, *sources: str, **devlab: object) -> Path:
    node = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    if devlab:
        node.metadata["devlab"] = devlab
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(node, str(path))
    return path


@pytest.fixture
def fixtures(tmp_path) -> Path:
    folder = tmp_path / "fixtures"
    write(folder / "fails.ipynb", "print('first')", "raise ValueError('deliberate')")
    write(folder / "opted-out.ipynb", "raise SystemExit", skip="needs a GPU")
    write(folder / "who.ipynb", "import os; print(os.getuid())")
    write(folder / "endless.ipynb", "import time\nwhile True: time.sleep(1)", timeout=5)
    return folder


def test_tutorials_and_fixtures_across_two_images(devlab, fixtures, tmp_path):
    junit, html, executed = tmp_path / "junit.xml", tmp_path / "html", tmp_path / "executed"
    done = devlab.cli(
        *("notebooks", "run", "tutorials", str(fixtures), "--image", "recommended,weekly"),
        *("--junit", str(junit), "--html", str(html), "--executed", str(executed)),
        check=False,
    )
    assert done.returncode == 1, done.stderr  # two notebooks fail
    suites = ET.parse(junit).getroot()
    assert suites.get("tests") == str(2 * (len(TUTORIALS) + 4))
    assert (suites.get("failures"), suites.get("skipped"), suites.get("errors")) == ("4", "2", "0")
    images = [suite.get("name") for suite in suites]
    assert len(images) == 2
    assert images[0].endswith(":recommended")
    for suite in suites:
        cases = {case.get("name"): case for case in suite}
        assert set(cases) == {
            *TUTORIALS,
            *("fails.ipynb", "opted-out.ipynb", "who.ipynb", "endless.ipynb"),
        }
        for name in TUTORIALS:
            assert len(cases[name]) == 0, ET.tostring(cases[name], encoding="unicode")
        (failure,) = cases["fails.ipynb"]
        assert failure.tag == "failure"
        assert "cell 2 failed" in failure.get("message")
        assert "raise ValueError('deliberate')" in failure.text
        assert "ValueError: deliberate" in failure.text
        assert cases["opted-out.ipynb"][0].get("message") == "needs a GPU"
        # A notebook that never ends is stopped at its own timeout (metadata: 5 s).
        (stopped,) = cases["endless.ipynb"]
        assert stopped.tag == "failure"
        assert "cell 1 failed" in stopped.get("message")
        assert "timed out" in stopped.text.lower(), stopped.text
        assert float(cases["endless.ipynb"].get("time")) < 60
    # alice's uid, as her own labs run it.
    who = [p for p in executed.glob("who*.ipynb")]
    assert len(who) == 2
    outputs = nbformat.read(str(who[0]), as_version=4).cells[0].outputs
    assert outputs[0]["text"].strip() == "7000001"
    index = (html / "index.html").read_text()
    assert "fails.ipynb" in index
    assert "deliberate" in index
    assert "FAIL" in done.stdout  # the table
    assert "4 failed" in done.stdout


def test_a_passing_run_exits_zero_with_json(devlab, tmp_path):
    """Two notebooks at once in one lab (--jobs 2), a parameter injected into each."""
    folder = tmp_path / "passing"
    for name in ("one", "two"):
        cell = nbformat.v4.new_code_cell("x = 0", metadata={"tags": ["parameters"]})
        node = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_code_cell("assert x == 5")])
        folder.mkdir(exist_ok=True)
        nbformat.write(node, str(folder / f"{name}.ipynb"))
    done = devlab.cli(
        *("notebooks", "run", str(folder), "--json", "--param", "x=5", "--jobs", "2"),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert [(r["notebook"], r["outcome"]) for r in shown["results"]] == [
        ("one.ipynb", "passed"),
        ("two.ipynb", "passed"),
    ]
    assert shown["user"] == "alice"
    assert shown["wall_s"] > 0
    lab = devlab.login("alice").spawn()
    try:  # the run's copies left alice's home with the run
        left = lab.execute(
            "import os; print(sorted(os.path.join(d, f) for d, _, fs in "
            "os.walk(os.path.expanduser('~/devlab-runs')) for f in fs))"
        )
    finally:
        lab.stop()
    assert left.stdout.strip() == "[]"  # each image's run folder is gone


def test_a_user_whose_lab_runs_is_refused_and_the_lab_left_alone(devlab, fixtures):
    bob = devlab.login("bob")
    lab = bob.spawn()
    try:
        done = devlab.cli(
            "notebooks", "run", str(fixtures / "who.ipynb"), "--user", "bob", check=False
        )
        assert done.returncode == 2, done
        assert "bob's lab is running" in done.stderr
        assert lab.execute("print(6 * 7)").stdout.strip() == "42"
    finally:
        lab.stop()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["/etc/hostname"], "is not a notebook"),
        (["--image", "no/such:image", "{who}"], "no/such:image"),
        (["--param", "not-a-name=1", "{who}"], "not-a-name"),
        (["{broken}"], "broken.ipynb"),
    ],
)
def test_bad_input_is_refused_before_any_lab_starts(devlab, fixtures, args, words):
    broken = fixtures / "broken.ipynb"
    broken.write_text("{not json")
    who = str(fixtures / "who.ipynb")
    argv = [a.format(who=who, broken=broken) for a in args]
    done = devlab.cli("notebooks", "run", *argv, check=False)
    assert done.returncode == 2, done
    assert words in done.stderr
    assert not [lab for lab in devlab.status().labs if lab.user == "alice"]


@pytest.mark.parametrize("notebook", notebook_params(BUILTIN_DIR))
def test_each_tutorial_as_a_test_of_its_own(devlab, notebook):
    assert_notebooks_pass(devlab.run_notebooks(notebook))
