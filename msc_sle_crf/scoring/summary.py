"""The study's outcome measures by dose cohort and overall: the tables and plot data that the outcomes screen, the
signed PDF, the CSV and the command line all show (one content, four renderings).

Pure: it reads each subject's scores (``scoring.subject``), form states and visit plan, and the study definition.
Every number comes with its denominator: a proportion is ``n/of`` over the subjects for whom it is decided, and
the subjects still undecided or not computable are counted beside it, never dropped silently; a measure is its
median and range over the subjects who have it, with how many lack it. Values stay exact; rounding is for display.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Literal

from msc_sle_crf.formdef.definitions import StudyDef
from msc_sle_crf.i18n import L, Lang
from msc_sle_crf.rounding import format_decimal
from msc_sle_crf.schedule import DONE_STATES, VisitPlan, VisitState
from msc_sle_crf.scoring.common import ScoreResult, score_label
from msc_sle_crf.scoring.ctcae import soc_label
from msc_sle_crf.scoring.subject import SF36_SCORES, SubjectScores, form_scores
from msc_sle_crf.scoring.toxicity import AdverseEvent, WindowToxicity, related
from msc_sle_crf.status import FormStatus

ALL = "all"
GRADES = (1, 2, 3, 4, 5)


# ----- cells ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Count:
    """``n`` of ``of`` subjects (``of``: those for whom it is decided); ``pending``: expected but not decided or
    not computable yet."""

    n: int
    of: int
    pending: int = 0

    @property
    def percent(self) -> Decimal | None:
        return None if self.of == 0 else Decimal(self.n) * 100 / self.of

    def text(self, lang: Lang | None = None) -> str:
        percent = self.percent
        text = f"{self.n}/{self.of}" + ("" if percent is None else f" ({format_decimal(percent, 1, lang)} %)")
        if self.pending:
            text += L(f" · {self.pending} pending", f" · {self.pending} en attente").get(lang)
        return text


@dataclass(frozen=True)
class Summary:
    """A measure over subjects: exact values; median and range shown; ``missing``: expected but not computable."""

    values: tuple[Decimal, ...]
    missing: int = 0
    places: int = 1

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def median(self) -> Decimal | None:
        return Decimal(statistics.median(self.values)) if self.values else None

    @property
    def minimum(self) -> Decimal | None:
        return min(self.values) if self.values else None

    @property
    def maximum(self) -> Decimal | None:
        return max(self.values) if self.values else None

    def _shown(self, value: Decimal, lang: Lang | None) -> str:
        """Whole-number measures (SLEDAI, BILAG, EQ-5D sums) stay whole; a median between two shows its half."""
        whole = all(v == v.to_integral_value() for v in self.values)
        places = (0 if value == value.to_integral_value() else 1) if whole else self.places
        return format_decimal(value, places, lang)

    def text(self, lang: Lang | None = None) -> str:
        if not self.values:
            text = "—"
        else:
            assert self.median is not None and self.minimum is not None and self.maximum is not None
            text = (f"{self._shown(self.median, lang)} ({self._shown(self.minimum, lang)}–"
                    f"{self._shown(self.maximum, lang)}), n = {self.n}")
        if self.missing:
            text += L(f" · {self.missing} n.c.", f" · {self.missing} n.c.").get(lang)
        return text


@dataclass(frozen=True)
class GradeCounts:
    """Subjects by their maximum CTCAE grade (1-5) in an organ class or overall, of ``of`` assessed subjects;
    ``pending``: among them, windows not decided yet (their maximum so far is counted)."""

    counts: tuple[int, int, int, int, int]
    of: int
    pending: int = 0

    @property
    def any_grade(self) -> int:
        return sum(self.counts)

    def at_least(self, grade: int) -> int:
        return sum(self.counts[grade - 1:])

    def text(self, lang: Lang | None = None) -> str:
        shown = " · ".join(f"G{g} {c}" for g, c in zip(GRADES, self.counts, strict=True) if c) or "—"
        text = f"{shown} (n = {self.of})"
        if self.pending:
            text += L(f" · {self.pending} pending", f" · {self.pending} en attente").get(lang)
        return text


Cell = Count | Summary | GradeCounts | L | str | int | Decimal | None


def cell_text(cell: Cell, lang: Lang | None = None, places: int = 1) -> str:
    if cell is None:
        return "—"
    if isinstance(cell, (Count, Summary, GradeCounts)):
        return cell.text(lang)
    if isinstance(cell, L):
        return cell.get(lang)
    if isinstance(cell, Decimal):
        return format_decimal(cell, places, lang)
    return str(cell)


@dataclass(frozen=True)
class Column:
    key: str
    label: L


@dataclass(frozen=True)
class Row:
    key: str
    label: L
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Table:
    key: str
    title: L
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    corner: L = field(default_factory=lambda: L("", ""))
    note: L | None = None


@dataclass(frozen=True)
class Trajectory:
    """One subject's values of a measure over the visits (x: study month of the visit, 0 at the baseline)."""

    measure: str
    cohort: str
    subject: str
    points: tuple[tuple[str, Decimal, Decimal], ...]  # (visit, month, value)


