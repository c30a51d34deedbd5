"""Synthetic subjects for the TRAINING database: the three dose cohorts and every stage of the study (one screening
failure, one infusion not tolerated, one withdrawal, one visit overdue, a serious infection at M3, an infusion five
days ago whose D0-D10 window is still open), entered through the service layer like real data (checked and
audited), so a new user sees the whole app, its outcome tables and safety reviews at once. All of it is invented.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from msc_sle_crf.formdef.definitions import StudyDef
from msc_sle_crf.formdef.engine import CellKey
from msc_sle_crf.scoring.bilag import CLASSIC
from msc_sle_crf.scoring.sledai import DESCRIPTORS
from msc_sle_crf.services.entry import DataEntry, FormRef
from msc_sle_crf.services.workspace import Workspace


def _d(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


@dataclass
class Story:
    initials: str
    birth_year: int
    sex: str
    cohort: str | None
    day0_ago: int | None  # days between the infusion and today; None: no infusion
    visits: tuple[str, ...] = ()  # follow-up visits done (complete)
    sledai: dict[str, tuple[str, ...]] = field(default_factory=dict)  # visit -> descriptor keys ticked
    pga: dict[str, str] = field(default_factory=dict)
    bilag: dict[str, dict[str, str]] = field(default_factory=dict)
    eligible: bool = True
    aes: tuple[tuple[str, str, int, str], ...] = ()  # term, grade, onset day after D0, relationship
    eos: tuple[str, int] | None = None  # reason, days ago
    screening_only: bool = False
    reviews: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # visit -> infection, hosp., comorbidity


STORIES = (
    Story("ABC", 1985, "F", "1", 380, ("M1", "M3", "M6", "M9", "M12"),
          sledai={"SCR": ("arthritis", "low_complement", "rash", "proteinuria"), "M0": ("arthritis", "low_complement",
                  "rash", "proteinuria"), "M3": ("low_complement", "rash"), "M6": ("low_complement",),
                  "M9": ("low_complement",), "M12": ()},
          pga={"M0": "1.8", "M3": "1.2", "M6": "0.8", "M9": "0.5", "M12": "0.4"},
          bilag={"M0": {"renal": "A", "mucocutaneous": "B", "musculoskeletal": "B"}, "M3": {"renal": "B"},
                 "M6": {"renal": "C"}, "M9": {"renal": "C"}, "M12": {"renal": "D"}},
          aes=(("Headache", "1", 0, "possibly_related"), ("Chills", "1", 0, "related")),
          eos=("COMPLETED", 14)),
    Story("DLM", 1979, "F", "2", 200, ("M1", "M3"),
          sledai={"SCR": ("arthritis", "alopecia", "increased_dna_binding", "low_complement"),
                  "M0": ("arthritis", "alopecia", "increased_dna_binding", "low_complement"),
                  "M3": ("arthritis", "increased_dna_binding")},
          pga={"M0": "2.0", "M3": "1.6"}, bilag={"M0": {"musculoskeletal": "A", "mucocutaneous": "B"},
                                                 "M3": {"musculoskeletal": "B", "mucocutaneous": "C"}},
          aes=(("Fever", "1", 1, "related"),)),
    Story("JPR", 1992, "M", "4", 40, ("M1",),
          sledai={"SCR": ("vasculitis", "low_complement"), "M0": ("vasculitis", "low_complement")},
          pga={"M0": "2.2"}, bilag={"M0": {"vasculitis": "A"}},
          aes=(("Fever", "3", 2, "related"), ("Hypotension", "2", 2, "related"),
               ("Infusion related reaction", "2", 0, "related"))),
    Story("SBE", 1970, "F", None, None, eligible=False, eos=("SCREEN_FAIL", 60),
          sledai={"SCR": ("arthritis", "rash", "low_complement")}),
    Story("MCL", 1988, "F", "2", 130, ("M1", "M3"),
          sledai={"SCR": ("myositis", "arthritis"), "M0": ("myositis", "arthritis"), "M3": ("arthritis",)},
          pga={"M0": "1.5", "M3": "1.4"}, bilag={"M0": {"musculoskeletal": "A"}, "M3": {"musculoskeletal": "B"}},
          eos=("CONSENT", 20)),
    Story("HTG", 1995, "F", None, None, screening_only=True),
    # Appended after the others so that their numbers (99-001 to 99-006) stay as the tests and guides know them.
    Story("PLV", 1990, "F", "1", 300, ("M1", "M3", "M6", "M9"),
          sledai={"SCR": ("arthritis", "rash", "low_complement", "increased_dna_binding"),
                  "M0": ("arthritis", "rash", "low_complement", "increased_dna_binding"),
                  "M3": ("rash", "low_complement"), "M6": ("low_complement",), "M9": ()},
          pga={"M0": "1.6", "M3": "1.3", "M6": "1.0", "M9": "0.6"},
          bilag={"M0": {"musculoskeletal": "A", "mucocutaneous": "B"}, "M3": {"mucocutaneous": "B"}, "M6": {},
                 "M9": {}},
          aes=(("Nausea", "1", 1, "related"), ("Fatigue", "2", 45, "possibly_related"),
               ("Lung infection", "3", 60, "not_related")),
          reviews={"M3": ("Y", "Y", "Pneumopathie communautaire, hospitalisée 5 jours")}),
    Story("RGN", 1983, "M", "4", 5,
          sledai={"SCR": ("vasculitis", "arthritis"), "M0": ("vasculitis", "arthritis")},
          pga={"M0": "2.1"}, bilag={"M0": {"vasculitis": "A", "musculoskeletal": "B"}},
          aes=(("Fever", "2", 1, "related"),)),
)


class DemoWriter:
    def __init__(self, doctor: DataEntry, nurse: DataEntry, study: StudyDef, today: dt.date) -> None:
        self.inputs = study.bindings.scores
        self.doctor, self.nurse, self.study, self.today = doctor, nurse, study, today
        self._last_visit: dict[str, dt.date] = {}
        self.day0: dict[str, dt.date] = {}

    def _save(self, entry: DataEntry, ref: FormRef, values: dict[CellKey, str], complete: bool = True) -> None:
        entry.save_values(ref, values, confirm=True)
        if complete:
            entry.mark_complete(ref)

    def screening(self, subject: str, story: Story, when: dt.date) -> None:
        ref = FormRef(subject, "SCR", "screening")
        age = when.year - story.birth_year
        v = {"ICDAT": _d(when), "ICVER": "2.1", "SCRDAT": _d(when), "AGE": str(age), "SEX": story.sex,
             "WEIGHT": "61,5" if story.sex == "F" else "78", "ACRANA": "Y",
             "BELEVER": "N", "RTXEVER": "Y", "RTXLAST": _d(when.replace(
                 year=when.year - 1)), "LVEF": "62" if story.eligible else "35", "MPAP": "18", "AST": "24",
             "ASTULN": "35", "ALT": "30", "ALTULN": "40", "PAO2": "92", "PACO2": "38", "NEUT": "3,2", "PLAT": "210",
             "HGB": "11,8", "CD4": "640", "CREAT": "68", "CHILDPOT": "Y" if story.sex == "F" else "N",
             "ELIGCONF": "Y" if story.eligible else "N"}
        if story.sex == "F":
            v |= {"PREGTEST": "NEG", "CONTRA": "Y"}
        group = {i.id: g.id for g in self.study.forms["screening"].groups for i in g.items}
        values: dict[CellKey, str] = {(group[k], 0, k): t for k, t in v.items()}
        # Refractoriness, one row per immunosuppressant: mycophenolate above its threshold (the criterion met),
        # azathioprine below it.
        refr = self.inputs.screening.refractory
        for row, (drug, dose, days) in enumerate((("MMF", "2500", "180"), ("AZA", "1,5", "120")), start=1):
            values |= {(refr.group or "", row, refr.drug): drug, (refr.group or "", row, refr.dose): dose,
                       (refr.group or "", row, refr.days): days, (refr.group or "", row, refr.failed): "Y"}
        self._save(self.doctor, ref, values, not story.screening_only)
        if story.screening_only:
            return
        # Corticosteroids up to screening (the prednisone criterion reads them): 15 mg/day for 120 days.
        self.steroids(subject, "SCR", when - dt.timedelta(days=120), "15", when)
        dm = {"BRTHDAT": f"UK/06/{story.birth_year}", "ETHNIC": "NR", "HEIGHT": "165" if story.sex == "F" else "178",
              "WEIGHT": "61,5" if story.sex == "F" else "78", "CHILDPOT": "Y" if story.sex == "F" else "N"}
        if story.sex == "F":
            dm["CONTRACP"] = "Implant"
        self._save(self.doctor, FormRef(subject, "SCR", "demographics"), {("dm", 0, k): t for k, t in dm.items()})
        self._save(self.doctor, FormRef(subject, "SCR", "medical_history"), {
            ("sle", 0, "SLEDIAG"): f"UK/03/{story.birth_year + 22}", ("sle", 0, "NEPHRIT"): "N",
            ("mh", 1, "MHTERM"): "Hypertension artérielle", ("mh", 1, "MHSTDAT"): f"UK/UK/{story.birth_year + 30}",
            ("mh", 1, "MHONGO"): "Y"})
        self._save(self.doctor, FormRef(subject, "SCR", "renal_function"), {
            ("lb", 0, "LBDAT"): _d(when), ("lb", 0, "CREAT"): "68", ("lb", 0, "PROTU"): "0,35"})

    def sledai(self, subject: str, event: str, ticked: Iterable[str], pga: str, when: dt.date) -> None:
        ticked = set(ticked)
        values = {("visit", 0, "SLDAT"): _d(when), ("total", 0, "SLPGA"): pga}
        form = self.study.forms["selena_sledai"]
        for d in DESCRIPTORS:
            item = self.inputs.selena_sledai.descriptors[d.key]
            values[(form.group_of(item).id, 0, item)] = "Y" if d.key in ticked else "N"
        self._save(self.doctor, FormRef(subject, event, "selena_sledai"), values)

    def bilag(self, subject: str, event: str, grades: dict[str, str], when: dt.date) -> None:
        values = {("visit", 0, "BLDAT"): _d(when)}
        for s in CLASSIC.systems:
            item = self.inputs.bilag.systems[s.key]
            values[("systems", 0, item)] = grades.get(s.key, "D" if s.key in ("renal", "musculoskeletal") else "E")
        self._save(self.doctor, FormRef(subject, event, "bilag"), values)

    def questionnaires(self, subject: str, event: str, when: dt.date, better: int) -> None:
        sf = self.study.forms["sf36"]
        values = {("admin", 0, "SFDAT"): _d(when), ("admin", 0, self.inputs.sf36.version): "v2"}
        for item in sf.all_items():
            codelist = sf.codelist_for(item)
            if item.id in self.inputs.sf36.questions and codelist is not None:
                n = len(codelist.items)
                values[(sf.group_of(item.id).id, 0, item.id)] = str(min(n, max(1, (n + 1) // 2 + better)))
        self._save(self.doctor, FormRef(subject, event, "sf36"), values)
        eq_levels = {"EQMO": 2, "EQSC": 1, "EQUA": 3, "EQPD": 3, "EQAD": 2}
        eq = {("admin", 0, "EQDAT"): _d(when), ("dims", 0, "EQVAS"): str(min(100, 55 + 8 * better))}
        eq |= {("dims", 0, k): str(max(1, v - better)) for k, v in eq_levels.items()}
        self._save(self.doctor, FormRef(subject, event, "eq5d"), eq)

    def steroids(self, subject: str, event: str, start: dt.date, dose: str, end: dt.date | None = None) -> None:
        values = {("cs", 1, "CSDRUG"): "prednisone", ("cs", 1, "CSDOSE"): dose, ("cs", 1, "CSROUTE"): "PO",
                  ("cs", 1, "CSPULSE"): "N", ("cs", 1, "CSSTDAT"): _d(start),
                  ("cs", 1, "CSONGO"): "N" if end else "Y"}
        if end:
            values[("cs", 1, "CSENDAT")] = _d(end)
        self._save(self.doctor, FormRef(subject, event, "corticosteroids"), values)

    def labs(self, subject: str, event: str, when: dt.date) -> None:
        self._save(self.doctor, FormRef(subject, event, "labs"), {("lb", 0, k): t for k, t in {
            "LBDAT": _d(when), "HGB": "12,1", "WBC": "5,4", "NEUT": "3,1", "LYMPH": "1,2", "PLAT": "230",
            "CREAT": "70", "UPCR": "0,2", "C3": "0,82", "C4": "0,14", "DSDNA": "35", "CRP": "3"}.items()})

    def infusion_day(self, subject: str, story: Story, day0: dt.date) -> None:
        weight = "61,5" if story.sex == "F" else "78"
        self._save(self.doctor, FormRef(subject, "D0", "dose_cohort"), {
            ("dose", 0, "COHORT"): story.cohort or "1", ("dose", 0, "DOSEWT"): weight})
        cells = float(weight.replace(",", ".")) * int(story.cohort or "1")
        self._save(self.nurse, FormRef(subject, "D0", "infusion"), {("ex", 0, k): t for k, t in {
            "EXSTDAT": _d(day0), "EXBAG": f"UC-{subject}-01", "EXLOT": "L2026-014", "EXCELLS": f"{cells:.1f}",
            "EXVOL": "100", "EXSTTIM": "10:05", "EXENTIM": "10:52"}.items()})
        vs: dict[CellKey, str] = {}
        for row, (time, temp, hr, sbp, dbp) in enumerate((("09:50", "36,8", "76", "124", "78"),
                                                          ("10:20", "37,0", "80", "118", "74"),
                                                          ("10:35", "37,3", "84", "112", "70"),
                                                          ("10:55", "37,2", "82", "116", "72")), start=1):
            vs |= {("vs", row, "VSTIM"): time, ("vs", row, "VSTEMP"): temp, ("vs", row, "VSHR"): hr,
                   ("vs", row, "VSSYSBP"): sbp, ("vs", row, "VSDIABP"): dbp, ("vs", row, "VSSPO2"): "98"}
        self._save(self.nurse, FormRef(subject, "D0", "vital_signs"), vs)
        tol: dict[CellKey, str] = {}
        for day in range(1, 11):
            if day0 + dt.timedelta(days=day) > self.today:
                break
            tol |= {("day", day, "TLDAY"): str(day), ("day", day, "TLDAT"): _d(day0 + dt.timedelta(days=day)),
                    ("day", day, "TLTEMP"): "37,1", ("day", day, "TLAE"): "N"}
        self._save(self.nurse, FormRef(subject, "TOL", "tolerance"), tol, complete=len(tol) == 40)

    def adverse_events(self, subject: str, story: Story, day0: dt.date) -> None:
        values: dict[CellKey, str] = {}
        for row, (term, grade, onset, rel) in enumerate(story.aes, start=1):
            start = day0 + dt.timedelta(days=onset)
            values |= {("ae", row, "AETERM"): term, ("ae", row, "AETOXGR"): grade, ("ae", row, "AESTDAT"): _d(start),
                       ("ae", row, "AEONGO"): "N", ("ae", row, "AEENDAT"): _d(start + dt.timedelta(days=1)),
                       ("ae", row, "AESER"): "Y" if grade >= "3" else "N", ("ae", row, "AEREL"): rel,
                       ("ae", row, "AEACN"): "TREATED" if grade >= "2" else "NONE", ("ae", row, "AEOUT"): "RECOVERED"}
            if grade >= "3":
                values[("ae", row, "AESCRIT")] = "HOSP"
        if values:
            self._save(self.nurse, FormRef(subject, "LOG", "adverse_events"), values, complete=False)

    def follow_up(self, subject: str, story: Story, event: str, when: dt.date, index: int) -> None:
        self._save(self.nurse, FormRef(subject, event, "vital_signs"), {
            ("vs", 1, "VSTIM"): "09:30", ("vs", 1, "VSTEMP"): "36,7", ("vs", 1, "VSHR"): "72",
            ("vs", 1, "VSSYSBP"): "121", ("vs", 1, "VSDIABP"): "76", ("vs", 1, "VSSPO2"): "99"})
        self.labs(subject, event, when)
        previous = self._last_visit.get(subject, when - dt.timedelta(days=30))
        review = self.study.bindings.toxicity_review
        infection, hospital, comorbidity = story.reviews.get(event, ("N", "N", ""))
        values = {(review.group or "", 0, review.date): _d(when),
                  (review.group or "", 0, review.new_event): "Y" if any(
                      previous < self.day0[subject] + dt.timedelta(days=a[2]) <= when for a in story.aes) else "N",
                  (review.group or "", 0, review.infection): infection,
                  (review.group or "", 0, review.hospitalisation): hospital}
        if comorbidity:
            values[(review.group or "", 0, review.comorbidities)] = comorbidity
        self._save(self.doctor, FormRef(subject, event, "toxicity_review"), values)
        # Tapering prednisone: each visit records the dose taken since the previous visit.
        previous = self._last_visit.get(subject, when - dt.timedelta(days=30))
        self.steroids(subject, event, previous + dt.timedelta(days=1), str(max(5, 15 - 2 * index)), when)
        self._last_visit[subject] = when
        if event in story.sledai:
            self.sledai(subject, event, story.sledai[event], story.pga.get(event, "1.0"), when)
        if event in story.bilag:
            self.bilag(subject, event, story.bilag[event], when)
        if event != "M1" and event in story.sledai:
            self.questionnaires(subject, event, when, index)

    def write(self, subject: str, story: Story) -> None:
        day0 = self.today - dt.timedelta(days=story.day0_ago) if story.day0_ago is not None else None
        screening_day = (day0 - dt.timedelta(days=21)) if day0 else self.today - dt.timedelta(
            days=70 if story.eos else 2)
        self.screening(subject, story, screening_day)
        if story.screening_only:
            return
        self.sledai(subject, "SCR", story.sledai.get("SCR", ()), story.pga.get("M0", "1.0"), screening_day)
        if day0 is not None:
            m0 = day0 - dt.timedelta(days=3)
            self.sledai(subject, "M0", story.sledai.get("M0", ()), story.pga.get("M0", "1.0"), m0)
            self.bilag(subject, "M0", story.bilag.get("M0", {}), m0)
            self.questionnaires(subject, "M0", m0, 0)
            self.steroids(subject, "M0", screening_day + dt.timedelta(days=1), "15", m0)  # since screening
            self._last_visit[subject] = m0
            self.labs(subject, "M0", m0)
            self.day0[subject] = day0
            self.infusion_day(subject, story, day0)
            self.adverse_events(subject, story, day0)
            for index, event in enumerate(story.visits, start=1):
                target = day0 + dt.timedelta(days=self.study.event(event).day or 0)
                self.follow_up(subject, story, event, target + dt.timedelta(days=(index % 3) - 1), index)
        if story.eos is not None:
            reason, ago = story.eos
            values = {("eos", 0, "EOSDAT"): _d(self.today - dt.timedelta(days=ago)), ("eos", 0, "EOSREAS"): reason}
            self._save(self.doctor, FormRef(subject, "EOS", "end_of_study"), values)


def populate(doctor: Workspace, nurse: Workspace, study: StudyDef, today: dt.date, *,
             progress: Callable[[int, int], None] | None = None) -> list[str]:
    writer = DemoWriter(doctor.entry, nurse.entry, study, today)
    numbers = []
    for n, story in enumerate(STORIES, start=1):
        if progress is not None:
            progress(n, len(STORIES))
        number = nurse.subjects.register(story.initials, story.birth_year, story.sex).subject.subject_number
        writer.write(number, story)
        numbers.append(number)
    return numbers
