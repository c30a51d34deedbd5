"""Every role's first day in a real window: the administrator lands on the accounts screen, adds a nurse and resets
the physician's password (one-time passwords shown once); the nurse signs in for the first time with hers, chooses
her own password (a weak one refused as she types) and finds a subject by its initials; the physician signs in with
the reset one, chooses his, fills a SELENA-SLEDAI and a BILAG, and signs the SLEDAI: a wrong password first (the
dialog stays, with what was typed), then the right one. Run by ``tests/realwin/test_every_role.py``; prints one
``RESULT`` line.

    QT_QPA_PLATFORM=xcb DISPLAY=:1 python -m tests.realwin.scenario_every_role --shots /tmp/shots --lang fr
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QDialog, QLineEdit, QTreeWidgetItem, QWidget

from msc_sle_crf.clock import FakeClock
from msc_sle_crf.formdef import load_study
from msc_sle_crf.services.demo import create_demo
from msc_sle_crf.ui.accounts import OneTimePasswordDialog
from msc_sle_crf.ui.casebook import CasebookDialog
from msc_sle_crf.ui.form.dialogs import HistoryDialog, SignDialog
from msc_sle_crf.ui.form.window import FormWindow
from msc_sle_crf.ui.login import LoginWindow
from msc_sle_crf.ui.main_window import MainWindow

from .harness import Harness

SUBJECT = "99-006"  # in screening: its inclusion visit's SLEDAI and BILAG are still to do
NURSE_PW, DOCTOR_PW = "amber-violin-harbour-73", "quartz-meadow-falcon-58"


def modal(h: Harness, cls: type[QDialog], what: str) -> QDialog:
    found: list[QDialog] = []

    def look() -> bool:
        found[:] = [w for w in h.windows() if isinstance(w, cls)]
        return bool(found)

    h.wait_until(look, what)
    return found[0]


def log_out(h: Harness, main: MainWindow) -> LoginWindow:
    h.activate(main)
    bar = main.menuBar()
    h.click(bar, bar.actionGeometry(main.user_menu.menuAction()).center())
    h.wait_until(main.user_menu.isVisible, "the user menu")
    h.click(main.user_menu, main.user_menu.actionGeometry(main.logout_action).center())
    login = h.window("eCRF", LoginWindow)
    h.activate(login)
    return login


def first_sign_in(h: Harness, login: LoginWindow, user: str, one_time: str, chosen: str, name: str) -> MainWindow:
    h.click(login.user)
    h.type(f"{user}\n{one_time}\n")
    h.wait_until(login.choose.isVisible, "the 'choose your password' page", timeout=20)
    h.shot(f"{name}-choose-password")
    page = login.choose
    h.type(name + "2026")  # weak: the rules say so as it is typed
    h.wait_until(lambda: "✓" in page.rules_text and not page.strength_ok, "the rules refuse a weak password")
    h.results[f"{name}_weak_rules"] = page.rules_text
    h.shot(f"{name}-weak-password")
    h.press("ctrl+a", "BackSpace")
    h.type(chosen)
    h.wait_until(lambda: page.strength_ok, "the rules accept the password")
    h.type(f"\t{chosen}")
    h.wait_until(lambda: "✗" not in page.rules_text, "every rule met")
    h.shot(f"{name}-good-password")
    h.press("Return")
    main = h.window("eCRF", MainWindow, timeout=30)
    return main


def scroll_to(form: FormWindow, widget: QWidget) -> None:
    form.scroll_area.ensureWidgetVisible(widget, 40, 80)
    QApplication.processEvents()


def fill_form(h: Harness, form: FormWindow, date: str, picks: dict[str, str], decimals: dict[str, str]) -> None:
    view = form.view
    for key, field in view.fields.items():
        item = key[2]
        editor = field.editor
        if item.endswith("DAT"):
            target = editor.focus_widget()
            scroll_to(form, target)
            h.click(target)
            h.type(date + "\t")
        elif item in decimals:
            target = editor.focus_widget()
            scroll_to(form, target)
            h.click(target)
            h.type(decimals[item] + "\t")
        elif hasattr(editor, "buttons") and editor.buttons:
            code = picks.get(item, picks.get("*", ""))
            button = editor.buttons.get(code)
            if button is None:
                continue
            for _attempt in range(3):  # a message appearing above can move the button as the click lands
                scroll_to(form, button)
                h.click(button, QPoint(8, button.height() // 2))
                h.process(0.2)
                if editor.text() == code:
                    break
    h.process(0.3)


def open_form(h: Harness, casebook: CasebookDialog, event: str, form_id: str) -> FormWindow:
    h.activate(casebook)
    tree = casebook.tree
    child: QTreeWidgetItem | None = None
    for i in range(tree.topLevelItemCount()):
        top = tree.topLevelItem(i)
        for j in range(top.childCount()):
            if top.child(j).data(0, Qt.ItemDataRole.UserRole) == (event, form_id):
                top.setExpanded(True)
                child = top.child(j)
    assert child is not None
    tree.scrollToItem(child)
    h.process(0.1)
    # A double click: Enter in the tree also presses the casebook's default button ("Lock the subject"), reported.
    h.double_click(tree.viewport(), tree.visualItemRect(child).center())
    form = h.window(casebook.study.forms[form_id].label.get()[:12], FormWindow)
    h.activate(form)
    return form


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", type=Path, required=True)
    parser.add_argument("--lang", default="en")
    parser.add_argument("--size", default="1280x800")
    args = parser.parse_args()
    h = Harness(args.shots, args.lang)
    fr = args.lang == "fr"
    clock = FakeClock()
    site = create_demo(Path(tempfile.mkdtemp(prefix="realwin-")) / "roles.crfdb", clock=clock)
    h.start_app(site, load_study())
    results = h.results
    fits: dict[str, bool] = {}

    # ----- the administrator: accounts and site --------------------------------------------------------------------
    login = h.window("eCRF", LoginWindow)
    h.activate(login)
    h.type("admin\ntraining-manager\n")
    main = h.window("eCRF", MainWindow, timeout=30)
    panel = main.accounts
    h.wait_until(lambda: panel.table.rowCount() >= 4, "the accounts")
    results["admin_heading"] = main.heading.text()
    results["roles_shown"] = sorted(panel.table.item(r, 2).text() for r in range(panel.table.rowCount()))
    h.shot("admin-accounts")
    fits["admin"] = h.fits(main)
    h.click(panel.add_button)
    add = modal(h, QDialog, "the 'add a user' dialog")
    fields = {f.objectName(): f for f in add.findChildren(QLineEdit)}
    h.click(fields["new_username"])
    h.type("1leroy")  # refused: a user name starts with a letter
    h.click(fields["new_full_name"])
    h.type("Lea Leroy")
    h.press("Return")
    h.wait_until(lambda: bool(add.error.text()), "the refusal of '1leroy'")
    results["add_refused"] = add.error.text()
    results["add_kept"] = fields["new_full_name"].text()
    h.shot("add-user-refused")
    h.click(fields["new_username"])
    h.press("ctrl+a")
    h.type("ide.leroy\n")
    shown = modal(h, OneTimePasswordDialog, "the nurse's one-time password")
    nurse_otp = shown.password.text()
    h.shot("nurse-one-time-password")
    fits["one_time_password"] = h.fits(shown)
    h.press("Escape")
    h.wait_until(lambda: not shown.isVisible(), "the one-time password closed")
    results["after_add"] = panel.status.text()
    # Reset the physician's password.
    row = next(r for r in range(panel.table.rowCount()) if panel.table.item(r, 0).text() == "dr.martin")
    h.click(panel.table.viewport(), panel.table.visualItemRect(panel.table.item(row, 1)).center())
    h.click(panel.reset_button)
    confirm = modal(h, QDialog, "the reset question")
    results["reset_question"] = confirm.intro.text()  # type: ignore[attr-defined]
    h.shot("reset-question")
    h.click(confirm.ok)  # type: ignore[attr-defined]
    shown = modal(h, OneTimePasswordDialog, "the physician's one-time password")
    doctor_otp = shown.password.text()
    h.shot("doctor-one-time-password")
    h.press("Escape")
    h.wait_until(lambda: not shown.isVisible(), "the one-time password closed")
    results["doctor_state"] = panel.table.item(row, 3).text()
    results["otps_differ"] = nurse_otp != doctor_otp and len(nurse_otp) == 14
    login = log_out(h, main)

    # ----- the nurse's first sign-in ------------------------------------------------------------------------------
    main = first_sign_in(h, login, "ide.leroy", nurse_otp, NURSE_PW, "nurse")
    h.wait_until(lambda: main.table.rowCount() >= 8 and main.ws.actor.username == "ide.leroy", "the nurse's list")
    h.shot("nurse-subject-list")
    fits["nurse"] = h.fits(main)
    h.click(main.subjects.search)
    h.type("htg")
    box = main.subjects
    results["search_htg"] = [box.table.item(r, 0).text() for r in range(box.table.rowCount())
                             if not box.table.isRowHidden(r)]
    results["count_line"] = box.count_line.text()
    h.shot("nurse-search")
    login = log_out(h, main)

    # ----- the physician: reset password, SLEDAI + BILAG, sign with a wrong password first -----------------------
    main = first_sign_in(h, login, "dr.martin", doctor_otp, DOCTOR_PW, "doctor")
    h.wait_until(lambda: main.table.rowCount() >= 8 and main.ws.actor.username == "dr.martin", "the physician's list")
    row = main.subjects.row_of(SUBJECT)
    h.click(main.table.viewport(), main.table.visualItemRect(main.table.item(row, 0)).center())
    h.press("Return")
    casebook = h.window(SUBJECT, CasebookDialog)
    h.process(0.6)
    fits["casebook"] = h.fits(casebook)
    h.shot("casebook")
    today = f"{clock.now():%d/%m/%Y}"
    sledai = open_form(h, casebook, "M0", "selena_sledai")
    h.process(0.6)
    fits["form"] = h.fits(sledai)
    fill_form(h, sledai, today, {"*": "N", "SLARTH": "Y", "SLCOMP": "Y"}, {"SLPGA": "1,5"})
    h.shot("sledai-filled")
    scroll_to(sledai, sledai.view.complete_button)
    h.click(sledai.view.complete_button)
    h.wait_until(lambda: sledai.view.status == "complete", "the SLEDAI complete")
    results["sledai_score"] = sledai.view.score_panel.toPlainText()[:400]
    h.shot("sledai-complete")
    sledai.close()  # a form stays above its casebook: closed to reach the casebook's list again
    h.wait_until(lambda: not sledai.isVisible(), "the SLEDAI closed")
    bilag = open_form(h, casebook, "M0", "bilag")
    h.process(0.6)
    fill_form(h, bilag, today, {"*": "D", "BLMSK": "B"}, {})
    scroll_to(bilag, bilag.view.complete_button)
    h.click(bilag.view.complete_button)
    h.wait_until(lambda: bilag.view.status == "complete", "the BILAG complete")
    results["bilag_score"] = bilag.view.score_panel.toPlainText()[:400]
    h.shot("bilag-complete")
    bilag.close()
    h.wait_until(lambda: not bilag.isVisible(), "the BILAG closed")
    sledai = open_form(h, casebook, "M0", "selena_sledai")
    h.process(0.6)
    sign = sledai.view.lifecycle_buttons["sign"]
    scroll_to(sledai, sign)
    h.click(sign)
    dialog = modal(h, SignDialog, "the signing dialog")
    h.click(dialog.username)  # type: ignore[attr-defined]
    h.type("dr.martin\twrong-password-1\n")
    h.wait_until(lambda: bool(dialog.error.text()), "the refusal of the wrong password", timeout=20)  # type: ignore
    results["sign_error"] = dialog.error.text()  # type: ignore[attr-defined]
    results["sign_kept"] = [dialog.isVisible(), dialog.username.text(), dialog.password.text()]  # type: ignore
    h.shot("sign-wrong-password")
    h.type(DOCTOR_PW + "\n")
    h.wait_until(lambda: sledai.view.status == "signed", "the SLEDAI signed", timeout=20)
    results["signature"] = sledai.view.signature_lines.text()
    h.shot("sledai-signed")
    # The history of a field: When and Who whole.
    key = next(k for k in sledai.view.fields if k[2] == "SLARTH")
    sledai.view.show_history(key)
    history = modal(h, HistoryDialog, "the history window")
    table = history.table  # type: ignore[attr-defined]
    metrics = table.fontMetrics()
    results["history_whole"] = all(table.columnWidth(c) >= metrics.horizontalAdvance(table.item(r, c).text())
                                   for c in (0, 1) for r in range(table.rowCount()))
    fits["history"] = h.fits(history)
    h.shot("history")
    results["fits"] = fits
    results["lang_ok"] = ("Comptes et site" if fr else "Accounts and site") == results["admin_heading"]
    h.report()
    QApplication.closeAllWindows()


if __name__ == "__main__":
    main()
