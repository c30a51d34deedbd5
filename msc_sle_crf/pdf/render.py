"""PDF case report forms with reportlab: filled forms (one form, a visit, a casebook) and the blank annotated CRF.

Every page carries the study, protocol number, site, subject, visit, form name and version, "page x of y", and when
and by whom the PDF was generated. Values come with their units and flags (confirmed warnings, not done and why,
open queries), the form state and the signature manifestation; the form's audit trail can be appended. Tables split
cleanly across pages, and so does a single row whose text is taller than a page (``splitInRow``): any text the
services accept prints. Everything is drawn from the form definitions (ODM-shaped metadata).
"""

from __future__ import annotations

import gc
import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from msc_sle_crf.formdef import values as V
from msc_sle_crf.formdef.definitions import FormDef, Item, ItemType, StudyDef
from msc_sle_crf.formdef.engine import FormState, Severity
from msc_sle_crf.i18n import L, Lang
from msc_sle_crf.pdf.cells import Cell, CellStyle, CellTable

FONT_PATHS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


def _fonts() -> tuple[str, str]:
    """DejaVu (accents, °, µ, ≥) when the system has it; Helvetica otherwise."""
    try:
        if "DejaVu" not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont("DejaVu", FONT_PATHS[0]))
            pdfmetrics.registerFont(TTFont("DejaVu-Bold", FONT_PATHS[1]))
        return "DejaVu", "DejaVu-Bold"
    except Exception:
        return "Helvetica", "Helvetica-Bold"


class Cancelled(Exception):
    """The user cancelled a long PDF."""


@dataclass(frozen=True)
class PageInfo:
    study: str
    protocol: str
    site: str
    generated: str  # "25/11/2026 10:02 UTC+01:00 by Dr Claire Martin (dr.martin)"
    lang: Lang
    trail: str = ""  # the audit trail's head when the PDF was made: "#1234 3fa2…" (issue 14)
    ca_fingerprint: str = ""  # SHA-256 of the site CA that issued the signer's certificate (what to pin)


@dataclass
class FormPrint:
    """One filled form to print: where it belongs and what to show with it."""

    subject: str
    visit: L
    event_id: str
    form: FormDef
    state: FormState
    status: L
    signatures: list[str] = field(default_factory=list)  # manifestations, valid or invalid
    queries: dict[tuple[str, int, str], int] = field(default_factory=dict)  # open queries per item
    audit: list[tuple[str, str, str, str, str, str]] = field(default_factory=list)  # when, who, what, old, new, why
    verified: dict[tuple[str, int, str], bool] = field(default_factory=dict)  # SDV: True holds, False voided since
    value_labels: dict[str, dict[str, L]] = field(default_factory=dict)  # item -> its codes' names (time points)


@dataclass(frozen=True)
class Cover:
    """The casebook's first page: what it is, whose, made by whom and when, and how to check its signature."""

    title: L  # "Casebook" / "Cahier d'observation", or a visit's
    subject: str
    details: tuple[tuple[L, str], ...]  # (label, value) lines: site, subject, generated, signer, fingerprints


TOC_LINE = 5.4 * mm
TOC_LINES_PER_PAGE = 42


def _t(text: L | str, lang: Lang) -> str:
    return text.get(lang) if isinstance(text, L) else text


