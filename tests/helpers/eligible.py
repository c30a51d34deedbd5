"""Make a subject eligible by the screening criteria (not only ticked by the investigator): the bedside start
requires the criteria to tell eligibility (services/bedside.py, start_readiness)."""

from __future__ import annotations

import datetime as dt

from msc_sle_crf.services import Workspace
from msc_sle_crf.services.demo_data import DemoWriter, Story

SCR_SLEDAI = ("arthritis", "rash", "low_complement", "increased_dna_binding")  # 4 + 2 + 2 + 2 = 10 >= 6


def make_eligible(doctor: Workspace, subject: str, *, screening: bool = True, initials: str = "ABC",
                  birth_year: int = 1980, sex: str = "F") -> None:
    """The screening form (unless it is already filled, as the TRAINING subject 99-006's is; left in progress), 120
    days of prednisone 15 mg/day and a screening SELENA-SLEDAI of 10 (both complete), written by ``doctor`` two days
    before today."""
    today = doctor.ctx.local_now().date()
    when = today - dt.timedelta(days=2)
    writer = DemoWriter(doctor.entry, doctor.entry, doctor.study, today)
    if screening:  # the screening form alone (not marked complete), none of the other screening forms
        writer.screening(subject, Story(initials, birth_year, sex, None, None, screening_only=True), when)
    writer.steroids(subject, "SCR", when - dt.timedelta(days=120), "15", when)
    writer.sledai(subject, "SCR", SCR_SLEDAI, "1.0", when)
    derived = doctor.overview.subject(subject).scores.overall["eligibility"]
    assert derived.value is True, derived
