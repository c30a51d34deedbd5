"""Plots of the outcome report with pyqtgraph: per-subject trajectories of SELENA-SLEDAI, BILAG and prednisone from
M0 to M12, coloured by dose cohort (hover a point for the subject, visit and exact value), and subjects by maximum
CTCAE grade per window, one bar per cohort. The colours are the PDF's (``pdf.report.COHORT_COLOURS``).

pyqtgraph is imported here only: opening the outcomes window loads it (about 0.3 s warm), the rest of the app
never does.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QGridLayout, QLabel, QVBoxLayout, QWidget

from msc_sle_crf.i18n import current_lang
from msc_sle_crf.pdf.report import GRADE_COLOURS, cohort_colour
from msc_sle_crf.rounding import format_decimal
from msc_sle_crf.scoring.summary import ALL, TRAJECTORIES, GradeBars, Report, measure_label
from msc_sle_crf.ui.common import tr

pg.setConfigOptions(antialias=True, background="w", foreground="#1d2b3a")

__all__ = ["GRADE_COLOURS", "GradeBarsWidget", "TrajectoriesWidget"]


class TrajectoriesWidget(QWidget):
    """One plot per measure; a line per subject, its cohort's colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_ = QGridLayout(self)
        self.plots: dict[str, pg.PlotWidget] = {}
        for n, measure in enumerate(TRAJECTORIES):
            plot = pg.PlotWidget()
            plot.setObjectName(f"trajectory_{measure}")
            plot.showGrid(x=True, y=True, alpha=0.15)
            plot.setMouseEnabled(x=False, y=False)
            plot.setMenuEnabled(False)
            self.plots[measure] = plot
            self.layout_.addWidget(plot, n // 2, n % 2)
        self.lines: dict[str, list[pg.PlotDataItem]] = {m: [] for m in TRAJECTORIES}

    def show_report(self, report: Report) -> None:
        lang = current_lang()
        cohorts = list(report.cohort_labels)
        for measure, plot in self.plots.items():
            plot.clear()
            plot.setTitle(report.measure_labels.get(measure, measure_label(measure)).get(lang), size="10pt")
            legend = plot.getPlotItem().legend or plot.addLegend(offset=(-10, 10))
            legend.clear()
            self.lines[measure] = []
            shown: set[str] = set()
            ticks: dict[float, str] = {}
            for t in (t for t in report.trajectories if t.measure == measure):
                colour = cohort_colour(t.cohort, cohorts)
                xs = [float(m) for _v, m, _y in t.points]
                ys = [float(y) for _v, _m, y in t.points]
                ticks |= {float(m): v for v, m, _y in t.points}
                name = None
                if t.cohort not in shown:
                    shown.add(t.cohort)
                    label = report.cohort_labels.get(t.cohort)
                    name = label.get(lang) if label is not None else t.cohort
                line = plot.plot(xs, ys, pen=pg.mkPen(colour, width=2), name=name)
                self.lines[measure].append(line)
                tips = [f"{t.subject} · {v} · {format_decimal(y, 1, lang)}" for v, _m, y in t.points]
                plot.addItem(pg.ScatterPlotItem(xs, ys, size=8, brush=pg.mkBrush(colour), pen=pg.mkPen("w"),
                                                hoverable=True, data=tips, tip=lambda x, y, data: data))
            plot.getAxis("bottom").setTicks([sorted(ticks.items())])
            plot.setXRange(0, max([12.0, *ticks]), padding=0.04)


class GradeBarsWidget(QWidget):
    """Subjects by maximum grade (0, G1-G5), one small plot per window, a bar per cohort."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = QVBoxLayout(self)
        self.related = QCheckBox(tr("Related to the cells only", "Liés aux cellules seulement"))
        self.related.toggled.connect(lambda _on: self._draw())
        outer.addWidget(self.related)
        self.grid = QGridLayout()
        outer.addLayout(self.grid)
        self.plots: dict[str, pg.PlotWidget] = {}
        self.report: Report | None = None
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color: #5f6b76; font-size: 9pt;")
        outer.addWidget(self.caption)

    def show_report(self, report: Report) -> None:
        self.report = report
        self._draw()

    def bars(self) -> Sequence[GradeBars]:
        if self.report is None:
            return ()
        related = self.related.isChecked()
        return [b for b in self.report.grade_bars if b.related_only is related]

    def _draw(self) -> None:
        report = self.report
        if report is None:
            return
        lang = current_lang()
        cohorts = list(report.cohort_labels)
        bars = self.bars()
        windows = list(dict.fromkeys(b.window for b in bars))
        for n, window in enumerate(windows):
            plot = self.plots.get(window)
            if plot is None:
                plot = pg.PlotWidget()
                plot.setObjectName(f"grades_{window}")
                plot.setMouseEnabled(x=False, y=False)
                plot.setMenuEnabled(False)
                self.plots[window] = plot
                self.grid.addWidget(plot, n // 3, n % 3)
            plot.clear()
            mine = [b for b in bars if b.window == window and (b.cohort != ALL or len(cohorts) <= 1)]
            width = 0.8 / max(len(mine), 1)
            pending = sum(b.pending for b in mine)
            title = mine[0].label.get(lang) if mine else window
            if pending:
                title += tr(f" ({pending} pending)", f" ({pending} en attente)")
            plot.setTitle(title, size="9pt")
            for k, b in enumerate(mine):
                xs = [g - 0.4 + width * (k + 0.5) for g in range(6)]
                plot.addItem(pg.BarGraphItem(x=xs, height=list(b.counts), width=width * 0.95,
                                             brush=cohort_colour(b.cohort, cohorts), pen=None))
            plot.getAxis("bottom").setTicks([[(0, "0"), *((g, f"G{g}") for g in range(1, 6))]])
            top = max([1, *(max(b.counts) for b in mine)])
            plot.setYRange(0, top + 0.5, padding=0)
            plot.getAxis("left").setTickSpacing(1, 1)
        names = " · ".join(f'<span style="color:{cohort_colour(c, cohorts)}">■</span> {label.get(lang)}'
                           for c, label in report.cohort_labels.items())
        self.caption.setText(tr("Subjects by their maximum CTCAE grade in each window, by cohort: ",
                                "Patients selon leur grade CTCAE maximal dans chaque fenêtre, par cohorte : ") + names)
