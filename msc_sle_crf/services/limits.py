"""Length limits of every free text the services accept, in one place (the message names the limit).

Names (a person's full name, the site name) follow ``security.policy.check_name``: no control, format or invisible
character. Free texts (reasons, comments, query texts, not-done reasons) follow ``check_text``: line breaks and
tabs are fine, other control characters and direction overrides are not.
"""

from __future__ import annotations

from msc_sle_crf.errors import Msg, ValidationError
from msc_sle_crf.i18n import L
from msc_sle_crf.security.policy import check_text

MAX_REASON = 4000  # a reason for change, for unlocking, for disabling an account, for a pause or a correction
MAX_MISSING_REASON = 4000  # why a value is not done / unknown / not applicable
MAX_QUERY_TEXT = 4000  # a query, an answer, a closing or re-opening note
MAX_COMMENT = 4000  # a bedside comment
MAX_TYPED = 8000  # text being typed in a cell (kept in the typing buffer until accepted)
MAX_PRODUCT_FIELD = 200  # bag number, lot, premedication at the bedside
MAX_DRAFT_BYTES = 1_000_000  # one draft (JSON)

REASON = L("Reason", "Motif")
MISSING_REASON = L("Reason the value is missing", "Raison de la valeur manquante")
QUERY_TEXT = L("Query text", "Texte de la query")
COMMENT = L("Comment", "Commentaire")
TYPED = L("Value typed", "Valeur saisie")


def reason(value: str | None, field: L = REASON, limit: int = MAX_REASON) -> str | None:
    """A checked optional reason: None when empty."""
    if value is None:
        return None
    return check_text(value, field, max_chars=limit) or None


def text(value: str, field: L, limit: int) -> str:
    return check_text(value, field, max_chars=limit)


def typed(value: str) -> str:
    if len(value) > MAX_TYPED:
        raise ValidationError(Msg.TEXT_TOO_LONG, field=TYPED, limit=MAX_TYPED, count=len(value))
    return value
