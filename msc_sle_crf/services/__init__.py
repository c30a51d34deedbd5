"""The service layer. UI and CLI call these; they never open a database session themselves.

``Workspace`` (one signed-in user's services) is what callers hold; ``Site`` (the open database, its key file and
instance lock) is infrastructure from ``store``.
"""

from msc_sle_crf.services.accounts import UserInfo
from msc_sle_crf.services.integrity import IntegrityReport
from msc_sle_crf.services.subjects import SubjectInfo
from msc_sle_crf.services.workspace import Workspace
from msc_sle_crf.store.site import Actor, Site

__all__ = ["Actor", "IntegrityReport", "Site", "SubjectInfo", "UserInfo", "Workspace"]
