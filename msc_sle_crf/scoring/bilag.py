"""BILAG: a letter grade per organ system (A-E), a numeric total under a named profile, counts of A and B.

Profiles (clinical-reference.md section 2): classic BILAG, 8 systems, A=9 B=3 C=1 D=0 E=0, total 0-72 (the
protocol's default); BILAG-2004, 9 systems, A=12 B=8 C=1 D=0 E=0, total 0-108. Grades of one profile are never
scored with the other's weights. The total is not computable while a system is ungraded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from msc_sle_crf.i18n import L
from msc_sle_crf.scoring.common import Part, ScoreInputError, ScoreResult, missing_list, not_computable

GRADES = ("A", "B", "C", "D", "E")


@dataclass(frozen=True)
class System:
    key: str
    item: str
    label: L


@dataclass(frozen=True)
class Profile:
    key: str
    rule: str
    systems: tuple[System, ...]
    weights: dict[str, int]

    @property
    def maximum(self) -> int:
        return len(self.systems) * self.weights["A"]


CLASSIC = Profile("classic_9_3_1", "BILAG classic, 8 systems, A=9 B=3 C=1 D=0 E=0, 0-72", (
    System("general", "BLGEN", L("General", "Général")),
    System("mucocutaneous", "BLMUCO", L("Mucocutaneous", "Cutanéo-muqueux")),
    System("neurological", "BLNEURO", L("Neurological", "Neurologique")),
    System("musculoskeletal", "BLMSK", L("Musculoskeletal", "Musculo-squelettique")),
    System("cardiorespiratory", "BLCARD", L("Cardiovascular and respiratory", "Cardio-vasculaire et respiratoire")),
    System("vasculitis", "BLVASC", L("Vasculitis", "Vascularite")),
    System("renal", "BLRENAL", L("Renal", "Rénal")),
    System("haematological", "BLHAEM", L("Haematological", "Hématologique")),
), {"A": 9, "B": 3, "C": 1, "D": 0, "E": 0})

BILAG2004 = Profile("bilag2004_12_8_1", "BILAG-2004, 9 systems, A=12 B=8 C=1 D=0 E=0, 0-108", (
    System("constitutional", "B4CONST", L("Constitutional", "Général")),
    System("mucocutaneous", "B4MUCO", L("Mucocutaneous", "Cutanéo-muqueux")),
    System("neuropsychiatric", "B4NEURO", L("Neuropsychiatric", "Neuropsychiatrique")),
    System("musculoskeletal", "B4MSK", L("Musculoskeletal", "Musculo-squelettique")),
    System("cardiorespiratory", "B4CARD", L("Cardiorespiratory", "Cardio-respiratoire")),
    System("gastrointestinal", "B4GI", L("Gastrointestinal", "Digestif")),
    System("ophthalmic", "B4OPHT", L("Ophthalmic", "Ophtalmologique")),
    System("renal", "B4RENAL", L("Renal", "Rénal")),
    System("haematological", "B4HAEM", L("Haematological", "Hématologique")),
), {"A": 12, "B": 8, "C": 1, "D": 0, "E": 0})

PROFILES = {CLASSIC.key: CLASSIC, BILAG2004.key: BILAG2004}


def _grades(grades: Mapping[str, str | None], profile: Profile) -> dict[str, str | None]:
    known = {s.key: s for s in profile.systems} | {s.item: s for s in profile.systems}
    out: dict[str, str | None] = {}
    for name, grade in grades.items():
        system = known.get(name)
        if system is None:
            raise ScoreInputError(L(f"system '{name}' is not part of {profile.rule}",
                                    f"le système « {name} » ne fait pas partie de {profile.rule}"))
        if grade is not None and grade not in GRADES:
            raise ScoreInputError(L(f"{system.label.en}: grade '{grade}' is not one of A, B, C, D, E",
                                    f"{system.label.fr} : la cote « {grade} » n'est pas A, B, C, D ou E"))
        out[system.key] = grade
    return out


def bilag_total(grades: Mapping[str, str | None], profile: Profile = CLASSIC) -> ScoreResult:
    g = _grades(grades, profile)
    parts = tuple(Part(s.key, s.label, g.get(s.key), profile.weights[g[s.key] or "E"] if g.get(s.key) else None)
                  for s in profile.systems)
    missing = [s.label for s in profile.systems if g.get(s.key) is None]
    if missing:
        return not_computable("bilag_total", profile.rule, missing_list(missing), parts)
    return ScoreResult("bilag_total", sum(int(p.points or 0) for p in parts), profile.rule, parts)


def count_grade(grades: Mapping[str, str | None], grade: str, profile: Profile = CLASSIC) -> ScoreResult:
    g = _grades(grades, profile)
    missing = [s.label for s in profile.systems if g.get(s.key) is None]
    name = f"bilag_count_{grade}"
    if missing:
        return not_computable(name, profile.rule, missing_list(missing))
    hits = tuple(Part(s.key, s.label, g[s.key]) for s in profile.systems if g[s.key] == grade)
    return ScoreResult(name, len(hits), profile.rule, hits)


def visit_states(grades: Mapping[str, str | None], profile: Profile = CLASSIC) -> dict[str, bool | int | None]:
    """Per-visit states used by MCR/PCR: all systems C or better; no A and at most one B; counts."""
    a = count_grade(grades, "A", profile).value
    b = count_grade(grades, "B", profile).value
    if a is None or b is None:
        return {"all_systems_C_or_better": None, "no_A_and_at_most_one_B": None, "count_A": None, "count_B": None}
    return {"all_systems_C_or_better": a == 0 and b == 0, "no_A_and_at_most_one_B": a == 0 and b <= 1,
            "count_A": a, "count_B": b}
