"""User-account rules shared by initialisation and the user services."""

from __future__ import annotations

import re

from msc_sle_crf.access import Role
from msc_sle_crf.errors import Msg, ValidationError

USERNAME_RE = re.compile(r"[a-z][a-z0-9._-]{2,31}")


def validate_new_user(username: str, full_name: str, role: str) -> Role:
    if not USERNAME_RE.fullmatch(username):
        raise ValidationError(Msg.USER_NAME_INVALID)
    if not full_name.strip() or len(full_name.strip()) > 120:
        raise ValidationError(Msg.FULL_NAME_REQUIRED)
    try:
        return Role(role)
    except ValueError:
        raise ValidationError(Msg.ROLE_INVALID, choices=", ".join(r.value for r in Role)) from None
