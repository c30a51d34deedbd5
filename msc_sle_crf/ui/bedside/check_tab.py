"""Tab 1 of the bedside: the identity and product check (weight, bag, lot, labelled cells, use-by, premedication,
cohort; the planned dose and its gap to the label as the nurse types), the baseline vital signs, and the second
person who confirms the check by signing in here.

The tab writes nothing: it emits ``check_requested(ProductEntry)``, ``second_requested(user, password)`` and
``baseline_requested()``; the window runs the writes and shows the result with ``show_product``,
``second_refused`` and ``second_confirmed``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from msc_sle_crf.clock import Clock
from msc_sle_crf.formdef import values as V
from msc_sle_crf.formdef.definitions import StudyDef
from msc_sle_crf.i18n import L
from msc_sle_crf.infusion.protocol import InfusionProtocol
from msc_sle_crf.infusion.vitals import dose_check
from msc_sle_crf.services.bedside import BASELINE, ProductCheck, Reading
from msc_sle_crf.ui.bedside.style import BAD, GOOD, NEUTRAL, TO_DO, number, panel, stored_time
from msc_sle_crf.ui.common import named, tr

# The fields of the check, in screen order, with their labels.
FIELDS = {"weight": L("Weight today (kg)", "Poids du jour (kg)"),
          "bag": L("Product bag id", "Identifiant de la poche"), "lot": L("Lot", "Lot"),
          "cells": L("Labelled viable cells (x10^6)", "Cellules viables étiquetées (x10^6)"),
          "use_by": L("Use by (dd/mm/yyyy hh:mm)", "À utiliser avant (jj/mm/aaaa hh:mm)"),
          "premed": L("Premedication", "Prémédication")}
# Where each field is kept in a recorded check (``ProductCheck.detail``).
RECORDED = {"weight": "weight_kg", "bag": "bag_id", "lot": "lot", "cells": "labelled_cells_e6",
            "premed": "premedication"}
DECIMAL_FIELDS = ("weight", "cells")


@dataclass(frozen=True)
class ProductEntry:
    """What the nurse entered for the check, as typed (the service parses and refuses)."""

    identity_confirmed: bool
    weight_kg: str
    cohort: str
    bag_id: str
    lot: str
    labelled_cells_e6: str
    use_by: str
    premedication: str


class CheckTab(QWidget):
    check_requested = Signal(object)  # ProductEntry
    second_requested = Signal(str, str)  # user name, password
    baseline_requested = Signal()

    def __init__(self, study: StudyDef, protocol: InfusionProtocol, local_now: Callable[[], dt.datetime],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.study = study
        self.protocol = protocol
        self.local_now = local_now  # the workstation's wall clock (naive), to tell an expired product
        self._shown: dict[str, str] = {}  # what the last recorded check put in the fields
        layout = QHBoxLayout(self)
        frame, box, self.check_title = panel()
        grid = QGridLayout()
        self.identity_box = named(QCheckBox(), "identityConfirmed")
        grid.addWidget(self.identity_box, 0, 0, 1, 2)
        self.check_fields: dict[str, QLineEdit] = {}
        self.check_labels: dict[str, QLabel] = {}
        for row, key in enumerate(FIELDS, start=1):
            label = named(QLabel(), "vitalLabel")
            edit = named(QLineEdit(), f"check_{key}")
            self.check_labels[key] = label
            self.check_fields[key] = edit
            grid.addWidget(label, row, 0)
            grid.addWidget(edit, row, 1)
            edit.textChanged.connect(self.update_dose)
        self.cohort_label = named(QLabel(), "vitalLabel")
        grid.addWidget(self.cohort_label, len(FIELDS) + 1, 0)
        cohorts = QHBoxLayout()
        self.cohort_group = QButtonGroup(self)
        self.cohort_buttons: dict[str, QRadioButton] = {}
        for code in self._cohorts():
            button = QRadioButton(f"{code} x10^6/kg")
            self.cohort_group.addButton(button)
            self.cohort_buttons[code] = button
            cohorts.addWidget(button)
            button.toggled.connect(self.update_dose)
        grid.addLayout(cohorts, len(FIELDS) + 1, 1)
        box.addLayout(grid)
        self.dose_line = named(QLabel(), "next")
        self.dose_line.setWordWrap(True)
        box.addWidget(self.dose_line)
        self.recorded_line = named(QLabel(), "subtitle")  # who recorded the last check, and when
        self.recorded_line.setWordWrap(True)
        self.recorded_line.hide()
        box.addWidget(self.recorded_line)
        self.record_check_button = named(QPushButton(), "big")
        self.record_check_button.clicked.connect(lambda: self.check_requested.emit(self.entry()))
        box.addWidget(self.record_check_button)
        box.addStretch(1)
        layout.addWidget(frame, 3)
        right = QVBoxLayout()
        right.addWidget(self._second_panel())
        baseline, baseline_box, self.baseline_title = panel()  # the last thing before the start, beside the check
        self.baseline_line = named(QLabel(), "next")
        self.baseline_line.setWordWrap(True)
        baseline_box.addWidget(self.baseline_line)
        self.baseline_button = named(QPushButton(), "big")
        self.baseline_button.clicked.connect(self.baseline_requested.emit)
        baseline_box.addWidget(self.baseline_button)
        right.addWidget(baseline)
        right.addStretch(1)
        layout.addLayout(right, 2)

    def _second_panel(self) -> QWidget:
        frame, box, self.second_title = panel()
        self.second_note = named(QLabel(), "subtitle")
        self.second_note.setWordWrap(True)
        box.addWidget(self.second_note)
        self.second_user = named(QLineEdit(), "secondUser")
        self.second_password = named(QLineEdit(), "secondPassword")
        self.second_password.setEchoMode(QLineEdit.EchoMode.Password)
        box.addWidget(self.second_user)
        box.addWidget(self.second_password)
        self.second_button = named(QPushButton(), "big")
        self.second_button.clicked.connect(self._ask_second)
        self.second_password.returnPressed.connect(self._ask_second)
        box.addWidget(self.second_button)
        self.second_status = named(QLabel(), "next")
        self.second_status.setWordWrap(True)
        box.addWidget(self.second_status)
        return frame

    def _cohorts(self) -> tuple[str, ...]:
        """The cohort codes of the dose form's cohort item (its code list), in the form's order."""
        dose = self.study.bindings.infusion_day.dose
        form = self.study.forms[dose.form]
        codelist = form.codelist_for(form.item(dose.cohort), dict(self.study.meta.codelists))
        return codelist.codes() if codelist is not None else ()

    def retranslate(self) -> None:
        self.check_title.setText(tr("Identity and product check", "Vérification de l'identité et du produit"))
        self.identity_box.setText(tr("I checked the subject's number, initials and year of birth against the wristband",
                                     "J'ai vérifié le numéro, les initiales et l'année de naissance sur le bracelet"))
        for key, label in FIELDS.items():
            self.check_labels[key].setText(label.get())
        self.cohort_label.setText(tr("Dose cohort", "Cohorte de dose"))
        self.baseline_button.setText(tr("Baseline vital signs…", "Signes vitaux de référence…"))
        self.baseline_title.setText(tr("Before the start", "Avant le début"))
        self.record_check_button.setText(tr("Record the check", "Enregistrer la vérification"))
        self.second_title.setText(tr("Second person", "Seconde personne"))
        self.second_note.setText(tr("A second member of staff checks the product against the prescription and signs "
                                    "in here to confirm.",
                                    "Une seconde personne vérifie le produit avec la prescription et se connecte ici "
                                    "pour confirmer."))
        self.second_user.setPlaceholderText(tr("User name", "Nom d'utilisateur"))
        self.second_password.setPlaceholderText(tr("Password", "Mot de passe"))
        self.second_button.setText(tr("Confirm the check", "Confirmer la vérification"))
        self.update_dose()

    # ----- what the nurse entered ---------------------------------------------------------------------------------
    def cohort(self) -> str:
        return next((code for code, button in self.cohort_buttons.items() if button.isChecked()), "")

    def entry(self) -> ProductEntry:
        f = self.check_fields
        return ProductEntry(identity_confirmed=self.identity_box.isChecked(), weight_kg=f["weight"].text(),
                            cohort=self.cohort(), bag_id=f["bag"].text(), lot=f["lot"].text(),
                            labelled_cells_e6=f["cells"].text(), use_by=f["use_by"].text(),
                            premedication=f["premed"].text())

    # ----- a hand-over: what one user typed is theirs ----------------------------------------------------------------
    def typed_values(self) -> dict[str, str]:
        """What was typed and not recorded (fields that differ from the last recorded check, and the cohort)."""
        out = {key: edit.text() for key, edit in self.check_fields.items()
               if edit.text() and edit.text() != self._shown.get(key)}
        cohort = self.cohort()
        if cohort and cohort != self._shown.get("cohort"):
            out["cohort"] = cohort
        return out

    def clear_typing(self) -> None:
        """Another user may come: nothing typed here (not even the identity attestation) stays on the screen."""
        for edit in (*self.check_fields.values(), self.second_user, self.second_password):
            edit.clear()
        self.identity_box.setChecked(False)
        self.cohort_group.setExclusive(False)
        for button in self.cohort_buttons.values():
            button.setChecked(False)
        self.cohort_group.setExclusive(True)
        self._shown = {}

    def restore(self, draft: dict[str, str]) -> None:
        """Put back this user's unsaved check into the empty fields."""
        for key, text in draft.items():
            if key in self.check_fields and not self.check_fields[key].text():
                self.check_fields[key].setText(text)
        cohort = self.cohort_buttons.get(draft.get("cohort", ""))
        if cohort is not None and not self.cohort():
            cohort.setChecked(True)

    def _ask_second(self) -> None:
        """The password leaves the field at once, whatever the answer."""
        user, password = self.second_user.text().strip(), self.second_password.text()
        self.second_password.clear()
        self.second_requested.emit(user, password)

    def update_dose(self) -> None:
        """The planned dose (cohort x weight) and its gap to the label; an expired product, as the nurse types."""
        cohort = self.cohort()
        day = self.study.bindings.infusion_day
        weight: Decimal | int | None
        cells: Decimal | int | None
        try:
            weight = V.parse_number(self.check_fields["weight"].text(),
                                    self.study.forms[day.dose.form].item(day.dose.weight))
            cells = V.parse_number(self.check_fields["cells"].text(),
                                   self.study.forms[day.infusion.form].item(day.infusion.cells))
        except V.ParseError:
            weight = cells = None
        if not cohort or weight is None:
            self.dose_line.setText(tr("Enter the weight and the cohort to see the planned dose.",
                                      "Saisir le poids et la cohorte pour voir la dose prévue."))
            self.dose_line.setStyleSheet(NEUTRAL)
            return
        planned = Decimal(cohort) * Decimal(weight)
        text = tr(f"Planned: {number(planned)} x10^6 viable cells", f"Prévu : {number(planned)} x10^6 cellules viables")
        style = NEUTRAL
        if cells is not None:
            check = dose_check(Decimal(cohort), Decimal(weight), Decimal(cells), self.protocol)
            gap = number(f"{check.difference_percent:+}")
            text += tr(f" · labelled {number(cells)} ({gap} %)", f" · étiqueté {number(cells)} ({gap} %)")
            limit = self.protocol.dose_tolerance_percent
            if not check.within_tolerance:
                text += tr(f" — MISMATCH beyond {number(limit)} %: check with the investigator",
                           f" — ÉCART au-delà de {number(limit)} % : voir avec l'investigateur")
                style = BAD
            else:
                style = GOOD
        use_by = self.check_fields["use_by"].text().strip()
        if use_by:
            try:
                expires: dt.datetime | None = V.parse_datetime(use_by)
            except V.ParseError:
                expires = None
            if expires is not None and expires < self.local_now():
                text += tr(" — PRODUCT EXPIRED: do not infuse; call the investigator",
                           " — PRODUIT PÉRIMÉ : ne pas perfuser ; appeler l'investigateur")
                style = BAD
        self.dose_line.setText(text)
        self.dose_line.setStyleSheet(style)

    # ----- what is recorded -----------------------------------------------------------------------------------
    def show_product(self, product: ProductCheck | None, clock: Clock) -> str:
        """Show the last recorded check in the empty fields (a new check can still be recorded over it: both stay
        in the record). Returns the line for the header."""
        if product is None:
            return tr("Product not checked yet", "Produit non encore vérifié")
        d = product.detail
        second = (tr(" · confirmed by ", " · confirmé par ") + product.second_by) if product.second_by else \
            tr(" · waiting for the second person", " · en attente de la seconde personne")
        self.second_status.setText(second.strip(" ·"))
        self.second_status.setStyleSheet(GOOD if product.second_by else TO_DO)
        recorded = {key: d.get(name) for key, name in RECORDED.items()}
        use_by = d.get("use_by")
        if use_by:
            recorded["use_by"] = dt.datetime.fromisoformat(str(use_by)).strftime("%d/%m/%Y %H:%M")
        for key, value in recorded.items():
            if value is None:
                continue
            text = number(value) if key in DECIMAL_FIELDS else str(value)
            self._shown[key] = text
            if not self.check_fields[key].text():
                self.check_fields[key].setText(text)
        self._shown["cohort"] = str(d.get("cohort"))
        cohort = self.cohort_buttons.get(str(d.get("cohort")))
        if cohort is not None and not self.cohort():
            cohort.setChecked(True)
        # The identity attestation is not carried over: whoever records the check again ticks it again.
        when = stored_time(clock, product.at)
        self.recorded_line.setText(tr(f"Recorded on {when} by {product.by}. A new check can be recorded over it: "
                                      "both stay in the record.",
                                      f"Enregistrée le {when} par {product.by}. Une nouvelle vérification peut être "
                                      "enregistrée par-dessus : les deux restent au dossier."))
        self.recorded_line.show()
        self.record_check_button.setText(tr("Record the check again", "Enregistrer à nouveau la vérification"))
        return (tr(f"Bag {d.get('bag_id')} · lot {d.get('lot')} · checked by {product.by}",
                   f"Poche {d.get('bag_id')} · lot {d.get('lot')} · vérifiée par {product.by}") + second)

    def show_baseline(self, readings: Sequence[Reading], not_done: Sequence[str]) -> None:
        base = next((r for r in readings if r.timepoint == BASELINE), None)
        if base is not None and base.time is not None:
            self.baseline_line.setText(tr(f"Baseline vital signs recorded at {base.time:%H:%M}",
                                          f"Signes vitaux de référence saisis à {base.time:%H:%M}"))
            self.baseline_line.setStyleSheet(GOOD)
        elif base is not None:
            self.baseline_line.setText(tr("Baseline vital signs recorded", "Signes vitaux de référence saisis"))
            self.baseline_line.setStyleSheet(GOOD)
        elif BASELINE in not_done:
            self.baseline_line.setText(tr("Baseline vital signs not done", "Signes vitaux de référence non faits"))
            self.baseline_line.setStyleSheet(NEUTRAL)
        else:
            self.baseline_line.setText(tr("Baseline vital signs: to do before the start",
                                          "Signes vitaux de référence : à faire avant le début"))
            self.baseline_line.setStyleSheet(TO_DO)

    def second_refused(self, text: str) -> None:
        self.second_status.setText(text)
        self.second_status.setStyleSheet(BAD)

    def second_confirmed(self) -> None:
        """Confirmed: the second person's name leaves the sign-in field too (their password already did)."""
        self.second_status.setStyleSheet(GOOD)
        self.second_user.clear()
