"""Plain table cells for the PDFs: text wrapped by words with the font's own metrics, each cell one text object.

A reportlab ``Paragraph`` parses markup (an HTML parser per cell) and lays out rich text; a casebook has thousands of
cells that are plain text. ``Cell`` does only what they need: explicit line breaks, word wrap (a word wider than the
column is cut), an optional small trailing note in another style (an item's id after its label), and splitting
between lines so that a cell taller than a page goes on over the next ones (``Table(splitInRow=1)``). Styles are
plain frozen values, shared by every cell that uses them. Text is drawn as given: no markup, nothing to escape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import getAscent, stringWidth
from reportlab.platypus.flowables import Flowable
from reportlab.platypus.tables import Table


@dataclass(frozen=True)
class CellStyle:
    font: str
    size: float
    leading: float
    colour: Any = colors.black


Segment = tuple[str, CellStyle]
Line = tuple[Segment, ...]


def _wrap_words(text: str, style: CellStyle, width: float) -> list[str]:
    """Lines of ``text`` no wider than ``width`` (explicit breaks kept; a too-long word is cut)."""
    out: list[str] = []
    space = stringWidth(" ", style.font, style.size)
    for paragraph in text.split("\n"):
        line, line_width = "", 0.0
        for whole in paragraph.split(" "):
            word, word_width = whole, stringWidth(whole, style.font, style.size)
            if line and line_width + space + word_width <= width:
                line, line_width = f"{line} {word}", line_width + space + word_width
                continue
            if line:
                out.append(line)
            while word_width > width and len(word) > 1:  # a word wider than the column: cut where it fits
                low, high = 1, len(word) - 1
                while low < high:
                    mid = (low + high + 1) // 2
                    if stringWidth(word[:mid], style.font, style.size) <= width:
                        low = mid
                    else:
                        high = mid - 1
                out.append(word[:low])
                word = word[low:]
                word_width = stringWidth(word, style.font, style.size)
            line, line_width = word, word_width
        out.append(line)
    return out


class Cell(Flowable):
    """Plain text in a table cell (see the module)."""

    def __init__(self, text: str, style: CellStyle, *, note: str = "", note_style: CellStyle | None = None,
                 lines: list[Line] | None = None) -> None:
        super().__init__()
        self.text = text
        self.style = style
        self.note = note
        self.note_style = note_style or style
        self._lines = lines  # already laid out (a part of a split cell)
        self._laid_width: float | None = None

    def _layout(self, width: float) -> list[Line]:
        if self._lines is not None:
            return self._lines
        if self._laid_width == width and self._laid is not None:
            return self._laid
        lines: list[Line] = [((text, self.style),) for text in _wrap_words(self.text, self.style, width)]
        if self.note:
            note_width = stringWidth(self.note, self.note_style.font, self.note_style.size)
            last = lines[-1][0][0]
            gap = stringWidth(" ", self.style.font, self.style.size)
            if stringWidth(last, self.style.font, self.style.size) + gap + note_width <= width:
                lines[-1] = ((last + " ", self.style), (self.note, self.note_style))
            else:
                lines.append(((self.note, self.note_style),))
        self._laid, self._laid_width = lines, width
        return lines

    _laid: list[Line] | None = None

    def _height(self, lines: list[Line]) -> float:
        return len(lines) * self.style.leading

    def wrap(self, avail_width: float, _avail_height: float) -> tuple[float, float]:
        lines = self._layout(avail_width)
        self.width, self.height = avail_width, self._height(lines)
        self._wrapped_width = avail_width
        return self.width, self.height

    _wrapped_width: float | None = None

    def split(self, avail_width: float, avail_height: float) -> list[Cell]:
        # A table asks for the split with the cell's whole width, its paddings included, though it measured the
        # cell and draws it without them: the lines stay those of the width the cell was wrapped at (wider ones
        # would cross the column's edge, and being fewer they could all fit, which a table cannot take).
        width = avail_width if self._wrapped_width is None else min(avail_width, self._wrapped_width)
        lines = self._layout(width)
        fit = int(avail_height // self.style.leading)
        if fit <= 0:
            return []
        if fit >= len(lines):  # all of it fits after all: nothing goes on to the next page
            return [self, Cell("", self.style, lines=[])]
        return [Cell(self.text, self.style, lines=lines[:fit]), Cell(self.text, self.style, lines=lines[fit:])]

    def drawOn(self, canvas: Any, x: float, y: float, _sW: float = 0) -> None:
        """Drawn where the table puts it as one text object (no coordinate change around each cell); the graphics
        state is kept around it, so its colour does not leak into what follows."""
        canvas.saveState()
        self._draw_text(canvas, self._hAlignAdjust(x, _sW), y)
        canvas.restoreState()

    def draw(self) -> None:
        self._draw_text(self.canv, 0.0, 0.0)

    def _draw_text(self, canvas: Any, x: float, y: float) -> None:
        lines = self._layout(self.width)
        leading = self.style.leading
        text_object = canvas.beginText(x, y + self.height - getAscent(self.style.font, self.style.size))
        font: tuple[str, float] | None = None
        colour: Any = canvas._fillColorObj  # the table's text colour: set only where a cell's differs
        for line in lines:
            last = len(line) - 1
            for n, (text, style) in enumerate(line):
                if font != (style.font, style.size):
                    font = (style.font, style.size)
                    text_object.setFont(style.font, style.size, leading)
                if colour is not style.colour and colour != style.colour:
                    colour = style.colour
                    text_object.setFillColor(style.colour)
                if n < last:
                    text_object.textOut(text)
                else:
                    text_object.textLine(text)
        canvas.drawText(text_object)


class CellTable(Table):
    """A reportlab ``Table`` whose plain cells are measured directly: a cell holding one ``Cell`` (no space around it)
    is as tall as its wrapped lines, without the general per-flowable bookkeeping (a casebook has ~9,000 cells, each
    measured two or three times while its pages are laid out)."""

    def _listCellGeom(self, V: Any, w: float, s: Any, W: list[float] | None = None,  # noqa: PLR0917 - reportlab's
                      H: list[float] | None = None, aH: float = 72000) -> tuple[float, float]:
        if len(V) == 1 and type(V[0]) is Cell:
            cell_width, cell_height = V[0].wrap(w - s.leftPadding - s.rightPadding,
                                                aH - s.topPadding - s.bottomPadding)
            if W is not None:
                W.append(cell_width)
            if H is not None:
                H.append(cell_height)
            return cell_width, cell_height
        width, height = super()._listCellGeom(V, w, s, W=W, H=H, aH=aH)
        return float(width), float(height)
