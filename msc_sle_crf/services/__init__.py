"""The service layer. UI and CLI call these; they never open a database session themselves."""

from msc_sle_crf.services.session import IntegrityReport, Services, SubjectInfo, UserInfo
from msc_sle_crf.store.site import Actor, Site

__all__ = ["Actor", "IntegrityReport", "Services", "Site", "SubjectInfo", "UserInfo"]
