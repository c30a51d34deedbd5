"""Issue 12, point 3: the whole UI in French. Every main screen is built in French on the TRAINING data and every
text a user can see (titles, labels, buttons, menus, tabs, headers, table and tree cells, placeholders, browsers) is
checked mechanically against

- the UI's own English strings: the first argument of every ``tr(en, fr)`` and ``L(en, fr)`` in the package, and
  every English label of the form definitions, where the French differs (so an untranslated string is caught);
- Qt's own English words (OK/Cancel/Save/File name...), which Qt's French translation must replace;
- internal codes and developer words (state codes, role codes, "study.yaml", "scoring.", action codes).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QDialogButtonBox,
    QFileDialog,
    QGroupBox,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QTableWidget,
    QTabWidget,
    QTextBrowser,
    QTreeWidget,
    QWidget,
)

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.demo_accounts import DEMO_ACCOUNTS
from msc_sle_crf.i18n import Lang, set_lang
from msc_sle_crf.services import Site, Workspace
from msc_sle_crf.services.demo import create_demo
from msc_sle_crf.services.entry import FormRef

from .conftest import FAST_KDF

PACKAGE = Path(__file__).resolve().parents[1] / "msc_sle_crf"
QT_ENGLISH = ("Cancel", "Save", "Open", "Yes", "No", "Close", "Apply", "Discard", "File name", "Look in",
              "Files of type", "Select All", "Copy", "Paste", "Undo", "Redo")
# Codes and developer words that must never reach a user, whatever the language.
# Small English words no French sentence uses: catches English text that is in no list (a rule, a message).
ENGLISH_WORDS = re.compile(r"\b(the|with|and|of|over|before|after|any|must|should|this|which|from|please|"
                           r"when|where|there|their|been|have|has|into|only|than)\b")
# A number with a decimal point, on a French screen (versions "v5.0", "version 2.1", IP-like codes excepted).
DECIMAL_POINT = re.compile(r"(?<![\w.])(?<!v)(?<!version )(?<!SF-36 v)\d+\.\d+(?![\w.])")
DEVELOPER = [r"study\.yaml", r"\bscoring\.\w+", r"\bversion \d+\.\d+\b", r"\bEND\b", r"\b\d+: (Running|Stopped)",
             r"(?<![\w.@-])(nurse|investigator|monitor|admin|not_started|draft|complete|verified|signed|locked"
             r"|answered|open|closed|source_verified|data_entry|data_change)(?![\w.@-])"]


def _fragments(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
    return []


def english_strings() -> set[str]:
    english, french = _code_strings()
    form_english, form_french = _form_strings()
    return (english | form_english) - french - form_french


def _code_strings() -> tuple[set[str], set[str]]:
    """The UI's English strings whose French differs (whole strings, and the literal parts of f-strings); a string
    that is also a French one somewhere ("Administration", "Date") is not evidence."""
    out: set[str] = set()
    french: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and len(node.args) >= 2):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name not in ("tr", "L"):
                continue
            en, fr = _fragments(node.args[0]), _fragments(node.args[1])
            french |= {piece.strip(" :;,.…()·-—\n") for piece in fr}
            if not en or en == fr:
                continue
            for raw in en:
                piece = raw.strip(" :;,.…()·-—\n")
                # whole words only, at least two of them or one long one (a lone "or" is not evidence)
                if piece and piece not in "".join(fr) and (" " in piece or len(piece) >= 6):
                    out.add(piece)
    return out, french


def _form_strings() -> tuple[set[str], set[str]]:
    """The forms' English labels whose French differs, less any that is also a French label."""
    from msc_sle_crf.formdef import load_study

    out: set[str] = set()
    french: set[str] = set()
    study = load_study()
    for form in study.forms.values():
        texts = [form.label]
        for group in form.groups:
            texts.append(group.label)
            texts += [item.label for item in group.items]
        for text in texts:
            french.add(text.fr)
            if text.en != text.fr and (" " in text.en or len(text.en) >= 6):
                out.add(text.en)
    return out, french


def ctcae_official() -> list[str]:
    """CTCAE v5.0 terms and organ classes: the official English, shown as such (French search words beside)."""
    from msc_sle_crf.scoring import ctcae

    names = {t.term for t in ctcae.catalogue().values()} | {t.soc for t in ctcae.catalogue().values()}
    return sorted(names, key=len, reverse=True)


def plain(text: str) -> str:
    if "<" in text and ">" in text:
        doc = QTextDocument()
        doc.setHtml(text)
        text = doc.toPlainText()
    return " ".join(text.replace("&", "").split())


