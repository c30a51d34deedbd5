"""The subject dashboard: every visit with its target date, window and state, its forms with their state, and every
score of the subject (eligibility, primary endpoint, response, per-visit scores) with the rule used."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from msc_sle_crf.errors import CrfError
from msc_sle_crf.formdef.definitions import StudyDef
from msc_sle_crf.i18n import Lang, current_lang
from msc_sle_crf.schedule import VisitState
from msc_sle_crf.scoring.common import ScoreResult, rule_text, score_label
from msc_sle_crf.scoring.ctcae import soc_label
from msc_sle_crf.scoring.subject import SubjectScores
from msc_sle_crf.scoring.toxicity import View
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.services.monitoring import FormMarks
from msc_sle_crf.services.overview import SubjectOverview
from msc_sle_crf.services.workspace import Workspace
from msc_sle_crf.status import FormStatus
from msc_sle_crf.ui import handover_dialog as handover
from msc_sle_crf.ui.common import error_text, named, status_colour, tr
from msc_sle_crf.ui.form import FormWindow
from msc_sle_crf.ui.lock_screen import SessionStrip
from msc_sle_crf.ui.ops import Ops
from msc_sle_crf.ui.owner_note import OwnerNote
from msc_sle_crf.ui.window_policy import NoDefaultButtonDialog, fit_when_shown


def marks_text(marks: FormMarks) -> str:
    """A form's (or visit's) monitoring marks in a few characters: queries to deal with, SDV progress."""
    parts = []
    pending = marks.open_queries + marks.answered_queries
    if pending:
        parts.append(f"{pending} query" if pending == 1 else f"{pending} queries")  # the word in both languages
    if marks.items:
        parts.append(f"SDV {marks.verified}/{marks.items}" + (" ✓" if marks.verified == marks.items else ""))
    return " · ".join(parts)


STATE_COLORS = {VisitState.DONE: "#2e7d32", VisitState.DONE_OUT_OF_WINDOW: "#b26a00", VisitState.OVERDUE: "#b00020",
                VisitState.DUE: "#1f5fa8", VisitState.IN_PROGRESS: "#1f5fa8", VisitState.UPCOMING: "#5f6b76",
                VisitState.TO_DO: "#1f5fa8"}
# The scores of the by-visit table, in order (their names come with the results: ScoreResult.label).
ROWS = ("selena_sledai", "pga", "bilag_total", "bilag_count_A", "sri4", "prednisone_mean", "steroid_reduction",
        "eq5d_lss", "sf36_physical_functioning", "sf36_emotional_wellbeing")


def _value(result: ScoreResult | None) -> str:
    if result is None:
        return "—"
    if not result.computable:
        return f'<span style="color:#8a94a0" title="{html.escape(result.text())}">n.c.</span>'
    return html.escape(result.text(current_lang()))


def _verdict(result: ScoreResult | None, yes: tuple[str, str], no: tuple[str, str]) -> str:
    if result is None:
        return "—"
    if not result.computable:
        return f'<span style="color:#5f6b76">{html.escape(result.text(current_lang()))}</span>'
    text, color = (tr(*yes), "#b00020") if result.value else (tr(*no), "#2e7d32")
    return f'<b style="color:{color}">{html.escape(text)}</b>'


def _eligibility_html(result: ScoreResult | None) -> str:
    parts = [f"<h3>{tr('Eligibility (screening)', 'Éligibilité (sélection)')}</h3>"]
    if result is None:
        parts.append(f"<p>{tr('Screening not entered yet.', 'Sélection non saisie.')}</p>")
        return "".join(parts)
    verdict = (tr("Eligible", "Éligible") if result.value else tr("Not eligible", "Non éligible")
               ) if result.computable else tr("Not decided yet", "Pas encore déterminée")
    color = "#2e7d32" if result.value else "#b00020" if result.computable else "#b26a00"
    confirms = tr("the investigator confirms", "l'investigateur confirme")
    parts.append(f'<p><b style="color:{color}">{html.escape(verdict)}</b> — {confirms}</p><table>')
    marks = {"failed": ("✕", "#b00020"), "unknown": ("?", "#b26a00")}
    for p in result.breakdown:  # what needs attention first, in full
        if p.value in marks:
            mark, mark_color = marks[str(p.value)]
            parts.append(f'<tr><td style="color:{mark_color}"><b>{mark}</b></td><td>{html.escape(p.label.get())}'
                         "</td></tr>")
    parts.append("</table>")
    met = [p.label.get() for p in result.breakdown if p.value == "met"]
    if met:
        parts.append(f'<p style="color:#5f6b76; font-size:9.5pt">✓ {len(met)} '
                     f'{tr("criteria met", "critères remplis")}: ' + html.escape("; ".join(met)) + "</p>")
    return "".join(parts)


def toxicity_html(scores: SubjectScores) -> str:
    """Each toxicity window begun so far: maximum CTCAE grade (all events, related), serious events, decided or why
    not yet."""
    begun = scores.begun()
    if not begun:
        return ""
    rows = [f"<h3>{tr('Toxicity by window (maximum CTCAE grade)', 'Toxicité par fenêtre (grade CTCAE maximal)')}"
            f"</h3><table><tr><th></th><th>{tr('All events', 'Tous les EI')}</th><th>{tr('Related', 'Liés')}</th>"
            f"<th>{tr('Serious', 'Graves')}</th><th></th></tr>"]

    def grade(view: View) -> str:  # a grade that makes the window "not tolerated" stands out
        return f'<b style="color:#b00020">{view.max_grade}</b>' if view.drivers else str(view.max_grade)

    for t in begun:
        state = tr("decided", "évaluée") if t.all.decided else html.escape(
            t.all.reason.get() if t.all.reason else tr("not decided yet", "pas encore évaluée"))
        socs = ", ".join(f"{html.escape(soc_label(soc).get())} {g}" for soc, g in sorted(t.all.by_soc.items()))
        rows.append(f"<tr><td>{html.escape(t.window.label.as_l().get())}</td><td>{grade(t.all)}</td>"
                    f"<td>{grade(t.related)}</td><td>{len(t.serious)}</td><td style='color:#5f6b76'>{state}"
                    + (f"<br>{socs}" if socs else "") + "</td></tr>")
    rows.append("</table>")
    return "".join(rows)


def scores_html(overview: SubjectOverview, study: StudyDef) -> str:
    scores = overview.scores
    parts = ['<style>td, th { padding: 3px 8px; } th { text-align: left; background: #eef2f6; }</style>']
    eligibility = _eligibility_html(scores.overall.get("eligibility"))
    if scores.day0 is None:  # before the infusion, eligibility is the question
        parts.append(eligibility)
    parts.append(f"<h3>{tr('Primary endpoint: tolerance D0-D10', 'Critère principal : tolérance J0-J10')}</h3><table>")
    for key, label in (("not_tolerated_all", tr("All adverse events", "Tous les événements indésirables")),
                       ("not_tolerated_related", tr("Related to the cells", "Liés aux cellules"))):
        result = scores.overall.get(key)
        verdict = _verdict(result, ("Not tolerated", "Non tolérée"), ("Tolerated", "Tolérée"))
        drivers = ", ".join(html.escape(p.label.get()) for p in result.breakdown) if result else ""
        parts.append(f"<tr><td>{label}</td><td>{verdict}</td><td>{drivers}</td></tr>")
    parts.append("</table>")
    parts.append(toxicity_html(scores))
    parts.append(f"<h3>{tr('Clinical response', 'Réponse clinique')}</h3><table>")
    for key in ("mcr", "pcr"):
        result = scores.overall.get(key)
        parts.append(f"<tr><td>{html.escape(score_label(key).get())}</td><td>{_value(result)}</td></tr>")
    parts.append("</table>")
    shown = (study.bindings.baseline_visit, *study.bindings.follow_up_visits)
    visits = [v for v in shown if v in scores.per_visit]
    if visits:
        parts.append(f"<h3>{tr('Scores by visit', 'Scores par visite')}</h3><table><tr><th></th>"
                     + "".join(f"<th>{html.escape(study.event(v).label.get())}</th>" for v in visits) + "</tr>")
        for key in ROWS:
            if not any(key in scores.per_visit[v] for v in visits):
                continue
            parts.append(f"<tr><td>{html.escape(score_label(key).get())}</td>"
                         + "".join(f"<td>{_value(scores.per_visit[v].get(key))}</td>" for v in visits) + "</tr>")
        parts.append("</table>")
    if scores.day0 is not None:
        parts.append(eligibility)
    rules = sorted({r.rule for v in scores.per_visit.values() for r in v.values() if not r.name.startswith("sf36")}
                   | {r.rule for r in scores.overall.values()})
    parts.append(f"<h4>{tr('Rules used', 'Règles utilisées')}</h4><p style='color:#5f6b76; font-size:9pt'>"
                 + "<br>".join(html.escape(rule_text(r)) for r in rules) + "</p>")
    return "".join(parts)


class CasebookDialog(NoDefaultButtonDialog):
    """Non-modal: the bedside and the forms it opens stay usable beside it. Shows who is signed in (Lock button);
    fits a 1280 x 800 screen."""

    form_opened = Signal(object)  # FormWindow, BedsideWindow
    lock_requested = Signal()

    def __init__(self, ws: Workspace, subject: str, parent: QWidget | None = None, *, ops: Ops | None = None) -> None:
        super().__init__(parent)
        self.ws = ws
        self.ops = ops if ops is not None else Ops(self)
        self.entry = ws.entry
        study = ws.study
        self.study = study
        self.subject = subject
        self.overview_service = self.ws.overview
        self.ops.data_changed.connect(self._on_changes)
        self.resize(1240, 740)
        self._fitted = False
        layout = QVBoxLayout(self)
        self.session = SessionStrip()
        self.session.lock_requested.connect(self.lock_requested.emit)
        layout.addWidget(self.session)
        head = QHBoxLayout()
        self.title = named(QLabel(), "title")
        head.addWidget(self.title)
        head.addStretch(1)
        self.next_label = named(QLabel(), "subtitle")
        head.addWidget(self.next_label)
        layout.addLayout(head)
        actions = QHBoxLayout()  # a row of its own: the window stays within a laptop screen
        self.lock_button = named(QPushButton(), "lockSubject")
        self.lock_button.clicked.connect(self.toggle_subject_lock)
        self.print_button = named(QPushButton(), "printCasebook")
        self.print_button.clicked.connect(lambda _checked=False: self.print_casebook())
        self.print_visit_button = named(QPushButton(), "printVisit")
        self.print_visit_button.clicked.connect(lambda _checked=False: self.print_visit())
        self.print_visit_button.setEnabled(False)
        self.bedside_button = named(QPushButton(), "primary")
        self.bedside_button.clicked.connect(self.open_bedside)
        self.verify_all_button = named(QPushButton(), "verifyAll")
        self.verify_all_button.clicked.connect(lambda _checked=False: self.verify_selected_form())
        self.verify_all_button.setEnabled(False)
        self.handover_button = named(QPushButton(), "handOver")  # issue 18: ui/handover_dialog.py
        self.handover_button.clicked.connect(lambda _checked=False: self.hand_over())
        actions.addStretch(1)
        for button in (self.verify_all_button, self.handover_button, self.lock_button, self.print_visit_button,
                       self.print_button, self.bedside_button):
            # No default button: Enter on a form of the tree opens it and nothing else (a dialog makes its first
            # push button the default, and Enter then also pressed "Lock the subject").
            button.setAutoDefault(False)
            button.setDefault(False)
            actions.addWidget(button)
        layout.addLayout(actions)
        self.hint = named(QLabel(), "subtitle")
        layout.addWidget(self.hint)
        self.owner_note = OwnerNote()  # which workstation enters this subject (issue 18)
        layout.addWidget(self.owner_note)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        self.tree = named(QTreeWidget(), "casebook")
        self.tree.setColumnCount(4)
        # the names take what is left (elided, whole in their tooltip): dates, states and marks are never cut
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3):
            self.tree.header().setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setMinimumSectionSize(60)
        self.tree.setMinimumWidth(560)
        self.tree.setStyleSheet("QTreeWidget { font-size: 11pt; } QTreeWidget::item { min-height: 30px; }")
        self.tree.itemActivated.connect(self._open)
        self.tree.currentItemChanged.connect(self._selection_changed)
        splitter.addWidget(self.tree)
        self.scores = named(QTextBrowser(), "scores")
        self.scores.setStyleSheet("QTextBrowser { font-size: 10.5pt; background: white; }")
        splitter.addWidget(self.scores)
        splitter.setSizes([760, 480])
        layout.addWidget(splitter, 1)
        for button in self.findChildren(QPushButton):  # the session strip's Lock button too
            button.setAutoDefault(False)
            button.setDefault(False)
        self.retranslate()

    def toggle_subject_lock(self, reason: str | None = None) -> None:
        """End of study: lock every form of the subject (all signed), or unlock with a reason."""
        from PySide6.QtWidgets import QInputDialog

        lifecycle = self.ws.lifecycle
        if self.subject_locked:
            if reason is None:
                reason, ok = QInputDialog.getText(self, tr("Unlock the subject", "Déverrouiller le patient"),
                                                  tr("Reason for unlocking", "Motif du déverrouillage"))
                if not ok:
                    return
            why = reason or ""
            self.ops.run(lambda: lifecycle.unlock_subject(self.subject, why), parent=self, title=self.windowTitle())
        else:
            from PySide6.QtWidgets import QMessageBox

            asked = QMessageBox.question(
                self, tr("Lock the subject", "Verrouiller le patient"),
                tr(f"Lock subject {self.subject}? Every form becomes read-only; unlocking needs a reason.",
                   f"Verrouiller le patient {self.subject} ? Tous ses formulaires passent en lecture seule ; le "
                   "déverrouillage demande un motif."),
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
            if asked != QMessageBox.StandardButton.Yes:
                return
            self.ops.run(lambda: lifecycle.lock_subject(self.subject), parent=self, title=self.windowTitle())

    def hand_over(self) -> Any:
        self.handover_dialog = handover.open_handover(self.ws, self.ops, self.subject, self)
        return self.handover_dialog

    def _on_changes(self, changes: Changes) -> None:
        """A write anywhere (a form, the bedside, a query): redraw when it touched this subject."""
        if changes.touches(self.subject) and not self.ws.locked:
            self.refresh()

    def print_casebook(self, target: Any = None) -> Any:
        """The subject's casebook as a signed PDF, made in the background (progress, cancel)."""
        from msc_sle_crf.ui.printing import ask_path, pdf_name, print_casebook

        path = target or ask_path(self, pdf_name(self.ws, self.subject))
        if path is None:
            return None
        self.print_job = print_casebook(self, self.ws, self.subject, path, offer_open=target is None)
        return self.print_job

    def selected_visit(self) -> str | None:
        """The visit of the selected line (a visit, or one of its forms)."""
        current = self.tree.currentItem()
        if current is None:
            return None
        top = current.parent() or current
        event = top.data(0, Qt.ItemDataRole.UserRole + 1)
        return event if isinstance(event, str) else None

    def print_visit(self, target: Any = None) -> Any:
        """The selected visit's forms as one signed PDF (cover, contents, each form with its audit trail)."""
        from msc_sle_crf.ui.printing import ask_path, pdf_name, print_casebook

        event = self.selected_visit()
        if event is None:
            return None
        path = target or ask_path(self, pdf_name(self.ws, self.subject, event))
        if path is None:
            return None
        self.print_job = print_casebook(self, self.ws, self.subject, path, event=event, offer_open=target is None)
        return self.print_job

    def open_bedside(self) -> None:
        """The bedside in a window with no parent (nothing blocks it); one per subject: an open one comes to the
        front."""
        from msc_sle_crf.ui.bedside import BedsideWindow

        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, BedsideWindow) and widget.subject == self.subject and not widget._closed:
                widget.show()
                widget.raise_()
                widget.activateWindow()
                return
        window = BedsideWindow(self.ws, self.subject, None, ops=self.ops)
        self.form_opened.emit(window)
        window.show()

    def showEvent(self, event: QShowEvent) -> None:
        """Within the screen (title bar included)."""
        super().showEvent(event)
        if not self._fitted:
            self._fitted = True
            fit_when_shown(self, 1240, 760)

    def retranslate(self) -> None:
        self.setWindowTitle(tr(f"Subject {self.subject}", f"Patient {self.subject}") + f" — {self.ws.actor.full_name}")
        self.session.show_user(self.ws.actor.full_name, self.ws.actor.role)
        self.bedside_button.setText(tr("Infusion day (bedside)…", "Jour de perfusion (chevet)…"))
        self.print_button.setText(tr("Print the casebook (signed PDF)…", "Imprimer le cahier (PDF signé)…"))
        self.print_visit_button.setText(tr("Print this visit…", "Imprimer cette visite…"))
        from msc_sle_crf.access import Perm

        self.bedside_button.setVisible(self.ws.can(Perm.ENTER_NURSING_DATA))
        self.verify_all_button.setText(tr("Verify all items of this form…", "Vérifier toutes les données du "
                                          "formulaire…"))
        self.verify_all_button.setVisible(self.ws.can(Perm.VERIFY_SOURCE_DATA))
        self.print_button.setVisible(self.ws.can(Perm.PRINT))
        self.print_visit_button.setVisible(self.ws.can(Perm.PRINT))
        self.hint.setText(tr("Double-click or press Enter on a form to open it.",
                             "Double-cliquez ou appuyez sur Entrée sur un formulaire pour l'ouvrir."))
        self.tree.setHeaderLabels([tr("Visit / form", "Visite / formulaire"), tr("Target (window)", "Cible (fenêtre)"),
                                   tr("State", "État"), tr("Queries · SDV", "Queries · SDV")])
        self.refresh()

    def refresh(self) -> None:
        overview = self.overview_service.subject(self.subject)
        s = overview.subject
        from msc_sle_crf.access import Perm

        self.subject_locked = s.status == "locked"
        self.lock_button.setText(tr("Unlock the subject…", "Déverrouiller le patient…") if self.subject_locked
                                 else tr("Lock the subject", "Verrouiller le patient"))
        self.lock_button.setVisible(self.ws.can(Perm.LOCK_FORMS))
        self.title.setText(tr(f"Subject {s.subject_number} · {s.initials} · born {s.birth_year} · {s.sex}",
                              f"Patient {s.subject_number} · {s.initials} · né(e) en {s.birth_year} · {s.sex}"))

        owned = self.owner_note.show_for(self.ws, s.owner_ws, self.bedside_button)
        handover.show_button(self.handover_button, self.ws, owned)

        open_queries = self.ws.monitoring.open_counts().get(self.subject, 0)
        self.next_label.setText(tr("Next action: ", "Prochaine action : ") + overview.next_action.get()
                                + (tr(f" · {open_queries} open query(ies)", f" · {open_queries} query(ies) ouverte(s)")
                                   if open_queries else ""))
        tops = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        expanded = {top.text(0): top.isExpanded() for top in tops if top is not None}
        current = self.tree.currentItem()
        selected = (current.data(0, Qt.ItemDataRole.UserRole) or current.data(0, Qt.ItemDataRole.UserRole + 1)
                    if current is not None else None)
        self.tree.clear()
        plans = {p.event: p for p in overview.plans}
        marks = self.ws.monitoring.form_marks(self.subject)
        for event in self.study.meta.events:
            p = plans.get(event.id)
            target = ""
            state = ""
            if p is not None:
                if p.target is not None and p.window is not None:
                    target = f"{p.target:%d/%m/%Y} ({p.window[0]:%d/%m} – {p.window[1]:%d/%m})"
                state = p.state.label().get()
            visit_marks = [m for (e, _f), m in marks.items() if e == event.id]
            top = QTreeWidgetItem([event.label.get(), target, state, marks_text(FormMarks(
                sum(m.open_queries for m in visit_marks), sum(m.answered_queries for m in visit_marks),
                sum(m.items for m in visit_marks), sum(m.verified for m in visit_marks)))])
            font = top.font(0)
            font.setBold(True)
            top.setFont(0, font)
            top.setData(0, Qt.ItemDataRole.UserRole + 1, event.id)
            if p is not None:
                top.setForeground(2, QBrush(QColor(STATE_COLORS[p.state])))
            self.tree.addTopLevelItem(top)
            for form_id in event.forms:
                form = self.study.forms[form_id]
                status = overview.statuses.get((event.id, form_id), "not_started")
                form_marks = marks.get((event.id, form_id), FormMarks())
                child = QTreeWidgetItem([form.label.get(), "", FormStatus.of(status).label(), marks_text(form_marks)])
                child.setData(0, Qt.ItemDataRole.UserRole, (event.id, form_id))
                child.setToolTip(0, form.label.get())
                child.setForeground(2, QBrush(QColor(status_colour(status))))
                if not owned and status == "not_started":  # started on the owning workstation only
                    child.setForeground(0, QBrush(QColor("#8a96a3")))
                    child.setToolTip(0, tr(f"{form.label.get()}: started on {s.owner_ws} only",
                                           f"{form.label.get()} : commencé sur {s.owner_ws} seulement"))
                if form_marks.open_queries or form_marks.answered_queries:
                    child.setForeground(3, QBrush(QColor("#b26a00")))
                elif form_marks.items and form_marks.verified == form_marks.items:
                    child.setForeground(3, QBrush(QColor("#00796b")))
                top.addChild(child)
            top.setExpanded(expanded.get(top.text(0), p is None or p.state is not VisitState.UPCOMING))
            for item in (top, *(top.child(i) for i in range(top.childCount()))):  # the same line stays selected
                if item is not None and selected is not None and selected in (item.data(0, Qt.ItemDataRole.UserRole),
                                                         item.data(0, Qt.ItemDataRole.UserRole + 1)):
                    self.tree.setCurrentItem(item)
        self.scores.setHtml(scores_html(overview, self.study))

    def _selection_changed(self, current: QTreeWidgetItem | None, _previous: object = None) -> None:
        self.verify_all_button.setEnabled(bool(current is not None and current.data(0, Qt.ItemDataRole.UserRole)))
        self.print_visit_button.setEnabled(self.selected_visit() is not None)

    def selected_form(self) -> FormRef | None:
        current = self.tree.currentItem()
        data = current.data(0, Qt.ItemDataRole.UserRole) if current is not None else None
        return FormRef(self.subject, *data) if data else None

    def verify_selected_form(self, *, ask: bool = True) -> Changes | None:
        """Source-data verification of every item of the selected form with a value, after a question that names the
        queries still open on it (asked inside this window: nothing else is blocked; "No" is the default)."""
        ref = self.selected_form()
        if ref is None:
            return None
        if not ask:
            return self._verify_form(ref)
        box = QMessageBox(QMessageBox.Icon.Question, self.verify_all_button.text().rstrip("…"),
                          self.verify_question(ref), QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                          self)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.finished.connect(lambda _result: self._verify_form(ref)
                             if box.clickedButton() is box.button(QMessageBox.StandardButton.Yes) else None)
        self.verify_box = box
        box.open()
        return None

    def _verify_form(self, ref: FormRef) -> Changes | None:
        monitoring = self.ws.monitoring
        return self.ops.run(lambda: monitoring.verify_form(ref), parent=self,
                            title=tr("Source-data verification", "Vérification des données source"))

    def verify_question(self, ref: FormRef) -> str:
        from msc_sle_crf.ui.worklist import item_place, query_state

        form = self.study.forms[ref.form]
        marks = self.ws.monitoring.form_marks(ref.subject).get((ref.event, ref.form), FormMarks())
        to_verify = marks.items - marks.verified
        where = f"« {form.label.get()} » — {self.study.event(ref.event).label.get()}"
        text = tr(f"Verify against the source the {to_verify} item(s) not verified yet of {where}?",
                  f"Vérifier par rapport à la source les {to_verify} donnée(s) pas encore vérifiée(s) de "
                  f"{where}\u00a0?")
        if current_lang() is Lang.EN:
            where = where.replace("« ", "“").replace(" »", "”")
            text = text.replace("« ", "“").replace(" »", "”")
        pending = [q for q in self.ws.monitoring.queries(ref) if q.status != "closed"]
        if pending:
            text += "\n\n" + tr(f"{len(pending)} query(ies) still open on this form:",
                                 f"{len(pending)} query(ies) encore ouverte(s) sur ce formulaire :")
            for q in pending:
                text += f"\n• {item_place(self.ws, ref, q.key)} — {query_state(q.status)}"
        return text

    def _open(self, item: QTreeWidgetItem) -> None:
        data = item.data(0, Qt.ItemDataRole.UserRole)
        if not data:
            return
        event_id, form_id = data
        try:
            window = FormWindow(self.ws, FormRef(self.subject, event_id, form_id), self, ops=self.ops)
        except CrfError as exc:
            QMessageBox.warning(self, tr("Open form", "Ouvrir le formulaire"), error_text(exc))
            return
        self.form_opened.emit(window)
        window.show()  # non-modal: the casebook and the bedside stay usable
