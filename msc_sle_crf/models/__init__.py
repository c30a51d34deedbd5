from msc_sle_crf.models.base import Base
from msc_sle_crf.models.entities import (
    AppUser,
    AuditEvent,
    Draft,
    FormDefinitionSnapshot,
    FormInstance,
    FormRow,
    InfusionEvent,
    ItemValue,
    Signature,
    SiteSetting,
    Subject,
)
from msc_sle_crf.models.roles import PERMISSIONS, Perm, Role, allowed

__all__ = [
    "PERMISSIONS",
    "AppUser",
    "AuditEvent",
    "Base",
    "Draft",
    "FormDefinitionSnapshot",
    "FormInstance",
    "FormRow",
    "InfusionEvent",
    "ItemValue",
    "Perm",
    "Role",
    "Signature",
    "SiteSetting",
    "Subject",
    "allowed",
]