def texts_of(top: QWidget) -> Iterator[tuple[str, str]]:
    """(where, text) for everything ``top`` shows."""
    yield "title", top.windowTitle()
    widgets = [top, *top.findChildren(QWidget)]
    for w in widgets:
        if w is not top and not w.isVisibleTo(top):
            continue
        where = f"{type(w).__name__}#{w.objectName()}"
        if isinstance(w, QLabel):
            yield where, w.text()
        elif isinstance(w, QAbstractButton):
            yield where, w.text()
            yield where + " tip", w.toolTip()
        elif isinstance(w, QLineEdit):
            yield where, w.placeholderText()
        elif isinstance(w, QComboBox):
            for i in range(w.count()):
                yield where, w.itemText(i)
        elif isinstance(w, QTabWidget):
            for i in range(w.count()):
                yield where, w.tabText(i)
        elif isinstance(w, QGroupBox):
            yield where, w.title()
        elif isinstance(w, QTextBrowser):
            yield where, w.toPlainText()
        elif isinstance(w, QTreeWidget):
            header = w.headerItem()
            for c in range(w.columnCount()):
                yield where + " header", header.text(c)
            stack = [w.topLevelItem(i) for i in range(w.topLevelItemCount())]
            while stack:
                item = stack.pop()
                for c in range(w.columnCount()):
                    yield where, item.text(c)
                stack += [item.child(i) for i in range(item.childCount())]
        elif isinstance(w, QTableWidget):
            for c in range(w.columnCount()):
                head = w.horizontalHeaderItem(c)
                if head is not None:
                    yield where + " header", head.text()
                for r in range(w.rowCount()):
                    cell = w.item(r, c)
                    if cell is not None:
                        yield where, cell.text()
    if isinstance(top, QMainWindow):
        menus = [a.menu() for a in top.menuBar().actions() if a.menu() is not None]
        for menu in menus:
            assert isinstance(menu, QMenu)
            yield "menu", menu.title()
            for action in menu.actions():
                if action.isVisible():
                    yield "menu", action.text()


class Findings:
    def __init__(self) -> None:
        english = english_strings()
        self.english = [(s, re.compile(r"(?<![\w'’])" + re.escape(s) + r"(?![\w'’])")) for s in sorted(english)]
        self.qt = [re.compile(rf"^{re.escape(w)}$") for w in QT_ENGLISH]
        self.developer = [re.compile(p) for p in DEVELOPER]
        self.official = ctcae_official()
        self.found: list[str] = []

    def check(self, screen: str, top: QWidget) -> None:
        for where, raw in texts_of(top):
            if where.endswith("#gradeHelp"):  # CTCAE's own grade definitions: official English, said so
                assert "texte officiel en anglais" in raw, raw
                continue
            text = plain(raw)
            if "CTCAE" in text or "EI" in text:
                for name in self.official:
                    text = text.replace(name, "")
            for username, *_ in DEMO_ACCOUNTS:  # the TRAINING accounts' names are shown on purpose
                text = text.replace(f"{username} /", "")
            if text in {username for username, *_ in DEMO_ACCOUNTS}:  # a user name (the accounts table)
                continue
            text = re.sub(r"(?:/[\w.\-]+){2,}", "", text)  # a file's path (the database's, in the admin's subtitle)
            if not text:
                continue
            for number in DECIMAL_POINT.finditer(text):
                self.found.append(f"{screen} / {where}: decimal point {number.group(0)!r} in {text[:160]!r}")
            match = ENGLISH_WORDS.search(text)
            if match:
                self.found.append(f"{screen} / {where}: English word {match.group(0)!r} in {text[:160]!r}")
            for source, pattern in self.english:
                if pattern.search(text):
                    self.found.append(f"{screen} / {where}: English {source!r} in {text[:120]!r}")
            for pattern in self.qt:
                if pattern.search(text):
                    self.found.append(f"{screen} / {where}: Qt English {text!r}")
            for pattern in self.developer:
                match = pattern.search(text)
                if match:
                    self.found.append(f"{screen} / {where}: code {match.group(0)!r} in {text[:120]!r}")


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Site]:
    site = create_demo(tmp_path / "fr.crfdb", kdf=FAST_KDF, clock=FakeClock())
    yield site
    site.close()


@pytest.fixture
def french(qapp: QApplication) -> Iterator[None]:
    from msc_sle_crf.ui import translation

    set_lang(Lang.FR)
    translation.install()
    yield
    set_lang(Lang.EN)


def test_the_english_list_is_real() -> None:
    """The check has something to find: the UI's English strings are read from the code."""
    strings = english_strings()
    assert {"Verify all items of this form", "Monitoring worklist"} <= strings
    assert len(strings) > 500


