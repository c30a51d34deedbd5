"""Site settings: read by every signed-in user (site name and lock delay are shown to all), changed by an
administrator, each change audited. The rules of each setting are in ``site_settings``."""

from __future__ import annotations

from sqlalchemy import select

from msc_sle_crf.access import Perm
from msc_sle_crf.audit import Action
from msc_sle_crf.errors import Msg, ValidationError
from msc_sle_crf.services.changes import NO_CHANGES, Changes
from msc_sle_crf.services.context import ServiceContext
from msc_sle_crf.site_settings import READ_ONLY_SETTINGS, validate_setting
from msc_sle_crf.store.tables import SiteSetting


class Settings:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def all(self) -> dict[str, str]:
        self.ctx.check_session()
        with self.ctx.read() as session:
            return {row.key: row.value for row in session.execute(select(SiteSetting)).scalars()}

    def get(self, key: str, default: str = "") -> str:
        self.ctx.check_session()
        with self.ctx.read() as session:
            row = session.get(SiteSetting, key)
            return row.value if row is not None else default

    def set(self, key: str, value: str) -> Changes:
        self.ctx.require(Perm.EDIT_SITE_SETTINGS)
        if key in READ_ONLY_SETTINGS:
            raise ValidationError(Msg.SETTING_UNKNOWN, key=key)
        clean = validate_setting(key, value)
        with self.ctx.write() as tx:
            row = tx.session.get(SiteSetting, key)
            old = row.value if row else None
            if old == clean:
                return NO_CHANGES
            if row is None:
                tx.session.add(SiteSetting(key=key, value=clean, updated_utc=self.ctx.now()))
            else:
                row.value = clean
                row.updated_utc = self.ctx.now()
            tx.audit(Action.SETTING_CHANGE, item=key, old_value=old, new_value=clean)
        return tx.changes
