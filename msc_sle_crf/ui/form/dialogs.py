"""The form's dialogs: reason for change, missing value, an item's history, its queries, the electronic signature."""

from __future__ import annotations

import contextlib
import html
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from msc_sle_crf.access import Perm, Role
from msc_sle_crf.clock import format_stored, iso_utc
from msc_sle_crf.errors import CrfError
from msc_sle_crf.formdef.definitions import MissingCode, SignatureRules
from msc_sle_crf.formdef.engine import CellKey
from msc_sle_crf.i18n import L, current_lang
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.services.entry import FormRef, SoftCheckNeedsConfirmation
from msc_sle_crf.services.integrity import AuditRecord
from msc_sle_crf.services.monitoring import CLOSED, QueryInfo
from msc_sle_crf.services.workspace import Workspace
from msc_sle_crf.trail_words import (
    Side,
    ValueText,
    action_label,
    applied_by,
    conflict_text,
    detail_text,
    value_words,
    warning_text,
    who_text,
)
from msc_sle_crf.ui.common import error_text, tr
from msc_sle_crf.ui.form.style import named
from msc_sle_crf.ui.ops import Ops
from msc_sle_crf.ui.worklist import query_state, query_step

REASONS = [
    ("Transcription error", "Erreur de transcription"),
    ("Data entry error", "Erreur de saisie"),
    ("New information in the source document", "Nouvelle information dans le document source"),
    ("Correction after a query", "Correction suite à une query"),
]


class ReasonDialog(QDialog):
    """Reason for change on a completed form (21 CFR 11.10(e)): picked from a list or typed."""

    def __init__(self, field: str, old: str, new: str, parent: QWidget | None = None, *,
                 signed: bool = False) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("Reason for change", "Motif de modification"))
        layout = QVBoxLayout(self)
        # Asked for a change of a completed form, a row removed, a form unlocked: the question fits all three.
        intro = QLabel(tr(f"Why is “{field}” changed from “{old or '—'}” to “{new or '—'}”?",
                          f"Pourquoi « {field} » passe-t-il de « {old or '—'} » à « {new or '—'} » ?"))
        intro.setWordWrap(True)
        layout.addWidget(intro)
        if signed:  # what the change undoes, said before it is made (h72)
            warning = named(QLabel(tr("The form is signed: after this change its signature is no longer valid and "
                                      "it must be signed again.",
                                      "Le formulaire est signé : après cette modification, sa signature n'est plus "
                                      "valide et il devra être signé à nouveau.")), "reasonSignedWarning")
            warning.setWordWrap(True)
            layout.addWidget(warning)
        self.choice = named(QComboBox(), "reasonChoice")
        self.choice.addItem(tr("Choose a reason…", "Choisir un motif…"), "")
        for en, fr in REASONS:
            self.choice.addItem(tr(en, fr), tr(en, fr))
        self.choice.addItem(tr("Other (write it below)", "Autre (à préciser ci-dessous)"), "other")
        layout.addWidget(self.choice)
        self.detail = named(QLineEdit(), "reasonDetail")
        self.detail.setPlaceholderText(tr("Details (optional unless “Other”)",
                                          "Précisions (obligatoires si « Autre »)"))
        layout.addWidget(self.detail)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.choice.currentIndexChanged.connect(self._update)
        self.detail.textChanged.connect(self._update)
        self._update()

    def reason(self) -> str:
        picked = str(self.choice.currentData() or "")
        detail = self.detail.text().strip()
        if picked == "other":
            return detail
        return f"{picked}: {detail}" if picked and detail else picked

    def _update(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(self.reason()))


class MissingDialog(QDialog):
    """Why a value cannot be given (not done, unknown, not applicable)."""

    def __init__(self, field: str, code: MissingCode, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{field} — {code.label()}")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(tr(f"Why is “{field}” {code.label().lower()}?",
                                   f"Pourquoi « {field} » : {code.label().lower()} ?")))
        self.reason = named(QLineEdit(), "missingReason")
        layout.addWidget(self.reason)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(False)
        self.reason.textChanged.connect(lambda t: ok.setEnabled(bool(t.strip())))


def ask_missing(parent: QWidget, field: str, code: MissingCode) -> str | None:
    dialog = MissingDialog(field, code, parent)
    return dialog.reason.text().strip() if dialog.exec() == QDialog.DialogCode.Accepted else None


