"""The workspace: everything one signed-in user can do, built once at sign-in.

The UI (and the command line) holds one ``Workspace``; its services share one ``ServiceContext``, so they act
for the same user, see the same lock state and write through the same audited transactions. Services that need
the study are built on first use (a user-account command never compiles the forms). The session itself (lock,
unlock, another user taking over, log out) is the workspace's own business.
"""

from __future__ import annotations

from functools import cached_property

from msc_sle_crf.access import Perm
from msc_sle_crf.audit import Action, AuditEntry
from msc_sle_crf.formdef.definitions import StudyDef
from msc_sle_crf.services.accounts import Accounts
from msc_sle_crf.services.bedside import Bedside
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.services.context import ServiceContext
from msc_sle_crf.services.drafts import Drafts
from msc_sle_crf.services.entry import DataEntry
from msc_sle_crf.services.export import Export
from msc_sle_crf.services.integrity import Integrity
from msc_sle_crf.services.lifecycle import Lifecycle
from msc_sle_crf.services.monitoring import Monitoring
from msc_sle_crf.services.outcomes import Outcomes
from msc_sle_crf.services.overview import Overview
from msc_sle_crf.services.printing import Printing
from msc_sle_crf.services.settings import Settings
from msc_sle_crf.services.subjects import Subjects
from msc_sle_crf.store.site import Actor, Site


class Workspace:
    """One signed-in user's services."""

    def __init__(self, site: Site, actor: Actor, study: StudyDef | None = None) -> None:
        self.ctx = ServiceContext(site, actor)
        self._study = study
        self.accounts = Accounts(self.ctx)
        self.settings = Settings(self.ctx)
        self.subjects = Subjects(self.ctx)
        self.drafts = Drafts(self.ctx)
        self.integrity = Integrity(self.ctx)

    @classmethod
    def sign_in(cls, site: Site, username: str, password: str, *, study: StudyDef | None = None) -> Workspace:
        ws = cls(site, site.sign_in(username, password), study)
        if study is not None:  # the forms the app compiled at start-up (ui/app.open_site)
            _check_recorded(ws.ctx, study)
        return ws

    # ----- who, where ------------------------------------------------------------------------------------------
    @property
    def site(self) -> Site:
        return self.ctx.site

    @property
    def actor(self) -> Actor:
        return self.ctx.actor

    @property
    def locked(self) -> bool:
        return self.ctx.locked

    def can(self, perm: Perm) -> bool:
        return self.ctx.can(perm)

    # ----- services that need the study ------------------------------------------------------------------------
    @property
    def study(self) -> StudyDef:
        if self._study is None:
            from msc_sle_crf.formdef import load_study

            study = load_study()
            _check_recorded(self.ctx, study)
            self._study = study
        return self._study

    @cached_property
    def entry(self) -> DataEntry:
        return DataEntry(self.ctx, self.study, self.drafts)

    @cached_property
    def lifecycle(self) -> Lifecycle:
        return Lifecycle(self.ctx, self.study, self.entry)

    @cached_property
    def monitoring(self) -> Monitoring:
        return Monitoring(self.ctx, self.entry)

    @cached_property
    def bedside(self) -> Bedside:
        return Bedside(self.ctx, self.study, self.entry)

    @cached_property
    def overview(self) -> Overview:
        return Overview(self.ctx, self.study)

    @cached_property
    def printing(self) -> Printing:
        return Printing(self.ctx, self.study, self.entry, self.lifecycle, self.monitoring, self.settings,
                        self.integrity)

    @cached_property
    def outcomes(self) -> Outcomes:
        return Outcomes(self.ctx, self.study, self.overview, self.printing, self.settings)

    @cached_property
    def export(self) -> Export:
        return Export(self.ctx, self.study, self.overview)

    # ----- the session -----------------------------------------------------------------------------------------
    def lock(self) -> Changes:
        """The screen is locked: data stays open for running timers, nothing can be read or written."""
        if self.ctx.locked:
            return Changes()
        if self.site.store is None:  # the site was closed (an idle timer firing at shutdown): nothing to lock
            self.ctx.locked = True
            return Changes()
        changes = self.ctx.audit_alone(Action.LOCK)
        self.ctx.locked = True
        self.site.anchor_audit()
        return changes

    def unlock(self, password: str) -> Changes:
        """The same user comes back."""
        self.ctx.actor = self.site.authenticate(self.ctx.actor.username, password)
        self.ctx.locked = False
        return self.ctx.audit_alone(Action.UNLOCK)

    def switch_user(self, username: str, password: str) -> Workspace:
        """Another user takes over the locked workstation: a new workspace acts for them; this one stays locked."""
        actor = self.site.authenticate(username, password)
        other = Workspace(self.site, actor, self._study)
        with other.ctx.write() as tx:
            tx.record(AuditEntry(Action.USER_SWITCH, actor.username, actor.role.value,
                                 detail=f"took over from {self.ctx.actor.username}"))
            tx.record(AuditEntry(Action.LOGIN, actor.username, actor.role.value))
        self.ctx.locked = True
        return other

    def logout(self) -> Changes:
        changes = self.ctx.audit_alone(Action.LOGOUT)
        self.ctx.locked = True
        self.site.anchor_audit()
        return changes


def _check_recorded(ctx: ServiceContext, study: StudyDef) -> None:
    """Refuse (one line) forms whose definition differs from the one this database recorded for the same form id and
    version (a changed forms folder, e.g. ``MSC_SLE_CRF_FORMS_DIR``: issue 18, insider attack B, finding 2)."""
    from sqlalchemy import select

    from msc_sle_crf.errors import Msg, ValidationError
    from msc_sle_crf.formdef import default_forms_dir
    from msc_sle_crf.formdef.definitions import recorded_mismatch
    from msc_sle_crf.store.tables import FormDefinitionSnapshot as Snap

    with ctx.read() as session:
        recorded = [(str(f), str(v), str(h)) for f, v, h in session.execute(
            select(Snap.form_id, Snap.version, Snap.content_hash))]

        def text_of(content_hash: str) -> str | None:
            return session.execute(select(Snap.definition_json).where(Snap.content_hash == content_hash)
                                   ).scalar_one_or_none()

        found = recorded_mismatch(study, recorded, text_of)
    if found is not None:
        form, version, known, other = found
        raise ValidationError(Msg.STUDY_DEFINITION_DIFFERS, path=str(default_forms_dir())[:300], form=form,
                              version=version, known=known[:12], other=other[:12])
