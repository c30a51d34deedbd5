"""Issue 13, item 6: casebook cells as plain text (no markup parsed), wrapped and split like before."""

from __future__ import annotations

import io

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