def _who(record: AuditRecord) -> str:
    """The user name and the role by its name in the user's language (never the role's code)."""
    try:
        role = Role(record.role).label(current_lang()) if record.role else ""
    except ValueError:
        role = record.role or ""
    return f"{record.username} ({role})" if role else str(record.username or "")


def form_labels(ws: Workspace, ref: FormRef) -> dict[str, L]:
    """The form's item labels by their English text: the warnings stored in English are said again with them."""
    form = ws.study.forms.get(ref.form)
    return {} if form is None else {i.label.en: i.label.as_l() for i in form.all_items()}


class HistoryDialog(QDialog):
    """Who, when, on which workstation, what, old value, new value, why: the item's audit trail in time order, every
    action and every text the program wrote in the reader's language (trail_words.py), never raw JSON."""

    COLUMNS = (("When", "Quand"), ("Who", "Qui"), ("Workstation", "Poste"), ("What", "Quoi"),
               ("Old value", "Ancienne valeur"), ("New value", "Nouvelle valeur"), ("Reason", "Motif"))

    def __init__(self, title: str, records: list[AuditRecord], parent: QWidget | None = None, *,
                 conflicts: Mapping[int, tuple[Side, Side]] | None = None,
                 code_words: Callable[[str], str | None] | None = None,
                 labels: Mapping[str, L] | None = None) -> None:
        """``code_words``: a coded item's stored code in the reader's words ("Y" -> "Oui"); None: not a code."""
        super().__init__(parent)
        self.setWindowTitle(tr("History — ", "Historique — ") + title)
        self.resize(1200, 480)
        layout = QVBoxLayout(self)
        lang = current_lang()
        records = sorted(records, key=lambda r: (r.ts_utc, r.id))  # copies arrive after later local changes
        self.table = named(QTableWidget(len(records), len(self.COLUMNS)), "history")
        self.table.setHorizontalHeaderLabels([tr(en, fr) for en, fr in self.COLUMNS])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)  # when, who, where: whole
        for column, width in ((3, 150), (4, 125), (5, 125)):  # what, the values: wrapped in a set width
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(column, width)
        header.setSectionResizeMode(6, QHeaderView.ResizeMode.Stretch)  # the reason: the rest (at least a third)
        for row, r in enumerate(records):
            why = "; ".join(detail_text(t, lang, offset_min=r.utc_offset_min, conflicts=conflicts, labels=labels)
                            for t in (r.reason, r.detail) if t)
            if r.reason and r.detail and r.action not in _DETAIL_SHOWN:
                why = detail_text(r.reason, lang, offset_min=r.utc_offset_min, conflicts=conflicts, labels=labels)
            old, new = ((code_words(v) if code_words is not None and v else None) or value_words(v, lang)
                        for v in (r.old_value, r.new_value))
            if r.action == "query":  # a query's state, by its name
                old, new = (query_state(v) if v else "—" for v in (r.old_value, r.new_value))
            for col, text in enumerate((format_stored(r.ts_utc, r.utc_offset_min),
                                        who_text(_who(r), r.action, r.detail, lang),
                                        r.recorded_on or "—", action_label(r.action, lang), old, new, why)):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.setWordWrap(True)  # long values and reasons wrap in their columns; When and Who stay whole
        self.table.resizeRowsToContents()
        # the rows' heights follow the columns' widths once the dialog is laid out (and when a column is resized)
        header.sectionResized.connect(lambda *_a: self.table.resizeRowsToContents())
        layout.addWidget(self.table)
        if not records:
            layout.addWidget(QLabel(tr("Nothing recorded yet.", "Rien d'enregistré pour l'instant.")))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.button(QDialogButtonBox.StandardButton.Close).setText(tr("Close", "Fermer"))
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self.table.resizeRowsToContents)  # heights for the columns' widths as laid out


# Records whose detail says something the reason does not (shown after it); for the others the reason alone.
_DETAIL_SHOWN = frozenset({"conflict_resolved", "merge_conflict"})


