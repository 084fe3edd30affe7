"""A notebook run's reports: the terminal table, JUnit XML, the executed notebooks and the
HTML index, from plain results (no lab)."""

import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from devlab.notebooks.report import CaseResult, junit_xml, table, write_executed, write_html

WEEKLY = "127.0.0.1:5000/devlab/lab:w_2026_47"
DAILY = "127.0.0.1:5000/devlab/lab:d_2026_11_26"
TRACEBACK = (
    "ZeroDivisionError                         Traceback (most recent call last)\n"
    "Cell In[3], line 1\n----> 1 1 / 0\n\nZeroDivisionError: division by zero\n"
)


def executed(text):
    """An executed notebook whose one cell printed `text`, as the runner hands it over."""
    cell = new_code_cell("print('hi')", execution_count=1)
    cell.outputs = [new_output("stream", name="stdout", text=text)]
    return dict(new_notebook(cells=[cell]))


RESULTS = [
    CaseResult("intro.ipynb", WEEKLY, "passed", 3.21, executed=executed("weekly-intro-output")),
    CaseResult(
        "sub/broken.ipynb",
        WEEKLY,
        "failed",
        1.04,
        cell_index=2,
        cell_source="1 / 0",
        traceback=TRACEBACK,
        executed=executed("broken-output"),
    ),
    CaseResult("intro.ipynb", DAILY, "skipped", 0.0, message="needs a GPU"),
    CaseResult("sub/broken.ipynb", DAILY, "error", 600.0, message="timed out after 600 s"),
]


# table ------------------------------------------------------------------------------------


def test_the_table_has_notebooks_down_images_across_and_the_totals():
    lines = table(RESULTS).splitlines()
    assert lines[0].split() == ["notebook", WEEKLY, DAILY]
    assert lines[1].split() == ["intro.ipynb", "pass", "3.2s", "skip"]
    assert lines[2].split() == ["sub/broken.ipynb", "FAIL", "1.0s", "error"]
    assert lines[3] == "1 passed, 1 failed, 1 skipped, 1 error"
    # Columns line up: each image's cells start under its heading.
    assert lines[1].index("pass") == lines[0].index(WEEKLY) == lines[2].index("FAIL")
    assert lines[1].index("skip") == lines[0].index(DAILY) == lines[2].index("error")


def test_the_table_marks_a_case_that_has_no_result_and_counts_errors_in_the_plural():
    results = [
        CaseResult("a.ipynb", WEEKLY, "error", 1, message="lab did not start"),
        CaseResult("b.ipynb", DAILY, "error", 1, message="lab did not start"),
    ]
    lines = table(results).splitlines()
    assert lines[1].split() == ["a.ipynb", "error", "-"]
    assert lines[-1] == "0 passed, 0 failed, 0 skipped, 2 errors"
    assert table([]) == "0 passed, 0 failed, 0 skipped, 0 errors"


# JUnit ------------------------------------------------------------------------------------


