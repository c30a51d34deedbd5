"""Site settings an administrator may change, each with its rule."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from msc_sle_crf.errors import Msg, ValidationError
from msc_sle_crf.i18n import L


@dataclass(frozen=True)
class SettingSpec:
    label: L
    default: str
    check: Callable[[str, L], str]


def _name(max_chars: int, max_bytes: int) -> Callable[[str, L], str]:
    def check(value: str, label: L) -> str:
        from msc_sle_crf.security.policy import check_name

        return check_name(value, label, max_chars=max_chars, max_bytes=max_bytes)
    return check


# The site name goes into the PDF signing certificate, whose organisation name holds at most 64 bytes (RFC 5280
# ub-organization-name, counted by the cryptography library in UTF-8 bytes).
SITE_NAME_MAX_BYTES = 64


def _site_number(value: str, label: L) -> str:
    value = value.strip()
    if not re.fullmatch(r"[0-9]{2}", value):
        raise ValidationError(Msg.FIELD_PATTERN, field=label, rule=L("two digits, e.g. 01", "deux chiffres, ex. 01"))
    return value


def _int_range(low: int, high: int) -> Callable[[str, L], str]:
    def check(value: str, label: L) -> str:
        try:
            number = int(value.strip())
        except ValueError:
            raise ValidationError(Msg.FIELD_RANGE, field=label, low=low, high=high) from None
        if not low <= number <= high:
            raise ValidationError(Msg.FIELD_RANGE, field=label, low=low, high=high)
        return str(number)
    return check


def _choice(*choices: str) -> Callable[[str, L], str]:
    def check(value: str, label: L) -> str:
        value = value.strip().lower()
        if value not in choices:
            raise ValidationError(Msg.FIELD_PATTERN, field=label,
                                  rule=L("one of " + ", ".join(choices), "l'une des valeurs " + ", ".join(choices)))
        return value
    return check


def _folder(value: str, label: L) -> str:
    """A folder given by its full path (a USB drive, a network share); empty: automatic backups off. Whether it
    exists is checked at each backup (a drive may be absent for a while)."""
    value = value.strip()
    if not value:
        return ""
    if len(value) > 1024 or any(ord(c) < 32 or c == "\x7f" for c in value):
        raise ValidationError(Msg.FIELD_PATTERN, field=label, rule=L("a folder path without control characters, "
                                                                     "at most 1,024 characters",
                                                                     "un chemin de dossier sans caractère de "
                                                                     "contrôle, 1 024 caractères au plus"))
    if not (value.startswith(("/", "\\\\")) or re.match(r"^[A-Za-z]:[\\/]", value)):
        raise ValidationError(Msg.FIELD_PATTERN, field=label, rule=L("a full path, e.g. /media/usb/backups",
                                                                     "un chemin complet, ex. /media/usb/sauvegardes"))
    return value


SETTINGS: dict[str, SettingSpec] = {
    "site_name": SettingSpec(L("Site name", "Nom du site"), "Hôpital Saint-Louis, Paris",
                             _name(SITE_NAME_MAX_BYTES, SITE_NAME_MAX_BYTES)),
    "site_number": SettingSpec(L("Site number", "Numéro de site"), "01", _site_number),
    "idle_lock_minutes": SettingSpec(L("Automatic lock after (minutes)", "Verrouillage automatique après (minutes)"),
                                     "5", _int_range(1, 60)),
    "language": SettingSpec(L("Default language", "Langue par défaut"), "fr", _choice("fr", "en")),
    # Automatic encrypted backups (services/autobackup.py)
    "backup_folder": SettingSpec(L("Backup folder", "Dossier des sauvegardes"), "", _folder),
    "backup_at_lock": SettingSpec(L("Back up at lock and log-out", "Sauvegarder au verrouillage et à la "
                                    "déconnexion"), "yes", _choice("yes", "no")),
    "backup_daily": SettingSpec(L("Back up every day", "Sauvegarder chaque jour"), "yes", _choice("yes", "no")),
    "backup_keep": SettingSpec(L("Automatic backups kept", "Sauvegardes automatiques conservées"), "14",
                               _int_range(1, 365)),
    "backup_warn_hours": SettingSpec(L("Warn when the last backup is older than (hours)",
                                       "Avertir quand la dernière sauvegarde a plus de (heures)"), "48",
                                     _int_range(1, 24 * 30)),
}

DEFAULT_SETTINGS = {key: spec.default for key, spec in SETTINGS.items()}
# The workstation's identity (issue 18: sync/identity.py SETTING_KEYS) is set once, when a forked copy is opened.
READ_ONLY_SETTINGS = ("db_id", "training", "created_utc", "workstation_id", "workstation_number", "subject_range",
                      "workstation_fork", "workstation_instance", "packet_secret")


def validate_setting(key: str, value: str) -> str:
    spec = SETTINGS.get(key)
    if spec is None:
        raise ValidationError(Msg.SETTING_UNKNOWN, key=key)
    return spec.check(value, spec.label)