@dataclass(frozen=True)
class GradeBars:
    """Subjects by maximum grade (0-5) in a window, for one cohort (or all)."""

    window: str
    label: L
    cohort: str
    related_only: bool
    counts: tuple[int, int, int, int, int, int]
    pending: int


@dataclass(frozen=True)
class Report:
    kind: Literal["outcomes", "safety"]
    title: L
    subtitle: L
    tables: tuple[Table, ...]
    trajectories: tuple[Trajectory, ...] = ()
    grade_bars: tuple[GradeBars, ...] = ()
    ready: bool = True  # a safety review: every subject's immediate-tolerance window is over
    waiting: tuple[L, ...] = ()  # why it is not ready
    rules: tuple[str, ...] = ()  # the rules (and versions) behind the numbers
    cohort_labels: dict[str, L] = field(default_factory=dict)
    visits: tuple[str, ...] = ()
    cohort: str | None = None  # the cohort of a safety review
    measure_labels: dict[str, L] = field(default_factory=dict)  # the plotted measures, with their ranges

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)


# ----- input ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SubjectOutcome:
    """One subject as the outcome tables need it (loaded by the service layer)."""

    number: str
    scores: SubjectScores
    statuses: dict[tuple[str, str], FormStatus]
    plans: tuple[VisitPlan, ...]
    ended: dt.date | None = None  # end of study or withdrawal date (completed end-of-study form)

    @property
    def cohort(self) -> str | None:
        return self.scores.cohort

    @property
    def infused(self) -> bool:
        return self.scores.day0 is not None


MEASURES: tuple[str, ...] = ("selena_sledai", "pga", "bilag_total", *SF36_SCORES, "eq5d_lss", "prednisone_mean")
TRAJECTORIES: tuple[str, ...] = ("selena_sledai", "bilag_total", "prednisone_mean")
PROPORTIONS: tuple[str, ...] = ("mcr", "pcr", "sri4", "steroid_reduction")
RANGE_LABELS: dict[str, L] = {
    "selena_sledai": L("SELENA-SLEDAI (0-105)", "SELENA-SLEDAI (0-105)"), "pga": L("PGA (0-3)", "PGA (0-3)"),
    "eq5d_lss": L("EQ-5D-5L level sum (5-25)", "EQ-5D-5L somme des niveaux (5-25)"),
}


def measure_label(name: str, study: StudyDef | None = None) -> L:
    if name == "bilag_total" and study is not None:
        from msc_sle_crf.scoring.bilag import PROFILES

        top = PROFILES[study.meta.scoring.bilag_profile].maximum
        return L(f"BILAG total (0-{top})", f"Total BILAG (0-{top})")
    return RANGE_LABELS.get(name, score_label(name))


