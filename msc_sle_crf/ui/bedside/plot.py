"""The trend plot of the infusion day, drawn with pyqtgraph: the whole monitoring period (baseline to 4 h after the
end), the clock time on the x axis, one small plot per measure with its value axis and unit, the planned time points
as dashed lines, and the out-of-range bands of the protocol's alert limits in red.

pyqtgraph (MIT, maintained, PySide6-ready) is used rather than hand-painting: axes, ticks, scaling and resizing come
with it. QtCharts is not in PySide6-Essentials.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QWidget

from msc_sle_crf.infusion.protocol import InfusionProtocol
from msc_sle_crf.ui.common import tr

pg.setConfigOptions(antialias=True, background="w", foreground="#33414e")

Values = Mapping[str, Any]  # values by measure name (``temperature``, ``heart_rate``...)
BAND = QColor(176, 0, 32, 38)
POST_END_MINUTES = 240  # the schedule ends 4 h after the end of the infusion


@dataclass(frozen=True)
class Row:
    key: str
    unit: str
    low: float
    high: float
    series: tuple[tuple[str, str], ...]  # (measure, colour)


ROWS = (Row("temperature", "°C", 35.0, 41.0, (("temperature", "#b00020"),)),
        Row("heart_rate", "/min", 30.0, 180.0, (("heart_rate", "#1f5fa8"),)),
        Row("pressure", "mmHg", 40.0, 200.0, (("systolic_bp", "#2e7d32"), ("diastolic_bp", "#7cb342"))),
        Row("spo2", "SpO2 %", 80.0, 100.0, (("spo2", "#6a1b9a"),)))


class ClockAxis(pg.AxisItem):  # type: ignore[misc]  # pyqtgraph has no type information
    """Minutes from an origin shown as the clock time of the day (``10:30``)."""

    def __init__(self, origin: dt.datetime) -> None:
        super().__init__(orientation="bottom")
        self.origin = origin
        self.setTickSpacing(major=60, minor=15)  # hours, and quarters of an hour (the schedule's rhythm)

    def tickStrings(self, values: Sequence[float], scale: float, spacing: float) -> list[str]:
        return [f"{self.origin + dt.timedelta(minutes=v):%H:%M}" for v in values]


class TrendPlot(pg.GraphicsLayoutWidget):  # type: ignore[misc]
    """Vital signs over the monitoring period. ``show_day`` gives it what to draw; tests read ``series``,
    ``planned_lines``, ``bands`` and ``x_range``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(200)
        self.ci.layout.setSpacing(0)
        self.ci.setContentsMargins(4, 4, 12, 4)
        self.origin = dt.datetime(2000, 1, 1)
        self.axis = ClockAxis(self.origin)
        self.plots: dict[str, pg.PlotItem] = {}
        self.series: dict[str, pg.PlotDataItem] = {}
        self.bands: dict[str, pg.LinearRegionItem] = {}
        self.planned_lines: dict[str, list[pg.InfiniteLine]] = {}
        self.labels: list[pg.TextItem] = []
        self.x_range: tuple[float, float] = (0.0, 0.0)
        self.empty = pg.TextItem(anchor=(0.5, 0.5), color="#5f6b76")
        font = QFont()
        font.setPointSize(8)
        first: pg.PlotItem | None = None
        for n, row in enumerate(ROWS):
            last = n == len(ROWS) - 1
            plot = self.addPlot(row=n, col=0, axisItems={"bottom": self.axis} if last else None)
            plot.setMenuEnabled(False)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.showGrid(x=True, y=True, alpha=0.15)
            plot.setYRange(row.low, row.high, padding=0.02)
            left = plot.getAxis("left")
            left.setWidth(58)
            left.setLabel(row.unit)
            left.setStyle(tickFont=font)
            plot.getAxis("bottom").setStyle(tickFont=font, showValues=last)
            if first is not None:
                plot.setXLink(first)
            first = first or plot
            self.plots[row.key] = plot
            for measure, colour in row.series:
                self.series[measure] = plot.plot([], [], pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=6,
                                                 symbolBrush=colour, symbolPen=colour)
        self.plots["temperature"].addItem(self.empty)

    def sizeHint(self) -> QSize:
        """Small: the plot takes the room left (a page that scrolls would otherwise be sized for its 480 pixels)."""
        return QSize(600, 240)

    def _band(self, name: str, row: str, low: float, high: float) -> None:
        band = self.bands.get(name)
        if band is None:
            band = pg.LinearRegionItem(values=(low, high), orientation="horizontal", movable=False, brush=BAND,
                                       pen=pg.mkPen(None))
            band.setZValue(-10)
            self.plots[row].addItem(band)
            self.bands[name] = band
        band.setRegion((low, high))

    def show_day(self, *, protocol: InfusionProtocol, origin: dt.datetime, end: dt.datetime | None,
                 planned: Sequence[tuple[str, dt.datetime]], readings: Sequence[tuple[dt.datetime, Values]]) -> None:
        """Draw one infusion day. Times are the workstation's local times; ``origin`` is the start (or now, before
        it); ``end`` the end of the infusion if known (else the longest planned duration is assumed)."""
        self.origin = origin
        self.axis.origin = origin

        def minutes(when: dt.datetime) -> float:
            return (when - origin).total_seconds() / 60

        ordered = sorted(readings, key=lambda reading: reading[0])
        limits = protocol.alerts
        self._band("fever", "temperature", float(limits.fever_c), 41.0)
        self._band("tachycardia", "heart_rate", float(limits.hr_max), 180.0)
        self._band("bradycardia", "heart_rate", 30.0, float(limits.hr_min))
        self._band("hypotension", "pressure", 40.0, float(limits.sbp_min))
        self._band("hypoxia", "spo2", 80.0, float(limits.spo2_min))
        for measure, item in self.series.items():
            xs = [minutes(t) for t, v in ordered if v.get(measure) is not None]
            ys = [float(v[measure]) for _t, v in ordered if v.get(measure) is not None]
            item.setData(xs, ys)
        last_end = end if end is not None else origin + dt.timedelta(minutes=protocol.max_duration_min)
        first_x = min([-10.0, *(minutes(t) - 5 for t, _ in ordered)])
        self.x_range = (first_x, minutes(last_end) + POST_END_MINUTES + 5)
        self.plots["temperature"].setXRange(*self.x_range, padding=0)
        self._planned(planned, minutes)
        self.empty.setText("" if ordered else tr("No reading yet", "Aucune mesure"))
        self.empty.setPos(sum(self.x_range) / 2, 38.0)

    def _planned(self, planned: Sequence[tuple[str, dt.datetime]], minutes: Any) -> None:
        for lines in self.planned_lines.values():
            for plot, line in zip(self.plots.values(), lines, strict=True):
                plot.removeItem(line)
        for label in self.labels:
            self.plots["temperature"].removeItem(label)
        self.planned_lines, self.labels = {}, []
        pen = pg.mkPen("#8a94a0", width=1, style=Qt.PenStyle.DashLine)
        gap = (self.x_range[1] - self.x_range[0]) / 20  # labels closer than this would overlap ("ENDT15"): stagger
        last: list[float] = []  # the x of the last label on each row
        for point, when in sorted(planned, key=lambda p: p[1]):
            x = minutes(when)
            level = next((i for i, at in enumerate(last) if x - at >= gap), len(last))
            last[level:level + 1] = [x]
            lines = []
            for plot in self.plots.values():
                line = pg.InfiniteLine(pos=x, angle=90, movable=False, pen=pen)
                plot.addItem(line)
                lines.append(line)
            self.planned_lines[point] = lines
            label = pg.TextItem(point, color="#5f6b76", anchor=(0.5, 0.0))
            label.setFont(QFont("DejaVu Sans", 7))
            label.setPos(x, 41.0 - 0.5 * level)
            self.plots["temperature"].addItem(label)
            self.labels.append(label)
