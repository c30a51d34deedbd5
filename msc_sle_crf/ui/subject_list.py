"""The subject list: every subject with its visits done, open queries and next action. It redraws from the change
records of the writes (``Ops.data_changed``), not when someone remembers to call it. A subject whose infusion is
running shows it instead of its next action (subject number, running time, next reading; red when overdue),
updated once a second by the main window.

Above the table: a search (subject number or initials, any case) and filters by dose cohort and by stage (screening,
follow-up, ended, locked; and what needs attention: a visit overdue, open queries, an infusion running). Filtering
hides rows; it reads nothing."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QColor, QFont, QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from msc_sle_crf.access import Perm
from msc_sle_crf.i18n import L
from msc_sle_crf.services.changes import DATA_ACTIONS, Changes
from msc_sle_crf.services.overview import STAGES, SubjectRow
from msc_sle_crf.services.workspace import Workspace
from msc_sle_crf.ui.common import named, tr
from msc_sle_crf.ui.owner_note import owner_tips

COLUMNS = 9
# What needs attention, as stage filters (key -> label) beside the stages themselves.
ATTENTION: dict[str, L] = {
    "overdue": L("Visit overdue", "Visite en retard"),
    "queries": L("Open queries", "Queries ouvertes"),
    "infusion": L("Infusion running", "Perfusion en cours"),
}


class SubjectList(QWidget):
    open_requested = Signal(str)  # subject number
    COL_COHORT, COL_STAGE, COL_VISITS, COL_QUERIES, COL_NEXT = 4, 5, 6, 7, 8

    def __init__(self, ws: Workspace, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ws = ws
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.open_hint = named(QLabel(), "subtitle")
        layout.addWidget(self.open_hint)
        self.no_access = named(QLabel(), "subtitle")
        layout.addWidget(self.no_access)
        filters = QHBoxLayout()
        self.search = named(QLineEdit(), "subject_search")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.apply_filter)
        self.search.returnPressed.connect(self._search_entered)
        self.search.installEventFilter(self)
        self.cohort = named(QComboBox(), "cohort_filter")
        self.stage = named(QComboBox(), "stage_filter")
        for combo in (self.cohort, self.stage):
            combo.currentIndexChanged.connect(self.apply_filter)
        self.count_line = named(QLabel(), "subtitle")
        filters.addWidget(self.search, 2)
        filters.addWidget(self.cohort, 1)
        filters.addWidget(self.stage, 1)
        filters.addWidget(self.count_line)
        self.filters = QWidget()
        self.filters.setLayout(filters)
        filters.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.filters)
        self._cohorts: dict[str, L] = {}
        self.table = named(QTableWidget(0, COLUMNS), "subjects")
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.setStyleSheet("QTableWidget { background: transparent; }")
        self.table.cellActivated.connect(self._activated)
        layout.addWidget(self.table)
        self._actions: dict[str, tuple[str, bool]] = {}  # subject -> (next action, overdue) as last drawn
        self._infusions: dict[str, tuple[str, bool]] = {}
        self._shown: list[tuple[tuple[str, ...], bool, int]] = []  # what each row shows
        self._meta: dict[str, tuple[str | None, str, bool, int]] = {}  # subject -> cohort, stage, overdue, queries
        self._owners: dict[str, str] = {}  # subject -> which workstation enters it (several laptops: issue 18)
        self._hidden = False  # some rows are hidden by the search or a filter

    def set_workspace(self, ws: Workspace) -> None:
        self.ws = ws
        self.retranslate()

    def retranslate(self) -> None:
        self.open_hint.setText(tr("Double-click a subject (or select it and press Enter) to open its casebook.",
                                  "Double-cliquez sur un patient (ou sélectionnez-le et appuyez sur Entrée) pour "
                                  "ouvrir son cahier."))
        self.open_hint.setVisible(self.ws.can(Perm.VIEW_DATA))
        self.search.setPlaceholderText(tr("Search: subject number or initials",
                                          "Rechercher : numéro de patient ou initiales"))
        self._fill_combos()
        self.table.setHorizontalHeaderLabels([tr("Subject", "Patient"), tr("Initials", "Initiales"),
                                              tr("Year of birth", "Année de naissance"), tr("Sex", "Sexe"),
                                              tr("Cohort", "Cohorte"), tr("Stage", "Étape"),
                                              tr("Visits done", "Visites faites"),
                                              tr("Open queries", "Queries ouvertes"),
                                              tr("Next action", "Prochaine action")])
        header = self.table.horizontalHeader()
        header.setResizeContentsPrecision(100)  # measure a sample of rows, not all of them
        for col in range(COLUMNS - 1):  # sized once after filling: "resize to contents" re-measures at every cell
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COLUMNS - 1, QHeaderView.ResizeMode.Stretch)
        self.refresh()

    def on_changes(self, changes: Changes) -> None:
        """A write happened somewhere: the subjects it names are read again and their rows redrawn (all of them when
        a data change names no subject)."""
        if changes.data and not self.ws.locked:
            named_all = all(c.subject for c in changes.records if c.action in DATA_ACTIONS)
            self.refresh(changed=changes.subjects if named_all else None)

    def refresh(self, *, changed: frozenset[str] | None = None) -> None:
        if self.ws.locked:
            return
        if not self.ws.can(Perm.VIEW_DATA):
            self.table.setRowCount(0)
            self.table.setVisible(False)
            self.filters.setVisible(False)
            self.no_access.setText(tr("Your role has no access to clinical data.",
                                      "Votre rôle n'a pas accès aux données cliniques."))
            self.no_access.setVisible(True)
            return
        self.no_access.setVisible(False)
        self.table.setVisible(True)
        self.filters.setVisible(True)
        rows = self.ws.overview.subject_rows(changed=changed)
        queries = self.ws.monitoring.open_counts()
        if not self._cohorts:
            self._cohorts = self.ws.overview.cohorts()
            self._fill_combos()
        self._actions = {r.subject.subject_number: (r.next_action.get(), r.overdue) for r in rows}
        self._owners = owner_tips(self.ws, rows)
        self._meta = {r.subject.subject_number: (r.cohort, r.stage, r.overdue,
                                                 queries.get(r.subject.subject_number, 0)) for r in rows}
        shown = [self._cells(r, queries.get(r.subject.subject_number, 0)) for r in rows]
        if changed is not None and len(shown) == len(self._shown):  # the same subjects: only what changed
            for row, (new, old) in enumerate(zip(shown, self._shown, strict=True)):
                if new != old:
                    self._fill(row, new)
            self._shown = shown
            self._draw_infusions()
            self.apply_filter()
            return
        self.table.setUpdatesEnabled(False)
        self.table.setRowCount(len(shown))
        for row, cells in enumerate(shown):
            self._fill(row, cells)
        for col in range(COLUMNS - 1):
            self.table.resizeColumnToContents(col)
        self.table.setUpdatesEnabled(True)
        self._shown = shown
        self._draw_infusions()
        self.apply_filter()

    def show_infusions(self, lines: dict[str, tuple[str, bool]]) -> None:
        """The running infusions (subject -> its line, overdue?) in place of their next action."""
        if lines == self._infusions:
            return
        ended = set(self._infusions) - set(lines)
        self._infusions = dict(lines)
        self._draw_infusions(ended)
        if self.stage.currentData() == "infusion":
            self.apply_filter()

    def _draw_infusions(self, ended: set[str] | None = None) -> None:
        for row in range(self.table.rowCount()):
            number = self.subject_at(row)
            if number is None or (number not in self._infusions and number not in (ended or set())):
                continue
            text, late = self._infusions.get(number) or self._actions.get(number, ("", False))
            item = self.table.item(row, COLUMNS - 1)
            if item is None:
                item = QTableWidgetItem()
                self.table.setItem(row, COLUMNS - 1, item)
            item.setText(text)
            font = QFont(item.font())
            font.setBold(number in self._infusions)
            item.setFont(font)
            item.setForeground(QColor("#b00020" if late else "#1f5fa8" if number in self._infusions else "#1d2b3a"))

    def _cells(self, r: SubjectRow, open_queries: int) -> tuple[tuple[str, ...], bool, int]:
        s = r.subject
        cohort = self._cohorts.get(r.cohort or "")
        return ((s.subject_number, s.initials, str(s.birth_year), s.sex,
                 cohort.get() if cohort is not None else (r.cohort or ""), STAGES[r.stage].get(),
                 f"{r.visits_done} / {r.visits_total}", str(open_queries or ""), r.next_action.get()),
                r.overdue, open_queries)

    def _fill(self, row: int, cells: tuple[tuple[str, ...], bool, int]) -> None:
        texts, overdue, open_queries = cells
        for col, text in enumerate(texts):
            item = QTableWidgetItem(text)
            if col == 0 and text in self._owners:
                item.setToolTip(self._owners[text])
            if col == COLUMNS - 1 and overdue:
                item.setForeground(QColor("#b00020"))
            if col == self.COL_QUERIES and open_queries:
                item.setForeground(QColor("#b26a00"))
            self.table.setItem(row, col, item)

    # ----- search and filters --------------------------------------------------------------------------------------
    def _fill_combos(self) -> None:
        for combo, first, items in (
                (self.cohort, tr("All cohorts", "Toutes les cohortes"), self._cohorts),
                (self.stage, tr("All stages", "Toutes les étapes"), {**STAGES, **ATTENTION})):
            keep = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(first, None)
            for key, label in items.items():
                combo.addItem(label.get(), key)
            combo.setCurrentIndex(max(0, combo.findData(keep)) if keep is not None else 0)
            combo.blockSignals(False)

    def _matches(self, row: int, needle: str, cohort: str | None, stage: str | None) -> bool:
        texts = self._shown[row][0] if row < len(self._shown) else ("",)
        number = texts[0]
        meta = self._meta.get(number)
        if meta is None:
            return True
        row_cohort, row_stage, overdue, queries = meta
        if needle and needle not in number.lower() and needle not in texts[1].lower():
            return False
        if cohort is not None and row_cohort != cohort:
            return False
        return (stage is None or stage == row_stage or (stage == "overdue" and overdue)
                or (stage == "queries" and queries > 0) or (stage == "infusion" and number in self._infusions))

    def apply_filter(self) -> None:
        """Hide the rows the search and the filters leave out (nothing is read again)."""
        needle = self.search.text().strip().lower()
        cohort, stage = self.cohort.currentData(), self.stage.currentData()
        total = self.table.rowCount()
        shown = total
        if needle or cohort is not None or stage is not None or self._hidden:  # else: every row shown already
            shown = 0
            for row in range(total):
                visible = self._matches(row, needle, cohort, stage)
                self.table.setRowHidden(row, not visible)
                shown += visible
            self._hidden = shown < total
        self.count_line.setText(tr(f"{shown} of {total} subjects", f"{shown} sur {total} patients"))

    def clear_filters(self) -> None:
        self.search.clear()
        self.cohort.setCurrentIndex(0)
        self.stage.setCurrentIndex(0)

    def _visible_rows(self) -> list[int]:
        return [r for r in range(self.table.rowCount()) if not self.table.isRowHidden(r)]

    def _search_entered(self) -> None:
        """Enter in the search box: the only subject left opens; with several, the first is selected and the list
        takes the keyboard (Down/Up to choose, Enter to open): no mouse, no Tab past the filters (gloves)."""
        rows = self._visible_rows()
        if len(rows) == 1:
            number = self.subject_at(rows[0])
            if number is not None:
                self.select(number)
            self._activated(rows[0], 0)
        elif rows:
            self._focus_list(rows[0])

    def _focus_list(self, row: int) -> None:
        self.table.selectRow(row)
        self.table.setCurrentCell(row, 0)
        self.table.setFocus()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Down in the search box moves to the list, on the first subject shown."""
        if watched is self.search and isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress \
                and event.key() == Qt.Key.Key_Down:
            rows = self._visible_rows()
            if rows:
                self._focus_list(rows[0])
                return True
        return super().eventFilter(watched, event)

    def row_of(self, number: str) -> int:
        return next((r for r, cells in enumerate(self._shown) if cells[0][0] == number), -1)

    def selected(self) -> str | None:
        """The subject of the selected row (what Enter opens)."""
        rows = self.table.selectionModel().selectedRows()
        return self.subject_at(rows[0].row()) if rows else None

    def select(self, number: str) -> None:
        """Select ``number``'s row (the filters are cleared if they hide it), scroll to it, give the list the
        keyboard focus: Enter opens that subject."""
        row = self.row_of(number)
        if row < 0:
            return
        if self.table.isRowHidden(row):
            self.clear_filters()
        self.table.selectRow(row)
        self.table.setCurrentCell(row, 0)
        self.table.scrollTo(self.table.model().index(row, 0))
        self.table.setFocus()

    def subject_at(self, row: int) -> str | None:
        item = self.table.item(row, 0)
        return item.text() if item is not None else None

    def _activated(self, row: int, _col: int) -> None:
        number = self.subject_at(row)
        if number is not None and self.ws.can(Perm.VIEW_DATA):
            self.open_requested.emit(number)