class QueryDialog(QDialog):
    """The queries of one item: their messages, and what this user may do (answer, close, re-open).

    Its writes go through ``ops.run`` (every open screen, the form included, redraws from the change record); a
    refusal shows on its own error line. ``changed`` carries the change record of each of its writes."""

    changed = Signal(object)  # Changes

    def __init__(self, ws: Workspace, ops: Ops, ref: FormRef, key: CellKey, *, label: str,
                 queries: list[QueryInfo], parent: QWidget | None = None,
                 conflicts: Mapping[int, tuple[Side, Side]] | None = None, value_text: ValueText | None = None,
                 unit: str | None = None) -> None:
        super().__init__(parent)
        self.ws, self.ops, self.ref, self.key = ws, ops, ref, key
        self._to_confirm: tuple[str, str | None] | None = None  # an unusual corrected value whose warning is shown
        # A conflict's automatic query (same id as the conflict) is said from its facts in the reader's language.
        self.conflicts = dict(conflicts or {})
        self.value_text = value_text
        self.queries = [q for q in queries if q.key == key]
        self.setWindowTitle(tr("Queries — ", "Queries — ") + label)
        self.resize(760, 480)
        layout = QVBoxLayout(self)
        self.text = named(QTextBrowser(), "queryText")
        layout.addWidget(self.text)
        self.reply = named(QLineEdit(), "queryReply")
        self.reply.setPlaceholderText(tr("Your answer or comment", "Votre réponse ou commentaire"))
        layout.addWidget(self.reply)
        self.corrected = named(QLineEdit(), "queryCorrected")
        self.corrected.setPlaceholderText(tr("Corrected value (optional)", "Valeur corrigée (facultatif)"))
        corrected_line = QHBoxLayout()
        corrected_line.addWidget(self.corrected, 1)
        # The corrected value is in a unit, like the form's field (the value's own unit first): never silently the
        # item's main unit (45 mg/mmol stored as 45 g/g).
        self.unit_combo: QComboBox | None = None
        item = ws.study.forms[ref.form].item(key[2]) if ref.form in ws.study.forms else None
        if item is not None and item.alt_units:
            self.unit_combo = named(QComboBox(), "queryUnit")
            self.unit_combo.addItem(item.unit or "", None)
            for alt in item.alt_units:
                self.unit_combo.addItem(alt.unit, alt.unit)
            self.unit_combo.setCurrentIndex(max(self.unit_combo.findData(unit), 0))
            corrected_line.addWidget(self.unit_combo)
        layout.addLayout(corrected_line)
        buttons = QHBoxLayout()
        self.answer_button = named(QPushButton(tr("Answer", "Répondre")), "answer")
        self.close_button = named(QPushButton(tr("Close the query", "Clore la query")), "closeQuery")
        self.reopen_button = named(QPushButton(tr("Re-open", "Rouvrir")), "reopen")
        can_enter = ws.entry.can_edit(ref.form)
        self.answer_button.setVisible(can_enter)
        self.corrected.setVisible(can_enter)
        if self.unit_combo is not None:
            self.unit_combo.setVisible(can_enter)
        for button in (self.close_button, self.reopen_button):
            button.setVisible(ws.can(Perm.MANAGE_QUERIES))
        self.answer_button.clicked.connect(self.answer)
        self.close_button.clicked.connect(lambda: self._step("close"))
        self.reopen_button.clicked.connect(lambda: self._step("reopen"))
        for button in (self.answer_button, self.close_button, self.reopen_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        self.error = named(QLabel(), "error")
        self.error.setWordWrap(True)
        layout.addWidget(self.error)
        self.show_messages()
        # An answer being typed when another user takes over: kept as this user's own encrypted draft (``keep_text``)
        self.draft_key = "answer:" + ":".join(map(str, (ref.subject, ref.event, ref.form, *key)))
        with contextlib.suppress(CrfError):
            kept = ws.drafts.load(self.draft_key) or {}
            self.reply.setText(str(kept.get("reply", "")))
            self.corrected.setText(str(kept.get("corrected", "")))

    def keep_text(self) -> None:
        typed = {"reply": self.reply.text(), "corrected": self.corrected.text()}
        if any(v.strip() for v in typed.values()):
            with contextlib.suppress(CrfError):
                self.ws.drafts.save(self.draft_key, typed, audited=False)

    def show_messages(self) -> None:
        parts = []
        offset = self.ws.ctx.clock.local_offset_minutes()
        for q in self.queries:
            auto = tr(" (automatic)", " (automatique)") if q.automatic else ""
            parts.append(f"<h4>#{q.id} — {html.escape(query_state(q.status))}{auto}</h4>")
            for m in q.messages:
                when = format_stored(iso_utc(m.when), offset, seconds=False)
                role = Role(m.role).label(current_lang()) if m.role in tuple(Role) else m.role
                who = f"{m.username} ({role})"
                if m.kind == "auto" and q.id in self.conflicts:  # the import that found the conflict opened it
                    who = applied_by(who, current_lang())
                parts.append(f"<p><b>{when} · {html.escape(query_step(m.kind))} · {html.escape(who)}</b>"
                             f"<br>{html.escape(self.message_text(q, m, offset))}</p>")
        self.text.setHtml("".join(parts))
        last = self.queries[-1].status if self.queries else None
        # the buttons act on the item's last query: closing a closed one, re-opening an open one would say nothing
        self.close_button.setEnabled(last is not None and last != CLOSED)
        self.reopen_button.setEnabled(last == CLOSED)

    def message_text(self, query: QueryInfo, message: Any, offset: int) -> str:
        if message.kind == "auto" and query.id in self.conflicts:
            return conflict_text(*self.conflicts[query.id], current_lang(), offset, self.value_text)
        if message.kind == "auto":  # a confirmed value's warning, stored in English: in the reader's language
            return warning_text(str(message.text), current_lang(), form_labels(self.ws, self.ref))
        return str(message.text)

    def _show_error(self, exc: CrfError) -> None:
        self.error.setText(error_text(exc))
        if isinstance(exc, SoftCheckNeedsConfirmation):  # shown: the next "Confirm and answer" confirms it
            self._to_confirm = self._corrected_value()
            self.answer_button.setText(tr("Confirm the value and answer", "Confirmer la valeur et répondre"))

    def _corrected_value(self) -> tuple[str, str | None] | None:
        text = self.corrected.text().strip()
        if not text:
            return None
        unit = self.unit_combo.currentData() if self.unit_combo is not None else None
        return text, (str(unit) if unit else None)

    def _done(self, changes: Changes | None) -> None:
        if changes is None:  # refused: shown on the error line, what was typed stays
            return
        self.error.clear()
        self.reply.clear()
        self.corrected.clear()
        with contextlib.suppress(CrfError):
            self.ws.drafts.discard(self.draft_key, audited=False)
        self._to_confirm = None
        self.answer_button.setText(tr("Answer", "Répondre"))
        try:
            self.queries = [q for q in self.ws.monitoring.queries(self.ref) if q.key == self.key]
        except CrfError as exc:
            self._show_error(exc)
        self.show_messages()
        self.changed.emit(changes)

    def answer(self) -> None:
        if not self.queries:
            return
        query_id, text = self.queries[-1].id, self.reply.text()
        given = self._corrected_value()
        corrected, unit = given if given is not None else (None, None)
        confirm = given is not None and given == self._to_confirm  # the very value whose warning is on screen
        if not confirm:
            self._to_confirm = None
            self.answer_button.setText(tr("Answer", "Répondre"))
        self._done(self.ops.run(lambda: self.ws.monitoring.answer(query_id, text, corrected_value=corrected,
                                                                  unit=unit, confirm=confirm,
                                                                  reason=text if corrected else None),
                                parent=self, on_error=self._show_error))

    def _step(self, kind: str) -> None:
        if not self.queries:
            return
        query_id, text = self.queries[-1].id, self.reply.text()
        monitoring = self.ws.monitoring
        step = monitoring.close if kind == "close" else monitoring.reopen
        self._done(self.ops.run(lambda: step(query_id, text), parent=self, on_error=self._show_error))


class RaiseQueryDialog(QInputDialog):
    """"Raise a query" on an item: a window of the form, not a question waiting in its own loop, so the lock hides
    it with the form and the same user finds it back with her text (before, the lock closed it as cancelled and the
    text was lost). Before another user takes over, the text becomes her own encrypted draft (``keep_text``), put
    back the next time she raises a query on this item; cancelling it, or the query raised, forgets the draft."""

    def __init__(self, ws: Workspace, ref: FormRef, key: CellKey, label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ws = ws
        self.draft_key = "query:" + ":".join(map(str, (ref.subject, ref.event, ref.form, *key)))
        self.setWindowTitle(tr("Raise a query", "Ouvrir une query"))
        self.setLabelText(label)
        self.setInputMode(QInputDialog.InputMode.TextInput)
        try:
            kept = ws.drafts.load(self.draft_key)
        except CrfError:
            kept = None
        if kept and isinstance(kept.get("text"), str):
            self.setTextValue(kept["text"])
        self.rejected.connect(self.forget)
        self.resize(560, self.sizeHint().height())  # a query is a sentence or two, not a word

    def showEvent(self, event: QShowEvent) -> None:
        """Shown again (after the lock, or her draft put back): the cursor after her text, nothing selected (Qt
        selects it all, and the next key typed replaced the whole query)."""
        super().showEvent(event)
        QTimer.singleShot(0, self, self._cursor_at_end)  # after QInputDialog's own select-all on showing

    def _cursor_at_end(self) -> None:
        for line in self.findChildren(QLineEdit):
            line.deselect()
            line.end(False)

    def keep_text(self) -> None:
        """Her text as her own draft (the lock comes, or another user takes over; nothing in clear on disk)."""
        if self.textValue().strip():
            with contextlib.suppress(CrfError):  # the text stays on screen; the draft is a second copy
                self.ws.drafts.save(self.draft_key, {"text": self.textValue()}, audited=False)

    def forget(self) -> None:
        with contextlib.suppress(CrfError):
            self.ws.drafts.discard(self.draft_key, audited=False)


class SignDialog(QDialog):
    """Electronic signature: user name and password again, the meaning, and what the signature certifies.

    With ``attempt`` (the signing itself: None when refused, the refusal shown with ``show_error``), a wrong password
    keeps the dialog open with the user name and meaning as typed: one line says why, the password field is emptied
    and has the focus."""

    def __init__(self, rules: SignatureRules, form_label: str, ref: FormRef, parent: QWidget | None = None,
                 attempt: Callable[[tuple[str, str, str]], object | None] | None = None, *, role: str = "",
                 visit: str = "") -> None:
        super().__init__(parent)
        self.attempt = attempt
        self.setWindowTitle(tr("Electronic signature", "Signature électronique"))
        layout = QVBoxLayout(self)
        visit = visit or ref.event  # the visit's name ("Mois 3"), its code only when not given
        what = QLabel(tr(f"You are signing “{form_label}” of subject {ref.subject}, visit {visit}.",
                         f"Vous signez « {form_label} » du patient {ref.subject}, visite {visit}."))
        what.setWordWrap(True)
        layout.addWidget(what)
        self.meaning = named(QComboBox(), "meaning")
        for m in rules.meanings:
            self.meaning.addItem(m.label.get(), m.code)
        self.meaning.setCurrentIndex(max(0, self.meaning.findData(rules.default_meaning(role))))  # by the role
        layout.addWidget(self.meaning)
        self.username = named(QLineEdit(), "signUser")
        self.username.setPlaceholderText(tr("Your user name", "Votre nom d'utilisateur"))
        self.password = named(QLineEdit(), "signPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText(tr("Your password", "Votre mot de passe"))
        layout.addWidget(self.username)
        layout.addWidget(self.password)
        legal = named(QLabel(tr(
            "This electronic signature is the legally binding equivalent of my handwritten signature.",
            "Cette signature électronique a la même valeur juridique que ma signature manuscrite.")), "help")
        legal.setWordWrap(True)
        layout.addWidget(legal)
        self.error = named(QLabel(), "error")
        self.error.setWordWrap(True)
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.sign_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.sign_button.setText(tr("Sign", "Signer"))
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(tr("Cancel", "Annuler"))
        buttons.accepted.connect(self._sign)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def values(self) -> tuple[str, str, str]:
        return self.username.text(), self.password.text(), str(self.meaning.currentData())

    def _sign(self) -> None:
        if self.attempt is None:
            self.accept()
            return
        self.error.clear()
        if self.attempt(self.values()) is not None:
            self.password.clear()
            self.accept()

    def show_error(self, exc: CrfError) -> None:
        """A refusal (a wrong password): one line; the user name and meaning stay, the password is typed again."""
        self.error.setText(error_text(exc))
        self.password.clear()
        self.password.setFocus()
