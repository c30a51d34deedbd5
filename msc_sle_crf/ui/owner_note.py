"""Which workstation enters a subject (issue 18), shown on its casebook when the site has several laptops."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel, QPushButton

from msc_sle_crf.ui.common import named, tr


class OwnerNote(QLabel):
    """One line under the casebook's title: entered here, or on which workstation (whose new forms, rows and
    infusion day are refused here by the services: here they look read-only)."""

    def __init__(self) -> None:
        super().__init__()
        named(self, "ownerNote")
        self.setWordWrap(True)
        self.setVisible(False)

    def show_for(self, ws: Any, owner: str, bedside: QPushButton) -> bool:
        """Show the owner; True if this workstation owns the subject (the bedside button is enabled only then)."""
        from msc_sle_crf.sync.workstations import Workstations

        info = Workstations(ws.ctx).info()
        owned = owner == info.ws
        self.setVisible(not info.alone)
        if owned:
            self.setText(tr(f"Entered on this workstation ({info.ws}).", f"Saisi sur ce poste ({info.ws})."))
            self.setStyleSheet("color: #1f5fa8;")
        else:
            self.setText(tr(
                f"Entered on {owner} (this is {info.ws}): values, signatures, SDV and queries can be done here; new "
                f"forms, rows and the infusion day are done on {owner} (or ask for a handover).",
                f"Saisi sur le poste {owner} (celui-ci est {info.ws}) : valeurs, signatures, SDV et queries sont "
                f"possibles ici ; nouveaux formulaires, lignes et journée de perfusion se font sur {owner} (ou "
                "demandez son transfert)."))
            self.setStyleSheet("color: #8a4b00; font-weight: bold;")
        bedside.setEnabled(owned)
        bedside.setToolTip("" if owned else tr(f"The infusion day runs on {owner}.",
                                               f"La journée de perfusion se fait sur {owner}."))
        return owned


def owner_tips(ws: Any, rows: list[Any]) -> dict[str, str]:
    """The subject list's tooltip on each subject number: which workstation enters it (none when the site has only
    this laptop)."""
    from msc_sle_crf.sync.workstations import Workstations

    info = Workstations(ws.ctx).info()
    if info.alone:
        return {}
    out = {}
    for r in rows:
        owner = r.subject.owner_ws
        out[r.subject.subject_number] = (
            tr(f"Entered on this workstation ({info.ws})", f"Saisi sur ce poste ({info.ws})") if owner == info.ws
            else tr(f"Entered on {owner}: new forms and the infusion day are done there",
                    f"Saisi sur le poste {owner} : nouveaux formulaires et journée de perfusion s'y font"))
    return out
