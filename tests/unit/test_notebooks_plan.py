"""`devlab notebooks run`'s plan: finding notebooks and their metadata, choosing images from
the menu, parsing parameters, and the run matrix; every bad input is a PlanError."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from devlab.catalog.state import ImageRecord
from devlab.catalog.tags import Role
from devlab.notebooks.plan import (
    Case,
    NotebookSpec,
    PlanError,
    discover,
    matrix,
    parse_params,
    select_images,
)


def write_notebook(path, devlab=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    notebook = new_notebook(cells=[new_code_cell("1 + 1")])
    if devlab is not None:
        notebook.metadata["devlab"] = devlab
    nbformat.write(notebook, path)
    return path


# discover ---------------------------------------------------------------------------------


def test_a_folder_is_searched_recursively_sorted_and_hidden_folders_are_left_out(tmp_path):
    for name in ("b.ipynb", "a/z.ipynb", "a/c.ipynb", "a.ipynb"):
        write_notebook(tmp_path / name)
    write_notebook(tmp_path / "a/.ipynb_checkpoints/c-checkpoint.ipynb")
    write_notebook(tmp_path / ".hidden/d.ipynb")
    write_notebook(tmp_path / ".e.ipynb")
    (tmp_path / "notes.txt").write_text("not a notebook")

    specs = discover([tmp_path])

    assert [s.name for s in specs] == ["a.ipynb", "a/c.ipynb", "a/z.ipynb", "b.ipynb"]
    assert specs[1].path == (tmp_path / "a/c.ipynb").resolve()
    assert specs[1].path.is_absolute()
    assert specs[1] == NotebookSpec(specs[1].path, "a/c.ipynb", skip=None, timeout=None)


def test_a_file_is_named_by_its_own_name_and_paths_keep_their_order(tmp_path):
    first = write_notebook(tmp_path / "x/second.ipynb")
    write_notebook(tmp_path / "y/first.ipynb")

    specs = discover([first, tmp_path / "y"])

    assert [s.name for s in specs] == ["second.ipynb", "first.ipynb"]


def test_a_notebook_found_twice_runs_once(tmp_path):
    notebook = write_notebook(tmp_path / "a.ipynb")
    assert [s.name for s in discover([tmp_path, notebook, tmp_path])] == ["a.ipynb"]


def test_two_notebooks_that_would_share_a_name_are_refused(tmp_path):
    one, two = write_notebook(tmp_path / "x/a.ipynb"), write_notebook(tmp_path / "y/a.ipynb")
    with pytest.raises(PlanError, match=r"both be reported as 'a.ipynb'.*folder that holds both"):
        discover([one, two])


def test_a_file_that_is_not_an_ipynb_is_refused(tmp_path):
    script = tmp_path / "script.py"
    script.write_text("print(1)")
    with pytest.raises(PlanError, match=r"script.py is not a notebook \(\.ipynb\)"):
        discover([script])


def test_a_missing_path_is_refused(tmp_path):
    with pytest.raises(PlanError, match="nowhere does not exist"):
        discover([tmp_path / "nowhere"])


def test_no_path_or_no_notebook_at_all_is_refused(tmp_path):
    with pytest.raises(PlanError, match="no path given"):
        discover([])
    empty, other = tmp_path / "empty", tmp_path / "other"
    empty.mkdir()
    write_notebook(other / ".ipynb_checkpoints/a-checkpoint.ipynb")
    with pytest.raises(PlanError, match=f"no notebook .* under {empty}, {other}"):
        discover([empty, other])


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"not json {", "does not appear to be JSON"),
        (b"[1, 2]", "is not a valid notebook"),
        (b'{"a": 1}', "is not a valid notebook"),
        (b"\xff\xfe\x00", "codec can't decode"),
        (
            b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, '
            b'"cells": [{"cell_type": "code", "source": "x"}]}',
            "is not a valid notebook",
        ),
    ],
)
def test_a_file_that_is_not_a_notebook_is_refused_naming_it_and_why(tmp_path, content, reason):
    bad = tmp_path / "sub/bad.ipynb"
    bad.parent.mkdir()
    bad.write_bytes(content)
    write_notebook(tmp_path / "good.ipynb")
    with pytest.raises(PlanError, match=f"bad.ipynb.*{reason}"):
        discover([tmp_path])


def test_a_schema_error_names_nbformats_reason_not_its_schema(tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text(
        '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": '
        '[{"cell_type": "code", "source": "x", "metadata": {}, "outputs": [], '
        '"execution_count": null, "id": "a", "colour": "red"}]}'
    )
    with pytest.raises(PlanError) as caught:
        discover([bad])
    assert "colour" in str(caught.value)
    assert len(str(caught.value).splitlines()) == 1


# a notebook's own metadata ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("devlab", "skip", "timeout"),
    [
        ({}, None, None),
        ({"skip": True}, "skipped by its metadata", None),
        ({"skip": False, "timeout": 30}, None, 30.0),
        ({"skip": "  needs a GPU "}, "needs a GPU", None),
        ({"timeout": 2.5}, None, 2.5),
    ],
)
def test_a_notebook_opts_out_or_sets_its_timeout_in_its_metadata(tmp_path, devlab, skip, timeout):
    (spec,) = discover([write_notebook(tmp_path / "a.ipynb", devlab)])
    assert (spec.skip, spec.timeout) == (skip, timeout)
    assert isinstance(spec.timeout, float | None)


@pytest.mark.parametrize(
    ("devlab", "message"),
    [
        ({"timout": 30}, r" has unknown key\(s\) 'timout': it takes only skip and timeout"),
        ({"timeout": 0}, r".timeout must be a positive number of seconds, not 0"),
        ({"timeout": -5}, r".timeout must be a positive number"),
        ({"timeout": "60"}, r".timeout must be a positive number of seconds, not '60'"),
        ({"timeout": True}, r".timeout must be a positive number"),
        ({"skip": "yes", "timeout": float("inf")}, r".timeout must be a positive number"),
        ({"skip": 1}, r".skip must be true, false or the reason as text, not 1"),
        ({"skip": " "}, r".skip must be true, false or the reason as text"),
        (["skip"], r" must be a mapping such as .* not list"),
    ],
)
def test_bad_metadata_is_refused_naming_the_notebook_and_key(tmp_path, devlab, message):
    write_notebook(tmp_path / "typo.ipynb", devlab)
    with pytest.raises(PlanError, match=r"typo.ipynb: metadata\.devlab" + message):
        discover([tmp_path])


# select_images ----------------------------------------------------------------------------

REPO = "127.0.0.1:5000/devlab/lab"


def record(tag, role, status="pulled", desired=True):
    return ImageRecord(
        ref=f"{REPO}:{tag}",
        display_name=tag,
        role=role,
        source=REPO,
        desired=desired,
        status=status,
    )


# The prepuller's state order, not the menu's: selection puts them in menu order.
IMAGES = (
    record("d_2026_11_26", Role.DAILY),
    record("d_2026_11_25", Role.DAILY),
    record("w_2026_47", Role.WEEKLY),
    record("w_2026_46", Role.WEEKLY, status="missing"),
    record("r29_0", Role.RELEASE),
    record("recommended", Role.RECOMMENDED),
    record("r28_0", Role.PIN, desired=False),
    record("pinned", Role.PIN),
)


def tags(refs):
    return [ref.removeprefix(f"{REPO}:") for ref in refs]


def test_all_is_every_pulled_image_the_menu_offers_in_menu_order():
    assert tags(select_images("all", IMAGES)) == [
        "recommended",
        "r29_0",
        "w_2026_47",
        "d_2026_11_26",
        "d_2026_11_25",
        "pinned",
    ]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("recommended", ["recommended"]),
        ("release", ["r29_0"]),
        ("weekly", ["w_2026_47"]),  # w_2026_46 is not pulled yet
        ("daily", ["d_2026_11_26"]),  # the newest of the two pulled
        ("weekly,recommended", ["w_2026_47", "recommended"]),
        (
            " recommended , all",
            ["recommended", "r29_0", "w_2026_47", "d_2026_11_26", "d_2026_11_25", "pinned"],
        ),
        (f"{REPO}:w_2026_46,weekly", ["w_2026_46", "w_2026_47"]),  # asked for by name
        (f"recommended,{REPO}:recommended", ["recommended"]),
    ],
)
def test_a_role_takes_its_newest_pulled_image_and_a_list_comes_once_each_in_order(
    selector, expected
):
    assert tags(select_images(selector, IMAGES)) == expected


def test_an_image_the_menu_does_not_offer_is_refused_listing_what_it_offers():
    with pytest.raises(PlanError) as caught:
        select_images(f"{REPO}:r28_0", IMAGES)  # kept by the prepuller, no longer offered
    message = str(caught.value)
    assert f"image '{REPO}:r28_0' is not offered here" in message
    assert f"{REPO}:recommended (recommended, pulled)" in message
    assert f"{REPO}:w_2026_46 (weekly, missing)" in message
    assert "recommended, release, weekly, daily, all or an image reference" in message


def test_a_role_with_nothing_pulled_says_what_exists_and_where_to_look():
    images = (record("recommended", Role.RECOMMENDED, status="pulling"),)
    with pytest.raises(PlanError) as caught:
        select_images("recommended", images)
    message = str(caught.value)
    assert message.startswith("no recommended image is pulled yet")
    assert f"{REPO}:recommended (recommended, pulling)" in message
    assert "prepuller may still be pulling (see `devlab status`)" in message
    with pytest.raises(PlanError, match="no weekly image is pulled yet"):
        select_images("weekly", IMAGES[:2])
    with pytest.raises(PlanError, match=r"no image is pulled yet; the menu has no image yet"):
        select_images("all", ())


@pytest.mark.parametrize("selector", ["", "weekly,", "weekly,,daily"])
def test_an_empty_selector_item_is_refused(selector):
    with pytest.raises(PlanError, match="has an empty item"):
        select_images(selector, IMAGES)


# parse_params -----------------------------------------------------------------------------


def test_parameter_values_are_read_as_yaml():
    assert parse_params(
        [
            "n=3",
            "ok=true",
            "xs=[1, 2]",
            "name=hello",
            "empty=",
            "ratio=0.5",
            "none=null",
            "when=2026-01-02",
            "text='3'",
            "eq=a=b",
            "nested={a: [1, x]}",
        ]
    ) == {
        "n": 3,
        "ok": True,
        "xs": [1, 2],
        "name": "hello",
        "empty": "",
        "ratio": 0.5,
        "none": None,
        "when": "2026-01-02",  # a date stays text: it is injected as a Python literal
        "text": "3",
        "eq": "a=b",
        "nested": {"a": [1, "x"]},
    }
    assert parse_params([]) == {}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("n", r"parameter 'n' has no '=': write it as name=value"),
        ("1n=3", r"parameter name '1n' \(in '1n=3'\) is not a Python variable name"),
        ("my-n=3", "parameter name 'my-n'"),
        ("=3", "parameter name ''"),
        ("class=3", "parameter name 'class'"),
        ("xs=[1,", r"parameter 'xs=\[1,': the value is not valid YAML \(.*\); quote it"),
        ("at=@home", "parameter 'at=@home': the value is not valid YAML"),
        ("x=.nan", "must be a finite number, text"),
        ("x=!!binary aGk=", "must be a finite number, text"),
    ],
)
def test_a_parameter_that_does_not_parse_is_refused_naming_it(item, message):
    with pytest.raises(PlanError, match=message):
        parse_params([item])


def test_a_parameter_given_twice_is_refused():
    with pytest.raises(PlanError, match="parameter 'n' is given twice"):
        parse_params(["n=1", "n=2"])


# matrix -----------------------------------------------------------------------------------


def test_the_matrix_keeps_each_images_notebooks_together(tmp_path):
    a, b = NotebookSpec(tmp_path / "a.ipynb", "a.ipynb"), NotebookSpec(tmp_path / "b", "b")
    assert matrix([a, b], ["one", "two"]) == [
        Case(a, "one"),
        Case(b, "one"),
        Case(a, "two"),
        Case(b, "two"),
    ]
    assert matrix([a], []) == []
