"""Subjects: registration at screening (the number is the site number and a sequence) and the plain list."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from sqlalchemy import func, select

from msc_sle_crf.access import Perm
from msc_sle_crf.audit import Action
from msc_sle_crf.errors import Msg, ValidationError
from msc_sle_crf.i18n import L
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.services.context import ServiceContext
from msc_sle_crf.store.tables import SiteSetting, Subject

INITIALS = L("Initials", "Initiales")
BIRTH_YEAR = L("Year of birth", "Année de naissance")
SEX = L("Sex", "Sexe")


@dataclass(frozen=True)
class SubjectInfo:
    subject_number: str
    initials: str
    birth_year: int
    sex: str
    status: str
    created_utc: str

    @classmethod
    def of(cls, s: Subject) -> SubjectInfo:
        return cls(s.subject_number, s.initials, s.birth_year, s.sex, s.status, s.created_utc)


@dataclass(frozen=True)
class Registered:
    subject: SubjectInfo
    changes: Changes


class Subjects:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def list(self) -> list[SubjectInfo]:
        self.ctx.require(Perm.VIEW_DATA)
        with self.ctx.read() as session:
            rows = session.execute(select(Subject).order_by(Subject.subject_number)).scalars().all()
            return [SubjectInfo.of(s) for s in rows]

    def register(self, initials: str, birth_year: int | str, sex: str) -> Registered:
        """Register a subject at screening; the subject number is the site number and a sequence."""
        ctx = self.ctx
        ctx.require(Perm.REGISTER_SUBJECT)
        clean_initials = initials.strip().upper()
        if not clean_initials:
            raise ValidationError(Msg.FIELD_REQUIRED, field=INITIALS)
        if not re.fullmatch(r"[A-Z]{2,3}", clean_initials):
            raise ValidationError(Msg.FIELD_PATTERN, field=INITIALS,
                                  rule=L("2 or 3 letters A-Z", "2 ou 3 lettres A-Z"))
        this_year = ctx.clock.now().year
        try:
            year = int(str(birth_year).strip())
        except ValueError:
            raise ValidationError(Msg.FIELD_RANGE, field=BIRTH_YEAR, low=1900, high=this_year) from None
        if not 1900 <= year <= this_year:
            raise ValidationError(Msg.FIELD_RANGE, field=BIRTH_YEAR, low=1900, high=this_year)
        clean_sex = sex.strip().upper()
        if clean_sex not in ("F", "M"):
            raise ValidationError(Msg.FIELD_PATTERN, field=SEX, rule=L("F or M", "F ou M"))
        with ctx.write() as tx:
            session = tx.session
            site_number = session.get(SiteSetting, "site_number")
            prefix = site_number.value if site_number else "01"
            count = session.execute(select(func.count()).select_from(Subject)).scalar_one()
            number = f"{prefix}-{count + 1:03d}"
            subject = Subject(subject_number=number, initials=clean_initials, birth_year=year, sex=clean_sex,
                              status="screening", created_utc=ctx.now(), created_by=ctx.actor.user_id)
            session.add(subject)
            tx.audit(Action.CREATE, subject=number, form="subject", new_value=json.dumps(
                {"initials": clean_initials, "birth_year": year, "sex": clean_sex}, sort_keys=True))
            session.flush()
            info = SubjectInfo.of(subject)
        return Registered(info, tx.changes)
