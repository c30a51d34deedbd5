"""A status-bar line that fits the room the bar gives it (the bar was cut at 1280 px when the backups warning
showed: a QLabel never shrinks below its whole text, so the lines on the right went off the window).

The line is cut with "…" when the window is too narrow for it; the whole line is then in its tooltip (with the
tooltip it already had). ``text()`` is the whole line."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QHelpEvent, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QToolTip, QWidget

MIN_CHARS = 10  # what is still shown of a line when the window is at its narrowest


class ElidedLabel(QLabel):
    """``keep_px``: a warning stays whole up to that width (the bar's other lines give way first); 0: a line that
    gives way down to its first ``MIN_CHARS`` characters. ``gives_way``: the line that gets only the room the others
    leave (its whole text is not asked for), never less than its first ``MIN_CHARS`` characters."""

    def __init__(self, text: str = "", parent: QWidget | None = None, *, keep_px: int = 0,
                 gives_way: bool = False) -> None:
        super().__init__(parent)
        self.keep_px = keep_px
        self.min_chars = MIN_CHARS  # what is still shown at the narrowest (1: the check's "✓", its line in the tooltip)
        self.gives_way = gives_way
        if gives_way:
            self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._full = ""
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setText(text)

    def setText(self, text: str) -> None:
        self._full = text
        if self.gives_way:  # an ignored size policy asks for no minimum: never cut to nothing
            self.setMinimumWidth(self.minimumSizeHint().width())
        self.updateGeometry()
        self._elide()

    def text(self) -> str:
        return self._full

    def shown(self) -> str:
        """What the bar shows (the line, or its beginning and "…")."""
        return QLabel.text(self)

    def elided(self) -> bool:
        return self.shown() != self._full

    def _extra(self) -> int:
        margins = self.contentsMargins()
        return margins.left() + margins.right() + 2 * self.margin() + 2

    def sizeHint(self) -> QSize:
        return QSize(self.fontMetrics().horizontalAdvance(self._full) + self._extra(), super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        start = self._full if len(self._full) <= self.min_chars else self._full[:self.min_chars] + "…"
        width = self.fontMetrics().horizontalAdvance(start) + self._extra()
        if self.keep_px:
            width = max(width, min(self.sizeHint().width(), self.keep_px))
        return QSize(width, super().minimumSizeHint().height())

    def _elide(self) -> None:
        width = self.contentsRect().width() - 2 * self.margin()
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(width, 0))
        if shown != QLabel.text(self):
            QLabel.setText(self, shown)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):  # a style sheet made it bold
            self.updateGeometry()
            self._elide()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and self.elided() and isinstance(event, QHelpEvent):
            own = self.toolTip()
            QToolTip.showText(event.globalPos(), self._full + (f"\n\n{own}" if own and own != self._full else ""),
                              self)
            return True
        return super().event(event)
