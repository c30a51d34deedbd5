"""Password policy and temporary passwords."""

from __future__ import annotations

import secrets
import unicodedata

from msc_sle_crf.errors import Msg, ValidationError

MIN_PASSWORD_LENGTH = 10
_TEMP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # nothing that reads two ways


def check_password_policy(password: str, username: str | None = None) -> None:
    normalized = unicodedata.normalize("NFC", password)
    if len(normalized) < MIN_PASSWORD_LENGTH:
        raise ValidationError(Msg.PASSWORD_TOO_SHORT, min_length=MIN_PASSWORD_LENGTH)
    if username and len(username) >= 3 and username.lower() in normalized.lower():
        raise ValidationError(Msg.PASSWORD_SAME_AS_USER)


def temporary_password() -> str:
    """A one-time password handed over by an administrator: 3 groups of 4, about 59 bits."""
    return "-".join("".join(secrets.choice(_TEMP_ALPHABET) for _ in range(4)) for _ in range(3))
