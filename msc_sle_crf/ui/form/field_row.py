"""One field of a form: its editor, unit picker, state badge, message, "Confirm value" button, the ⋯ menu (not
done, unknown, history, queries, source verification) and its query/SDV marks.

A field never calls the form: it emits what the user asked for (``edited``, ``commit_requested``...) with its cell
key, and the form decides. The form tells it what to show (``show_state``, ``show_marks``, ``show_grades``).
"""

from __future__ import annotations

import html
from collections.abc import Callable

from PySide6.QtCore import QPoint, QSize, Qt
from PySide6.QtGui import QFont, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from msc_sle_crf.formdef.definitions import CodeList, Item, MissingCode
from msc_sle_crf.formdef.engine import CellKey, FormState, Issue
from msc_sle_crf.formdef.functions import CALCULATIONS
from msc_sle_crf.i18n import current_lang
from msc_sle_crf.ui.common import tr
from msc_sle_crf.ui.form.editors import (
    AnyEditor,
    ChecksEditor,
    ComboEditor,
    CtcaePicker,
    LineEditor,
    QuietCombo,
    RadioEditor,
    make_editor,
)
from msc_sle_crf.ui.form.field_parts import (
    BADGE_TIPS,
    ENTER_ONLY,
    Badge,
    FieldPermissions,
    FieldSignals,
    by_severity,
    state_kind,
)
from msc_sle_crf.ui.form.style import (
    BADGES,
    SURFACES,
    badge_pixmap,
    fits,
    full_contrast,
    named,
    on_surface,
    pin,
    pin_badge,
    set_colour,
    set_state,
    unpin,
)

