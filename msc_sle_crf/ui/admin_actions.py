"""The Administration menu's trust actions (issue 14): check a PDF against the pinned site CA, show that CA's
fingerprint, write a receipt of the trail head, rotate the database key. Small dialogs; issue 12 builds the full
admin screens."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from PySide6.QtWidgets import QDialog, QMessageBox, QProgressDialog, QWidget

from msc_sle_crf.pdf import sign
from msc_sle_crf.services import IntegrityReport, Workspace
from msc_sle_crf.ui.common import error_text, tr
from msc_sle_crf.ui.ops import Ops

T = TypeVar("T")


def integrity_text(report: IntegrityReport) -> str:
    """What the integrity check found, one line per problem (or that everything holds)."""
    if report.ok:
        return tr(f"Database pages, audit trail ({report.audit.records} records, each transaction signed by its "
                  f"author) and the data against the trail are intact.",
                  f"Pages de la base, piste d'audit ({report.audit.records} enregistrements, chaque transaction "
                  f"signée par son auteur) et données contre la piste : intactes.")
    lines = list(report.page_problems)
    if not report.audit.ok:
        lines.append(f"#{report.audit.first_bad_id}: {report.audit.problem}")
    lines += report.loss_messages()
    lines += [*report.anchor_problems, *report.receipt_problems]
    if report.unexplained_total:
        lines.append(tr(f"{report.unexplained_total} stored item(s) the audit trail does not explain:",
                        f"{report.unexplained_total} élément(s) stocké(s) que la piste d'audit n'explique pas :"))
        lines += [f"• {u.line()}" for u in report.unexplained[:20]]
    return "\n".join(lines)


def show_ca(parent: QWidget, ws: Workspace) -> None:
    try:
        fingerprint = ws.printing.ca_fingerprint()
    except Exception as exc:  # a refusal: one clear line
        QMessageBox.warning(parent, tr("Site certificate authority", "Autorité de certification du site"),
                            error_text(exc))
        return
    QMessageBox.information(parent, tr("Site certificate authority", "Autorité de certification du site"), tr(
        f"Every PDF this site signs chains to this certificate authority. Pin its SHA-256 fingerprint:\n\n"
        f"{fingerprint}", f"Chaque PDF signé par ce site se rattache à cette autorité de certification. Épinglez son "
        f"empreinte SHA-256 :\n\n{fingerprint}"))


def verify_pdf(parent: QWidget, ws: Workspace) -> None:
    title = tr("Verify a PDF", "Vérifier un PDF")
    from msc_sle_crf.ui.printing import ask_open_paths

    chosen = ask_open_paths(parent, title, "PDF (*.pdf)")
    if not chosen:
        return
    name = str(chosen[0])
    try:
        fingerprint = ws.printing.ca_fingerprint()
        verdict = sign.verify_pinned(Path(name).read_bytes(), fingerprint)
    except Exception as exc:
        QMessageBox.warning(parent, title, error_text(exc))
        return
    who = verdict.signer or "?"
    if verdict.intact and verdict.trusted:
        QMessageBox.information(parent, title, tr(
            f"VALID: unchanged since signing, signed by\n{who}\nwith a certificate of this site's CA.\n\n"
            f"{verdict.reason}", f"VALIDE : inchangé depuis la signature, signé par\n{who}\navec un certificat de "
            f"l'AC de ce site.\n\n{verdict.reason}"))
    elif not verdict.intact:
        QMessageBox.critical(parent, title, tr("NOT VALID: the file was changed after signing, or is not signed.",
                                               "NON VALIDE : le fichier a été modifié après la signature, ou n'est "
                                               "pas signé."))
    else:
        QMessageBox.critical(parent, title, tr(
            f"NOT VALID: signed by {who}, whose certificate does not come from this site's CA ({fingerprint}).",
            f"NON VALIDE : signé par {who}, dont le certificat ne vient pas de l'AC de ce site ({fingerprint})."))


def write_receipt(parent: QWidget, ws: Workspace, ops: Ops) -> None:
    from msc_sle_crf.services.receipts import write_receipt as write

    title = tr("Receipt of the audit trail", "Reçu de la piste d'audit")
    from msc_sle_crf.ui.printing import ask_save_path

    target = ask_save_path(parent, title, "receipt.json", "JSON (*.json)")
    if target is None:
        return
    name = str(target)
    head = ops.run(lambda: write(ws.ctx, Path(name)), parent=parent, title=title)
    if head is not None:
        QMessageBox.information(parent, title, tr(
            f"Receipt written (trail #{head.record_id}). Keep it outside the site: checking the trail against it "
            f"detects a rollback or a rewrite.", f"Reçu écrit (piste #{head.record_id}). Gardez-le hors du site : "
            f"contrôler la piste avec lui détecte un retour en arrière ou une réécriture."))


class PacketCodeDialog(QDialog):
    """The one-time code of the site's packet secret a disable or "Rotate keys" just renewed (i18-secret): shown
    once, large and selectable, never stored; cleared from the screen once closed."""

    def __init__(self, parent: QWidget | None, code: str, disabled: str | None, already: str | None = None) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QDialogButtonBox, QLabel, QVBoxLayout

        super().__init__(parent)
        self.setWindowTitle(tr("One-time code of the packets", "Code à usage unique des paquets"))
        layout = QVBoxLayout(self)
        intro = QLabel(tr(
            "The site's packet secret was renewed on this workstation: a copy of another workstation's database "
            "made before now reads none of this workstation's next packets. The other workstations (and the hub) "
            "need this code to read them: type it there when importing this workstation's next packet.",
            "Le secret des paquets du site a été renouvelé sur ce poste : une copie de la base d'un autre poste faite "
            "avant ne lit aucun des prochains paquets de ce poste. Les autres postes (et le serveur central) ont "
            "besoin de ce code pour les lire : saisissez-le là-bas à l'import du prochain paquet de ce poste."))
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.code = QLabel(code)
        self.code.setObjectName("packet_code")
        self.code.setStyleSheet("font-family: 'DejaVu Sans Mono', monospace; font-size: 20pt; font-weight: bold;"
                                " letter-spacing: 2px; padding: 10px; background: #f3f6fa; color: #1d2b3a;")
        self.code.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.code.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.code)
        if disabled and already:  # disabled on another workstation first: this one follows, nothing to do there
            still = tr(f"{disabled} was already disabled on {already}; now the key {disabled} held here is revoked "
                       f"too. Type this code on {already} and the other workstations when importing this "
                       f"workstation's next packet.",
                       f"{disabled} était déjà désactivé(e) sur le poste {already} ; la clé que {disabled} avait ici "
                       f"est maintenant révoquée aussi. Saisissez ce code sur {already} et les autres postes à "
                       f"l'import du prochain paquet de ce poste.")
        elif disabled:
            still = tr(f"{disabled} can still sign in on the other workstations until they import this "
                       f"workstation's next packet and this code is typed there; disable {disabled} there too (that "
                       f"gives their database a new key).",
                       f"{disabled} peut encore se connecter sur les autres postes tant qu'ils n'ont pas importé le "
                       f"prochain paquet de ce poste avec ce code ; désactivez aussi {disabled} là-bas (leur base "
                       f"reçoit alors une nouvelle clé).")
        else:
            still = tr("Until this code is typed there, the other workstations read only this workstation's "
                       "older packets.",
                       "Tant que ce code n'y est pas saisi, les autres postes ne lisent que les anciens paquets de "
                       "ce poste.")
        note = QLabel(still + tr(" It is shown only this once and kept nowhere: note it and carry it in person, "
                                 "never in a file or a packet.",
                                 " Il n'est affiché qu'une fois et conservé nulle part : notez-le et portez-le en "
                                 "personne, jamais dans un fichier ni un paquet."))
        note.setObjectName("packet_code_note")
        note.setWordWrap(True)
        layout.addWidget(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.button(QDialogButtonBox.StandardButton.Close).setText(tr("I have noted it — close",
                                                                         "Je l'ai noté — fermer"))
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.finished.connect(lambda _r: self.code.clear())  # not kept on screen once closed


def show_packet_code(parent: QWidget, ws: Workspace, disabled: str | None = None,
                     already: str | None = None) -> PacketCodeDialog | None:
    """The code of the renewal the last disable or rotation made (taken from the service: it forgets it), in its
    window-modal dialog; None: nothing was renewed (this database has no packet secret yet)."""
    code = ws.accounts.take_packet_code()
    if not code:
        return None
    dialog = PacketCodeDialog(parent, code, disabled, already)
    dialog.open()
    return dialog


def rotate_keys(parent: QWidget, ws: Workspace, ops: Ops) -> None:
    title = tr("Rotate keys", "Changer les clés")
    answer = QMessageBox.question(parent, title, tr(
        "Give the database a new key, sealed to every current account? Older key files, old passwords and copied "
        "keys will open nothing. The program stays busy while the whole database is rewritten.",
        "Donner une nouvelle clé à la base, scellée pour chaque compte actuel ? Les anciens fichiers de clés, "
        "anciens mots de passe et clés copiées n'ouvriront plus rien. Le programme reste occupé pendant la "
        "réécriture de toute la base."))
    if answer != QMessageBox.StandardButton.Yes:
        return

    def done(rotation: object) -> None:
        QMessageBox.information(parent, title, tr(
            f"Database re-keyed in {getattr(rotation, 'seconds', 0):.1f} s; new key sealed to "
            f"{', '.join(getattr(rotation, 'accounts', ()))}.",
            f"Base rechiffrée en {getattr(rotation, 'seconds', 0):.1f} s ; nouvelle clé scellée pour "
            f"{', '.join(getattr(rotation, 'accounts', ()))}."))
        show_packet_code(parent, ws)

    def failed(exc: BaseException) -> None:
        QMessageBox.warning(parent, title, error_text(exc))

    run_rekey(parent, ops, lambda progress: ws.accounts.rotate_keys(progress=progress), on_done=done,
              on_error=failed)


def run_rekey(parent: QWidget, ops: Ops, work: Callable[[Callable[[int, int], None]], T], *,
              on_done: Callable[[T], None], on_error: Callable[[BaseException], None]) -> None:
    """Re-key the database off the UI thread (disable a user, rotate keys) behind a progress dialog with no Cancel:
    the rewrite is one step that is either done or undone at the next start, never half."""
    from PySide6.QtCore import QTimer

    dialog = QProgressDialog(tr("Re-keying the database…", "Rechiffrement de la base…"), "", 0, 100, parent)
    dialog.setCancelButton(None)
    # Stays shown at 100 % until the work returns (an auto-reset hid it at 100 %, and the next setValue showed it
    # again: a window shown every 200 ms closes any menu the user opens).
    dialog.setAutoReset(False)
    dialog.setAutoClose(False)
    dialog.setMinimumDuration(0)
    dialog.setValue(0)
    percent = [0]

    def progress(done: int, total: int) -> None:  # from the worker thread: read by the poll below
        percent[0] = 100 * done // max(total, 1)

    timer = QTimer(dialog)

    def finish() -> None:
        # Before: only close()d while the timer kept calling setValue, which showed the hidden dialog again every
        # 200 ms for the rest of the session, and each show closed the menu being opened: no menu opened any more.
        timer.stop()
        dialog.reset()
        dialog.hide()
        dialog.deleteLater()

    def done(result: T) -> None:
        finish()
        on_done(result)

    def failed(exc: BaseException) -> None:
        finish()
        on_error(exc)

    timer.timeout.connect(lambda: dialog.setValue(percent[0]))
    timer.start(200)
    ops.background(lambda: work(progress), on_done=done, on_error=failed)


def verify_receipts(parent: QWidget, ws: Workspace, ops: Ops) -> None:
    """The integrity check against receipts the monitor kept (receipts, signed PDFs, CSV exports, backups)."""
    title = tr("Check the trail against receipts", "Contrôler la piste avec des reçus")
    from msc_sle_crf.ui.printing import ask_open_paths

    names = [str(p) for p in ask_open_paths(parent, title, tr("Receipts, PDFs, CSVs, backups (*)",
                                                              "Reçus, PDF, CSV, sauvegardes (*)"), several=True)]
    if not names:
        return

    def done(report: IntegrityReport) -> None:
        box = QMessageBox.information if report.ok else QMessageBox.critical
        box(parent, title, integrity_text(report) + ("\n" + tr(f"{report.receipts_checked} receipt(s): the trail "
                                                                f"holds each one's record unchanged.",
                                                                f"{report.receipts_checked} reçu(s) : la piste "
                                                                f"contient l'enregistrement de chacun, inchangé.")
                                                      if report.ok else ""))

    def failed(exc: BaseException) -> None:
        QMessageBox.warning(parent, title, error_text(exc))

    ops.background(lambda: ws.integrity.verify(full=True, receipts=[Path(n) for n in names]), on_done=done,
                   on_error=failed)
