"""Account rules: user names, full names, the password policy and one-time passwords.

Shared by site creation (store.site) and the account services."""

from __future__ import annotations

import re
import secrets
import unicodedata

from msc_sle_crf.access import Role
from msc_sle_crf.errors import Msg, ValidationError
from msc_sle_crf.i18n import L

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # Argon2 takes any length; this bounds the work a pasted file could cause
FULL_NAME = L("Full name", "Nom complet")
MAX_FULL_NAME = 120
# Unicode categories never allowed in a name: controls (newline, tab...), format characters (zero-width spaces and
# joiners, right-to-left overrides, BOM), line/paragraph separators, private-use, surrogates and unassigned.
_NAME_FORBIDDEN = {"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"}
# In free text (reasons, comments, query texts) line breaks and tabs are fine; other controls and the characters
# that reverse the direction of the text shown after them (which could disguise an audit record) are not.
_BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}


def _shown(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def check_name(value: str, field: L, *, max_chars: int, max_bytes: int | None = None) -> str:
    """A name (a person's full name, the site's name): trimmed, NFC, not empty, within its length in characters
    (and in UTF-8 bytes when it goes into a certificate), with no control, format or invisible character."""
    clean = unicodedata.normalize("NFC", value).strip()
    if not clean:
        raise ValidationError(Msg.FIELD_REQUIRED, field=field)
    bad = sorted({_shown(ch) for ch in clean if unicodedata.category(ch) in _NAME_FORBIDDEN})
    if bad:
        raise ValidationError(Msg.TEXT_FORBIDDEN_CHARACTER, field=field, found=", ".join(bad[:5]))
    if len(clean) > max_chars:
        raise ValidationError(Msg.TEXT_TOO_LONG, field=field, limit=max_chars, count=len(clean))
    if max_bytes is not None and len(clean.encode("utf-8")) > max_bytes:
        raise ValidationError(Msg.TEXT_TOO_MANY_BYTES, field=field, limit=max_bytes, count=len(clean.encode("utf-8")))
    return clean


def check_text(value: str, field: L, *, max_chars: int) -> str:
    """Free text (a reason, a comment, a query text): trimmed, within its length, without control characters
    other than line breaks and tabs, and without direction overrides. Empty is returned as ''."""
    clean = value.strip()
    bad = sorted({_shown(ch) for ch in clean if (unicodedata.category(ch) == "Cc" and ch not in "\n\r\t")
                  or ch in _BIDI_CONTROLS or unicodedata.category(ch) in ("Cs", "Co")})
    if bad:
        raise ValidationError(Msg.TEXT_FORBIDDEN_CHARACTER, field=field, found=", ".join(bad[:5]))
    if len(clean) > max_chars:
        raise ValidationError(Msg.TEXT_TOO_LONG, field=field, limit=max_chars, count=len(clean))
    return clean
_TEMP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # nothing that reads two ways
USERNAME_RE = re.compile(r"[a-z][a-z0-9._-]{2,31}")


def check_password_policy(password: str, username: str | None = None) -> None:
    normalized = unicodedata.normalize("NFC", password)
    if len(normalized) < MIN_PASSWORD_LENGTH:
        raise ValidationError(Msg.PASSWORD_TOO_SHORT, min_length=MIN_PASSWORD_LENGTH)
    if len(normalized) > MAX_PASSWORD_LENGTH:
        raise ValidationError(Msg.TEXT_TOO_LONG, field=L("Password", "Mot de passe"), limit=MAX_PASSWORD_LENGTH,
                              count=len(normalized))
    if username and len(username) >= 3 and username.lower() in normalized.lower():
        raise ValidationError(Msg.PASSWORD_SAME_AS_USER)


def temporary_password() -> str:
    """A one-time password handed over by an administrator: 3 groups of 4, about 59 bits."""
    return "-".join("".join(secrets.choice(_TEMP_ALPHABET) for _ in range(4)) for _ in range(3))


def validate_new_user(username: str, full_name: str, role: str) -> Role:
    if not USERNAME_RE.fullmatch(username):
        raise ValidationError(Msg.USER_NAME_INVALID)
    if not full_name.strip():
        raise ValidationError(Msg.FULL_NAME_REQUIRED)
    check_name(full_name, FULL_NAME, max_chars=MAX_FULL_NAME)
    try:
        return Role(role)
    except ValueError:
        raise ValidationError(Msg.ROLE_INVALID, choices=", ".join(r.value for r in Role)) from None
