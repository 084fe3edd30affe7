"""What a notebook run reports: the terminal's table, JUnit XML for CI, and the files a
person opens (the executed notebooks, as .ipynb and HTML, and an index of the matrix).

Pure apart from writing the files: results come in as plain data, so every format is
tested without a lab. The executed notebooks are converted with nbconvert, not by hand.
"""

from __future__ import annotations

import re
import warnings
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import nbformat

from devlab.templating import package_templates

Outcome = Literal["passed", "failed", "skipped", "error"]
# How the table shows each outcome: a failure stands out in capitals.
_CELL_WORD: dict[Outcome, str] = {
    "passed": "pass",
    "failed": "FAIL",
    "skipped": "skip",
    "error": "error",
}
# Characters XML 1.0 cannot carry at all, even escaped: a kernel's output may hold any.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_UNSAFE_IN_NAMES = re.compile(r"[^A-Za-z0-9._-]+")
_NAME_LIMIT = 100  # per part of a file name; file systems stop at 255 bytes


@dataclass(frozen=True)
class CaseResult:
    """How one notebook went on one image.

    outcome "error" means the run itself broke (the lab did not start, the notebook timed
    out), not the notebook's code. `cell_index` is the failing cell's position in the
    notebook's cells, from 0; reports number cells from 1, as a person counts them.
    `traceback` has its ANSI colours stripped already. `executed` is the executed notebook
    (nbformat's JSON as a dict), None when it did not run.
    """

    notebook: str
    image: str
    outcome: Outcome
    seconds: float
    message: str = ""
    cell_index: int | None = None
    cell_source: str = ""
    traceback: str = ""
    executed: dict[str, Any] | None = None

    @property
    def headline(self) -> str:
        """One line saying what went wrong, for a JUnit message or a report's heading."""
        # Not splitlines(): it also breaks at form feeds and the like, which output may hold.
        lines = [line.strip() for line in self.traceback.split("\n") if line.strip()]
        last = lines[-1] if lines else self.message
        if self.outcome == "failed":
            where = f"cell {self.cell_index + 1}" if self.cell_index is not None else "a cell"
            return f"{where} failed: {last}" if last else f"{where} failed"
        return self.message or last


def all_passed(results: Sequence[CaseResult]) -> bool:
    """Whether a run succeeded: every case passed or was skipped by its notebook."""
    return all(r.outcome in ("passed", "skipped") for r in results)


def failures(results: Sequence[CaseResult]) -> str:
    """What went wrong, case by case: the failing cell and its traceback, or the error."""
    parts = []
    for r in results:
        if r.outcome in ("failed", "error"):
            body = f"{r.cell_source}\n{r.traceback}".strip() if r.outcome == "failed" else ""
            parts.append(f"--- {r.notebook} [{r.image}]: {r.headline}\n{body}".rstrip())
    return "\n".join(parts)


def totals(results: Sequence[CaseResult]) -> str:
    """`N passed, M failed, K skipped, E errors`: the last line of every report."""
    counts = Counter(r.outcome for r in results)
    errors = counts["error"]
    return (
        f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped, "
        f"{errors} error{'' if errors == 1 else 's'}"
    )


def to_json(results: Sequence[CaseResult]) -> dict[str, Any]:
    """The results for `--json`: every case without its executed notebook (written with
    --executed), and the counts."""
    counts = Counter(r.outcome for r in results)
    return {
        "results": [{k: v for k, v in asdict(r).items() if k != "executed"} for r in results],
        "totals": {
            outcome: counts[outcome] for outcome in ("passed", "failed", "skipped", "error")
        },
    }


