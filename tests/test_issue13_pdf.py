"""Issue 13, item 6: casebook cells as plain text (no markup parsed), wrapped and split like before."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import SimpleDocTemplate, Table

from msc_sle_crf.pdf.cells import Cell, CellStyle, _wrap_words
from msc_sle_crf.pdf.render import _fonts


def test_words_wrap_within_the_column_and_a_long_word_is_cut() -> None:
    style = CellStyle(_fonts()[0], 8.5, 10.5)
    text = "Hypersensibilité au produit " + "x" * 300 + " <b>not markup</b> & fin\nligne suivante"
    lines = _wrap_words(text, style, 120)
    assert all(stringWidth(line, style.font, style.size) <= 120 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "").replace("\n", "")  # nothing lost or added
    assert "<b>not" in " ".join(lines)  # shown as typed, never read as markup
    assert lines[-1] == "ligne suivante"


def test_a_cell_taller_than_a_page_goes_on_over_the_next_pages() -> None:
    style = CellStyle(_fonts()[0], 8.5, 10.5)
    long = " ".join(f"mot{n}" for n in range(3000))
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4)
    doc.build([Table([[Cell("item", style), Cell(long, style)]], colWidths=[100, 300], splitInRow=1)])
    pdf = buffer.getvalue()
    assert pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") > 3
    cell = Cell(long, style)
    cell.wrap(300, 10**6)
    first, rest = cell.split(300, 500)
    assert first._layout(300) + rest._layout(300) == cell._layout(300)


def long_table_rows() -> list[list[Cell]]:
    """120 rows of growing text, then a cell taller than a page (a long free-text answer)."""
    from reportlab.lib import colors

    plain = CellStyle(_fonts()[0], 8.5, 10.5)
    small = CellStyle(_fonts()[0], 7.5, 9.5, colors.HexColor("#4a5b6c"))
    rows = [[Cell(f"item {n}", plain), Cell(" ".join(f"mot{k}" for k in range(n * 7)), plain),
             Cell("\n".join(f"flag {k}" for k in range(n % 4)), small)] for n in range(120)]
    rows.append([Cell("long", plain), Cell(" ".join(f"mot{n}" for n in range(3000)), plain), Cell("", small)])
    return rows


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_a_long_cell_split_by_a_table_prints_whole_and_within_its_column(tmp_path: Path) -> None:
    """ReportLab's table asks a cell to split at the column's whole width (paddings included) although it measured
    the cell without them: the parts were laid out wider than the column, and being fewer lines they could all fit,
    which the table cannot take (IndexError: the print failed on a long free text)."""
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4).build([Table(long_table_rows(), colWidths=[100, 220, 120], repeatRows=1,
                                                        splitByRow=True, splitInRow=1)])
    (tmp_path / "t.pdf").write_bytes(buffer.getvalue())
    boxes = subprocess.run(["pdftotext", "-bbox", str(tmp_path / "t.pdf"), "-"], capture_output=True, text=True,
                           check=True).stdout
    words = re.findall(r'<word xMin="([0-9.]+)" yMin="[0-9.]+" xMax="([0-9.]+)" yMax="[0-9.]+">(mot[0-9]+)</word>',
                       boxes)
    left = (A4[0] - 440) / 2  # the table is centred in the frame
    column = (left + 100 + 3, left + 320 - 3)  # the middle column, less its paddings
    assert [w for _, _, w in words][-3000:] == [f"mot{n}" for n in range(3000)]  # the long text, whole, in order
    assert all(column[0] - 0.5 <= float(x0) and float(x1) <= column[1] + 0.5 for x0, x1, _ in words)


def test_a_cell_is_drawn_as_one_text_object(monkeypatch) -> None:
    """A cell of eight lines: one text object (it was one per line, each with its font and colour set again)."""
    from reportlab.pdfgen.canvas import Canvas

    style = CellStyle(_fonts()[0], 8.5, 10.5)
    begun: list[object] = []
    begin_text = Canvas.beginText

    def counted(self: Canvas, *args: object, **kwargs: object) -> object:
        begun.append(args)
        return begin_text(self, *args, **kwargs)

    monkeypatch.setattr(Canvas, "beginText", counted)
    doc = SimpleDocTemplate(io.BytesIO(), pagesize=A4)
    doc.build([Table([[Cell("\n".join(f"line {n}" for n in range(8)), style)]], colWidths=[200])])
    assert len(begun) == 1


def test_the_cell_table_lays_out_and_draws_the_same_pages_as_reportlabs_table(monkeypatch) -> None:
    from reportlab import rl_config

    from msc_sle_crf.pdf.cells import CellTable

    monkeypatch.setattr(rl_config, "invariant", 1)  # no creation date or random id in the file

    def pdf(table: type[Table]) -> bytes:
        buffer = io.BytesIO()
        SimpleDocTemplate(buffer, pagesize=A4).build([table(long_table_rows(), colWidths=[100, 220, 120],
                                                            repeatRows=1, splitByRow=True, splitInRow=1)])
        return buffer.getvalue()

    reference = pdf(Table)
    assert reference.count(b"/Type /Page") - reference.count(b"/Type /Pages") > 10
    assert pdf(CellTable) == reference


def test_the_cycle_collector_is_paused_while_pages_are_built_and_back_after(monkeypatch) -> None:
    import gc

    from msc_sle_crf.formdef import load_study
    from msc_sle_crf.i18n import Lang
    from msc_sle_crf.pdf.render import CrfDocument, PageInfo

    seen: list[bool] = []
    on_page = CrfDocument._on_page

    def noted(self: CrfDocument, canvas: object, doc: object) -> None:
        seen.append(gc.isenabled())
        on_page(self, canvas, doc)

    monkeypatch.setattr(CrfDocument, "_on_page", noted)
    info = PageInfo("MSC-SLE", "NCT0", "Site (01)", "now", Lang.EN)
    assert CrfDocument(info).blank(load_study()).startswith(b"%PDF")
    assert seen and not any(seen) and gc.isenabled()

    def failing(self: CrfDocument, canvas: object, doc: object) -> None:
        raise RuntimeError("disk gone")

    monkeypatch.setattr(CrfDocument, "_on_page", failing)
    with pytest.raises(RuntimeError):
        CrfDocument(info).blank(load_study())
    assert gc.isenabled()  # back on after a failed build too
