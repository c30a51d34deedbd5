"""A form definition as stored with the data (the one a form instance was entered under)."""

from __future__ import annotations

import hashlib

from msc_sle_crf.errors import AuditIntegrityError, Msg
from msc_sle_crf.formdef.definitions import FormDef
from msc_sle_crf.i18n import L


def parse_definition(form_hash: str, text: str | None, form_id: str | None = None) -> FormDef:
    """A stored definition, only if it is the one its hash names and it reads: anything else (missing, edited,
    not a definition) is one clear line, not an incident (issue 14: planted by someone holding the key)."""
    if text is None:
        raise AuditIntegrityError(Msg.DEFINITION_DAMAGED, form=form_id or form_hash[:12],
                                  detail=L("missing", "absente"))
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != form_hash:
        raise AuditIntegrityError(Msg.DEFINITION_DAMAGED, form=form_id or form_hash[:12],
                                  detail=L("its content does not match its hash", "son contenu ne correspond pas "
                                           "à son empreinte"))
    try:
        return FormDef.model_validate_json(text)
    except ValueError:  # pydantic's ValidationError is a ValueError
        raise AuditIntegrityError(Msg.DEFINITION_DAMAGED, form=form_id or form_hash[:12],
                                  detail=L("it is not a form definition", "ce n'est pas une définition de "
                                           "formulaire")) from None