def table(results: Sequence[CaseResult]) -> str:
    """A plain-text table, notebooks down and images across, then the totals."""
    images = _unique(r.image for r in results)
    notebooks = _unique(r.notebook for r in results)
    cells = {(r.notebook, r.image): _cell_text(r) for r in results}
    rows = [["notebook", *images]] + [
        [notebook, *(cells.get((notebook, image), "-") for image in images)]
        for notebook in notebooks
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join([*lines, totals(results)]) if results else totals(results)


def _cell_text(result: CaseResult) -> str:
    word = _CELL_WORD[result.outcome]
    if result.outcome in ("passed", "failed"):
        return f"{word} {result.seconds:.1f}s"
    return word


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def junit_xml(results: Sequence[CaseResult], suite_name: str = "devlab notebooks") -> str:
    """JUnit XML: a testsuite per image, a testcase per notebook on it.

    A failure carries the failing cell's source and the traceback, so a CI page shows what
    broke without opening the report. Text is cleared of characters XML 1.0 forbids.
    """
    root = ET.Element("testsuites", name=_xml_text(suite_name), **_counts(results))
    for image in _unique(r.image for r in results):
        cases = [r for r in results if r.image == image]
        suite = ET.SubElement(root, "testsuite", name=_xml_text(image), **_counts(cases))
        for result in cases:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=_xml_text(image),
                name=_xml_text(result.notebook),
                time=f"{result.seconds:.3f}",
            )
            if result.outcome == "passed":
                continue
            tag = {"failed": "failure", "error": "error", "skipped": "skipped"}[result.outcome]
            element = ET.SubElement(case, tag, message=_xml_text(result.headline))
            detail = "\n\n".join(t for t in (result.cell_source, result.traceback) if t)
            if detail and result.outcome != "skipped":
                element.text = _xml_text(detail)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _counts(results: Sequence[CaseResult]) -> dict[str, str]:
    counts = Counter(r.outcome for r in results)
    return {
        "tests": str(len(results)),
        "failures": str(counts["failed"]),
        "errors": str(counts["error"]),
        "skipped": str(counts["skipped"]),
        "time": f"{sum(r.seconds for r in results):.3f}",
    }


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def write_executed(results: Sequence[CaseResult], out_dir: Path) -> list[Path]:
    """Each executed notebook as `<notebook>--<image>.ipynb` in `out_dir`; the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for result, stem in zip(results, _file_stems(results), strict=True):
        if result.executed is not None:
            path = out_dir / f"{stem}.ipynb"
            nbformat.write(nbformat.from_dict(result.executed), path)
            written.append(path)
    return written


def write_html(results: Sequence[CaseResult], out_dir: Path) -> Path:
    """Each executed notebook as HTML, and `index.html` with the matrix; index's path.

    The pages use nbconvert's lab template, which inlines its CSS; it still links MathJax
    and require.js from a CDN, so equations render only when the browser is online.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    from nbconvert import HTMLExporter  # heavy; only the HTML report needs it

    exporter = HTMLExporter(template_name="lab")
    pages: dict[tuple[str, str], str] = {}
    for result, stem in zip(results, _file_stems(results), strict=True):
        if result.executed is None:
            continue
        with warnings.catch_warnings():
            # The executed notebooks name IPython's lexer, which the labs have and this
            # process need not; plain Python highlighting is what nbconvert falls back to.
            warnings.filterwarnings("ignore", "IPython3 lexer unavailable", UserWarning)
            body, _ = exporter.from_notebook_node(nbformat.from_dict(result.executed))
        page = f"{stem}.html"
        (out_dir / page).write_text(body, encoding="utf-8")
        pages[result.notebook, result.image] = page
    index = out_dir / "index.html"
    index.write_text(_render_index(results, pages), encoding="utf-8")
    return index


def _render_index(results: Sequence[CaseResult], pages: dict[tuple[str, str], str]) -> str:
    images = _unique(r.image for r in results)
    by_case = {(r.notebook, r.image): r for r in results}
    rows = [
        {
            "notebook": notebook,
            "cells": [
                _index_cell(by_case.get((notebook, image)), pages.get((notebook, image)))
                for image in images
            ],
        }
        for notebook in _unique(r.notebook for r in results)
    ]
    problems = [
        {"result": r, "page": pages.get((r.notebook, r.image))}
        for r in results
        if r.outcome in ("failed", "error")
    ]
    template = package_templates("devlab.notebooks").get_template("report.html")
    return template.render(images=images, rows=rows, problems=problems, totals=totals(results))


def _index_cell(result: CaseResult | None, page: str | None) -> dict[str, str | None] | None:
    if result is None:
        return None
    return {"outcome": result.outcome, "text": _cell_text(result), "page": page}


def _file_stems(results: Sequence[CaseResult]) -> list[str]:
    """A safe, distinct file name (without suffix) per result: notebook, then image."""
    stems: list[str] = []
    for result in results:
        notebook = _safe_name(result.notebook.removesuffix(".ipynb"))
        stem = base = f"{notebook}--{_safe_name(result.image)}"
        number = 1
        while stem in stems:
            number += 1
            stem = f"{base}-{number}"
        stems.append(stem)
    return stems


def _safe_name(text: str) -> str:
    return _UNSAFE_IN_NAMES.sub("-", text).strip("-.")[:_NAME_LIMIT] or "notebook"
