"""Fields below the fold built when reached (issue 13: the largest form shown in <= 1.5x its bare widgets).

A form builds its first ``EAGER_FIELDS`` fields (more than a screen holds) at once. The others wait in chunks, each
held in its section's grid by a ``Pending`` widget of about their height (the scroll bar tells the form's length).
A chunk is built, in document order with every chunk before it, when

- its place is painted (scrolled to, or the window made taller),
- the keyboard comes near it (the focus enters one of the last fields built before it: Tab and Enter go on to it),
- anything asks for one of its fields (``Fields``: ``view.fields[key]``, ``.get``, ``in``; a blocker chosen, a
  query opened, a test).

A field built late gets its value, state, message and marks from the form's state then, and its place in the Tab
order (after the field before it), as if it had been built with the form.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import QApplication, QGridLayout, QWidget

from msc_sle_crf.formdef.definitions import Item
from msc_sle_crf.formdef.engine import CellKey
from msc_sle_crf.ui.form.field_row import FieldEditor

if TYPE_CHECKING:
    from msc_sle_crf.ui.form.sections import Section

EAGER_FIELDS = 30  # built with the form: more than a 1080-pixel-high screen shows
CHUNK_FIELDS = 12  # built together when reached
FIELD_HEIGHT = 46  # about the height of a field's line, for the room a chunk keeps until built
NEAR = 3  # the focus within this many fields of a chunk builds it


@dataclass
class Spec:
    """A field to build: where (its grid, the widget owning it, its lines) and what."""

    key: CellKey
    item: Item
    section: Section
    grid: QGridLayout
    owner: QWidget
    line: int


@dataclass
class Chunk:
    specs: list[Spec]
    place: Pending
    built: bool = False
    before: list[CellKey | QWidget] = field(default_factory=list)  # what precedes it in the Tab order
    end: int = 0  # where what follows it starts in the document order (``LazyFields.order``)


class Pending(QWidget):
    """The room of a chunk not built yet; painted (it came into view): the chunk is built."""

    def __init__(self, lazy: LazyFields, chunk_index: int, parent: QWidget) -> None:
        super().__init__(parent)
        self.lazy, self.index = lazy, chunk_index

    def paintEvent(self, event: QPaintEvent) -> None:
        QTimer.singleShot(0, self, lambda: self.lazy.build_through(self.index))


class Fields(dict[CellKey, FieldEditor]):
    """The form's fields by cell key. Iterating gives the fields built; asking for one not built yet builds it
    (with every field before it)."""

    lazy: LazyFields | None = None

    def __missing__(self, key: CellKey) -> FieldEditor:
        if self.lazy is not None and self.lazy.build_key(key):
            return dict.__getitem__(self, key)
        raise KeyError(key)

    def get(self, key: CellKey, default: FieldEditor | None = None) -> FieldEditor | None:  # type: ignore[override]
        if not dict.__contains__(self, key) and self.lazy is not None:
            self.lazy.build_key(key)
        return dict.get(self, key, default)

    def __contains__(self, key: object) -> bool:
        if dict.__contains__(self, key):
            return True
        return self.lazy is not None and isinstance(key, tuple) and self.lazy.build_key(key)

    def built(self, key: CellKey) -> FieldEditor | None:
        """The field if it is built (nothing is built)."""
        return dict.get(self, key)


class LazyFields(QObject):
    """The chunks of a form not built yet, and what builds them. ``make(spec)`` builds one field in its grid and
    registers it; ``show(keys)`` gives the fields just built their value and state. A child of the form's content:
    gone (and no longer watching the focus) with it."""

    def __init__(self, fields: Fields, make: Callable[[Spec], FieldEditor],
                 show: Callable[[list[CellKey]], None], parent: QObject) -> None:
        super().__init__(parent)
        self.fields = fields
        self.make = make
        self.show = show
        self.budget = EAGER_FIELDS
        self.chunks: list[Chunk] = []
        self.where: dict[CellKey, int] = {}  # a pending key -> its chunk
        self.order: list[CellKey | QWidget] = []  # fields and other Tab stops (row buttons) in document order
        self._open: list[Spec] = []  # the chunk being gathered
        self._open_before: list[CellKey | QWidget] = []
        self._near: dict[int, int] = {}  # id(focus widget) of a field just before a chunk -> that chunk
        self._watching = False
        fields.lazy = self

    # ----- gathering (while the sections are made) ----------------------------------------------------------------
    def take(self) -> bool:
        """Whether the next field is built now (else it is ``defer``red)."""
        if self.budget > 0 and not self.chunks and not self._open:
            self.budget -= 1
            return True
        return False

    def stop(self, widget: QWidget) -> None:
        """A Tab stop that is not a field (a row's "Remove row…"), in document order."""
        self.close()
        self.order.append(widget)

    def defer(self, spec: Spec) -> None:
        if not self._open:
            self._open_before = list(self.order)
        self._open.append(spec)
        self.order.append(spec.key)
        if len(self._open) >= CHUNK_FIELDS:
            self.close()

    def built(self, key: CellKey) -> None:
        self.order.append(key)

    def close(self) -> None:
        """The chunk being gathered ends (its grid ends, or it is full): its room is kept in the grid."""
        if not self._open:
            return
        specs, self._open = self._open, []
        first, last = specs[0], specs[-1]
        place = Pending(self, len(self.chunks), first.owner)
        lines = last.line + 2 - first.line
        place.setFixedHeight(FIELD_HEIGHT * len(specs))
        first.grid.addWidget(place, first.line, 0, lines, 2)
        chunk = Chunk(specs, place, before=self._open_before, end=len(self.order))
        for spec in specs:
            self.where[spec.key] = len(self.chunks)
        self.chunks.append(chunk)

    def finish(self) -> None:
        """Every section made: watch the focus for the keyboard coming near a chunk."""
        self.close()
        self._mark_near()

    # ----- building -------------------------------------------------------------------------------------------
    @property
    def pending(self) -> bool:
        return any(not c.built for c in self.chunks)

    def build_key(self, key: CellKey) -> bool:
        index = self.where.get(key)
        if index is None or self.chunks[index].built:
            return False
        self.build_through(index)
        # laid out now: whoever asked may scroll to it (ensureWidgetVisible) before the event loop runs
        QApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        return True

    def build_through(self, index: int) -> None:
        for n in range(min(index, len(self.chunks) - 1) + 1):
            if not self.chunks[n].built:
                self._build(self.chunks[n])
        self._mark_near()

    def build_all(self) -> None:
        if self.chunks:
            self.build_through(len(self.chunks) - 1)

    def _build(self, chunk: Chunk) -> None:
        chunk.built = True
        place = chunk.place
        grid = chunk.specs[0].grid
        grid.removeWidget(place)
        place.hide()
        place.deleteLater()
        # The owner's layout is switched off while the fields are made and shown: a widget shown in a visible
        # parent lays the parent out again at once, i.e. the whole section per widget; laid out once, after.
        owner_layout = chunk.specs[0].owner.layout()
        if owner_layout is not None:
            owner_layout.setEnabled(False)
        try:
            self._make_chunk(chunk)
        finally:
            if owner_layout is not None:
                owner_layout.setEnabled(True)
                owner_layout.invalidate()

    def _make_chunk(self, chunk: Chunk) -> None:
        made = [self.make(spec) for spec in chunk.specs]
        for spec in chunk.specs:
            self.where.pop(spec.key, None)
        self.show([f.key for f in made])
        after = self._last_stop(chunk.before)
        if after is not None:  # the Tab order as if built with the form: after the field (or row button) before
            widgets = [w for f in made for w in _block(f)]
            with _free_focus([after, *widgets]):
                for widget in widgets:
                    QWidget.setTabOrder(after, widget)
                    after = widget
        for f in made:
            for shown in (f.label, f):
                if shown is not None and not shown.testAttribute(Qt.WidgetAttribute.WA_WState_ExplicitShowHide):
                    shown.show()

    def _last_stop(self, before: list[CellKey | QWidget]) -> QWidget | None:
        for entry in reversed(before):
            if isinstance(entry, QWidget):
                return entry
            built = self.fields.built(entry)
            if built is not None:
                return _block(built)[-1]
        return None

    # ----- the keyboard coming near -----------------------------------------------------------------------------
    def _mark_near(self) -> None:
        self._near.clear()
        for index, chunk in enumerate(self.chunks):
            if chunk.built:
                continue
            keys = [k for k in chunk.before if not isinstance(k, QWidget)][-NEAR:]
            for key in keys:
                built = self.fields.built(key)
                if built is not None:
                    for widget in (built, *built.findChildren(QWidget)):
                        self._near[id(widget)] = index
            widgets = [k for k in chunk.before[-NEAR:] if isinstance(k, QWidget)]
            for widget in widgets:
                self._near[id(widget)] = index
            # Shift+Tab coming back: the Tab stop just after the chunk (a row's "Remove row…", "+ Add a row",
            # "Mark complete") builds it, so that the next Shift+Tab goes into its last field.
            after = next((k for k in self.order[chunk.end:] if isinstance(k, QWidget)), None)
            if after is not None:
                self._near[id(after)] = max(index, self._near.get(id(after), index))
        app = QApplication.instance()
        watch = bool(self._near)
        if watch != self._watching and isinstance(app, QApplication):
            if watch:
                app.focusChanged.connect(self._focus_moved)
            else:
                app.focusChanged.disconnect(self._focus_moved)
            self._watching = watch

    def _focus_moved(self, _old: QWidget | None, new: QWidget | None) -> None:
        if new is not None and self._near:
            index = self._near.get(id(new))
            if index is not None:
                self.build_through(index)

    def detach(self) -> None:
        """The form is rebuilt: no more watching the focus, no more building."""
        self._near.clear()
        self.chunks = [c for c in self.chunks if c.built]
        self.where.clear()
        if self._watching:
            app = QApplication.instance()
            if isinstance(app, QApplication):
                app.focusChanged.disconnect(self._focus_moved)
            self._watching = False
        if self.fields.lazy is self:
            self.fields.lazy = None


def _block(field: FieldEditor) -> list[QWidget]:
    """A field and the widgets made with it, in their order in the focus chain (made together: one run of it)."""
    out: list[QWidget] = [field]
    widget = field.nextInFocusChain()
    while widget is not None and widget is not field and field.isAncestorOf(widget):
        out.append(widget)
        widget = widget.nextInFocusChain()
    return out


@contextmanager
def _free_focus(widgets: list[QWidget]) -> Iterator[None]:
    """``setTabOrder`` leaves a widget without focus alone and moves the proxy of a widget that has one (a choice
    editor): while the chain is ordered, every widget takes Tab focus and has no proxy; then as before (a proxy set
    again moves to its widget in the chain: by then it is there)."""
    saved = []
    for widget in widgets:
        policy, proxy = widget.focusPolicy(), widget.focusProxy()
        if proxy is not None:
            widget.setFocusProxy(None)  # type: ignore[arg-type]  # PySide6 stubs: None clears it
        if policy == Qt.FocusPolicy.NoFocus:
            widget.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        saved.append((widget, policy, proxy))
    try:
        yield
    finally:
        for widget, policy, proxy in saved:
            if widget.focusPolicy() != policy:
                widget.setFocusPolicy(policy)
            if proxy is not None:
                widget.setFocusProxy(proxy)
