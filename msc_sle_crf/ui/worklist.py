"""The monitor's worklist: every query not closed across subjects (how old, its state, who must act; a double-click
opens the form at the item with its queries), and source-data verification progress per subject and visit (a
double-click opens the subject's casebook).

Non-modal, one per main window (Study menu). It reads through ``ws.monitoring`` and redraws from the change records
of ``ops`` (a query answered or closed anywhere updates it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from msc_sle_crf.access import Perm
from msc_sle_crf.errors import CrfError
from msc_sle_crf.formdef.definitions import FormDef
from msc_sle_crf.formdef.engine import CellKey
from msc_sle_crf.i18n import L, Lang, current_lang
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.services.monitoring import ANSWERED, CLOSED, OPEN, WorkItem
from msc_sle_crf.services.workspace import Workspace
from msc_sle_crf.trail_words import Side, conflict_text, warning_text
from msc_sle_crf.ui.common import error_text, named, tr
from msc_sle_crf.ui.ops import Ops
from msc_sle_crf.ui.window_policy import fit_when_shown

_CONFLICT_STORED = "Conflict between workstations:"  # how the import writes a conflict's automatic query (English)

QUERY_STATES = {OPEN: L("Open", "Ouverte"), ANSWERED: L("Answered", "Répondue"), CLOSED: L("Closed", "Close")}


QUERY_STEPS = {"open": L("opened", "ouverture"), "answer": L("answered", "réponse"), "close": L("closed", "clôture"),
               "reopen": L("re-opened", "réouverture"), "auto": L("opened automatically", "ouverture automatique")}


def query_step(kind: str) -> str:
    label = QUERY_STEPS.get(kind)
    return label.get() if label is not None else kind


def query_state(status: str) -> str:
    """A query's state in the user's language (never the stored code)."""
    label = QUERY_STATES.get(status)
    return label.get() if label is not None else status


def _said(w: WorkItem, form: FormDef | None, conflicts: Mapping[int, tuple[Side, Side]] | None = None,
          offset_min: int = 0) -> str:
    """A query's last text; an automatic one's warning (stored in English) in the reader's language; a conflict's
    automatic query said from its stored facts, in local time, as the query window says it (``conflicts``: the
    form's conflicts by id, ``ui/form/conflicts.by_id``)."""
    if not w.automatic or form is None:
        return w.last_text
    if conflicts and w.id in conflicts and w.last_text.startswith(_CONFLICT_STORED):
        from msc_sle_crf.ui.form.conflicts import value_text as conflict_values  # ui.form imports this module

        try:
            value_text: Any = conflict_values(form.item(w.key[2]))
        except KeyError:
            value_text = None
        return conflict_text(*conflicts[w.id], current_lang(), offset_min, value_text)
    return warning_text(w.last_text, current_lang(), {i.label.en: i.label.as_l() for i in form.all_items()})


def item_place(ws: Workspace, ref: FormRef, key: CellKey) -> str:
    """Where a query is, in words: the item's name (and its row in a repeating section)."""
    try:
        form = ws.study.forms[ref.form]
        group = form.group_of(key[2])
        label = form.item(key[2]).label.get()
    except KeyError:
        return key[2]
    if not group.repeating:
        return label
    position = ws.monitoring.row_position(ref, key)  # the card's "#n" on the form, not the stored row number
    if position is None:
        return f"{label} ({tr('removed row', 'ligne supprimée')})"
    return f"{label} ({tr('row', 'ligne')} #{position})"


def format_percent(share: float) -> str:
    """A share as a whole percentage, written as the user's language writes it ("87 %" in French)."""
    whole = int(share * 100 + 0.5)
    return f"{whole}\u202f%" if current_lang() is Lang.FR else f"{whole}%"


def age_text(opened: dt.datetime, now: dt.datetime) -> str:
    days = max(0, (now - opened).days)
    return tr(f"{days} d", f"{days} j") if days else tr("today", "aujourd'hui")


class _Item(QTableWidgetItem):
    """A cell that sorts by a hidden key (ages in days, counts) rather than its text."""

    def __init__(self, text: str, sort_key: Any = None) -> None:
        super().__init__(text)
        self.sort_key = text if sort_key is None else sort_key

    def __lt__(self, other: QTableWidgetItem) -> bool:
        if isinstance(other, _Item):
            return bool(self.sort_key < other.sort_key)
        return super().__lt__(other)


class WorklistWindow(QDialog):
    form_opened = Signal(object)
    lock_requested = Signal()
    subject_requested = Signal(str)

    def __init__(self, ws: Workspace, parent: QWidget | None = None, *, ops: Ops | None = None) -> None:
        super().__init__(parent)
        self.ws = ws
        self.ops = ops if ops is not None else Ops(self)
        self.ops.data_changed.connect(self._on_changes)
        self.items: list[WorkItem] = []
        self._sorted = False
        self.resize(1180, 680)
        self._fitted = False
        layout = QVBoxLayout(self)
        head = QHBoxLayout()
        self.title = named(QLabel(), "title")
        head.addWidget(self.title)
        head.addStretch(1)
        self.refresh_button = named(QPushButton(), "refreshWorklist")
        self.refresh_button.clicked.connect(self.refresh)
        head.addWidget(self.refresh_button)
        layout.addLayout(head)
        self.hint = named(QLabel(), "subtitle")
        self.hint.setWordWrap(True)
        layout.addWidget(self.hint)
        self.tabs = QTabWidget()
        self.queries = named(QTableWidget(0, 8), "worklistQueries")
        self.sdv = named(QTableWidget(0, 4), "worklistSdv")
        for table in (self.queries, self.sdv):
            table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
            table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
            table.verticalHeader().setVisible(False)
            table.setSortingEnabled(True)
            table.setStyleSheet("QTableWidget { font-size: 11pt; }")
        header = self.queries.horizontalHeader()
        for col in range(7):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(7, QHeaderView.ResizeMode.Stretch)
        self.sdv.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.queries.itemActivated.connect(lambda cell: self.open_query(cell.row()))
        self.sdv.itemActivated.connect(lambda cell: self._open_subject(cell.row()))
        self.tabs.addTab(self.queries, "")
        self.tabs.addTab(self.sdv, "")
        layout.addWidget(self.tabs, 1)
        self.error = named(QLabel(), "error")
        self.error.setWordWrap(True)
        layout.addWidget(self.error)
        self.retranslate()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not self._fitted:
            self._fitted = True
            fit_when_shown(self, 1180, 680)

    def retranslate(self) -> None:
        self.setWindowTitle(tr("Monitoring worklist", "Liste de travail du moniteur") + f" — {self.ws.actor.full_name}")
        self.title.setText(tr("Worklist", "Liste de travail"))
        self.refresh_button.setText(tr("Refresh", "Actualiser"))
        self.hint.setText(tr("Double-click a query to open the form at its item; double-click a visit to open the "
                             "subject's casebook.",
                             "Double-cliquez sur une query pour ouvrir le formulaire à sa donnée ; double-cliquez "
                             "sur une visite pour ouvrir le cahier du patient."))
        self.queries.setHorizontalHeaderLabels([
            tr("Subject", "Patient"), tr("Visit", "Visite"), tr("Form", "Formulaire"), tr("Item", "Donnée"),
            tr("State", "État"), tr("Who must act", "À qui d'agir"), tr("Age", "Ancienneté"),
            tr("Last message", "Dernier message")])
        self.sdv.setHorizontalHeaderLabels([tr("Subject", "Patient"), tr("Visit", "Visite"),
                                            tr("Items verified", "Données vérifiées"), tr("Progress", "Avancement")])
        self.refresh()

    def _on_changes(self, changes: Changes) -> None:
        if not self.ws.locked and self.isVisible():
            self.refresh()

    def refresh(self) -> None:
        try:
            self.items = self.ws.monitoring.worklist()
            progress = self.ws.monitoring.sdv_progress()
        except CrfError as exc:
            self.error.setText(error_text(exc))
            return
        self.error.clear()
        now = self.ws.ctx.clock.now()
        self.tabs.setTabText(0, tr(f"Queries to deal with ({len(self.items)})",
                                   f"Queries à traiter ({len(self.items)})"))
        self.tabs.setTabText(1, tr("Source-data verification", "Vérification des données source"))
        self.queries.setSortingEnabled(False)
        self.queries.setRowCount(len(self.items))
        study = self.ws.study
        from msc_sle_crf.ui.form.conflicts import by_id as conflicts_by_id  # ui.form imports this module

        offset = self.ws.ctx.clock.local_offset_minutes()
        conflicts: dict[FormRef, dict[int, tuple[Side, Side]]] = {}
        for row, w in enumerate(self.items):
            ref = FormRef(w.subject, w.event, w.form)
            form = study.forms.get(w.form)
            if w.automatic and w.last_text.startswith(_CONFLICT_STORED) and ref not in conflicts:  # one read a form
                conflicts[ref] = conflicts_by_id(self.ws, ref)
            who = tr("Site", "Site") if w.site_must_act else tr("Monitor", "Moniteur")
            if w.automatic:
                who += tr(" (automatic query)", " (query automatique)")
            cells = [_Item(w.subject, (w.subject, -w.opened.timestamp())),
                     _Item(study.event(w.event).label.get(), w.event),
                     _Item(form.label.get() if form else w.form), _Item(item_place(self.ws, ref, w.key)),
                     _Item(query_state(w.status)), _Item(who),
                     _Item(age_text(w.opened, now), -w.opened.timestamp()),
                     _Item(_said(w, form, conflicts.get(ref), offset).replace("\n", " "))]
            cells[0].setData(Qt.ItemDataRole.UserRole, row)
            colour = "#b26a00" if w.site_must_act else "#1f5fa8"
            cells[5].setForeground(QBrush(QColor(colour)))
            for col, cell in enumerate(cells):
                self.queries.setItem(row, col, cell)
        self.queries.setSortingEnabled(True)
        if not self._sorted:  # at first: the oldest first (age sorts by -timestamp); then as the user clicked
            self.queries.sortItems(6, Qt.SortOrder.DescendingOrder)
        self.sdv.setSortingEnabled(False)
        order = {event.id: n for n, event in enumerate(study.meta.events)}  # visits in the schedule's order
        progress = sorted(progress, key=lambda p: (p.subject, order.get(p.event, len(order))))
        self.sdv.setRowCount(len(progress))
        for row, p in enumerate(progress):
            share = p.verified / p.items if p.items else 0.0
            place = (p.subject, order.get(p.event, len(order)))
            cells = [_Item(p.subject, place), _Item(study.event(p.event).label.get(), (place[1], p.subject)),
                     _Item(f"{p.verified} / {p.items}", p.verified), _Item(format_percent(share), share)]
            cells[0].setData(Qt.ItemDataRole.UserRole, p.subject)
            cells[3].setForeground(QBrush(QColor("#2e7d32" if p.verified == p.items else "#1d2b3a")))
            for col, cell in enumerate(cells):
                self.sdv.setItem(row, col, cell)
        self.sdv.setSortingEnabled(True)
        if not self._sorted:  # at first: by subject, then visit in the schedule's order
            self.sdv.sortItems(0, Qt.SortOrder.AscendingOrder)
        self._sorted = True

    def _work_item(self, row: int) -> WorkItem | None:
        cell = self.queries.item(row, 0)
        index = cell.data(Qt.ItemDataRole.UserRole) if cell is not None else None
        return self.items[index] if isinstance(index, int) and 0 <= index < len(self.items) else None

    def open_query(self, row: int) -> Any:
        """The form at the query's item, with the item's queries open (answer, close, re-open)."""
        from msc_sle_crf.ui.form import FormWindow

        work = self._work_item(row)
        if work is None:
            return None
        ref = FormRef(work.subject, work.event, work.form)
        try:
            window = FormWindow(self.ws, ref, self, ops=self.ops)
        except CrfError as exc:
            QMessageBox.warning(self, tr("Open form", "Ouvrir le formulaire"), error_text(exc))
            return None
        self.form_opened.emit(window)
        window.show()
        window.focus_cell(work.key)
        if work.key in window.view.fields:
            window.view.show_queries(work.key)
        return window

    def _open_subject(self, row: int) -> None:
        cell = self.sdv.item(row, 0)
        if cell is not None:
            self.subject_requested.emit(str(cell.data(Qt.ItemDataRole.UserRole)))


def menu_action(main: Any, menu: QMenu) -> QAction:
    """The worklist's entry in ``menu`` of the main window (``main``: its ``ws``, ``ops``, ``_track``,
    ``open_subject``), Ctrl+Shift+W; its words and whether it shows follow the language and the signed-in user each
    time the menu opens (one line in the main window)."""
    action = QAction(main)
    action.triggered.connect(lambda _checked=False: open_worklist(main))
    menu.addAction(action)
    menu.aboutToShow.connect(lambda: retranslate_action(action, main.ws))
    retranslate_action(action, main.ws)
    return action


def retranslate_action(action: QAction, ws: Workspace) -> None:
    action.setText(tr("Monitoring worklist (queries, SDV)…", "Liste de travail du moniteur (queries, SDV)…"))
    action.setShortcut("Ctrl+Shift+W")
    action.setVisible(may_use(ws))


def may_use(ws: Workspace) -> bool:
    return ws.can(Perm.VERIFY_SOURCE_DATA) or ws.can(Perm.MANAGE_QUERIES)


def open_worklist(main: Any) -> WorklistWindow | None:
    """One worklist per main window: an open one is refreshed and comes to the front."""
    if not may_use(main.ws):  # the shortcut after another user took over the session
        return None
    for window in getattr(main, "open_dialogs", []):
        if isinstance(window, WorklistWindow):
            window.refresh()
            window.show()
            window.raise_()
            window.activateWindow()
            return window
    window = WorklistWindow(main.ws, main, ops=main.ops)
    window.subject_requested.connect(main.open_subject)
    main._track(window)
    window.show()
    return window