class Summarizer:
    """Builds the outcome tables of a set of subjects for a study, as of ``today``."""

    def __init__(self, study: StudyDef, subjects: Sequence[SubjectOutcome], today: dt.date) -> None:
        self.study = study
        self.rules = study.meta.scoring
        self.bindings = study.bindings
        self.today = today
        self.subjects = list(subjects)
        self.cohorts = cohort_labels(study)
        self.columns = (*(Column(code, label) for code, label in self.cohorts.items()),
                        Column(ALL, L("All cohorts", "Toutes cohortes")))

    # ----- who is in a column -------------------------------------------------------------------------------------
    def infused(self, column: str) -> list[SubjectOutcome]:
        return [s for s in self.subjects if s.infused and column in (ALL, s.cohort)]

    def _header(self) -> tuple[Column, ...]:
        return tuple(Column(c.key, L(f"{c.label.en} (n = {len(self.infused(c.key))})",
                                     f"{c.label.fr} (n = {len(self.infused(c.key))})")) for c in self.columns)

    def _row(self, key: str, label: L, cell: Callable[[list[SubjectOutcome]], Cell]) -> Row:
        return Row(key, label, tuple(cell(self.infused(c.key)) for c in self.columns))

    # ----- visits ---------------------------------------------------------------------------------------------------
    @property
    def visits(self) -> tuple[str, ...]:
        return (self.bindings.baseline_visit, *self.bindings.follow_up_visits)

    def month(self, visit: str) -> Decimal:
        day = self.study.event(visit).day
        return Decimal(0) if day is None else Decimal(round(Decimal(day) * 12 / Decimal(365)))

    def visit_label(self, visit: str) -> L:
        return self.study.event(visit).label.as_l()

    def expected(self, s: SubjectOutcome, visit: str) -> bool:
        """Whether the visit should be done by now: its window has opened (or it has no window: the baseline),
        and the subject had not left the study before it."""
        p = next((p for p in s.plans if p.event == visit), None)
        if p is None or p.state is VisitState.UPCOMING:
            return False
        left_before = s.ended is not None and p.window is not None and s.ended < p.window[0]
        return not (left_before and p.visit_date is None)

    def visit_scores(self, visit: str) -> tuple[str, ...]:
        """The scores the visit's forms feed, in display order (measures, then proportions)."""
        forms = set(self.study.event(visit).forms)
        fed = {name for form, (names, _) in form_scores(self.bindings).items() if form in forms for name in names}
        if visit in self.rules.response.visits and self.bindings.scores.bilag.form in forms:
            fed |= {"mcr", "pcr"}
        if visit not in self.rules.response.visits:
            fed -= {"sri4", "steroid_reduction"}
        return tuple(n for n in (*MEASURES, *PROPORTIONS) if n in fed)

    # ----- cells ------------------------------------------------------------------------------------------------------
    def _score(self, s: SubjectOutcome, visit: str, name: str) -> ScoreResult | None:
        return s.scores.per_visit.get(visit, {}).get(name)

    def summary(self, group: list[SubjectOutcome], visit: str, name: str) -> Summary:
        values: list[Decimal] = []
        missing = 0
        for s in group:
            result = self._score(s, visit, name)
            if result is not None and isinstance(result.value, (int, Decimal)) and not isinstance(result.value,
                                                                                                     bool):
                values.append(Decimal(result.value))
            elif result is not None or self.expected(s, visit):
                missing += 1
        return Summary(tuple(values), missing, 1)

    def proportion(self, group: list[SubjectOutcome], visit: str, name: str) -> Count:
        yes = decided = pending = 0
        for s in group:
            result = self._score(s, visit, name)
            if result is not None and isinstance(result.value, bool):
                decided += 1
                yes += result.value
            elif result is not None or self.expected(s, visit):
                pending += 1
        return Count(yes, decided, pending)

    # ----- toxicity ---------------------------------------------------------------------------------------------------
    def window(self, s: SubjectOutcome, window_id: str) -> WindowToxicity | None:
        return next((t for t in s.scores.toxicity if t.window.id == window_id), None)

    def started(self, s: SubjectOutcome, window_id: str) -> WindowToxicity | None:
        """The subject's window if it has begun (its first day has come)."""
        tox = self.window(s, window_id)
        return tox if tox is not None and tox.start is not None and tox.start <= self.today else None

    def grade_counts(self, group: list[SubjectOutcome], window_id: str, *, related_only: bool,
                     soc: str | None = None) -> GradeCounts:
        counts = [0] * 5
        of = pending = 0
        for s in group:
            tox = self.started(s, window_id)
            if tox is None:
                continue
            view = tox.view(related_only)
            of += 1
            pending += not view.decided
            grade = view.max_grade if soc is None else view.by_soc.get(soc, 0)
            if grade:
                counts[grade - 1] += 1
        return GradeCounts((counts[0], counts[1], counts[2], counts[3], counts[4]), of, pending)

    def not_tolerated(self, group: list[SubjectOutcome], window_id: str, *, related_only: bool) -> Count:
        yes = decided = pending = 0
        for s in group:
            tox = self.started(s, window_id)
            if tox is None:
                continue
            answer = tox.view(related_only).not_tolerated
            if answer is None:
                pending += 1
            else:
                decided += 1
                yes += answer
        return Count(yes, decided, pending)

    def serious(self, group: list[SubjectOutcome], window_id: str) -> Count:
        started = [t for s in group if (t := self.started(s, window_id)) is not None]
        return Count(sum(1 for t in started if t.serious), len(started), sum(1 for t in started if not t.all.decided))

    def socs(self, group: list[SubjectOutcome], window_id: str) -> list[str]:
        found: set[str] = set()
        for s in group:
            tox = self.window(s, window_id)
            if tox is not None:
                found |= set(tox.all.by_soc)
        return sorted(found)

    # ----- tables -----------------------------------------------------------------------------------------------------
    def subjects_table(self, visits: Sequence[str]) -> Table:
        rows = [Row("infused", L("Infused", "Perfusés"), tuple(len(self.infused(c.key)) for c in self.columns))]
        for visit in visits:
            rows.append(self._row(f"done_{visit}", L(f"{self.visit_label(visit).en}: visit done",
                                                     f"{self.visit_label(visit).fr} : visite faite"),
                                  partial(self._visit_done, visit=visit)))
        screened = [s for s in self.subjects if not s.infused]
        note = L(f"{len(screened)} subject(s) registered but not infused are outside the cohorts.",
                 f"{len(screened)} patient(s) inclus non perfusé(s) hors cohortes.") if screened else None
        return Table("subjects", L("Subjects", "Patients"), self._header(), tuple(rows), note=note)

    def _visit_done(self, group: list[SubjectOutcome], visit: str) -> Count:
        expected = [s for s in group if self.expected(s, visit)]
        done = [s for s in expected if next((p.state for p in s.plans if p.event == visit), None) in (
            VisitState.DONE, VisitState.DONE_OUT_OF_WINDOW)]
        return Count(len(done), len(expected))

    def primary_table(self) -> Table:
        w = self.rules.toxicity.primary
        rows = (self._row("not_tolerated_all", L("Not tolerated (all adverse events)", "Non tolérée (tous les EI)"),
                          lambda g: self.not_tolerated(g, w.id, related_only=False)),
                self._row("not_tolerated_related", L("Not tolerated (related to the cells)",
                                                     "Non tolérée (EI liés aux cellules)"),
                          lambda g: self.not_tolerated(g, w.id, related_only=True)))
        return Table("primary", L(f"Primary endpoint: tolerance {w.label.en}",
                                  f"Critère principal : tolérance {w.label.fr}"), self._header(), rows,
                     note=L(f"Not tolerated: any CTCAE toxicity of grade >= {self.rules.toxicity.min_grade}; "
                            "n/decided subjects.",
                            f"Non tolérée : toute toxicité CTCAE de grade >= {self.rules.toxicity.min_grade} ; "
                            "n/patients évalués."))

    def toxicity_table(self, window_id: str, *, related_only: bool) -> Table:
        w = self.rules.toxicity.window(window_id)
        group_all = self.infused(ALL)
        rows = [self._row("any", L("Any organ class", "Toute classe d'organe"),
                          lambda g: self.grade_counts(g, window_id, related_only=related_only))]
        for soc in self.socs(group_all, window_id):
            rows.append(self._row(soc, soc_label(soc),
                                  partial(self.grade_counts, window_id=window_id, related_only=related_only,
                                          soc=soc)))
        rows.append(self._row("not_tolerated", L(f"Grade >= {self.rules.toxicity.min_grade} (not tolerated)",
                                                 f"Grade >= {self.rules.toxicity.min_grade} (non toléré)"),
                              lambda g: self.not_tolerated(g, window_id, related_only=related_only)))
        if not related_only:
            rows.append(self._row("serious", L("Serious adverse event", "Événement indésirable grave"),
                                  lambda g: self.serious(g, window_id)))
        which = (L("related to the cells", "liés aux cellules") if related_only
                 else L("all adverse events", "tous les EI"))
        return Table(f"toxicity_{window_id}{'_related' if related_only else ''}",
                     L(f"Toxicity {w.label.en}, {which.en}: maximum CTCAE grade per organ class",
                       f"Toxicité {w.label.fr}, {which.fr} : grade CTCAE maximal par classe d'organe"),
                     self._header(), tuple(rows), L("MedDRA organ class", "Classe d'organe MedDRA"),
                     L("Subjects by their maximum grade (G1-G5) among the subjects whose window has begun.",
                       "Patients selon leur grade maximal (G1-G5) parmi ceux dont la fenêtre a commencé."))

    def scores_table(self, visit: str) -> Table | None:
        names = [n for n in self.visit_scores(visit) if n in MEASURES]
        if not names:
            return None
        rows = tuple(self._row(n, measure_label(n, self.study), partial(self.summary, visit=visit, name=n))
                     for n in names)
        return Table(f"scores_{visit}", L(f"{self.visit_label(visit).en}: scores, median (range)",
                                          f"{self.visit_label(visit).fr} : scores, médiane (étendue)"),
                     self._header(), rows)

    def response_table(self, visit: str) -> Table | None:
        names = [n for n in self.visit_scores(visit) if n in PROPORTIONS]
        if not names:
            return None
        labels = {"mcr": L("Major clinical response", "Réponse clinique majeure"),
                  "pcr": L("Partial clinical response", "Réponse clinique partielle"),
                  "sri4": L("SRI-4 responder (vs inclusion)", "Répondeur SRI-4 (vs inclusion)"),
                  "steroid_reduction": score_label("steroid_reduction")}
        rows = tuple(self._row(n, labels[n], partial(self.proportion, visit=visit, name=n)) for n in names)
        return Table(f"response_{visit}", L(f"{self.visit_label(visit).en}: responses, n/decided",
                                            f"{self.visit_label(visit).fr} : réponses, n/évalués"),
                     self._header(), rows)

    def comorbidity_table(self, visit: str) -> Table | None:
        if self.bindings.toxicity_review.form not in self.study.event(visit).forms:
            return None

        def count(group: list[SubjectOutcome], what: Callable[[SubjectOutcome], bool | None]) -> Count:
            reviewed = [s for s in group if (r := s.scores.reviews.get(visit)) is not None and r.done]
            expected = [s for s in group if self.expected(s, visit)]
            return Count(sum(1 for s in reviewed if what(s)), len(reviewed),
                         len([s for s in expected if s not in reviewed]))

        rows = (self._row("infection", L("Infection", "Infection"),
                          lambda g: count(g, lambda s: s.scores.reviews[visit].infection)),
                self._row("hospitalisation", L("Hospitalisation", "Hospitalisation"),
                          lambda g: count(g, lambda s: s.scores.reviews[visit].hospitalisation)),
                self._row("comorbidities", L("New or worsened comorbidities", "Comorbidités nouvelles ou aggravées"),
                          lambda g: count(g, lambda s: bool(s.scores.reviews[visit].comorbidities))))
        return Table(f"comorbidities_{visit}", L(f"{self.visit_label(visit).en}: comorbidities since the previous "
                                                 "visit", f"{self.visit_label(visit).fr} : comorbidités depuis la "
                                                 "visite précédente"), self._header(), rows)

    def completeness_table(self, visits: Sequence[str]) -> Table:
        rows: list[Row] = []
        for visit in visits:
            forms = self.study.event(visit).forms

            def forms_done(group: list[SubjectOutcome], v: str = visit, f: tuple[str, ...] = forms) -> Count:
                expected = [s for s in group if self.expected(s, v)]
                done = sum(1 for s in expected for form in f if s.statuses.get((v, form)) in DONE_STATES)
                return Count(done, len(expected) * len(f))

            def missing(group: list[SubjectOutcome], v: str = visit) -> int:
                return len(self.missing_scores(group, [v]))

            label = self.visit_label(visit)
            rows.append(self._row(f"forms_{visit}", L(f"{label.en}: forms done / expected",
                                                      f"{label.fr} : formulaires faits / attendus"), forms_done))
            rows.append(self._row(f"missing_{visit}", L(f"{label.en}: scores missing", f"{label.fr} : scores "
                                                        "manquants"), missing))
        return Table("completeness", L("Completeness", "Complétude"), self._header(), tuple(rows),
                     note=L("Expected: visits whose window has opened, for subjects still in the study then.",
                            "Attendu : visites dont la fenêtre est ouverte, pour les patients encore dans l'étude."))

    def missing_scores(self, group: Iterable[SubjectOutcome], visits: Sequence[str]
                       ) -> list[tuple[SubjectOutcome, str, str, L]]:
        out: list[tuple[SubjectOutcome, str, str, L]] = []
        for s in group:
            for visit in visits:
                if not self.expected(s, visit):
                    continue
                for name in self.visit_scores(visit):
                    result = self._score(s, visit, name)
                    if result is None:
                        out.append((s, visit, name, L("form not started", "formulaire non commencé")))
                    elif not result.computable:
                        out.append((s, visit, name, result.reason or L("not computable", "non calculable")))
        return out

    def missing_table(self, visits: Sequence[str]) -> Table:
        cols = (Column("cohort", L("Cohort", "Cohorte")), Column("visit", L("Visit", "Visite")),
                Column("score", L("Score", "Score")), Column("reason", L("Why", "Pourquoi")))
        rows = tuple(Row(f"{s.number}/{v}/{n}", L(s.number, s.number),
                         (s.cohort or "—", v, measure_label(n, self.study), reason))
                     for s, v, n, reason in self.missing_scores(self.infused(ALL), visits))
        return Table("missing", L("Missing scores and why", "Scores manquants et pourquoi"), cols, rows,
                     L("Subject", "Patient"))

    # ----- plots -------------------------------------------------------------------------------------------------
    def trajectories(self) -> tuple[Trajectory, ...]:
        out: list[Trajectory] = []
        for s in self.infused(ALL):
            for name in TRAJECTORIES:
                points = tuple((v, self.month(v), Decimal(r.value)) for v in self.visits
                               if (r := self._score(s, v, name)) is not None and isinstance(r.value, (int, Decimal))
                               and not isinstance(r.value, bool))
                if points:
                    out.append(Trajectory(name, s.cohort or "?", s.number, points))
        return tuple(out)

    def grade_bars(self) -> tuple[GradeBars, ...]:
        out: list[GradeBars] = []
        for w in self.rules.toxicity.windows:
            for column in self.columns:
                for related_only in (False, True):
                    counts = [0] * 6
                    pending = 0
                    for s in self.infused(column.key):
                        tox = self.started(s, w.id)
                        if tox is None:
                            continue
                        view = tox.view(related_only)
                        counts[view.max_grade] += 1
                        pending += not view.decided
                    out.append(GradeBars(w.id, w.label.as_l(), column.key, related_only,
                                         (counts[0], counts[1], counts[2], counts[3], counts[4], counts[5]), pending))
        return tuple(out)

    def rule_texts(self) -> tuple[str, ...]:
        texts: set[str] = set()
        for s in self.subjects:
            for results in s.scores.per_visit.values():
                texts |= {r.rule for r in results.values()}
            texts |= {r.rule for r in s.scores.overall.values()}
        return tuple(sorted(texts))

    # ----- the two reports ---------------------------------------------------------------------------------------
    def outcomes(self, visit: str | None = None) -> Report:
        """Outcomes at one visit (with its toxicity window), or at every visit."""
        visits = self.visits if visit is None else (visit,)
        tables: list[Table] = [self.subjects_table(visits), self.primary_table()]
        for v in visits:
            for table in (self.scores_table(v), self.response_table(v), self.comorbidity_table(v)):
                if table is not None:
                    tables.append(table)
            for w in self.rules.toxicity.windows:
                if w.review_event == v and v != self.rules.toxicity.primary.review_event:
                    tables += [self.toxicity_table(w.id, related_only=False),
                               self.toxicity_table(w.id, related_only=True)]
        if visit is None or visit == self.rules.toxicity.primary.review_event:
            primary = self.rules.toxicity.primary_window
            tables[2:2] = [self.toxicity_table(primary, related_only=False),
                           self.toxicity_table(primary, related_only=True)]
        tables += [self.completeness_table(visits), self.missing_table(visits)]
        named = self.visit_label(visit) if visit is not None else None
        title = L("Outcomes at every visit", "Critères à chaque visite") if named is None else L(
            f"Outcomes at the visit “{named.en}”", f"Critères à la visite « {named.fr} »")
        return Report("outcomes", title, L(f"as of {self.today:%d/%m/%Y}, by dose cohort and overall",
                                           f"au {self.today:%d/%m/%Y}, par cohorte de dose et au total"),
                      tuple(tables), self.trajectories(), self.grade_bars(), rules=self.rule_texts(),
                      cohort_labels=self.cohorts, visits=visits,
                      measure_labels={m: measure_label(m, self.study) for m in TRAJECTORIES})

    def safety(self, cohort: str) -> Report:
        """The safety review of one cohort, for the decision on the next dose: ready once every subject's
        immediate-tolerance window is over."""
        label = self.cohorts.get(cohort, L(cohort, cohort))
        group = self.infused(cohort)
        primary = self.rules.toxicity.primary
        waiting: list[L] = []
        for s in group:
            tox = self.window(s, primary.id)
            if tox is None or tox.end is None or not tox.closed:
                end = f"{tox.end:%d/%m/%Y}" if tox is not None and tox.end is not None else "?"
                waiting.append(L(f"{s.number}: the {primary.label.en} window closes after {end}",
                                 f"{s.number} : la fenêtre {primary.label.fr} se termine après le {end}"))
        if not group:
            waiting.append(L(f"no subject infused in cohort {cohort} yet", f"aucun patient perfusé dans la cohorte "
                             f"{cohort}"))
        tables = [self._safety_subjects(group), *self._who_tables(group), self._events_table(group)]
        return Report("safety", L(f"Safety review, cohort {label.en}", f"Revue de tolérance, cohorte {label.fr}"),
                      L(f"as of {self.today:%d/%m/%Y}: {len(group)} subject(s) infused",
                        f"au {self.today:%d/%m/%Y} : {len(group)} patient(s) perfusé(s)"), tuple(tables),
                      grade_bars=tuple(b for b in self.grade_bars() if b.cohort == cohort), ready=not waiting,
                      waiting=tuple(waiting), rules=self.rule_texts(), cohort_labels=self.cohorts, cohort=cohort)

    def _safety_subjects(self, group: list[SubjectOutcome]) -> Table:
        primary = self.rules.toxicity.primary
        cols = (Column("day0", L("Infusion (D0)", "Perfusion (J0)")),
                Column("window", L(f"D{primary.from_day}-D{primary.to_day} window",
                                   f"Fenêtre J{primary.from_day}-J{primary.to_day}")),
                Column("max_all", L("Max grade, all", "Grade max, tous")),
                Column("max_related", L("Max grade, related", "Grade max, liés")),
                Column("nt_all", L("Not tolerated, all", "Non tolérée, tous")),
                Column("nt_related", L("Not tolerated, related", "Non tolérée, liés")),
                Column("serious", L("SAE", "EIG")))
        rows: list[Row] = []
        for s in group:
            tox = self.window(s, primary.id)
            if tox is None:
                continue
            state = L("decided", "évaluée") if tox.all.decided else (tox.all.reason or L("pending", "en attente"))
            rows.append(Row(s.number, L(s.number, s.number), (
                f"{s.scores.day0:%d/%m/%Y}" if s.scores.day0 else "—", state, tox.all.max_grade,
                tox.related.max_grade, _yes_no(tox.all.not_tolerated), _yes_no(tox.related.not_tolerated),
                len(tox.serious))))
        return Table("safety_subjects", L("Subjects of the cohort", "Patients de la cohorte"), cols, tuple(rows),
                     L("Subject", "Patient"))

    def _who_tables(self, group: list[SubjectOutcome]) -> list[Table]:
        """WHO-style tables: subjects by maximum grade per organ class, one per window that has begun."""
        out: list[Table] = []
        at_least = f"Grade >= {self.rules.toxicity.min_grade}"
        cols = (*(Column(f"g{g}", L(f"Grade {g}", f"Grade {g}")) for g in GRADES), Column("ge", L(at_least, at_least)))
        for w in self.rules.toxicity.windows:
            started = [s for s in group if self.started(s, w.id) is not None]
            if not started and w.id != self.rules.toxicity.primary_window:
                continue
            for related_only in (False, True):
                rows = []
                for soc in (None, *self.socs(group, w.id)):
                    gc = self.grade_counts(group, w.id, related_only=related_only, soc=soc)
                    if soc is not None and not gc.any_grade:
                        continue
                    label = L("Any organ class", "Toute classe d'organe") if soc is None else soc_label(soc)
                    rows.append(Row(soc or "any", label, (*gc.counts, Count(gc.at_least(self.rules.toxicity.min_grade),
                                                                             gc.of, gc.pending))))
                which = (L("related", "liés") if related_only else L("all events", "tous les EI"))
                out.append(Table(f"who_{w.id}{'_related' if related_only else ''}",
                                 L(f"{w.label.en}, {which.en}: subjects by maximum grade",
                                   f"{w.label.fr}, {which.fr} : patients par grade maximal"),
                                 cols, tuple(rows), L("Organ class", "Classe d'organe")))
        return out

    def _events_table(self, group: list[SubjectOutcome]) -> Table:
        cols = (Column("window", L("Window", "Fenêtre")), Column("term", L("CTCAE term", "Terme CTCAE")),
                Column("soc", L("Organ class", "Classe d'organe")), Column("grade", L("Grade", "Grade")),
                Column("day", L("Onset day", "Jour de début")), Column("related", L("Related", "Lié")),
                Column("serious", L("Serious", "Grave")))
        rows: list[Row] = []
        rules = self.rules.toxicity
        for s in group:
            day0 = s.scores.day0
            for e in s.scores.events:
                tox = next((t for t in s.scores.toxicity if t.start and t.end and e.onset and t.start <= e.onset <=
                            t.end), None)
                where = tox.window.label.as_l() if tox is not None else L("outside the windows", "hors fenêtres")
                rows.append(Row(f"{s.number}{e.ref}", L(s.number, s.number), (
                    where, e.term, soc_label(e.soc), e.grade, _day(e, day0), _yes_no(related(e, rules)),
                    _yes_no(e.serious))))
        return Table("events", L("Adverse events of the cohort", "Événements indésirables de la cohorte"), cols,
                     tuple(rows), L("Subject", "Patient"))


def _yes_no(value: bool | None) -> L:
    if value is None:
        return L("not decided", "non déterminé")
    return L("yes", "oui") if value else L("no", "non")


def _day(event: AdverseEvent, day0: dt.date | None) -> L | str:
    day = event.day(day0) if day0 is not None else None
    return "?" if day is None else L(f"D{day}", f"J{day}")


def cohort_labels(study: StudyDef) -> dict[str, L]:
    """The dose cohorts as the dose form lists them (code -> label)."""
    dose = study.bindings.infusion_day.dose
    form = study.forms[dose.form]
    codelist = form.codelist_for(form.item(dose.cohort), dict(study.meta.codelists))
    return {c.code: c.label.as_l() for c in codelist.items} if codelist is not None else {}
