"""The largest form on screen: shown, and typed into, each against its physical floor (issue 13, items 4 and 6).

    python benchmarks/bench_forms.py            # in a copy of the 500-subject trial
    python benchmarks/bench_forms.py --smoke    # in a copy of the 20-subject trial, for CI

Form shown. Path timed: ``FormWindow(ws, ref)`` on the benchmarks' largest form (151 fields, all filled), resized to
1280x800, shown, and events processed until its first paint (what a user waits for when opening it). Floor,
interleaved: the same visible widgets (the section frames, one rich-text label and the editor of each field, same
style sheets) built and shown with no logic. Targets: ratio <= 1.5 and <= 150 ms.

Form scrolled to its end (no target, reported so that nothing opening defers is hidden): the form opened (untimed),
then its scroll bar set to the end and events processed until every field below the fold is built and painted (a
form builds the fields past its first screenful when they are reached: ui/form/lazy.py).

Keystroke. Path timed: one real key event in a number field of that form, delivered as the window system delivers
it (``QTest.keyClick`` on the window's ``QWindow``: the window, then its focused widget), and the events it causes
processed until repainted (the form engine, the field's state, the typing buffer). Floor, interleaved: the same key
event in a plain ``QLineEdit`` (same style sheets) of a plain window of the same size, repainted. After
every keystroke (of either) the event loop runs for ``--pace`` ms untimed (a fast typist's gap), as it does for a
user, so neither runs on the other's warm caches: what the form does in idle time is reported apart. Target: ratio
<= 2.

Both paths run as in the app: under what a signed-in session installs for every window or event (``Session``: the
screen-fit and modal-dialog policies of ``ui.app.App`` and ``MainWindow``, and the idle-lock watcher); the floors
run without them (a plain Qt application), switched off and on in the untimed pauses. Since issue 13's late
session these are a hook in the style's ``polish`` and a filter on the top-level windows; before, three
application-wide event filters (the benchmark then installs those: ``Session.old``).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import Figure, env_offscreen, paired, quiet_qt, report, timed_ms

env_offscreen()

from bigform import big_study, filled  # noqa: E402
from dataset import NURSE, copy_of, trial  # noqa: E402
from PySide6.QtCore import QEvent, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QApplication,
    QButtonGroup,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from msc_sle_crf.formdef import load_study  # noqa: E402
from msc_sle_crf.formdef.definitions import FormDef  # noqa: E402
from msc_sle_crf.services import Site, Workspace  # noqa: E402
from msc_sle_crf.services.entry import FormRef  # noqa: E402
from msc_sle_crf.ui import window_policy  # noqa: E402
from msc_sle_crf.ui.common import STYLE  # noqa: E402
from msc_sle_crf.ui.form import FormWindow  # noqa: E402
from msc_sle_crf.ui.form.style import FORM_STYLE  # noqa: E402
from msc_sle_crf.ui.lock_screen import IdleWatcher  # noqa: E402
from msc_sle_crf.ui.window_policy import ScreenFit, WindowModalDialogs  # noqa: E402


class Session:
    """What the app runs for every window or event of a signed-in session, made as ``ui.app.App`` and
    ``MainWindow`` make it: the screen-fit policy, the modal-dialog policy, the idle-lock watcher. ``off()`` for a
    floor (a plain Qt application), ``on()`` again for the path."""

    def __init__(self, app: QApplication) -> None:
        self.app = app
        self.old = not hasattr(window_policy, "WindowPolicies")  # the code before: application-wide event filters
        self.fit = ScreenFit()
        self.fit.install()
        self.modal = WindowModalDialogs()
        if self.old:
            app.installEventFilter(self.modal)  # as MainWindow did
        self.idle = IdleWatcher(10**9)
        self.filters: list[Any] = [self.fit, self.modal, self.idle]
        self.active = True
        self.rest_ends: float | None = None

    def off(self) -> None:
        if not self.active:
            return
        self.active = False
        if self.old:
            for f in self.filters:
                self.app.removeEventFilter(f)
        else:
            style = window_policy.policies()
            style.modal = style.fit = False
            rest = getattr(self.idle, "_rest", None)  # the watcher resting after an input (none before)
            if rest is not None:  # held while the floor runs: it ends when it would have in the app, not in it
                left = rest.remainingTime()
                self.rest_ends = time.monotonic() + left / 1000 if left >= 0 else None
                rest.stop()
            for window in QApplication.topLevelWindows():
                window.removeEventFilter(self.idle)

    def on(self) -> None:
        if self.active:
            return
        self.active = True
        if self.old:
            for f in reversed(self.filters):
                self.app.installEventFilter(f)
        else:
            style = window_policy.policies()
            style.modal = style.fit = True
            rest = getattr(self.idle, "_rest", None)
            if rest is not None and self.rest_ends is not None:
                left = int((self.rest_ends - time.monotonic()) * 1000)
                if left > 0:  # still resting, as it would be in the app: nothing watched yet
                    rest.start(left)
                    return
                self.idle._resting = False  # the rest ended during the floor's turn: watched again now
            self.idle._watch_windows()


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def flush_deletes(app: QApplication) -> None:
    app.processEvents()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


def bare_form(form: FormDef, rows: int, *, every_widget: bool = True) -> QWidget:
    """The physical floor of showing the form: its visible widgets, its style, no logic. With ``every_widget`` (the
    issue's definition: "same widgets and stylesheet, no logic"), each field has what the form shows for it: its
    container, a rich-text label, the editor, the unit, the state badge and the ⋯ button; without, only the label
    and the editor (a leaner floor, reported beside it)."""
    window = QScrollArea()
    window.setWidgetResizable(True)
    content = QWidget(window.viewport())
    content.setStyleSheet(FORM_STYLE)
    layout = QVBoxLayout(content)
    for group in form.groups:
        section = QFrame(content)
        section.setObjectName("section")
        box = QVBoxLayout(section)
        title = QLabel(group.label.get(), section)
        title.setObjectName("sectionTitle")
        box.addWidget(title)
        for row in range(rows if group.repeating else 1):
            grid = QGridLayout()
            for line, item in enumerate(group.items):
                label = QLabel(f"{item.label.get()}{' *' if item.required else ''}", section)
                label.setObjectName("fieldLabel")
                label.setTextFormat(Qt.TextFormat.RichText)
                label.setWordWrap(True)
                grid.addWidget(label, line, 0)
                if item.type.value in ("choice", "yesno"):
                    editor = QWidget(section)
                    choices = QHBoxLayout(editor)
                    buttons = QButtonGroup(editor)
                    for text in (["Yes", "No"] if item.type.value == "yesno" else [f"Choice {i}" for i in range(5)]):
                        button = QRadioButton(text, editor)
                        buttons.addButton(button)
                        choices.addWidget(button)
                else:
                    editor = QLineEdit("45,5", section)
                if not every_widget:
                    grid.addWidget(editor, line, 1)
                    continue
                cell = QWidget(section)
                cells = QHBoxLayout(cell)
                cells.setContentsMargins(0, 0, 0, 0)
                editor.setParent(cell)
                cells.addWidget(editor)
                if item.unit:
                    unit = QLabel(item.unit, cell)
                    unit.setObjectName("unit")
                    cells.addWidget(unit)
                badge = QLabel("✓", cell)
                badge.setObjectName("badge")
                cells.addWidget(badge)
                more = QToolButton(cell)
                more.setObjectName("more")
                more.setText("⋯")
                cells.addWidget(more)
                grid.addWidget(cell, line, 1)
            _ = row
            box.addLayout(grid)
        layout.addWidget(section)
    window.setWidget(content)
    return window


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--keys", type=int)
    parser.add_argument("--pace", type=int, default=40, help="ms of idle event loop between two keystrokes")
    args = parser.parse_args()
    runs = args.runs or (3 if args.smoke else 15)
    keys = args.keys or (40 if args.smoke else 400)
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setStyle("Fusion")
    app.setStyleSheet(STYLE)
    quiet_qt()
    figures = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        t = trial(20 if args.smoke else 500)
        site = Site.open(copy_of(t, tmp))
        study = big_study(load_study())
        ws = Workspace.sign_in(site, *NURSE, study=study)
        ref = FormRef("99-007", "V1", "big")
        values = filled(study.forms["big"])
        ws.entry.save_values(ref, values)
        print(f"form: {len(study.forms['big'].all_items())} item definitions, {len(values) + 1} fields, all filled")
        session = Session(app)

        shown: list[Any] = []

        def close_all() -> None:
            while shown:
                w = shown.pop()
                w.close()
                w.deleteLater()
            flush_deletes(app)

        def open_form() -> None:
            window = FormWindow(ws, ref)
            shown.append(window)
            window.resize(1280, 800)
            window.show()
            app.processEvents()

        def open_bare(every_widget: bool) -> None:
            window = bare_form(study.forms["big"], 4, every_widget=every_widget)
            shown.append(window)
            window.resize(1280, 800)
            window.show()
            app.processEvents()

        gc.collect()
        before = rss_mib()
        path = ("FormWindow(ws, FormRef('99-007','V1','big')) resized 1280x800, show(), first paint, under the "
                "session's window policies and idle watcher")
        fig = Figure("largest form (151 fields) built and shown", target=1.5, target_ms=150, path=path,
                     floor_path="in a plain application (the session's policies off): the same widgets (each field's container, rich-text label, editor, unit, state "
                                "badge, ⋯ button; the section frames) and style sheets, no logic, shown")
        lean = Figure("largest form against a lean floor (label and editor of each field only)", path=path,
                      floor_path="only the section frames, a rich-text label and the editor of each field, same "
                                 "style sheets, shown (how much the extra widgets per field cost)")
        for turn in range(2 + runs):  # A B C A B C: the form, the same widgets, the lean widgets
            session.on()
            values = [timed_ms(open_form)]
            close_all()
            session.off()
            values.append(timed_ms(lambda: open_bare(True)))
            close_all()
            values.append(timed_ms(lambda: open_bare(False)))
            close_all()
            if turn >= 2:  # two untimed warm-up turns
                fig.values.append(values[0])
                fig.floor.append(values[1])
                lean.values.append(values[0])
                lean.floor.append(values[2])
        figures += [fig, lean]

        # What opening leaves for later (issue 13: fields below the fold are built when reached): the form opened
        # (untimed), then scrolled to its end, timed until every field is built and painted there. On a form built
        # whole at opening this is a scroll and a paint.
        rest = Figure("largest form, then scrolled to its end (what opening left for later)",
                      path="after FormWindow(...) shown (untimed): its scroll bar set to the end, events processed "
                           "until every field is built and the end painted")
        session.on()

        def to_end(window: Any) -> None:
            bar = window.scroll_area.verticalScrollBar()
            for _ in range(100):
                bar.setValue(bar.maximum())
                app.processEvents()
                lazy = getattr(window.view, "lazy", None)
                if lazy is None or not lazy.pending:
                    break

        for turn in range(2 + runs):
            open_form()
            opened = shown[-1]
            took = timed_ms(lambda: to_end(opened))  # noqa: B023 (called at once)
            if turn >= 2:
                rest.values.append(took)
            close_all()
        figures.append(rest)

        session.on()
        window = FormWindow(ws, ref)
        window.resize(1280, 800)
        window.show()
        app.processEvents()
        fig.note = f"RSS {rss_mib():.0f} MiB with the form open ({rss_mib() - before:+.0f} MiB)"
        view = window.view
        key = ("main", 0, "I001")
        editor = view.fields[key].editor.focus_widget()
        plain_window = QWidget()  # the same size and style sheets as the form's window, one plain line edit
        plain_window.setStyleSheet(FORM_STYLE)
        plain = QLineEdit("45.5", plain_window)
        plain.setGeometry(340, 200, 120, 40)
        plain_window.resize(1280, 800)
        plain_window.show()
        app.processEvents()
        window.activateWindow()  # the form's window has the focus, in the field typed into
        editor.setFocus()
        QTest.keyClick(editor, Qt.Key.Key_End)
        app.processEvents()
        session.on()  # the plain window is watched too from here: switched off before each of its keys
        form_window, plain_handle = window.windowHandle(), plain_window.windowHandle()
        sequence = [Qt.Key.Key_7, Qt.Key.Key_8, Qt.Key.Key_Backspace, Qt.Key.Key_Backspace]
        step = [0, 0]

        def key_in_form() -> None:
            QTest.keyClick(form_window, sequence[step[0] % 4])
            step[0] += 1
            app.processEvents()

        def key_in_plain() -> None:
            QTest.keyClick(plain_handle, sequence[step[1] % 4])
            step[1] += 1
            app.processEvents()

        before = (editor.text(), plain.text())
        key_in_form()
        key_in_plain()
        assert (editor.text(), plain.text()) == (before[0] + "7", before[1] + "7"), (before, editor.text(), plain.text())
        key_in_form()
        key_in_plain()

        idle_work: list[float] = []
        flush = getattr(view, "flush_typing", None)
        if flush is not None:  # what the form does between keystrokes, timed apart
            def timed_flush(*a: Any, **k: Any) -> Any:
                start = time.perf_counter()
                try:
                    return flush(*a, **k)
                finally:
                    idle_work.append((time.perf_counter() - start) * 1000)

            view.flush_typing = timed_flush  # type: ignore[method-assign]

        turn = [0]

        def pause() -> None:  # after the form's key: the floor's turn (a plain application); after the floor's: on
            turn[0] += 1
            session.off() if turn[0] % 2 else session.on()
            QTest.qWait(args.pace)

        for _ in range(4):  # untimed warm-up pairs, each under its own set-up
            key_in_form()
            pause()
            key_in_plain()
            pause()

        kfig = paired(Figure("keystroke in the largest form, end to end", target=2.0,
                             path="QTest.keyClick on the form window's QWindow, field I001 focused (151-field "
                                  "form, the session's window policies and idle watcher) + processEvents (engine, "
                                  "field state, typing buffer, repaint)",
                             floor_path="QTest.keyClick on the QWindow of a plain window (1280x800, same style "
                                        "sheets), a plain QLineEdit focused, nothing else + processEvents (repaint)"),
                      key_in_form, key_in_plain, keys, warmup=0, gap=pause)
        if idle_work:
            kfig.note = (f"typing buffer written in idle time {len(idle_work)} times for {keys} keystrokes "
                         f"(paced {args.pace} ms): median {sorted(idle_work)[len(idle_work) // 2]:.2f} ms each")
        figures.append(kfig)
        engine: list[float] = []
        texts = ["4", "45", "45,", "45,5", "45", "4", ""]
        for n in range(keys):
            start = time.perf_counter()
            view.state.set_text(key, texts[n % len(texts)])
            engine.append((time.perf_counter() - start) * 1000)
        efig = Figure("keystroke, form engine alone (FormState.set_text)", target_ms=0.5, values=engine,
                      path="FormState.set_text on field I001 (re-checks what depends on it)")
        figures.append(efig)
        window.close()
        plain_window.close()
        flush_deletes(app)
        site.close()
    report("bench_forms", figures)


if __name__ == "__main__":
    main()
