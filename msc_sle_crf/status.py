"""The states of a form instance, in one place: their order, which ones need a reason for change, and their
labels in both languages (every screen and printout reads them from here)."""

from __future__ import annotations

from enum import StrEnum

from msc_sle_crf.i18n import L, Lang


class FormStatus(StrEnum):
    NOT_STARTED = "not_started"
    DRAFT = "draft"
    COMPLETE = "complete"
    VERIFIED = "verified"  # source data verified by the monitor
    SIGNED = "signed"
    LOCKED = "locked"

    def label(self, lang: Lang | None = None) -> str:
        return _LABELS[self].get(lang)

    def as_l(self) -> L:
        return _LABELS[self]

    @property
    def completed(self) -> bool:
        """Complete, verified or signed: a change needs a reason for change."""
        return self in COMPLETED

    @property
    def editable(self) -> bool:
        return self is not FormStatus.LOCKED

    @classmethod
    def of(cls, value: str | None) -> FormStatus:
        return cls.NOT_STARTED if value is None else cls(value)


_LABELS = {
    FormStatus.NOT_STARTED: L("Not started", "Non commencé"),
    FormStatus.DRAFT: L("In progress", "En cours de saisie"),
    FormStatus.COMPLETE: L("Complete", "Complet"),
    FormStatus.VERIFIED: L("Source-verified", "Vérifié (SDV)"),
    FormStatus.SIGNED: L("Signed", "Signé"),
    FormStatus.LOCKED: L("Locked", "Verrouillé"),
}

COMPLETED = frozenset({FormStatus.COMPLETE, FormStatus.VERIFIED, FormStatus.SIGNED})
