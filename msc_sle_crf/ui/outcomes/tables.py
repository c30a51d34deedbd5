"""A report table (``scoring.summary.Table``) as a read-only Qt table: the same cells as the PDF and the CSV, with
the exact figures in each cell's tooltip and grade >= 3 counts in red."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from msc_sle_crf.i18n import current_lang
from msc_sle_crf.scoring.summary import Cell, Count, GradeCounts, Summary, Table, cell_text
from msc_sle_crf.ui.common import named

ALERT = QColor("#b00020")
PENDING = QColor("#b26a00")


def _tooltip(cell: Cell) -> str:
    """The exact figures behind a rounded cell."""
    if isinstance(cell, Summary) and cell.values:
        values = ", ".join(format(v.normalize(), "f") for v in sorted(cell.values))
        return f"n = {cell.n}; {values}" + (f"; n.c. {cell.missing}" if cell.missing else "")
    if isinstance(cell, Count) and cell.percent is not None:
        return f"{cell.n}/{cell.of} = {format(cell.percent.normalize(), 'f')} %"
    if isinstance(cell, GradeCounts):
        return " · ".join(f"G{g}: {c}" for g, c in enumerate(cell.counts, start=1)) + f" (n = {cell.of})"
    return ""


class ReportTableWidget(QWidget):
    """A title, the table, and its note."""

    def __init__(self, table: Table, min_grade: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lang = current_lang()
        self.table = table
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 6)
        title = named(QLabel(table.title.get(lang)), "tableTitle")
        title.setWordWrap(True)
        font = QFont(title.font())
        font.setBold(True)
        title.setFont(font)
        layout.addWidget(title)
        self.grid = QTableWidget(len(table.rows), len(table.columns) + 1)
        self.grid.setObjectName(f"table_{table.key}")
        self.grid.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.grid.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.grid.verticalHeader().setVisible(False)
        self.grid.setHorizontalHeaderLabels([table.corner.get(lang), *(c.label.get(lang) for c in table.columns)])
        self.grid.setWordWrap(True)
        for r, row in enumerate(table.rows):
            label = QTableWidgetItem(row.label.get(lang))
            self.grid.setItem(r, 0, label)
            for c, cell in enumerate(row.cells, start=1):
                item = QTableWidgetItem(cell_text(cell, lang))
                item.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
                tip = _tooltip(cell)
                if tip:
                    item.setToolTip(tip)
                if isinstance(cell, GradeCounts) and cell.at_least(min_grade):
                    item.setForeground(QBrush(ALERT))
                elif isinstance(cell, Count) and cell.pending:
                    item.setForeground(QBrush(PENDING))
                self.grid.setItem(r, c, item)
        header = self.grid.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        for c in range(1, len(table.columns) + 1):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.Stretch)
        self.grid.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.grid.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout.addWidget(self.grid)
        # Row heights follow the column widths, which settle after the table's own resize: refit once they do.
        self._refit = QTimer(self)
        self._refit.setSingleShot(True)
        self._refit.setInterval(0)
        self._refit.timeout.connect(self._fit)
        header.sectionResized.connect(lambda *_: self._refit.start())
        self._fit()
        if table.note is not None:
            note = QLabel(table.note.get(lang))
            note.setWordWrap(True)
            note.setStyleSheet("color: #5f6b76; font-size: 9pt;")
            layout.addWidget(note)

    def _fit(self) -> None:
        """Rows as tall as their wrapped text at the current column widths; the table as tall as its rows (the page
        scrolls, not each table)."""
        self.grid.resizeRowsToContents()
        height = self.grid.horizontalHeader().height() + sum(self.grid.rowHeight(r)
                                                             for r in range(self.grid.rowCount()))
        self.grid.setFixedHeight(height + 2 * self.grid.frameWidth())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def text(self, row: int, column: int) -> str:
        item = self.grid.item(row, column)
        return item.text() if item is not None else ""