Placer = Callable[[QWidget], None]
class FieldEditor(QWidget):
    """Editor, unit, state badge, confirm button and the ⋯ menu of one cell. What the user asks for goes out through
    its ``signals`` (shared by the form's fields), with its key: ``field.edited``, ``field.commit_requested``..."""

    def __init__(self, key: CellKey, item: Item, codelist: CodeList | None, parent: QWidget, *,
                 permissions: FieldPermissions = ENTER_ONLY, signals: FieldSignals | None = None) -> None:
        super().__init__(parent)  # built in place: re-parenting a finished subtree re-styles all of it
        self.key = key
        self.item = item
        self.codelist = codelist  # the labels of a coded item's codes (the history says "Oui", not "Y")
        self.permissions = permissions
        self.signals = signals if signals is not None else FieldSignals(self)
        hub = self.signals
        self.edited, self.commit_requested, self.confirm_requested = (hub.edited, hub.commit_requested,
                                                                      hub.confirm_requested)
        self.missing_requested, self.value_requested, self.history_requested = (
            hub.missing_requested, hub.value_requested, hub.history_requested)
        self.query_requested, self.queries_requested, self.verify_requested = (
            hub.query_requested, hub.queries_requested, hub.verify_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.editor: AnyEditor
        if item.calc:
            self.editor = LineEditor(item, self, read_only=True)
            self.editor.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            fn = CALCULATIONS.get(item.calc.function)
            self.editor.setToolTip(tr("Calculated: ", "Calculé : ") + (fn.description.get() if fn else ""))
        else:
            self.editor = make_editor(item, codelist, self)
        self.editor.setObjectName(f"editor_{item.id}")
        self.surface = SURFACES.get(parent.objectName())  # the plain colour this field sits on, if known
        self._on_surface = False  # see _fill_backgrounds (at the first keystroke, not for every field at opening)
        self.ctcae: CtcaePicker | None = None
        if item.lookup == "ctcae_v5" and isinstance(self.editor, LineEditor):
            self.ctcae = CtcaePicker(self.editor)
            self.ctcae_model, self.completer = self.ctcae.model, self.ctcae.completer
            self.ctcae.picked.connect(self._picked)
        self.grade_help: QLabel | None = None
        compact = isinstance(self.editor, (RadioEditor, ComboEditor, ChecksEditor)) or (
            isinstance(self.editor, LineEditor) and self.editor.fixed_width)
        if compact:
            self.editor.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.editor, 0 if compact else 1)
        self.unit_combo: QComboBox | None = None
        if item.alt_units:
            self.unit_combo = named(QuietCombo(self), "unit")
            self.unit_combo.addItem(item.unit or "", None)
            for alt in item.alt_units:
                self.unit_combo.addItem(alt.unit, alt.unit)
            self.unit_combo.setFixedWidth(110)
            layout.addWidget(self.unit_combo)
        elif item.unit:
            layout.addWidget(named(QLabel(item.unit, self), "unit"))
        self.badge = named(Badge(self), "badge")
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.badge)
        self._marks: QLabel | None = None  # open queries, source-data verification: made when there are some
        self._confirm_button: QPushButton | None = None  # made when first needed: most fields never need it
        if compact:
            layout.addStretch(1)
        self.menu_button = named(QToolButton(self), "more")
        self.menu_button.setText("⋯")
        self.menu_button.setToolTip(tr("Not done, unknown, history…", "Non fait, inconnu, historique…"))
        self.menu_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.menu_button.clicked.connect(self._show_menu)
        layout.addWidget(self.menu_button)
        self.menu: QMenu | None = None
        self.label: QLabel | None = None  # the field's name, placed by the form in the grid
        self._message: QLabel | None = None  # made when there is something to say
        self.place_message: Placer | None = None
        self.place_extra: Placer | None = None
        self.state = "none"
        self._seen: tuple[object, ...] | None = None  # what show_state last looked at (see there)
        self._shown: tuple[object, ...] | None = None  # what show_state last drew
        self._badge_look: tuple[QFont, QSize, float] | None = None  # font, size, pixel ratio, once pinned
        self._badge_pictures: dict[str, QPixmap] = {}  # badge_pixmap for this badge, per state
        self._badge_colour: str | None = None  # the state whose colours the badge shows
        self._message_colour: tuple[str, bool] | None = None  # the message line's: state, bold
        self._message_pinned = False
        self._pinned_fits: dict[str, bool] = {}  # _fits while the message line is pinned
        self._editor_enabled = True
        self._visible: bool | None = None  # what show_visible last set
        self.missing: MissingCode | None = None  # the missing code shown (for the menu)
        self.query_count = 0
        self._open_queries = 0
        self._verified: bool | None = None
        self.value_name = ""
        self._typing_here = False  # keystrokes since the field was entered (see show_state)
        self._fitting: dict[tuple[str, int, int, float], bool] = {}
        self.editor.edited.connect(self._edited)
        self.editor.finished.connect(self._finished)
        if self.unit_combo is not None:
            self.unit_combo.activated.connect(self._unit_picked)

    def _edited(self, text: str) -> None:
        self._typing_here = True
        if not self._on_surface:
            self._fill_backgrounds()
        typed = self.signals.typed
        if typed is not None:
            typed(self.key, text)
        else:
            self.edited.emit(self.key, text)

    def _fill_backgrounds(self) -> None:
        """What a keystroke here repaints (the line edit, the state badge, the message line) fills its background
        with the plain colour of the section or row card beneath: Qt then repaints these widgets alone at each key,
        not the section, the form and the window under them. Done at the field's first keystroke (for every field
        at opening it cost ~20 % of the form's opening)."""
        self._on_surface = True
        if self.surface is None:
            return
        if isinstance(self.editor, LineEditor):
            self.editor.set_surface(self.surface)
        on_surface(self.badge, self.surface)
        if self._message is not None:
            on_surface(self._message, self.surface)

    def _finished(self) -> None:
        self._typing_here = False
        message = self._message
        if message is not None:
            self._unpin_message()  # pinned while typing (see _show_message): the layout may move it again
            if message.isVisible() and not message.text():  # kept while typing: let it go
                message.setVisible(False)
        self.commit_requested.emit(self.key)

    def _picked(self, term: str) -> None:
        self.edited.emit(self.key, term)
        self.commit_requested.emit(self.key)

    def _unit_picked(self, _index: int) -> None:
        self.edited.emit(self.key, self.editor.text())
        self.commit_requested.emit(self.key)

    # ----- value --------------------------------------------------------------------------------------------
    def unit(self) -> str | None:
        if self.unit_combo is None:
            return None
        data = self.unit_combo.currentData()
        return str(data) if data else None

    def set_unit(self, unit: str | None) -> None:
        if self.unit_combo is not None:
            self.unit_combo.setCurrentIndex(max(self.unit_combo.findData(unit), 0))

    def focus(self) -> None:
        self.editor.focus_widget().setFocus()

    # ----- what it shows ------------------------------------------------------------------------------------
    @property
    def message(self) -> QLabel:
        if self._message is None:
            label = named(QLabel(self.parentWidget()), "message")
            if self._on_surface:
                on_surface(label, self.surface)
            label.setWordWrap(True)
            label.setVisible(False)
            self._message = label
            if self.place_message is not None:
                self.place_message(label)
        return self._message

    @property
    def marks(self) -> QLabel:
        if self._marks is None:
            label = named(QLabel(self), "marks")
            label.setTextFormat(Qt.TextFormat.RichText)
            # "Query (n)" is a link to the item's queries (a conflict's marker adds its own: ui/form/conflicts.py)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                          | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
            label.linkActivated.connect(lambda href: self.queries_requested.emit(self.key) if href == "queries"
                                        else None)
            layout = self.layout()
            assert isinstance(layout, QHBoxLayout)
            layout.insertWidget(layout.indexOf(self.badge) + 1, label)
            self._marks = label
        return self._marks

    @property
    def confirm_button(self) -> QPushButton:
        if self._confirm_button is None:
            button = named(QPushButton(tr("Confirm value", "Confirmer la valeur"), self), "confirm")
            button.setVisible(False)
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            button.clicked.connect(lambda: self.confirm_requested.emit(self.key))
            layout = self.layout()
            assert isinstance(layout, QHBoxLayout)
            layout.insertWidget(layout.indexOf(self.badge) + 1, button)
            self._confirm_button = button
        return self._confirm_button

    def show_error(self, text: str) -> None:
        """A refusal of the service for this value (the typed text stays)."""
        self.message.setText(text)
        self._message_in("hard", bold=True)
        self.message.setVisible(True)
        self._seen = self._shown = None  # what show_state drew is no longer on screen

    def show_visible(self, visible: bool) -> None:
        """Shown or hidden by its show-if condition (with its name and message)."""
        if visible == self._visible:
            return
        self._visible = visible
        if not visible or self.testAttribute(Qt.WidgetAttribute.WA_WState_ExplicitShowHide):
            # shown with its section otherwise: a show() here, on a form being built, polished the field early
            self.setVisible(visible)
            if self.label is not None:
                self.label.setVisible(visible)
        self.setEnabled(visible)
        if self._message is not None:
            self._message.setVisible(visible and bool(self._message.text()))

    def show_read_only(self) -> None:
        """Not editable, and in full contrast: a monitor compares these values with the source (Qt's disabled
        grey is hard to read)."""
        self.editor.setEnabled(False)
        full_contrast(self.editor)
        if self.unit_combo is not None:
            self.unit_combo.setEnabled(False)
            full_contrast(self.unit_combo)
        if self._confirm_button is not None:
            self._confirm_button.setVisible(False)

    def show_value_name(self, name: str) -> None:
        """The name of a code the program wrote into this field (a planned time point: "END" is "End of the
        infusion"), beside it."""
        if name == self.value_name:
            return
        self.value_name = name
        self.show_marks(self.query_count, self._open_queries, self._verified)

    def show_marks(self, queries: int, open_queries: int, verified: bool | None) -> None:
        """Open queries, and source-data verification (None: not verified; False: changed since)."""
        self.query_count = queries
        self._open_queries, self._verified = open_queries, verified
        marks = [f'<span style="color:#33414e">{html.escape(self.value_name)}</span>'] if self.value_name else []
        if open_queries:
            marks.append(f'<a href="queries" style="color:#b26a00; text-decoration:none"><b>{tr("Query", "Query")} '
                         f'({open_queries})</b></a>')
        if verified is not None:
            marks.append('<span style="color:#00796b">SDV</span>' if verified else
                         '<span style="color:#b00020" title="changed after verification">SDV ✕</span>')
        text = " ".join(marks)
        if text != (self._marks.text() if self._marks is not None else ""):
            self.marks.setText(text)

    def show_state(self, state: FormState, *, show_missing: bool = True) -> None:
        """The cell's state: badge, border, message, "Confirm value". Only what changed is touched (it runs at every
        keystroke: no style sheet is re-polished, nothing is re-set to what it already shows). The engine keeps a
        cell's issues (the same tuple) while they do not change, so a keystroke that changes nothing shown is told
        at a glance."""
        cell = state.cell(self.key)
        enabled = self.isEnabled()
        seen = (cell.issues, cell.missing, cell.missing_reason, cell.value is None, show_missing, enabled,
                current_lang())
        if seen == self._seen:
            return
        self._seen = seen
        self.missing = cell.missing
        hard, soft, missing, confirmed = by_severity(cell.issues)
        kind = "calc" if self.item.calc else state_kind(hard, soft, missing, filled=not cell.empty)
        shown: list[Issue] = hard or soft or (missing if show_missing else [])
        lines = [i.message.get() for i in shown]
        if cell.missing is not None:
            lines.insert(0, f"{cell.missing.label()} — {cell.missing_reason or ''}")
        lines += [tr("Confirmed: ", "Confirmé : ") + i.message.get() for i in confirmed]
        needs_confirmation = bool(soft) and not hard
        drawn = (kind, tuple(lines), needs_confirmation, cell.missing is None, enabled, seen[-1])
        if drawn == self._shown:
            return
        badge_drawn = drawn[0] != (self._shown[0] if self._shown is not None else None) or drawn[5:] != (
            self._shown[5:] if self._shown is not None else None)
        self._shown = drawn
        self.state = kind
        if badge_drawn:  # the badge, its tip and the border show the kind (and the language) only
            self._show_kind(kind)
        if lines or self._message is not None:
            self._show_message(lines, "hard" if hard else "soft" if soft else "missing", enabled)
        if needs_confirmation or self._confirm_button is not None:
            self.confirm_button.setVisible(needs_confirmation)
        if self._editor_enabled != (cell.missing is None):
            self._editor_enabled = cell.missing is None
            self.editor.setEnabled(self._editor_enabled)

    def _show_kind(self, kind: str) -> None:
        badge = self.badge
        look = self._badge_look
        if look is None and pin_badge(badge):  # pinned: its size and font are those of every later state
            look = self._badge_look = (badge.font(), badge.size(), badge.devicePixelRatioF())
        badge.glyph = BADGES[kind]
        if look is not None:
            picture = self._badge_pictures.get(kind)
            if picture is None:
                picture = self._badge_pictures[kind] = badge_pixmap(kind, *look)
            badge.setPixmap(picture)
        else:  # not shown yet (a form opening): its text, in the state's colour
            badge.setText(badge.glyph)
            if kind != self._badge_colour:
                self._badge_colour = kind
                set_colour(badge, kind, bold=None, surface=self.surface)  # bold by its style sheet rule
        tip = BADGE_TIPS.get(kind)
        badge.setToolTip(tip.get() if tip is not None else "")
        badge.setAccessibleName(tip.get() if tip is not None else "")  # a picture has no text a reader can say
        target = self.editor.focus_widget()
        if isinstance(target, LineEditor):
            target.set_state(kind)
        elif isinstance(target, QComboBox):
            set_state(target, kind)

    def _message_in(self, kind: str, *, bold: bool) -> None:
        if self._message_colour != (kind, bold):
            self._message_colour = (kind, bold)
            set_colour(self.message, kind, bold=bold, surface=self.surface)

    def _unpin_message(self) -> None:
        if self._message_pinned and self._message is not None:
            self._message_pinned = False
            unpin(self._message)

    def _show_message(self, lines: list[str], kind: str, enabled: bool | None = None) -> None:
        message = self.message
        visible = bool(lines) and (self.isEnabled() if enabled is None else enabled)
        text = "\n".join(lines)
        if self._typing_here and message.isVisible() and self._fits(message, text if visible else ""):
            # The user is typing in this field and its message line is on screen: the line keeps its place and size
            # (empty when the value becomes valid) until the field is left, so the form below neither moves nor is
            # laid out again at every keystroke that makes a value valid or not (a re-layout of a 151-field grid
            # costs more than the keystroke). A message that needs more lines than the pinned place is let go.
            if not self._message_pinned:
                self._message_pinned = True
                self._pinned_fits.clear()
                pin(message)
            message.setText(text if visible else "")
            if not visible:  # an empty line has no colour to show: kept as it is for the next message
                return
        else:
            self._unpin_message()
            message.setText(text)
            message.setVisible(visible)
        self._message_in(kind, bold=kind == "hard")

    def _fits(self, message: QLabel, text: str) -> bool:
        """``fits``, remembered for the few texts a field's message takes while the user types in it (while the
        line is pinned its size and font stay: the text alone says)."""
        if self._message_pinned:
            pinned = self._pinned_fits.get(text)
            if pinned is None:
                if len(self._pinned_fits) > 32:
                    self._pinned_fits.clear()
                pinned = self._pinned_fits[text] = fits(message, text)
            return pinned
        known = (text, message.width(), message.height(), message.font().pointSizeF())
        found = self._fitting.get(known)
        if found is None:
            if len(self._fitting) > 32:
                self._fitting.clear()
            found = self._fitting[known] = fits(message, text)
        return found

    def show_grades(self, term: str | None) -> None:
        """Under a CTCAE grade field: that term's own grade definitions; grades the term lacks are disabled."""
        from msc_sle_crf.scoring import ctcae

        found = ctcae.catalogue().get(term or "")
        if self.grade_help is None and self.place_extra is not None:
            self.grade_help = named(QLabel(self.parentWidget()), "gradeHelp")
            self.grade_help.setWordWrap(True)
            self.grade_help.setTextFormat(Qt.TextFormat.RichText)
            self.place_extra(self.grade_help)
        if self.grade_help is not None:
            if found is None:
                self.grade_help.setText(tr("Choose the term first: each term has its own grades.",
                                           "Choisir d'abord le terme : chaque terme a ses propres grades."))
            else:
                lines = "<br>".join(f"<b>{tr('Grade', 'Grade')} {g}</b> : "
                                    f"{html.escape(found.grades[g]) if g in found.grades else '—'}"
                                    for g in range(1, 6))
                french = ctcae.french_words(found.term)
                self.grade_help.setText(
                    f"<b>{html.escape(found.term)}</b>" + (f" — <i>{html.escape(french)}</i>" if french else "")
                    + " (CTCAE v5.0" + tr(", official English text)", ", texte officiel en anglais)")
                    + f"<br>{lines}")
        if isinstance(self.editor, (RadioEditor, ComboEditor)):
            self.editor.enable_codes(lambda code: found is None or found.allows(int(code)))

    # ----- the ⋯ menu ---------------------------------------------------------------------------------------
    def _show_menu(self) -> None:
        self.menu = QMenu(self)
        self.fill_menu(self.menu)
        # opens leftwards under the button (the button sits at the form's right edge: opened rightwards, the menu
        # ran into the screen's edge at 1280 px and its border was cut)
        below = self.menu_button.mapToGlobal(self.menu_button.rect().bottomRight())
        self.menu.popup(QPoint(below.x() - self.menu.sizeHint().width() + 1, below.y()))

    def fill_menu(self, menu: QMenu) -> None:
        key, allowed = self.key, self.permissions
        codes = self.item.missing if allowed.enter else ()
        for code in codes:
            menu.addAction(code.label() + "…").triggered.connect(
                lambda _c=False, code=code: self.missing_requested.emit(key, code))
        if self.missing is not None and allowed.enter:
            menu.addAction(tr("Enter a value instead", "Saisir une valeur")).triggered.connect(
                lambda: self.value_requested.emit(key))
        if menu.actions():
            menu.addSeparator()
        menu.addAction(tr("History of this item…", "Historique de cet élément…") + "\tCtrl+H").triggered.connect(
            lambda: self.history_requested.emit(key))
        if self.query_count or allowed.raise_query or allowed.verify:
            menu.addSeparator()
        if allowed.raise_query:
            menu.addAction(tr("Raise a query…", "Ouvrir une query…")).triggered.connect(
                lambda: self.query_requested.emit(key))
        if self.query_count:
            n = self.query_count
            menu.addAction(tr(f"Queries ({n})…", f"Queries ({n})…")).triggered.connect(
                lambda: self.queries_requested.emit(key))
        if allowed.verify:
            menu.addAction(tr("Source-verify this item", "Marquer cet élément vérifié (SDV)")).triggered.connect(
                lambda: self.verify_requested.emit(key))
