"""The outcome and safety reports as PDF (reportlab): every table of the report, the plots (per-subject trajectories
of SELENA-SLEDAI, BILAG and prednisone by cohort; subjects by maximum grade per window) and the rules behind the
numbers. Every page carries the study, protocol, site, report title, "page x of y" and who generated it when; a
provisional safety review says so on every page. Signed by the printing service like the CRFs.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Frame,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from msc_sle_crf.i18n import L
from msc_sle_crf.pdf.render import PageInfo, _esc, _fonts, _NumberedCanvas
from msc_sle_crf.scoring.summary import ALL, TRAJECTORIES, Report, cell_text, measure_label
from msc_sle_crf.scoring.summary import Table as ReportTable

# One colour per cohort, the same on screen (ui/outcomes) and on paper; the last one is "all cohorts".
COHORT_COLOURS = ("#1f5fa8", "#b26a00", "#b00020", "#2e7d32", "#5e35b1")
GRADE_COLOURS = ("#9e9e9e", "#8bc34a", "#ffc107", "#ff7043", "#c62828", "#4a148c")
WIDTH = A4[0] - 30 * mm

_STYLE = TableStyle([
    ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#c9d1d9")),
    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f6")),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
])


def cohort_colour(cohort: str, cohorts: Sequence[str]) -> str:
    if cohort == ALL or cohort not in cohorts:
        return COHORT_COLOURS[-1]
    return COHORT_COLOURS[list(cohorts).index(cohort) % (len(COHORT_COLOURS) - 1)]


class ReportDocument:
    def __init__(self, info: PageInfo, *, provisional: bool = False) -> None:
        self.info = info
        self.provisional = provisional
        self.regular, self.bold = _fonts()
        base = getSampleStyleSheet()
        self.styles = {
            "title": ParagraphStyle("t", parent=base["Title"], fontName=self.bold, fontSize=15, spaceAfter=4),
            "h2": ParagraphStyle("h2", parent=base["Heading2"], fontName=self.bold, fontSize=11, spaceBefore=8,
                                 spaceAfter=3),
            "body": ParagraphStyle("b", parent=base["BodyText"], fontName=self.regular, fontSize=9, leading=11.5),
            "warn": ParagraphStyle("w", parent=base["BodyText"], fontName=self.bold, fontSize=9.5, leading=12,
                                   textColor=colors.HexColor("#b00020")),
            "small": ParagraphStyle("s", parent=base["BodyText"], fontName=self.regular, fontSize=7.5, leading=9.5,
                                    textColor=colors.HexColor("#4a5b6c")),
            "cell": ParagraphStyle("c", parent=base["BodyText"], fontName=self.regular, fontSize=7.8, leading=9.6),
            "cellb": ParagraphStyle("cb", parent=base["BodyText"], fontName=self.bold, fontSize=7.8, leading=9.6),
        }
        self.title = ""

    def _t(self, text: L) -> str:
        return text.get(self.info.lang)

    # ----- page furniture ---------------------------------------------------------------------------------------------
    def _on_page(self, canvas: rl_canvas.Canvas, _doc: Any) -> None:
        canvas._msc_info = self.info  # read by _NumberedCanvas ("page x of y")
        width, height = A4
        lang = self.info.lang
        canvas.saveState()
        canvas.setFont(self.bold, 9)
        canvas.drawString(15 * mm, height - 12 * mm, f"{self.info.study} — {self.info.protocol}")
        canvas.setFont(self.regular, 8)
        canvas.drawRightString(width - 15 * mm, height - 12 * mm, self.info.site)
        canvas.drawString(15 * mm, height - 17 * mm, self.title)
        canvas.setStrokeColor(colors.HexColor("#d5dbe1"))
        canvas.line(15 * mm, height - 19 * mm, width - 15 * mm, height - 19 * mm)
        canvas.drawString(15 * mm, 10 * mm, L("Generated ", "Généré le ").get(lang) + self.info.generated)
        if self.provisional:
            canvas.setFont(self.bold, 8)
            canvas.setFillColor(colors.HexColor("#b00020"))
            canvas.drawCentredString(width / 2, 14 * mm,
                                     L("PROVISIONAL — not for the dose-escalation decision",
                                       "PROVISOIRE — pas pour la décision d'escalade de dose").get(lang))
        canvas.restoreState()

    def _build(self, story: list[Any]) -> bytes:
        buffer = io.BytesIO()
        doc = BaseDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=24 * mm,
                              bottomMargin=18 * mm, title=self.title, author=self.info.site, creator="msc-sle-crf")
        frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body")
        doc.addPageTemplates([PageTemplate(id="report", frames=[frame], onPageEnd=self._on_page)])
        doc.build(story, canvasmaker=_NumberedCanvas)
        return buffer.getvalue()

    # ----- content ---------------------------------------------------------------------------------------------
    def render(self, report: Report) -> bytes:
        st = self.styles
        self.title = self._t(report.title)
        if self.provisional:
            self.title = L("PROVISIONAL ", "PROVISOIRE ").get(self.info.lang) + self.title
        story: list[Any] = [Paragraph(_esc(self.title), st["title"]), Paragraph(_esc(self._t(report.subtitle)),
                                                                                  st["body"])]
        if not report.ready:
            story.append(Paragraph(_esc(L("Not ready for the dose-escalation decision: ", "Pas prête pour la décision "
                                          "d'escalade de dose : ").get(self.info.lang)
                                        + "; ".join(self._t(w) for w in report.waiting)), st["warn"]))
        story.append(Spacer(1, 3 * mm))
        for table in report.tables:
            story += self.table(table)
        story += self.plots(report)
        if report.rules:
            story.append(CondPageBreak(40 * mm))
            story.append(Paragraph(_esc(L("Rules used", "Règles utilisées").get(self.info.lang)), st["h2"]))
            story += [Paragraph(_esc(rule), st["small"]) for rule in report.rules]
        return self._build(story)

    def table(self, table: ReportTable) -> list[Any]:
        st, lang = self.styles, self.info.lang
        header = [Paragraph(_esc(self._t(table.corner)), st["cellb"])] + [
            Paragraph(_esc(self._t(c.label)), st["cellb"]) for c in table.columns]
        data = [header] + [[Paragraph(_esc(self._t(row.label)), st["cell"])]
                           + [Paragraph(_esc(cell_text(c, lang)), st["cell"]) for c in row.cells]
                           for row in table.rows]
        if not table.rows:
            data.append([Paragraph(_esc(L("(none)", "(aucun)").get(lang)), st["small"])] + [""] * len(table.columns))
        first = 48 * mm if len(table.columns) <= 5 else 36 * mm
        rest = (WIDTH - first) / max(len(table.columns), 1)
        grid = Table(data, colWidths=[first] + [rest] * len(table.columns), repeatRows=1, splitByRow=True)
        grid.setStyle(_STYLE)
        out: list[Any] = [CondPageBreak(30 * mm), Paragraph(_esc(self._t(table.title)), st["h2"]), grid]
        if table.note is not None:
            out.append(Paragraph(_esc(self._t(table.note)), st["small"]))
        return out

    # ----- plots -----------------------------------------------------------------------------------------------
    def plots(self, report: Report) -> list[Any]:
        lang, st = self.info.lang, self.styles
        out: list[Any] = []
        cohorts = list(report.cohort_labels)
        if report.trajectories:
            out.append(CondPageBreak(90 * mm))
            out.append(Paragraph(_esc(L("Per-subject trajectories by cohort", "Trajectoires par patient et par "
                                        "cohorte").get(lang)), st["h2"]))
            for measure in TRAJECTORIES:
                lines = [t for t in report.trajectories if t.measure == measure]
                if lines:
                    label = report.measure_labels.get(measure, measure_label(measure))
                    out.append(KeepTogether([Paragraph(_esc(label.get(lang)), st["body"]),
                                             self._trajectory_chart(lines, report, cohorts)]))
        bars = [b for b in report.grade_bars if not b.related_only and (b.cohort != ALL or report.kind == "outcomes")]
        if bars:
            out.append(CondPageBreak(70 * mm))
            out.append(Paragraph(_esc(L("Subjects by maximum CTCAE grade per window (all adverse events)",
                                        "Patients par grade CTCAE maximal et par fenêtre (tous les EI)").get(lang)),
                                 st["h2"]))
            out.append(self._bar_legend(bars, cohorts, report))
            windows = list(dict.fromkeys(b.window for b in bars))
            charts = [self._grade_chart([b for b in bars if b.window == w], cohorts, report) for w in windows]
            pairs = [charts[i:i + 2] + ([""] if len(charts[i:i + 2]) == 1 else []) for i in range(0, len(charts), 2)]
            grid = Table(pairs, colWidths=[WIDTH / 2, WIDTH / 2])
            out.append(grid)
        return out

    def _trajectory_chart(self, lines: Sequence[Any], report: Report, cohorts: list[str]) -> Drawing:
        drawing = Drawing(WIDTH, 62 * mm)
        plot = LinePlot()
        plot.x, plot.y, plot.width, plot.height = 12 * mm, 8 * mm, WIDTH - 50 * mm, 50 * mm
        plot.data = [[(float(x), float(y)) for _v, x, y in t.points] for t in lines]
        months = sorted({float(x) for t in lines for _v, x, _y in t.points})
        names = {float(x): v for t in lines for v, x, _y in t.points}
        for n, t in enumerate(lines):
            plot.lines[n].strokeColor = colors.HexColor(cohort_colour(t.cohort, cohorts))
            plot.lines[n].strokeWidth = 1
            plot.lines[n].symbol = makeMarker("FilledCircle", size=2.5)
        plot.xValueAxis.valueMin = 0
        plot.xValueAxis.valueMax = max([12.0, *months])
        plot.xValueAxis.valueSteps = months
        plot.xValueAxis.labelTextFormat = lambda x: names.get(float(x), "")
        plot.xValueAxis.labels.fontName = plot.yValueAxis.labels.fontName = self.regular
        plot.xValueAxis.labels.fontSize = plot.yValueAxis.labels.fontSize = 7
        top = max(Decimal(0), *(y for t in lines for _v, _x, y in t.points))
        plot.yValueAxis.valueMin = 0
        plot.yValueAxis.valueMax = float(top) * 1.1 + 1
        drawing.add(plot)
        drawing.add(self._legend(report, cohorts, x=WIDTH - 34 * mm, y=55 * mm))
        return drawing

    def _legend(self, report: Report, cohorts: list[str], *, x: float, y: float) -> Legend:
        legend = Legend()
        legend.x, legend.y = x, y
        legend.fontName, legend.fontSize = self.regular, 7
        legend.alignment = "right"
        legend.colorNamePairs = [(colors.HexColor(cohort_colour(c, cohorts)), self._t(report.cohort_labels[c]))
                                 for c in cohorts]
        return legend

    def _grade_chart(self, bars: Sequence[Any], cohorts: list[str], report: Report) -> Drawing:
        drawing = Drawing(WIDTH / 2 - 4 * mm, 52 * mm)
        chart = VerticalBarChart()
        chart.x, chart.y, chart.width, chart.height = 10 * mm, 10 * mm, WIDTH / 2 - 20 * mm, 32 * mm
        chart.data = [list(b.counts) for b in bars]
        chart.categoryAxis.categoryNames = ["0", "G1", "G2", "G3", "G4", "G5"]
        chart.categoryAxis.labels.fontName = chart.valueAxis.labels.fontName = self.regular
        chart.categoryAxis.labels.fontSize = chart.valueAxis.labels.fontSize = 7
        chart.valueAxis.valueMin = 0
        chart.valueAxis.valueMax = max(1, *(max(b.counts) for b in bars))
        chart.valueAxis.valueStep = max(1, chart.valueAxis.valueMax // 4)
        for n, b in enumerate(bars):
            chart.bars[n].fillColor = colors.HexColor(cohort_colour(b.cohort, cohorts))
            chart.bars[n].strokeColor = None
        drawing.add(chart)
        title = self._t(bars[0].label)
        pending = sum(b.pending for b in bars if b.cohort != ALL)
        if pending:
            title += L(f" ({pending} pending)", f" ({pending} en attente)").get(self.info.lang)
        drawing.add(String(10 * mm, 46 * mm, title, fontName=self.bold, fontSize=8))
        return drawing

    def _bar_legend(self, bars: Sequence[Any], cohorts: list[str], report: Report) -> Drawing:
        """One line of legend above the bar charts: a colour per cohort (and "all cohorts")."""
        drawing = Drawing(WIDTH, 8 * mm)
        legend = Legend()
        legend.x, legend.y = 0, 6 * mm
        legend.fontName, legend.fontSize = self.regular, 7
        legend.columnMaximum, legend.deltax, legend.dxTextSpace = 1, 42 * mm, 4
        shown = list(dict.fromkeys(b.cohort for b in bars))
        legend.colorNamePairs = [(colors.HexColor(cohort_colour(c, cohorts)),
                                  self._t(report.cohort_labels.get(c, L("All cohorts", "Toutes cohortes"))))
                                 for c in shown]
        drawing.add(legend)
        return drawing