def test_junit_has_a_suite_per_image_a_case_per_notebook_and_correct_counts():
    root = ET.fromstring(junit_xml(RESULTS))
    assert root.tag == "testsuites"
    assert root.get("name") == "devlab notebooks"
    totals = {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")}
    assert totals == {"tests": "4", "failures": "1", "errors": "1", "skipped": "1"}
    weekly, daily = root.findall("testsuite")
    assert (weekly.get("name"), daily.get("name")) == (WEEKLY, DAILY)
    assert {k: weekly.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "2",
        "failures": "1",
        "errors": "0",
        "skipped": "0",
    }
    assert {k: daily.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "2",
        "failures": "0",
        "errors": "1",
        "skipped": "1",
    }
    cases = [(c.get("classname"), c.get("name"), c.get("time")) for c in root.iter("testcase")]
    assert cases == [
        (WEEKLY, "intro.ipynb", "3.210"),
        (WEEKLY, "sub/broken.ipynb", "1.040"),
        (DAILY, "intro.ipynb", "0.000"),
        (DAILY, "sub/broken.ipynb", "600.000"),
    ]
    assert list(weekly.find("testcase")) == []  # passed: nothing inside


def test_a_failure_carries_the_cell_and_the_traceback():
    root = ET.fromstring(junit_xml(RESULTS))
    (failure,) = root.iter("failure")
    assert failure.get("message") == "cell 3 failed: ZeroDivisionError: division by zero"
    assert failure.text.startswith("1 / 0\n")
    assert "----> 1 1 / 0" in failure.text
    assert failure.text.rstrip().endswith("ZeroDivisionError: division by zero")


def test_errors_and_skips_carry_their_reason():
    root = ET.fromstring(junit_xml(RESULTS, suite_name="tutorials"))
    assert root.get("name") == "tutorials"
    (error,) = root.iter("error")
    assert error.get("message") == "timed out after 600 s"
    (skipped,) = root.iter("skipped")
    assert skipped.get("message") == "needs a GPU"


def test_a_failure_without_a_known_cell_or_traceback_still_says_it_failed():
    result = CaseResult("a.ipynb", WEEKLY, "failed", 1, message="kernel died")
    (failure,) = ET.fromstring(junit_xml([result])).iter("failure")
    assert failure.get("message") == "a cell failed: kernel died"


@pytest.mark.parametrize("junk", ["\x1b[31m", "\x00", "\x0b\x7f\ufffe", "\ud800"])
def test_junit_stays_valid_xml_whatever_a_traceback_holds(junk):
    result = CaseResult(
        f"odd{junk}.ipynb",
        WEEKLY,
        "failed",
        1,
        cell_index=0,
        cell_source=f"print('{junk}')",
        traceback=f'Error{junk}\nValueError: bad {junk}<&>"value"',
    )
    (failure,) = ET.fromstring(junit_xml([result])).iter("failure")
    assert failure.get("message").startswith("cell 1 failed: ValueError: bad ")
    assert failure.get("message").endswith('<&>"value"')
    assert "\x00" not in failure.text
    assert "\x1b" not in failure.text


# executed notebooks and HTML --------------------------------------------------------------


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.append(dict(attrs)["href"])


def test_the_index_links_each_executed_notebook_to_its_written_page(tmp_path):
    index = write_html(RESULTS, tmp_path / "report")

    assert index == tmp_path / "report/index.html"
    parser = Links()
    parser.feed(index.read_text())
    # The passed and the failed case ran; the failure links its page from the matrix and
    # from its section below.
    assert len(set(parser.hrefs)) == 2
    for href in parser.hrefs:
        assert "/" not in href
        assert (index.parent / href).is_file()
    pages = {href: (index.parent / href).read_text() for href in parser.hrefs}
    weekly_intro = next(page for page in pages.values() if "weekly-intro-output" in page)
    assert "broken-output" not in weekly_intro
    assert any("broken-output" in page for page in pages.values())


def test_the_index_shows_the_matrix_and_the_failing_cell_and_traceback(tmp_path):
    result = CaseResult(
        "evil<b>.ipynb",
        WEEKLY,
        "failed",
        1,
        cell_index=0,
        cell_source="raise ValueError('<script>')",
        traceback="ValueError: <script>alert(1)</script>",
    )
    html = write_html([*RESULTS, result], tmp_path).read_text()

    assert "<title>devlab notebooks: 1 passed, 2 failed, 1 skipped, 1 error</title>" in html
    assert f"<th><code>{WEEKLY}</code></th><th><code>{DAILY}</code></th>" in html
    assert '<td class="skipped">skip</td>' in html
    assert '<td class="error">error</td>' in html
    assert '<pre class="source">1 / 0</pre>' in html
    assert "----&gt; 1 1 / 0" in html
    assert "timed out after 600 s" in html
    # Text from notebooks is escaped, never markup.
    assert "<script>" not in html
    assert "evil&lt;b&gt;.ipynb" in html
    assert "ValueError: &lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_executed_notebooks_are_written_next_to_their_pages_with_safe_distinct_names(tmp_path):
    twins = [
        CaseResult("a/b.ipynb", WEEKLY, "passed", 1, executed=executed("first")),
        CaseResult("a-b.ipynb", WEEKLY, "passed", 1, executed=executed("second")),
        CaseResult("../../up.ipynb", WEEKLY, "skipped", 0, message="skip"),
    ]
    notebooks = write_executed([*twins, *RESULTS], tmp_path)
    write_html([*twins, *RESULTS], tmp_path)

    assert [p.name for p in notebooks] == [
        "a-b--127.0.0.1-5000-devlab-lab-w_2026_47.ipynb",
        "a-b--127.0.0.1-5000-devlab-lab-w_2026_47-2.ipynb",
        "intro--127.0.0.1-5000-devlab-lab-w_2026_47.ipynb",
        "sub-broken--127.0.0.1-5000-devlab-lab-w_2026_47.ipynb",
    ]
    assert all(p.parent == tmp_path for p in notebooks)
    assert nbformat.read(notebooks[1], as_version=4).cells[0].outputs[0].text == "second"
    for notebook in notebooks:
        assert notebook.with_suffix(".html").is_file()


def test_json_results_leave_the_executed_notebooks_out_and_count_outcomes():
    from devlab.notebooks.report import CaseResult, to_json

    results = [
        CaseResult("a.ipynb", "img:1", "passed", 1.0, executed={"cells": []}),
        CaseResult("b.ipynb", "img:1", "failed", 2.0, cell_index=0, traceback="Boom"),
    ]
    shown = to_json(results)
    assert [r["outcome"] for r in shown["results"]] == ["passed", "failed"]
    assert all("executed" not in r for r in shown["results"])
    assert shown["totals"] == {"passed": 1, "failed": 1, "skipped": 0, "error": 0}
