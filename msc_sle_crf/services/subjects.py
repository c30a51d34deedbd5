"""Subjects: registration at screening (the number is the site number and a sequence) and the plain list."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from msc_sle_crf.access import Perm
from msc_sle_crf.audit import Action
from msc_sle_crf.errors import Msg, ValidationError
from msc_sle_crf.i18n import L
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.services.context import ServiceContext
from msc_sle_crf.store.tables import SiteSetting, Subject
from msc_sle_crf.sync.identity import FIRST_WS, Workstation, subject_numbers, this_workstation

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
    owner_ws: str = FIRST_WS  # the workstation that enters its visits (issue 18)

    @classmethod
    def of(cls, s: Subject) -> SubjectInfo:
        return cls(s.subject_number, s.initials, s.birth_year, s.sex, s.status, s.created_utc,
                   s.owner_ws or FIRST_WS)


@dataclass(frozen=True)
class Registered:
    subject: SubjectInfo
    changes: Changes


def next_sequence(session: Session, prefix: str, here: Workstation) -> int:
    """The next free subject sequence in this workstation's range (WS-01: 001-199, WS-02: 201-399...); a range used
    up is refused in one line."""
    low, high = here.subjects
    numbers = session.execute(select(Subject.subject_number).where(Subject.subject_number.like(f"{prefix}-%"))
                              ).scalars()
    used = [int(n[len(prefix) + 1:]) for n in numbers if n[len(prefix) + 1:].isdigit()]
    highest = max((n for n in used if low <= n <= high), default=low - 1)
    if highest >= high:  # a site that never forked goes on past its first block (sync/identity.py)
        low, high = subject_numbers(session, here)
        highest = max((n for n in used if low <= n <= high), default=low - 1)
    if highest >= high:
        raise ValidationError(Msg.SUBJECT_RANGE_EXHAUSTED, ws=here.id, site=prefix, low=low, high=high)
    return highest + 1


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
            here = this_workstation(session)
            sequence = next_sequence(session, prefix, here)
            number = f"{prefix}-{sequence:03d}"
            owner = None if here.id == FIRST_WS else here.id  # NULL: the first workstation (docs/workstations.md)
            subject = Subject(subject_number=number, initials=clean_initials, birth_year=year, sex=clean_sex,
                              status="screening", created_utc=ctx.now(), created_by=ctx.actor.user_id,
                              owner_ws=owner)
            session.add(subject)
            created: dict[str, object] = {"initials": clean_initials, "birth_year": year, "sex": clean_sex}
            if owner is not None:
                created["owner_ws"] = owner
            tx.audit(Action.CREATE, subject=number, form="subject", new_value=json.dumps(created, sort_keys=True))
            session.flush()
            info = SubjectInfo.of(subject)
        return Registered(info, tx.changes)
