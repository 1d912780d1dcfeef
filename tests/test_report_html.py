"""The HTML report: self-contained, the results matrix, step tables and a diagram per trace."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from html import escape, unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from numacheck.checker.result import Result
from numacheck.reports import html
from numacheck.reports.diagram import dot_source, trace_graph
from tests.report_samples import INSTANCE, sample_results

Tag = tuple[str, dict[str, str]]


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside <style>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[Tag] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data


def parse(page: str) -> Tags:
    parser = Tags()
    parser.feed(page)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def results() -> list[Result]:
    return sample_results()


@pytest.fixture(scope="module")
def page(results: list[Result]) -> str:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(shutil, "which", lambda name: None)
        return html.render(results, INSTANCE)


def test_page_is_self_contained(page: str) -> None:
    parsed = parse(page)
    assert parsed.tags[0][0] == "html"
    for tag, attrs in parsed.tags:
        for name in ("src", "href", "xlink:href"):
            value = attrs.get(name, "").strip().lower()
            assert not value.startswith(("http:", "https:", "//")), (tag, attrs)
        assert not (tag == "link" and "stylesheet" in attrs.get("rel", "")), attrs
        assert tag not in ("script", "img", "iframe"), tag
    assert parsed.style and "@import" not in parsed.style and "url(" not in parsed.style


def test_matrix_has_every_variant_and_property_coloured_by_status(page: str, results: list[Result]) -> None:
    matrix = page[page.index('<table class="matrix">'):]
    matrix = matrix[:matrix.index("</table>")]
    for r in results:
        assert f"<th>{escape(r.variant)}</th>" in matrix and f"<th>{escape(r.property)}</th>" in matrix
    classes = {attrs["class"] for tag, attrs in parse(matrix).tags if tag == "td" and "class" in attrs}
    assert classes == {"holds", "violated", "unexpected", "unknown"}
    for cls in html.STATUSES:
        assert f'<span class="{cls}">' in page  # the legend


def test_totals(page: str) -> None:
    totals = page[page.index('<table class="totals">'):]
    for heading, value in (("result", "FAILED"), ("checks", "6"), ("violations", "2"),
                           ("not as expected", "3"), ("inconclusive", "1")):
        assert f"<tr><th>{heading}</th><td>{value}</td></tr>" in totals


def test_step_table_names_kernel_functions_and_highlights_changed_fields(page: str,
                                                                         results: list[Result]) -> None:
    trace = results[0].trace
    assert trace is not None
    table = page[page.index('<table class="steps">'):]
    table = table[:table.index("</table>")]
    for step in trace.steps:
        assert escape(step.label) in table and escape(step.citation) in table
    highlighted = {(attrs.get("data-field")) for tag, attrs in parse(table).tags
                   if tag == "span" and "changed" in attrs.get("class", "").split()}
    assert "p0.pte[0]._PAGE_RW" in highlighted and "p0.pte[0]._PAGE_PROTNONE" in highlighted
    assert "tnf_no_group=1" in table


def test_step_table_columns_sit_under_their_group_header(page: str) -> None:
    table = page[page.index('<table class="steps">'):]
    table = table[:table.index("</table>")]
    headers = [h.split("</th>")[0] for h in table.split("</tr>")[0].split("<th>")[1:]]
    assert headers[:2] == ["#", "kernel function"] and "p0.pte[0]" in headers
    group = ""
    for tag, attrs in parse(table).tags:
        if tag == "td" and "data-group" in attrs:
            group = attrs["data-group"]
            assert group in headers[2:]
        elif tag == "span" and "data-field" in attrs:
            assert attrs["data-field"].startswith(group + "."), (group, attrs)
    # the k-th group column of every row is the k-th group header
    for row in table.split("<tr>")[2:]:
        groups = [attrs["data-group"] for tag, attrs in parse(row).tags if "data-group" in attrs]
        assert groups == headers[2:]


def test_fields_that_never_change_are_listed_once(page: str) -> None:
    assert "Unchanged throughout: <code>" in page and "p1.vma.mapped=0" in page


#: Measures the rendered page: its width and, per step table, whether each cell lies under the
#: header of its column; the numbers go into the DOM, which --dump-dom prints.
_MEASURE = """<script>
window.addEventListener("load", () => {
  const out = {viewport: window.innerWidth, page: document.documentElement.scrollWidth, tables: []};
  for (const t of document.querySelectorAll("table.steps")) {
    const heads = [...t.rows[0].cells].map(c => [c.textContent, c.getBoundingClientRect().left]);
    const misplaced = [];
    for (const row of [...t.rows].slice(1)) {
      [...row.cells].forEach((c, k) => {
        const group = c.dataset.group;
        if (group !== undefined && (heads[k][0] !== group
            || Math.abs(heads[k][1] - c.getBoundingClientRect().left) > 1)) misplaced.push(group);
      });
    }
    out.tables.push({right: t.getBoundingClientRect().right, misplaced});
  }
  const pre = document.createElement("pre");
  pre.id = "measured";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def test_step_tables_fit_a_1400px_screen_in_chromium(page: str, tmp_path: Path) -> None:
    browser = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
    if browser is None:
        print("skipped: no Chromium on the PATH (apt-get install chromium to render the page)")
        pytest.skip("Chromium is not installed: the page is not rendered")
    file = tmp_path / "report.html"
    file.write_text(page.replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--window-size=1400,900", "--virtual-time-budget=5000", "--dump-dom",
                           file.as_uri()], capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="measured">(.*?)</pre>', done.stdout)
    assert found is not None, done.stderr[-2000:]
    measured = json.loads(unescape(found.group(1)))
    assert measured["viewport"] == 1400
    assert measured["page"] <= 1400, "the page scrolls horizontally"
    assert measured["tables"] and all(t["right"] <= 1400 for t in measured["tables"])
    assert all(not t["misplaced"] for t in measured["tables"])


def test_per_result_stats(page: str, results: list[Result]) -> None:
    for i, r in enumerate(results):
        section = page[page.index(f'<section id="r{i}">'):]
        section = section[:section.index("</section>")]
        assert "<th>engine</th><td>bmc</td>" in section and "<th>certificate</th><td>none</td>" in section
        assert f"<th>scope</th><td>bounded, depth {r.depth}</td>" in section


def test_text_is_escaped(page: str) -> None:
    assert "state limit &lt;10&gt; &amp; time limit reached" in page
    assert "<10>" not in page


def test_fallback_diagram_when_dot_is_absent(page: str, results: list[Result]) -> None:
    trace = results[0].trace
    assert trace is not None
    svgs = page.count('<svg class="diagram"')
    assert svgs == sum(1 for r in results if r.trace is not None) == 2
    diagram = page[page.index('<svg class="diagram"'):]
    diagram = diagram[:diagram.index("</svg>")]
    assert diagram.count("<rect") == len(trace.steps)
    for step in trace.steps[1:]:
        assert f">{escape(step.label)}</text>" in diagram


def fake_dot(tmp_path: Path, exit_code: int) -> Path:
    """A stand-in for Graphviz that records its input and prints an SVG document."""
    script = tmp_path / "dot"
    script.write_text(
        f"#!{sys.executable}\n"
        "import pathlib, sys\n"
        f"pathlib.Path({str(tmp_path / 'input.dot')!r}).write_text(sys.stdin.read())\n"
        "print('<?xml version=\"1.0\"?>\\n<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"x\">')\n"
        "print('<svg id=\"from-dot\"><text>drawn</text></svg>')\n"
        f"sys.exit({exit_code})\n"
    )
    script.chmod(0o755)
    return script


def test_diagram_from_dot_when_it_is_on_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 results: list[Result]) -> None:
    dot = fake_dot(tmp_path, 0)
    monkeypatch.setattr(shutil, "which", lambda name: str(dot) if name == "dot" else None)
    page = html.render(results[:1], INSTANCE)
    assert '<svg id="from-dot">' in page and '<svg class="diagram"' not in page
    assert "<!DOCTYPE svg" not in page and "<?xml" not in page
    source = (tmp_path / "input.dot").read_text()
    trace = results[0].trace
    assert trace is not None and source.startswith("digraph")
    assert source.count("->") == trace.length
    for step in trace.steps[1:]:
        assert f'[label="{step.label}"]' in source


def test_failing_dot_falls_back_to_the_drawn_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   results: list[Result]) -> None:
    dot = fake_dot(tmp_path, 1)
    monkeypatch.setattr(shutil, "which", lambda name: str(dot) if name == "dot" else None)
    page = html.render(results[:1], INSTANCE)
    assert '<svg class="diagram"' in page and "from-dot" not in page


def test_dot_labels_are_quoted(results: list[Result]) -> None:
    trace = results[0].trace
    assert trace is not None
    odd = dataclasses.replace(trace.steps[1], label='mmap("x\\y")')
    source = dot_source(trace_graph(dataclasses.replace(trace, steps=(trace.steps[0], odd))))
    assert '[label="mmap(\\"x\\\\y\\")"]' in source