class _NumberedCanvas(rl_canvas.Canvas):
    """Knows the page count at the end, for "page x of y" (two passes over the saved page states)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._saved: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._saved.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._saved)
        for state in self._saved:
            self.__dict__.update(state)
            self._draw_page_number(total)
            document = getattr(self, "_msc_document", None)
            if document is not None:  # the table of contents, once every page number is known
                document.draw_toc(self, self._pageNumber)
            super().showPage()
        super().save()

    def _draw_page_number(self, total: int) -> None:
        info = getattr(self, "_msc_info", None)
        regular, _bold = _fonts()
        self.setFont(regular, 8)
        of = "of" if info is None or info.lang is Lang.EN else "sur"
        self.drawRightString(A4[0] - 15 * mm, 10 * mm, f"Page {self._pageNumber} {of} {total}")


class CrfDocument:
    def __init__(self, info: PageInfo, progress: Callable[[int, int], None] | None = None,
                 cancelled: Callable[[], bool] | None = None) -> None:
        self.info = info
        self.progress = progress or (lambda _done, _total: None)
        self.cancelled = cancelled or (lambda: False)
        regular, bold = _fonts()
        self.regular, self.bold = regular, bold
        base = getSampleStyleSheet()
        self.styles = {
            "title": ParagraphStyle("t", parent=base["Title"], fontName=bold, fontSize=15, spaceAfter=4),
            "h2": ParagraphStyle("h2", parent=base["Heading2"], fontName=bold, fontSize=11.5, spaceBefore=8,
                                 spaceAfter=3),
            "body": ParagraphStyle("b", parent=base["BodyText"], fontName=regular, fontSize=9, leading=11.5),
            "small": ParagraphStyle("s", parent=base["BodyText"], fontName=regular, fontSize=7.5, leading=9.5,
                                    textColor=colors.HexColor("#4a5b6c")),
            "cell": ParagraphStyle("c", parent=base["BodyText"], fontName=regular, fontSize=8.5, leading=10.5),
            "cellb": ParagraphStyle("cb", parent=base["BodyText"], fontName=bold, fontSize=8.5, leading=10.5),
        }
        self.current: dict[str, str] = {"subject": "", "visit": "", "form": ""}
        # Table of contents: (level, text, index of the form whose first page it points to), the page each form
        # starts on (recorded while pages are laid out) and the pages kept for it (drawn at the end: one pass).
        self.toc_entries: list[tuple[int, str, int]] = []
        self.form_pages: dict[int, int] = {}
        self.toc_pages: list[int] = []
        # Table cells: plain text (pdf.cells), one style object each, shared by every cell.
        grey = colors.HexColor("#4a5b6c")
        self.cells = {"cell": CellStyle(regular, 8.5, 10.5), "cellb": CellStyle(bold, 8.5, 10.5),
                      "small": CellStyle(regular, 7.5, 9.5, grey), "id": CellStyle(regular, 6.5, 10.5,
                                                                                     colors.HexColor("#7b8794"))}

    # ----- page furniture -------------------------------------------------------------------------------------
    def _on_page(self, canvas: rl_canvas.Canvas, _doc: Any) -> None:
        canvas._msc_info = self.info  # read by _NumberedCanvas
        canvas._msc_document = self if self.toc_entries else None
        width, height = A4
        canvas.saveState()
        canvas.setFont(self.bold, 9)
        canvas.drawString(15 * mm, height - 12 * mm, f"{self.info.study} — {self.info.protocol}")
        canvas.setFont(self.regular, 8)
        canvas.drawRightString(width - 15 * mm, height - 12 * mm, self.info.site)
        lang = self.info.lang
        line = " · ".join(part for part in (
            (L("Subject ", "Patient ").get(lang) + self.current["subject"]) if self.current["subject"] else "",
            self.current["visit"], self.current["form"]) if part)
        canvas.drawString(15 * mm, height - 17 * mm, line)
        canvas.setStrokeColor(colors.HexColor("#d5dbe1"))
        canvas.line(15 * mm, height - 19 * mm, width - 15 * mm, height - 19 * mm)
        canvas.drawString(15 * mm, 10 * mm, L("Generated ", "Généré le ").get(lang) + self.info.generated)
        if self.info.trail or self.info.ca_fingerprint:
            canvas.setFont(self.regular, 5.5)
            canvas.drawString(15 * mm, 6.5 * mm, " · ".join(part for part in (
                L(f"Audit trail {self.info.trail}", f"Piste d'audit {self.info.trail}").get(lang)
                if self.info.trail else "",
                L(f"Site CA SHA-256 {self.info.ca_fingerprint}", f"AC du site SHA-256 {self.info.ca_fingerprint}")
                .get(lang) if self.info.ca_fingerprint else "") if part))
        canvas.restoreState()

    def _build(self, story: list[Any]) -> bytes:
        buffer = io.BytesIO()
        doc = BaseDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=24 * mm,
                              bottomMargin=18 * mm, title=f"{self.info.study} CRF", author=self.info.site,
                              creator="msc-sle-crf")
        frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body")
        # The header is drawn when the page is finished, so it names the form that is on it.
        doc.addPageTemplates([PageTemplate(id="crf", frames=[frame], onPageEnd=self._on_page)])
        with _collector_paused():
            doc.build(story, canvasmaker=_NumberedCanvas)
        return buffer.getvalue()

    def _marker(self, subject: str, visit: str, form: str, index: int | None = None) -> Any:
        """A zero-size flowable that sets the page header for the pages that follow (and notes the page form
        ``index`` starts on, for the table of contents)."""
        from reportlab.platypus.flowables import Flowable

        document = self

        class Marker(Flowable):
            def wrap(self, *_args: Any) -> tuple[float, float]:
                return 0, 0

            def draw(self) -> None:
                document.current = {"subject": subject, "visit": visit, "form": form}
                if index is not None:
                    document.form_pages[index] = self.canv.getPageNumber()

        return Marker()

    def _toc_page(self) -> Any:
        """A page kept for the table of contents (filled in when the document is saved)."""
        from reportlab.platypus.flowables import Flowable

        document = self

        class TocPage(Flowable):
            def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
                return avail_width, avail_height - 1

            def draw(self) -> None:
                document.toc_pages.append(self.canv.getPageNumber())

        return TocPage()

    def _cover(self, cover: Cover, prints: Sequence[FormPrint]) -> list[Any]:
        lang, st = self.info.lang, self.styles
        out: list[Any] = [Spacer(1, 30 * mm), Paragraph(_esc(cover.title.get(lang)), st["title"]),
                          Paragraph(_esc(f"{self.info.study} — {self.info.protocol}"), st["h2"]), Spacer(1, 8 * mm)]
        rows = [[Cell(label.get(lang), self.cells["cellb"]), Cell(value, self.cells["cell"])]
                for label, value in cover.details]
        table = CellTable(rows, colWidths=[55 * mm, 125 * mm])
        table.setStyle(_TABLE)
        out.append(table)
        # the table of contents: one line per visit, one per form (state, first page)
        visits: list[str] = []
        for n, fp in enumerate(prints):
            visit = fp.visit.get(lang)
            if not visits or visits[-1] != visit:
                visits.append(visit)
                self.toc_entries.append((0, visit, n))
            self.toc_entries.append((1, f"{fp.form.label.get(lang)} — {fp.status.get(lang).lower()}", n))
        pages = -(-(len(self.toc_entries) + 2) // TOC_LINES_PER_PAGE)
        for _ in range(pages):
            out += [PageBreak(), self._toc_page()]
        return out

    def draw_toc(self, canvas: rl_canvas.Canvas, page: int) -> None:
        if page not in self.toc_pages:
            return
        part = self.toc_pages.index(page)
        lang = self.info.lang
        width, height = A4
        y = height - 32 * mm
        if part == 0:
            canvas.setFont(self.bold, 13)
            canvas.drawString(15 * mm, y, L("Contents", "Sommaire").get(lang))
            y -= 2 * TOC_LINE
        first = 0 if part == 0 else part * TOC_LINES_PER_PAGE - 2
        last = (part + 1) * TOC_LINES_PER_PAGE - 2
        for line, (level, text, index) in enumerate(self.toc_entries[first:last], start=first):
            canvas.setFont(self.bold if level == 0 else self.regular, 9.5 if level == 0 else 9)
            canvas.drawString((15 + 6 * level) * mm, y, text[:95])
            number = self.form_pages.get(index)
            if number is not None:
                canvas.drawRightString(width - 15 * mm, y, str(number))
                canvas.linkRect("", f"form{index}", (15 * mm, y - 1.5 * mm, width - 15 * mm, y + 3.5 * mm),
                                name=f"tocLink{line}")
            y -= TOC_LINE

    # ----- filled forms -------------------------------------------------------------------------------------------
    def forms(self, prints: Sequence[FormPrint], cover: Cover | None = None) -> bytes:
        """Filled forms; with ``cover``, a cover page and a table of contents with page numbers come first."""
        story: list[Any] = self._cover(cover, prints) if cover is not None else []
        lang = self.info.lang
        for n, fp in enumerate(prints):
            if self.cancelled():
                raise Cancelled
            self.progress(n, len(prints))
            if n or cover is not None:
                story.append(PageBreak())
            form_name = f"{fp.form.label.get(lang)} (v{fp.form.version})"
            story.append(self._marker(fp.subject, fp.visit.get(lang), form_name, n if cover is not None else None))
            if cover is not None:
                story.append(_Anchor(f"form{n}"))
            story += self._form(fp)
        self.progress(len(prints), len(prints))
        return self._build(story)

    def _value(self, fp: FormPrint, item: Item, key: tuple[str, int, str]) -> tuple[str, list[str]]:
        lang = self.info.lang
        cell = fp.state.cell(key)
        flags: list[str] = []
        if item.calc:
            text = V.display(item, fp.state.value(key), lang)
        elif cell.missing is not None:
            text = cell.missing.label(lang)
            flags.append(L("reason: ", "motif : ").get(lang) + (cell.missing_reason or ""))
        else:
            text = V.display(item, cell.value, lang, fp.state.codelist(item.id))  # labels; codes: annotated CRF
        named = fp.value_labels.get(item.id, {}).get(text)
        if named is not None:  # a code the program wrote ("END"): its name
            text = named.get(lang)
        unit = cell.unit or item.unit
        if text and unit and item.type in (ItemType.INTEGER, ItemType.DECIMAL):
            text = f"{text} {unit}"
        for issue in cell.issues:
            if issue.severity is Severity.SOFT and issue.confirmed:
                flags.append(L("confirmed: ", "confirmé : ").get(lang) + issue.message.get(lang))
        sdv = fp.verified.get(key)
        if sdv is not None:
            flags.append(L("SDV ✓ source-verified", "SDV ✓ vérifié sur source").get(lang) if sdv else
                         L("SDV void: changed after verification", "SDV annulée : modifié après vérification")
                         .get(lang))
        if fp.queries.get(key):
            flags.append(L(f"{fp.queries[key]} open query(ies)", f"{fp.queries[key]} query(ies) ouverte(s)").get(lang))
        return text, flags

    def _form(self, fp: FormPrint) -> list[Any]:
        lang, st = self.info.lang, self.styles
        out: list[Any] = [Paragraph(fp.form.label.get(lang), st["title"]),
                          Paragraph(L(f"Subject {fp.subject} · {fp.visit.en} · form version {fp.form.version}"
                                      f" · state: {fp.status.en.lower()}",
                                      f"Patient {fp.subject} · {fp.visit.fr} · version du formulaire "
                                      f"{fp.form.version} · état : {fp.status.fr.lower()}").get(lang), st["body"])]
        for sig in fp.signatures:
            out.append(Paragraph("<b>" + L("Electronic signature: ", "Signature électronique : ").get(lang)
                                 + "</b>" + _esc(sig), st["body"]))
        for group in fp.form.groups:
            rows = fp.state.rows[group.id]
            out.append(Paragraph(group.label.get(lang), st["h2"]))
            if group.repeating and not rows:
                out.append(Paragraph(L("No rows.", "Aucune ligne.").get(lang), st["small"]))
            for row in rows:
                cs = self.cells
                data = [[Cell(L("Item", "Élément").get(lang), cs["cellb"]),
                         Cell(L("Value", "Valeur").get(lang), cs["cellb"]),
                         Cell(L("Flags", "Remarques").get(lang), cs["cellb"])]]
                for item in group.items:
                    key = (group.id, row, item.id)
                    if not fp.state.visible(key):
                        continue
                    text, flags = self._value(fp, item, key)
                    data.append([Cell(item.label.get(lang), cs["cell"]),  # no item code for clinical readers
                                 Cell(text or "—", cs["cell"]),
                                 Cell("\n".join(flags), cs["small"])])
                table = CellTable(data, colWidths=[68 * mm, 50 * mm, 62 * mm], repeatRows=1, splitByRow=True,
                                  splitInRow=1)
                table.setStyle(_TABLE)
                if group.repeating:
                    out.append(Paragraph(f"#{rows.index(row) + 1}", st["small"]))
                out.append(table)
                out.append(Spacer(1, 3 * mm))
        if fp.audit:
            out.append(PageBreak())
            out.append(Paragraph(L("Audit trail of this form", "Piste d'audit de ce formulaire").get(lang),
                                 st["h2"]))
            cs = self.cells
            data = [[Cell(h, cs["cellb"]) for h in (L("When", "Quand").get(lang), L("Who", "Qui").get(lang),
                                                    L("What", "Quoi").get(lang), L("Old", "Ancien").get(lang),
                                                    L("New", "Nouveau").get(lang), L("Why", "Motif").get(lang))]]
            data += [[Cell(c, cs["small"]) for c in record] for record in fp.audit]
            table = CellTable(data, colWidths=[27 * mm, 28 * mm, 22 * mm, 33 * mm, 33 * mm, 37 * mm],
                              repeatRows=1, splitInRow=1)
            table.setStyle(_TABLE)
            out.append(table)
        return out

    # ----- blank annotated CRF ----------------------------------------------------------------------------------
    def blank(self, study: StudyDef) -> bytes:
        lang, st = self.info.lang, self.styles
        story: list[Any] = [Paragraph(L("Annotated CRF", "CRF annoté").get(lang) + f" — {study.meta.name}",
                                      st["title"]),
                            Paragraph(study.meta.title.get(lang), st["body"])]
        events = ", ".join(f"{e.id} ({e.label.get(lang)}): " + ", ".join(e.forms) for e in study.meta.events)
        story.append(Paragraph(_esc(L("Visits and forms: ", "Visites et formulaires : ").get(lang) + events),
                               st["small"]))
        forms = list(study.forms.values())
        for n, form in enumerate(forms):
            if self.cancelled():
                raise Cancelled
            self.progress(n, len(forms))
            story.append(PageBreak())
            story.append(self._marker("", "", f"{form.label.get(lang)} (v{form.version})"))
            story.append(Paragraph(f"{_esc(form.label.get(lang))} <font size=9>[{form.id} v{form.version}, "
                                   f"{form.entry}]</font>", st["title"]))
            for group in form.groups:
                story.append(Paragraph(f"{_esc(group.label.get(lang))} <font size=8 color='#7b8794'>[{group.id}"
                                       f"{', repeating' if group.repeating else ''}]</font>", st["h2"]))
                data = [[Paragraph(h, st["cellb"]) for h in ("ID", L("Label", "Libellé").get(lang), "Type",
                                                             L("Checks and codes", "Contrôles et codes").get(lang))]]
                for item in group.items:
                    data.append([Paragraph(item.id, st["cellb"]), Paragraph(_esc(item.label.get(lang)), st["cell"]),
                                 Paragraph(_esc(_type(item)), st["small"]),
                                 Paragraph(_esc(_annotations(form, study, item, lang)), st["small"])])
                table = Table(data, colWidths=[20 * mm, 58 * mm, 30 * mm, 72 * mm], repeatRows=1,
                          splitInRow=1)
                table.setStyle(_TABLE)
                story.append(table)
        self.progress(len(forms), len(forms))
        return self._build(story)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector paused while the pages are laid out and drawn: reportlab makes a few hundred thousand
    short-lived objects for a casebook, and the collector's passes over them were ~10% of its drawing. What the build
    leaves with cycles is collected afterwards, as usual (the pause is short: under a second)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Anchor(Spacer):
    """A named destination (the table of contents links to it)."""

    def __init__(self, name: str) -> None:
        super().__init__(0, 0)
        self.name = name

    def draw(self) -> None:
        self.canv.bookmarkPage(self.name)


_TABLE = TableStyle([
    ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#c9d1d9")),
    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f6")),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
])


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _type(item: Item) -> str:
    text = item.type.value
    if item.precision is not None:
        text += f" ({item.precision} dp)"
    if item.max_length:
        text += f" (max {item.max_length})"
    if item.unit:
        text += f", {item.unit}"
    if item.alt_units:
        text += " | " + ", ".join(f"{a.unit} x{a.factor}" for a in item.alt_units)
    return text


def _annotations(form: FormDef, study: StudyDef, item: Item, lang: Lang) -> str:
    parts = []
    if item.required:
        parts.append(L("required", "obligatoire").get(lang))
    for name in ("hard_min", "hard_max", "soft_min", "soft_max"):
        value = getattr(item, name)
        if value is not None:
            parts.append(f"{name} {value}")
    if item.missing:
        parts.append("missing: " + "/".join(m.value for m in item.missing))
    if item.date_rules:
        parts.append(", ".join(r.value for r in item.date_rules))
    if item.calc:
        parts.append(f"calc {item.calc.function}({', '.join(item.calc.inputs)})")
    if item.show_if:
        parts.append("show if " + ", ".join(sorted(item.show_if.items())))
    codelist = form.codelist_for(item, dict(study.meta.codelists))
    if codelist is not None:
        parts.append("; ".join(f"{c.code}={c.label.get(lang)}" for c in codelist.items))
    return " · ".join(parts)


__all__ = ["Cancelled", "Cover", "CrfDocument", "FormPrint", "KeepTogether", "PageInfo"]
