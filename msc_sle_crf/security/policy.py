"""Account rules: user names, full names, the password policy and one-time passwords.

Shared by site creation (store.site) and the account services."""

from __future__ import annotations

import re
import secrets
import unicodedata

from msc_sle_crf.access import Role
from msc_sle_crf.errors import Msg, ValidationError

MIN_PASSWORD_LENGTH = 10
_TEMP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # nothing that reads two ways
USERNAME_RE = re.compile(r"[a-z][a-z0-9._-]{2,31}")


def check_password_policy(password: str, username: str | None = None) -> None:
    normalized = unicodedata.normalize("NFC", password)
    if len(normalized) < MIN_PASSWORD_LENGTH:
        raise ValidationError(Msg.PASSWORD_TOO_SHORT, min_length=MIN_PASSWORD_LENGTH)
    if username and len(username) >= 3 and username.lower() in normalized.lower():
        raise ValidationError(Msg.PASSWORD_SAME_AS_USER)


def temporary_password() -> str:
    """A one-time password handed over by an administrator: 3 groups of 4, about 59 bits."""
    return "-".join("".join(secrets.choice(_TEMP_ALPHABET) for _ in range(4)) for _ in range(3))


def validate_new_user(username: str, full_name: str, role: str) -> Role:
    if not USERNAME_RE.fullmatch(username):
        raise ValidationError(Msg.USER_NAME_INVALID)
    if not full_name.strip() or len(full_name.strip()) > 120:
        raise ValidationError(Msg.FULL_NAME_REQUIRED)
    try:
        return Role(role)
    except ValueError:
        raise ValidationError(Msg.ROLE_INVALID, choices=", ".join(r.value for r in Role)) from None
