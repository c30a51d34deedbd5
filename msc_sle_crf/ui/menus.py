"""The main window's menus (user, study, administration, language): built and translated here, so that the main
window stays a window."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence

from msc_sle_crf import menu_texts
from msc_sle_crf.access import Perm
from msc_sle_crf.i18n import Lang
from msc_sle_crf.ui import admin_actions, backups, worklist
from msc_sle_crf.ui.common import tr
from msc_sle_crf.ui.export_dialog import open_export
from msc_sle_crf.ui.handover_dialog import may_hand_over, open_handover
from msc_sle_crf.ui.packets_dialog import open_packets

if TYPE_CHECKING:
    from msc_sle_crf.ui.main_window import MainWindow


def build(w: MainWindow) -> None:
    bar = w.menuBar()
    bar.clear()
    w.user_menu = bar.addMenu("")
    w.change_password_action = QAction(w)
    w.change_password_action.triggered.connect(lambda _checked=False: w.change_password())
    w.lock_action = QAction(w)
    w.lock_action.setShortcut(QKeySequence("Ctrl+L"))
    w.lock_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)  # from every window of the app
    w.addAction(w.lock_action)  # works with the menu bar disabled too
    w.lock_action.triggered.connect(w.lock)
    w.logout_action = QAction(w)
    w.logout_action.triggered.connect(w.logout)
    for action in (w.change_password_action, w.lock_action, w.logout_action):
        w.user_menu.addAction(action)
    w.study_menu = bar.addMenu("")
    w.outcomes_action = QAction(w)
    w.outcomes_action.triggered.connect(w.open_outcomes)
    w.study_menu.addAction(w.outcomes_action)
    w.export_action = QAction(w)  # issue 16: ui/export_dialog.py
    w.export_action.triggered.connect(lambda: w._track(open_export(w.ws, w.ops, w)))
    w.study_menu.addAction(w.export_action)
    w.packets_action = QAction(w)  # issue 18: ui/packets_dialog.py
    w.packets_action.triggered.connect(lambda: w._track(open_packets(w.ws, w, w.ops)))
    w.study_menu.addAction(w.packets_action)
    w.worklist_action = worklist.menu_action(w, w.study_menu)  # the monitor's worklist (issue 12)
    w.admin_menu = bar.addMenu("")
    w.users_action = QAction(w)
    w.users_action.triggered.connect(w.show_accounts)
    w.verify_action = QAction(w)
    w.verify_action.triggered.connect(w.verify)
    w.admin_menu.addAction(w.users_action)
    w.admin_menu.addAction(w.verify_action)
    w.verify_pdf_action = QAction(w)
    w.verify_pdf_action.triggered.connect(lambda: admin_actions.verify_pdf(w, w.ws))
    w.receipt_action = QAction(w)
    w.receipt_action.triggered.connect(lambda: admin_actions.write_receipt(w, w.ws, w.ops))
    w.receipt_check_action = QAction(w)
    w.receipt_check_action.triggered.connect(lambda: admin_actions.verify_receipts(w, w.ws, w.ops))
    w.ca_action = QAction(w)
    w.ca_action.triggered.connect(lambda: admin_actions.show_ca(w, w.ws))
    w.rotate_action = QAction(w)
    w.rotate_action.triggered.connect(lambda: admin_actions.rotate_keys(w, w.ws, w.ops))
    w.handover_action = QAction(w)  # issue 18: ui/handover_dialog.py (administrators have no casebook)
    w.handover_action.triggered.connect(lambda: w._track(open_handover(w.ws, w.ops, None, w)))
    for action in (w.verify_pdf_action, w.receipt_action, w.receipt_check_action, w.ca_action,
                   w.rotate_action, w.handover_action):
        w.admin_menu.addAction(action)
    w.lang_menu = bar.addMenu("")
    w.fr_action = QAction("Français", w)
    w.fr_action.triggered.connect(lambda: w.set_language(Lang.FR))
    w.en_action = QAction("English", w)
    w.en_action.triggered.connect(lambda: w.set_language(Lang.EN))
    w.lang_menu.addAction(w.fr_action)
    w.lang_menu.addAction(w.en_action)
    backups.install(w)  # Administration: Backups, Restore; the backup status; the schedule (issue 19)


def retranslate(w: MainWindow) -> None:
    ws = w.ws
    w.user_menu.setTitle(ws.actor.full_name)
    w.change_password_action.setText(tr("Change password…", "Changer le mot de passe…"))
    w.lock_action.setText(tr("Lock", "Verrouiller"))
    w.logout_action.setText(tr("Log out", "Se déconnecter"))
    w.study_menu.setTitle(tr("Study", "Étude"))
    w.outcomes_action.setText(tr("Outcomes and cohort safety reviews…",
                                    "Critères de jugement et revues de tolérance par cohorte…"))
    w.outcomes_action.setEnabled(ws.can(Perm.VIEW_OUTCOMES))
    w.export_action.setText(tr("Export data (ODM, datasets, audit trail)…",
                               "Exporter les données (ODM, jeux de données, piste d'audit)…"))
    w.export_action.setEnabled(ws.export.allowed())
    w.packets_action.setText(tr("Workstation packets (write, apply)…", "Paquets entre postes (écrire, appliquer)…"))
    w.packets_action.setEnabled(ws.can(Perm.VIEW_DATA) or ws.can(Perm.BACKUP))
    w.admin_menu.setTitle(menu_texts.ADMINISTRATION.get())
    w.users_action.setText(menu_texts.USER_ACCOUNTS.get())
    w.verify_action.setText(tr("Check integrity (database and audit trail)",
                                  "Contrôler l'intégrité (base et piste d'audit)"))
    w.verify_pdf_action.setText(tr("Verify a PDF…", "Vérifier un PDF…"))
    w.receipt_action.setText(tr("Write a receipt of the audit trail…", "Écrire un reçu de la piste d'audit…"))
    w.receipt_check_action.setText(tr("Check the trail against receipts…", "Contrôler la piste avec des reçus…"))
    w.receipt_check_action.setEnabled(ws.can(Perm.VERIFY_AUDIT))
    w.ca_action.setText(tr("Site CA fingerprint…", "Empreinte de l'AC du site…"))
    w.rotate_action.setText(tr("Rotate keys…", "Changer les clés…"))
    w.rotate_action.setEnabled(ws.can(Perm.MANAGE_USERS))
    w.handover_action.setText(tr("Hand a subject over to another workstation…",
                                 "Transférer un patient à un autre poste…"))
    w.handover_action.setEnabled(may_hand_over(ws))
    w.lang_menu.setTitle(tr("Language", "Langue"))
    w.users_action.setEnabled(ws.can(Perm.MANAGE_USERS))
    w.verify_action.setEnabled(ws.can(Perm.VERIFY_AUDIT))