def test_qt_own_buttons_are_french(qtbot, french: None) -> None:  # type: ignore[no-untyped-def]
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
                           | QDialogButtonBox.StandardButton.Yes | QDialogButtonBox.StandardButton.No)
    qtbot.addWidget(box)
    assert sorted(b.text().replace("&", "") for b in box.buttons()) == ["Annuler", "Enregistrer", "Non", "Oui"]
    from msc_sle_crf.ui.printing import documents_folder, save_dialog

    dialog = save_dialog(None, "Enregistrer", "cahier-99-001.pdf")
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
    qtbot.addWidget(dialog)
    assert Path(dialog.directory().absolutePath()) == documents_folder()
    findings = Findings()
    findings.check("file dialog", dialog)
    labels = " ".join(plain(w.text()) for w in dialog.findChildren(QLabel))
    assert "Nom du fichier" in labels, labels
    assert not findings.found, "\n".join(findings.found)


def test_every_main_screen_is_french(qtbot, demo: Site, french: None) -> None:  # type: ignore[no-untyped-def]
    from msc_sle_crf.ui.bedside import BedsideWindow
    from msc_sle_crf.ui.casebook import CasebookDialog
    from msc_sle_crf.ui.form import FormWindow
    from msc_sle_crf.ui.login import LoginWindow
    from msc_sle_crf.ui.main_window import MainWindow
    from msc_sle_crf.ui.worklist import WorklistWindow

    findings = Findings()
    login = LoginWindow(demo)
    qtbot.addWidget(login)
    findings.check("sign-in", login)
    doctor = Workspace.sign_in(demo, "dr.martin", "training-doctor")
    monitor = Workspace.sign_in(demo, "monitor.petit", "training-monitor")
    nurse = Workspace.sign_in(demo, "nurse.durand", "training-nurse")
    admin = Workspace.sign_in(demo, "admin", "training-manager")
    subject = "99-001"  # followed to M12: every visit has its forms
    qid = monitor.monitoring.open_query(FormRef(subject, "SCR", "renal_function"), ("lb", 0, "CREAT"),
                                       "Valeur à vérifier").query_id
    doctor.monitoring.answer(qid, "Corrigé")
    for ws in (doctor, monitor, nurse, admin):
        main = MainWindow(ws, idle_ms=600_000)
        qtbot.addWidget(main)
        findings.check(f"main ({ws.actor.username})", main)
    casebook = CasebookDialog(monitor, subject)
    qtbot.addWidget(casebook)
    findings.check("casebook", casebook)
    worklist = WorklistWindow(monitor)
    qtbot.addWidget(worklist)
    findings.check("worklist", worklist)
    form_window = worklist.open_query(0)
    assert form_window is not None
    qtbot.addWidget(form_window)
    findings.check("query", form_window.view.query_dialog)
    study = doctor.study
    for event in study.meta.events:
        for form_id in event.forms:
            ref = FormRef(subject, event.id, form_id)
            window = FormWindow(doctor, ref)
            qtbot.addWidget(window)
            findings.check(f"form {event.id}/{form_id}", window)
            window.close()
    bedside = BedsideWindow(nurse, subject)
    qtbot.addWidget(bedside)
    findings.check("bedside", bedside)
    from msc_sle_crf.ui.outcomes import OutcomesWindow

    outcomes = OutcomesWindow(doctor)
    qtbot.addWidget(outcomes)
    outcomes.show()
    qtbot.waitUntil(lambda: outcomes.loading == 0, timeout=30000)
    findings.check("outcomes", outcomes)
    main = MainWindow(nurse, idle_ms=600_000)
    qtbot.addWidget(main)
    main.show()
    main.lock()
    findings.check("lock screen", main.lock_screen)
    assert not findings.found, f"{len(findings.found)} English or internal words on French screens:\n" + "\n".join(
        sorted(set(findings.found))[:200])


def test_a_time_point_code_shows_its_name(qtbot, demo: Site, french: None) -> None:  # type: ignore[no-untyped-def]
    """The bedside writes "END" into the vital signs' planned time point: the form shows its name beside it."""
    from msc_sle_crf.ui.form import FormView

    nurse = Workspace.sign_in(demo, "nurse.durand", "training-nurse")
    ref = FormRef("99-008", "D0", "vital_signs")
    nurse.entry.save_item(ref, ("vs", 1, "VSTPT"), "END", reason="temps du calendrier")
    view = FormView(nurse, ref)
    qtbot.addWidget(view)
    field = view.fields[("vs", 1, "VSTPT")]
    assert "Fin de la perfusion" in field.marks.text()
    assert field.editor.text() == "END"  # what is stored stays editable as it is
