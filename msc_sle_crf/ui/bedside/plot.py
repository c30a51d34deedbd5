"""The trend plot of the infusion day: one line per measure, minutes since the first reading on the x axis."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QWidget

from msc_sle_crf.ui.bedside.style import VITAL_LABELS, number
from msc_sle_crf.ui.common import tr

# Values by measure name (``temperature``, ``heart_rate``...): Decimal, int or None.
Values = Mapping[str, Any]


class TrendPlot(QWidget):
    """Vital signs over the infusion day: one line per measure, time on the x axis. People look rather than read."""

    SERIES = (("temperature", "#b00020", Decimal(35), Decimal(41)),
              ("heart_rate", "#1f5fa8", Decimal(40), Decimal(160)),
              ("systolic_bp", "#2e7d32", Decimal(60), Decimal(200)),
              ("diastolic_bp", "#7cb342", Decimal(30), Decimal(130)),
              ("spo2", "#6a1b9a", Decimal(80), Decimal(100)))

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(200)
        self.points: list[tuple[float, Values]] = []  # minutes since the first reading, values

    def set_readings(self, readings: Sequence[tuple[dt.time, Values]]) -> None:
        """Readings in the order of their time of day (a row entered late on the form is drawn where it belongs,
        not before the first reading)."""
        ordered = sorted(readings, key=lambda reading: reading[0])
        if not ordered:
            self.points = []
        else:
            first = dt.datetime.combine(dt.date(2000, 1, 1), ordered[0][0])
            self.points = [((dt.datetime.combine(dt.date(2000, 1, 1), t) - first).total_seconds() / 60, v)
                           for t, v in ordered]
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = QRectF(self.rect()).adjusted(20, 12, -170, -28)
        painter.fillRect(self.rect(), QColor("white"))
        painter.setPen(QPen(QColor("#d5dbe1"), 1))
        painter.drawRect(area)
        if not self.points:
            painter.setPen(QColor("#5f6b76"))
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, tr("No reading yet", "Aucune mesure"))
            return
        span = max(30.0, self.points[-1][0])
        painter.setPen(QColor("#5f6b76"))
        for minute in range(0, int(span) + 1, 30 if span <= 180 else 60):
            x = area.left() + area.width() * minute / span
            painter.drawLine(QPointF(x, area.bottom()), QPointF(x, area.bottom() + 4))
            painter.drawText(QPointF(x - 10, area.bottom() + 18), f"{minute}′")
        legend_y = area.top() + 4
        for measure, color, low, high in self.SERIES:
            path = QPainterPath()
            started = False
            painter.setPen(QPen(QColor(color), 2.5))
            for at, values in self.points:
                value = values.get(measure)
                if value is None:
                    continue
                x = area.left() + area.width() * at / span
                fraction = float((Decimal(value) - low) / (high - low))
                y = area.bottom() - area.height() * min(1.0, max(0.0, fraction))
                painter.drawEllipse(QPointF(x, y), 3.5, 3.5)
                if started:
                    path.lineTo(x, y)
                else:
                    path.moveTo(x, y)
                    started = True
            painter.drawPath(path)
            last = next((v.get(measure) for _, v in reversed(self.points) if v.get(measure) is not None), None)
            painter.drawText(QPointF(area.right() + 10, legend_y + 12),
                             f"{VITAL_LABELS[measure].get().split()[0]} {number(last) if last is not None else '—'}")
            legend_y += 22
