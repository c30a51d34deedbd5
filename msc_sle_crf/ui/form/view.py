"""Generated data-entry screens: any form is built from its definition (a table from item type to widget).

Each field shows its state as the user types (ok / unusual / impossible / missing) with a message naming the
rule, in the user's language. What is typed is kept in the encrypted typing buffer at every keystroke; a value
is committed (checked again and audited by the service layer) when the user leaves the field or picks a choice.

The form's parts (fields, sections, header, footer, dialogs) emit what the user asked for; the form runs every
write through ``ops.run`` and redraws from the change record of any write made in the window (``refresh.plan``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from time import monotonic
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QCloseEvent, QHideEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QScrollArea, QVBoxLayout, QWidget

from msc_sle_crf.access import Perm
from msc_sle_crf.errors import CrfError
from msc_sle_crf.formdef import values as V
from msc_sle_crf.formdef.definitions import MissingCode
from msc_sle_crf.formdef.engine import CellKey, FormState
from msc_sle_crf.services import reads
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.services.entry import FormRef, FormSnapshot
from msc_sle_crf.services.lifecycle import LifecycleAction
from msc_sle_crf.services.monitoring import CLOSED, QueryInfo
from msc_sle_crf.services.workspace import Workspace
from msc_sle_crf.status import FormStatus
from msc_sle_crf.sync.service import ConflictInfo
from msc_sle_crf.ui.common import error_text, tr
from msc_sle_crf.ui.form import conflicts, dialogs, refresh
from msc_sle_crf.ui.form.field_parts import FieldPermissions, FieldSignals
from msc_sle_crf.ui.form.field_row import FieldEditor
from msc_sle_crf.ui.form.footer import FormFooter
from msc_sle_crf.ui.form.header import FormHeader
from msc_sle_crf.ui.form.lazy import Fields, LazyFields, Spec
from msc_sle_crf.ui.form.scores import ScorePanel
from msc_sle_crf.ui.form.sections import Section
from msc_sle_crf.ui.form.style import FORM_STYLE, pin_badge
from msc_sle_crf.ui.form.view_dialogs import FormDialogs
from msc_sle_crf.ui.form.writes import FormWrites
from msc_sle_crf.ui.ops import Ops

TYPING_FLUSH_MS = 300  # the longest a keystroke stays only in memory (see tests/test_issue13_keystrokes.py)
SUMMARY_DELAY_MS = 150

AskReason = Callable[[str, str, str], str | None]
AskMissing = Callable[[str, MissingCode], str | None]


class FormView(FormWrites, FormDialogs, QWidget):
    """A whole form instance, generated from its definition."""

    status_changed = Signal(str)
    snapshot: FormSnapshot
    state: FormState
    status: FormStatus
    read_only: bool

    def __init__(self, ws: Workspace, ref: FormRef, *, ask_reason: AskReason | None = None,
                 ask_missing: AskMissing | None = None, parent: QWidget | None = None, ops: Ops | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("formView")
        self.setStyleSheet(FORM_STYLE)
        self.ws = ws
        self.ops = ops if ops is not None else Ops(self)
        self.entry = ws.entry
        self.ref = ref
        self.ask_reason: AskReason = ask_reason or self.question_reason  # keeps her text through the lock
        self.ask_missing: AskMissing = ask_missing or (lambda field, code: dialogs.ask_missing(self, field, code))
        self.fields = Fields()  # a field below the fold is built when reached or asked for (ui/form/lazy.py)
        self.lazy: LazyFields | None = None
        self.show_missing = False  # "required" messages appear after a first "Mark complete"
        self.sign_with: tuple[str, str, str] | None = None  # tests: credentials instead of the dialog
        self.last_error = ""
        self.committed: dict[CellKey, tuple[str, str | None]] = {}
        self.queries_by_key: dict[CellKey, list[QueryInfo]] = {}
        self.value_names = reads.coded_value_names(ws.study, ref.form)  # codes the program writes: their names
        self.verified: dict[CellKey, bool] = {}
        self.conflicts: dict[CellKey, ConflictInfo] = {}
        self.history_dialog: dialogs.HistoryDialog | None = None
        self.query_dialog: dialogs.QueryDialog | None = None
        self.raise_dialog: dialogs.RaiseQueryDialog | None = None
        self.conflict_panel: conflicts.ConflictPanel | None = None
        self.print_job: Any = None
        self._own = None
        self._signed = False  # signatures are shown (a changed value may invalidate them)
        self._grades: dict[CellKey, list[CellKey]] = {}  # CTCAE term -> the grade fields that show its grades
        self.outer = QVBoxLayout(self)
        self.outer.setContentsMargins(0, 0, 0, 0)
        self.content: QWidget | None = None
        # Keystrokes are kept in memory and written to the typing buffer together, at most TYPING_FLUSH_MS after
        # the first one not yet written (and before anything that reads the buffer or saves): one transaction per
        # idle moment instead of one synced commit per key. tests/test_issue13_keystrokes.py kills the program
        # mid-typing to show what that loses.
        self.typing: dict[CellKey, tuple[str, str | None]] = {}
        self.reopened: dict[CellKey, tuple[MissingCode, str | None]] = {}  # "Enter a value instead": stored code
        self.locking = False  # the screen is locked: a field left keeps its typing as a draft (no save, no question)
        self.buffered: set[CellKey] = set()  # keys whose typing was written to the buffer since their last save
        self._typing_timer = QTimer(self)
        self._typing_timer.setSingleShot(True)
        self._typing_timer.setInterval(TYPING_FLUSH_MS)
        self._typing_timer.timeout.connect(self.flush_typing)
        self._typing_armed = False
        self._summary_timer = QTimer(self)  # what blocks completion, redrawn once typing pauses
        self._summary_timer.setSingleShot(True)
        self._summary_timer.setInterval(SUMMARY_DELAY_MS)
        self._summary_timer.timeout.connect(self._summary_due)
        self._summary_armed = False
        self._typed_at = 0.0  # when the last key was typed (the summary waits for a pause after it)
        self.field_signals = FieldSignals(self)
        self._connect(self.field_signals)
        self.reload()
        self.listening = False
        self.attach()
        QShortcut(QKeySequence("Ctrl+Return"), self, self.mark_complete)
        QShortcut(QKeySequence("Ctrl+H"), self, lambda: self._on_focused(self.show_history))
        QShortcut(QKeySequence("Ctrl+K"), self, lambda: self._on_focused(self.confirm))
        QShortcut(QKeySequence("Ctrl+Shift+Del"), self, lambda: self._on_focused(self._remove_row_of))

    def closeEvent(self, event: QCloseEvent) -> None:
        self.flush_typing()
        super().closeEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        self.flush_typing()  # a window hidden (the screen locked, a dialog closed): what was typed is written now
        super().hideEvent(event)

    # ----- the window's writes ----------------------------------------------------------------------------------
    def attach(self) -> None:
        """Redraw from every write made in the window."""
        if not self.listening:
            self.ops.data_changed.connect(self._on_data_changed)
            self.listening = True

    def detach(self) -> None:
        """The form's window is closed: what was typed is written, and the form stops redrawing."""
        self.flush_typing()
        if self.listening:
            self.ops.data_changed.disconnect(self._on_data_changed)
            self.listening = False

    def _on_data_changed(self, changes: Changes) -> None:
        todo = refresh.plan(changes, self.ref, self.status, own=self._own, signed=self._signed,
                            verified=frozenset(self.verified))
        if not todo:
            return
        before = self.status
        if todo.rebuild:
            focused = self.focused_key()
            self.reload()
            if focused is not None and focused in self.fields:
                self.fields[focused].focus()
        else:
            if todo.cells:
                self._read_again(todo.cells)
            status = todo.status
            if status is not None and status != self.status:
                self.status = status
                self._render_status()
            if todo.signatures:
                self._render_signatures()
            if todo.monitoring:
                self.show_monitoring(set(self.fields))
            if todo.scores:
                self.refresh_scores()
            self._update_summary()
        if self.status != before:
            self.status_changed.emit(self.status)

    def _read_again(self, cells: frozenset[CellKey]) -> None:
        """Values written elsewhere: the stored values again (with this user's typing over them)."""
        self.flush_typing()
        snapshot = self.entry.open_form(self.ref)
        if snapshot.state.rows != self.state.rows or snapshot.form.content_hash() != self.snapshot.form.content_hash():
            self.reload()
            return
        self.snapshot, self.state = snapshot, snapshot.state
        for key in cells & set(self.fields):
            self._load_value(key, written_elsewhere=True)
        self.refresh_all()

    # ----- building -------------------------------------------------------------------------------------------
    def reload(self) -> None:
        """(Re)build the screen from the service: the stored values and this user's typing buffer."""
        self.flush_typing()
        self.snapshot = self.entry.open_form(self.ref)
        self.state = self.snapshot.state
        self.status = self.snapshot.status
        self._load_monitoring()
        self._build()

    def _load_monitoring(self) -> None:
        monitoring = self.ws.monitoring
        self.queries_by_key = {}
        try:
            for query in monitoring.queries(self.ref):
                self.queries_by_key.setdefault(query.key, []).append(query)
            self.verified = monitoring.verified_items(self.ref)
        except CrfError:  # not this user's to see: no marks
            self.verified = {}
        self.conflicts = conflicts.load(self.ws, self.ref)  # issue 18: ui/form/conflicts.py

    def retranslate(self) -> None:
        self._build()

    def _build(self) -> None:
        if self.content is not None:
            self.content.deleteLater()
        if self.lazy is not None:
            self.lazy.detach()
        self.fields.clear()
        self._grades.clear()
        self.content = QWidget(self)
        self.lazy = lazy = LazyFields(self.fields, self._make_late, self._show_late, self.content)
        layout = QVBoxLayout(self.content)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(12)
        form = self.snapshot.form
        self.read_only = not self.entry.can_edit(form.id) or not self.status.editable
        why = None
        if not self.read_only and self.status is FormStatus.NOT_STARTED:  # started on its owner only (issue 18)
            from msc_sle_crf.sync.workstations import Workstations

            service = Workstations(self.ws.ctx)
            if not service.owns(self.ref.subject):
                self.read_only = True
                owner = service.owner(self.ref.subject)
                why = tr(f"Read only: subject {self.ref.subject} is entered on {owner}; this form is started there "
                         "(or ask for a handover).",
                         f"Lecture seule : le patient {self.ref.subject} est saisi sur le poste {owner} ; ce "
                         "formulaire se commence là-bas (ou demandez son transfert).")
        self.header = FormHeader(self.snapshot, self.ref, read_only=self.read_only, parent=self.content,
                                 read_only_why=why)
        self.header.print_requested.connect(self.print_pdf)
        self.header.lifecycle_requested.connect(self.lifecycle_action)
        self.print_button = self.header.print_button
        self.lifecycle_buttons = self.header.lifecycle_buttons
        self.status_label = self.header.status_label
        self.signature_lines = self.header.signature_lines
        self.lifecycle_error = self.header.lifecycle_error
        layout.addWidget(self.header)
        permissions = FieldPermissions(enter=not self.read_only, raise_query=self.ws.can(Perm.MANAGE_QUERIES),
                                       verify=self.ws.can(Perm.VERIFY_SOURCE_DATA))
        for group in form.groups:
            section = Section(group, self.state, self.content, read_only=self.read_only, permissions=permissions,
                              signals=self.field_signals, lazy=lazy)
            section.add_row_requested.connect(self.add_row)
            section.remove_row_requested.connect(self.remove_row)
            for key, field in section.fields.items():
                self._register(key, field)
            layout.addWidget(section)
        self.score_panel = ScorePanel(self.content)
        layout.addWidget(self.score_panel)
        self.footer = FormFooter(self.content)
        self.footer.complete_requested.connect(self.mark_complete)
        self.footer.blocker_chosen.connect(self._go_to)
        self.blockers, self.summary = self.footer.blockers, self.footer.summary
        self.complete_button = self.footer.complete_button
        lazy.stop(self.complete_button)  # Shift+Tab from it builds the last fields (ui/form/lazy.py)
        lazy.finish()
        layout.addWidget(self.footer)
        layout.addStretch(1)
        self.outer.addWidget(self.content)
        self._render_status()
        self._render_signatures()
        for key in self.fields:
            self._load_value(key)
        self.refresh_all()
        self.refresh_scores()
        # Shown (and so polished) once every field shows its value and state: a state set before the polish is a
        # property the style sheet draws at no cost (LineEditor.set_state), after it an overlay per line edit.
        self.content.show()
        for field in self.fields.values():
            pin_badge(field.badge)  # polished now: at a size that holds every badge

    def _register(self, key: CellKey, field: FieldEditor) -> None:
        self.fields[key] = field
        if field.item.grades_of:
            self._grades.setdefault((key[0], key[1], field.item.grades_of), []).append(key)

    def _make_late(self, spec: Spec) -> FieldEditor:
        """A field below the fold, built when reached (ui/form/lazy.py)."""
        field = spec.section.make(spec)
        self._register(spec.key, field)
        return field

    def _show_late(self, keys: list[CellKey]) -> None:
        """Fields just built show what they would have shown had they been built with the form."""
        for key in keys:
            self._load_value(key)
        self._draw(keys)
        self._render_marks(set(keys))
        for key in keys:
            field = self.fields[key]
            field.ensurePolished()  # the state is a property here, drawn by the polish (no overlay)
            pin_badge(field.badge)

    def _connect(self, signals: FieldSignals) -> None:
        """What every field asks for (one connection per request, not per field)."""
        signals.edited.connect(self.on_edited)
        signals.typed = self.on_edited  # a keystroke: called by the field, not through a signal (see FieldSignals)
        signals.commit_requested.connect(self.commit)
        signals.confirm_requested.connect(self.confirm)
        signals.missing_requested.connect(self.mark_missing)
        signals.value_requested.connect(self.clear_missing)
        signals.history_requested.connect(self.show_history)
        signals.query_requested.connect(self.raise_query)
        signals.queries_requested.connect(self.show_queries)
        signals.verify_requested.connect(self.verify_item)

    def _load_value(self, key: CellKey, *, written_elsewhere: bool = False) -> None:
        field = self.fields[key]
        cell = self.state.cell(key)
        field.editor.set_text(cell.text if cell.text is not None else V.edit_text(field.item, cell.value))
        field.set_unit(cell.unit)
        names = self.value_names.get(key[2])
        if names is not None:
            name = names.get(str(cell.value)) if cell.value is not None else None
            field.show_value_name(name.get() if name is not None else "")
        if key not in self.snapshot.typed:
            self.committed[key] = (V.edit_text(field.item, cell.value), cell.unit)
        elif key not in self.committed or written_elsewhere:
            self.committed[key] = ("\0", None)  # typed but not accepted: differs from anything typed

    # ----- state display --------------------------------------------------------------------------------------
    def _render_status(self) -> None:
        self.header.show_status(self.status, self.ws.lifecycle.available(self.status),
                                can_print=self.ws.can(Perm.PRINT))
        self.complete_button.setVisible(not self.read_only
                                        and self.status in (FormStatus.NOT_STARTED, FormStatus.DRAFT))

    def _render_signatures(self) -> None:
        try:
            signatures = self.ws.lifecycle.signatures(self.ref)
        except CrfError:
            signatures = []
        self._signed = bool(signatures)
        self.header.show_signatures(signatures)

    def show_monitoring(self, keys: set[CellKey]) -> None:
        """Queries and source-data verification read again, shown on these fields."""
        self._load_monitoring()
        self._render_marks(keys)

    def _render_marks(self, keys: set[CellKey]) -> None:
        for key in keys:
            field = self.fields.built(key)
            if field is not None:
                queries = self.queries_by_key.get(key, [])
                field.show_marks(len(queries), sum(1 for q in queries if q.status != CLOSED), self.verified.get(key))
                conflicts.show(field, self.conflicts.get(key), self)

    def refresh_scores(self) -> None:
        """The scores this form feeds, from the saved data of the whole subject (so SRI-4 compares with M0)."""
        self.score_panel.refresh(self.ws, self.ref, self.snapshot.form.id)

    def refresh_all(self) -> None:
        self.refresh(set(self.fields))

    def refresh(self, keys: set[CellKey], *, summary: bool = True) -> None:
        """Redraw these fields. ``summary=False`` (a keystroke): the list of what blocks completion is redrawn at
        the next idle moment instead (it reads the whole form), and the query/SDV marks, which typing does not
        change, are left as they are. Fields not built yet are drawn when built."""
        self._draw(keys)
        if summary:
            self._render_marks(keys)
            self._update_summary()
        else:
            self._summary_later()

    def _summary_later(self) -> None:
        """The summary redrawn once typing pauses SUMMARY_DELAY_MS: the timer runs from the first key of a burst
        and, when it fires, waits again for what is left of the pause after the last key (a timer restarted at
        every key cost a call into Qt's timer list per key)."""
        self._typed_at = monotonic()
        if not self._summary_armed:
            self._summary_armed = True
            self._summary_timer.start(SUMMARY_DELAY_MS)

    def _summary_due(self) -> None:
        self._summary_armed = False
        left = SUMMARY_DELAY_MS - int((monotonic() - self._typed_at) * 1000)
        if left > 0:
            self._summary_armed = True
            self._summary_timer.start(left)
        else:
            self._update_summary()

    def _draw(self, keys: set[CellKey] | list[CellKey]) -> None:
        built = self.fields.built
        for key in keys:
            field = built(key)
            if field is None:
                continue
            field.show_visible(self.state.visible(key))
            if field.item.calc:
                field.editor.set_text(V.display(field.item, self.state.value(key)))
            if field.item.grades_of:
                term = self.state.cell((key[0], key[1], field.item.grades_of))
                field.show_grades(term.value if term.text is None else None)
            field.show_state(self.state, show_missing=self.show_missing)
            if self.read_only:
                field.show_read_only()

    def _update_summary(self) -> None:
        if self._summary_armed:
            self._summary_armed = False
            self._summary_timer.stop()
        self.footer.show_summary(self.state.blockers())

    # ----- where the user is ----------------------------------------------------------------------------------
    def focused_key(self) -> CellKey | None:
        focused = QApplication.focusWidget()
        if focused is not None:
            for key, field in self.fields.items():
                if field.isAncestorOf(focused):
                    return key
        return None

    def _on_focused(self, action: Callable[[CellKey], object]) -> None:
        key = self.focused_key()
        if key is not None:
            action(key)

    def _remove_row_of(self, key: CellKey) -> None:
        """Ctrl+Shift+Del in a field of a repeating group's row: what its "Remove row…" button does (not a Tab stop)."""
        group_id, row, _item = key
        if not self.read_only and self.state.group(group_id).repeating and row in self.state.rows.get(group_id, ()):
            self.remove_row(group_id, row)

    def _go_to(self, key: CellKey) -> None:
        field = self.fields.get(key)
        if field is not None:
            field.focus()
            scroll = self.parent()
            while scroll is not None and not isinstance(scroll, QScrollArea):
                scroll = scroll.parent()
            if isinstance(scroll, QScrollArea):
                scroll.ensureWidgetVisible(field)

    # ----- lifecycle, queries, history, printing ----------------------------------------------------------------
    def lifecycle_action(self, key: str) -> None:
        """Source-verify, sign, lock or unlock; a refusal shows under the header."""
        action, lifecycle, ref = LifecycleAction(key), self.ws.lifecycle, self.ref
        step: Callable[[], object]
        if action is LifecycleAction.VERIFY:
            step = partial(lifecycle.source_verify, ref)
        elif action is LifecycleAction.SIGN:
            if self.sign_with is None:  # the dialog signs, and stays open after a wrong password
                self._sign_in_dialog()
                return
            step = partial(lifecycle.sign, ref, *self.sign_with)
        elif action is LifecycleAction.LOCK:
            step = partial(lifecycle.lock, ref)
        else:
            reason = self.ask_reason(self.snapshot.form.label.get(), tr("locked", "verrouillé"),
                                     tr("unlocked", "déverrouillé"))
            if not reason:
                return
            step = partial(lifecycle.unlock, ref, reason)
        if self._run(step, on_error=lambda exc: self._lifecycle_error(error_text(exc))) is not None:
            self._lifecycle_error("")

    def _sign_in_dialog(self) -> None:
        lifecycle, ref = self.ws.lifecycle, self.ref
        dialog = dialogs.SignDialog(self.ws.study.meta.signatures, self.snapshot.form.label.get(), ref, self,
                                    role=self.ws.actor.role.value, visit=self.ws.study.event(ref.event).label.get())
        dialog.attempt = lambda c: self._run(partial(lifecycle.sign, ref, *c), on_error=dialog.show_error)
        self.sign_dialog = dialog
        dialog.accepted.connect(lambda: self._lifecycle_error(""))
        dialog.open()  # window-modal: the casebook, the bedside and other forms stay usable

    def _lifecycle_error(self, text: str) -> None:
        self.last_error = text
        self.header.show_error(text)

    def print_pdf(self, target: Path | None = None) -> Any:
        """This form as a signed PDF with its audit trail, made in the background, saved where the user chose."""
        from msc_sle_crf.ui.printing import ask_path, pdf_name, print_form

        path = target or ask_path(self, pdf_name(self.ws, self.ref.subject, self.ref.event, self.ref.form))
        if path is None:
            return None
        self.print_job = print_form(self, self.ws, self.ref, path, offer_open=target is None)
        return self.print_job
