"""Frozen, typed form definitions shaped like CDISC ODM: study event -> form -> item group -> item.

These classes are the *schema* the YAML files in ``forms/`` are validated against (see ``compiler``).
They hold no data; values live in ``engine.FormState`` and in the database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from msc_sle_crf.formdef.bindings import StudyBindings
from msc_sle_crf.i18n import L, Lang, current_lang
from msc_sle_crf.infusion.protocol import InfusionProtocol
from msc_sle_crf.scoring.rules import ScoringRules

# CDASH/SAS-transport style: upper case, starts with a letter, at most 8 characters.
ItemId = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,7}$")]
# Forms, groups, events and code lists: lower case identifiers.
Ident = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
NonEmpty = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Text(_Frozen):
    """A label in both languages. Both are required: the site works in French, monitors often in English."""

    en: NonEmpty
    fr: NonEmpty

    def get(self, lang: Lang | None = None) -> str:
        return self.fr if (lang or current_lang()) is Lang.FR else self.en

    def as_l(self) -> L:
        return L(self.en, self.fr)


class ItemType(StrEnum):
    INTEGER = "integer"
    DECIMAL = "decimal"
    TEXT = "text"
    DATE = "date"
    PARTIAL_DATE = "partial_date"
    TIME = "time"
    DATETIME = "datetime"
    CHOICE = "choice"
    MULTICHOICE = "multichoice"
    YESNO = "yesno"


NUMERIC_TYPES = frozenset({ItemType.INTEGER, ItemType.DECIMAL})
DATE_TYPES = frozenset({ItemType.DATE, ItemType.PARTIAL_DATE, ItemType.DATETIME})
CODED_TYPES = frozenset({ItemType.CHOICE, ItemType.MULTICHOICE, ItemType.YESNO})


class MissingCode(StrEnum):
    """Why a value is absent (CDISC-style null flavours)."""

    NOT_DONE = "ND"
    UNKNOWN = "UNK"
    NOT_APPLICABLE = "NA"

    def label(self, lang: Lang | None = None) -> str:
        return _MISSING_LABELS[self].get(lang)


_MISSING_LABELS = {
    MissingCode.NOT_DONE: L("Not done", "Non fait"),
    MissingCode.UNKNOWN: L("Unknown", "Inconnu"),
    MissingCode.NOT_APPLICABLE: L("Not applicable", "Non applicable"),
}


class DateRule(StrEnum):
    NOT_FUTURE = "not_future"
    NOT_BEFORE_BIRTH = "not_before_birth"
    NOT_BEFORE_DAY0 = "not_before_day0"  # follow-up dates cannot precede the infusion (hard)
    IN_VISIT_WINDOW = "in_visit_window"


class CodeListItem(_Frozen):
    code: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    label: Text


class CodeList(_Frozen):
    items: tuple[CodeListItem, ...] = Field(min_length=1)

    def codes(self) -> tuple[str, ...]:
        return tuple(i.code for i in self.items)

    def label(self, code: str, lang: Lang | None = None) -> str:
        for i in self.items:
            if i.code == code:
                return i.label.get(lang)
        return code


YESNO_CODELIST = CodeList(items=(
    CodeListItem(code="Y", label=Text(en="Yes", fr="Oui")),
    CodeListItem(code="N", label=Text(en="No", fr="Non")),
    CodeListItem(code="U", label=Text(en="Unknown", fr="Inconnu")),
))


class AltUnit(_Frozen):
    """Another unit the value may be entered in: canonical = entered x factor. ``precision``: the decimal places a
    value typed in this unit may have (None: the item's), e.g. 2 for creatinine in mg/dL where the item has 1 in
    µmol/L (the compiler refuses an alternative unit whose step is much coarser than the item's)."""

    unit: NonEmpty
    factor: Decimal = Field(gt=0)
    # left out of the canonical JSON when not given: the definitions written before it keep their content hash
    precision: int | None = Field(default=None, ge=0, le=6, exclude_if=lambda v: v is None)


class Condition(_Frozen):
    item: ItemId
    op: Literal["eq", "ne", "in", "not_in", "gt", "ge", "lt", "le", "filled", "empty"]
    value: Any = None


class ShowIf(_Frozen):
    """``all`` of its conditions hold, or ``any`` of them. Conditions may nest."""

    # A condition is tried first: a dumped definition read back (a stored snapshot, the compiled-study cache) gives
    # the same objects, not conditions wrapped in another level of ShowIf.
    all: tuple[Annotated[Condition | ShowIf, Field(union_mode="left_to_right")], ...] = ()
    any: tuple[Annotated[Condition | ShowIf, Field(union_mode="left_to_right")], ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _bare_condition(cls, data: Any) -> Any:
        # ``show_if: {item: X, op: eq, value: Y}`` is shorthand for ``show_if: {all: [...]}``.
        if isinstance(data, dict) and "item" in data:
            return {"all": [data]}
        return data

    def items(self) -> set[str]:
        out: set[str] = set()
        for c in (*self.all, *self.any):
            out |= {c.item} if isinstance(c, Condition) else c.items()
        return out


class Calc(_Frozen):
    """A calculated item: a function registered in ``functions.CALCULATIONS`` and the items it reads."""

    function: NonEmpty
    inputs: tuple[ItemId, ...] = Field(min_length=1)


class Item(_Frozen):
    id: ItemId
    type: ItemType
    label: Text
    help: Text | None = None
    required: bool = False
    missing: tuple[MissingCode, ...] = ()
    unit: str | None = None
    alt_units: tuple[AltUnit, ...] = ()
    precision: int | None = Field(default=None, ge=0, le=6)
    max_length: int | None = Field(default=None, ge=1, le=4000)
    pattern: str | None = None
    pattern_hint: Text | None = None
    hard_min: Decimal | None = None
    hard_max: Decimal | None = None
    soft_min: Decimal | None = None
    soft_max: Decimal | None = None
    codelist: Ident | None = None
    date_rules: tuple[DateRule, ...] = ()
    calc: Calc | None = None
    show_if: ShowIf | None = None
    lookup: Literal["ctcae_v5"] | None = None  # text picked from a terminology (searchable on screen)
    grades_of: ItemId | None = None  # a CTCAE grade: its definitions for that term's value are shown
    licensed: bool = False  # its wording may be replaced by the site's licensed text (see forms/README.md)

    @property
    def calculated(self) -> bool:
        return self.calc is not None

    def precision_for(self, unit: str | None) -> int | None:
        """The decimal places of a value typed in ``unit`` (None or the item's unit: the item's precision; an
        alternative unit: its own precision when it has one, else the item's)."""
        for alt in self.alt_units:
            if unit is not None and unit != self.unit and alt.unit == unit:
                return alt.precision if alt.precision is not None else self.precision
        return self.precision


class ItemGroup(_Frozen):
    """An ODM item group; shown as one section. A repeating group holds rows (time points, AE, drugs)."""

    id: Ident
    label: Text
    help: Text | None = None
    repeating: bool = False
    min_rows: int = Field(default=0, ge=0)
    max_rows: int | None = Field(default=None, ge=1)
    items: tuple[Item, ...] = Field(min_length=1)
    show_if: ShowIf | None = None


class CheckRef(_Frozen):
    """A cross-item check: a function registered in ``functions.CHECKS``, the items it reads, a severity."""

    function: NonEmpty
    items: tuple[ItemId, ...] = Field(min_length=1)
    severity: Literal["hard", "soft"] = "hard"
    refuse: bool = False  # a hard failure refuses the value being entered (else it is stored and blocks completion)
    group: Ident | None = None


_DERIVED = ("_content_hash", "_canonical_json", "_index")  # FormDef's cached properties: derived once per instance


class FormDef(_Frozen):
    id: Ident
    version: Annotated[str, StringConstraints(pattern=r"^\d+(\.\d+){0,2}$")]
    label: Text
    help: Text | None = None
    entry: Literal["nursing", "clinical"] = "clinical"
    licensed_text: Literal["sf36v2", "eq5d5l"] | None = None  # wording under licence, loaded from the site's file
    codelists: dict[Ident, CodeList] = Field(default_factory=dict)
    groups: tuple[ItemGroup, ...] = Field(min_length=1)
    checks: tuple[CheckRef, ...] = ()

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> FormDef:
        """A copy with changes; what was derived from the original (hash, index) is derived again."""
        copied = super().model_copy(update=update, deep=deep)
        for name in _DERIVED:
            copied.__dict__.pop(name, None)
        return copied

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON of the definition: stored with every form instance (computed once)."""
        return self._content_hash

    @cached_property
    def _content_hash(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def canonical_json(self) -> str:
        return self._canonical_json

    @cached_property
    def _canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def codelist_for(self, item: Item, study_codelists: dict[str, CodeList] | None = None) -> CodeList | None:
        if item.type is ItemType.YESNO:
            return YESNO_CODELIST
        if item.codelist is None:
            return None
        found = self.codelists.get(item.codelist)
        if found is None and study_codelists:
            found = study_codelists.get(item.codelist)
        return found

    @cached_property
    def _index(self) -> dict[str, tuple[ItemGroup, Item]]:
        return {i.id: (g, i) for g in self.groups for i in g.items}

    def group_of(self, item_id: str) -> ItemGroup:
        return self._index[item_id][0]

    def item(self, item_id: str) -> Item:
        return self._index[item_id][1]

    def has_item(self, item_id: str) -> bool:
        return item_id in self._index

    def all_items(self) -> list[Item]:
        return [i for g in self.groups for i in g.items]


class EventDef(_Frozen):
    """A study event (visit). ``day`` counts from the infusion (D0); the window is a soft check."""

    id: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,11}$")]
    label: Text
    day: int | None = None
    window_before: int = Field(default=0, ge=0)
    window_after: int = Field(default=0, ge=0)
    forms: tuple[Ident, ...] = Field(min_length=1)


class AnchorRef(_Frozen):
    """Where the study day 0 comes from (the infusion date)."""

    event: str
    form: Ident
    item: ItemId


class SignatureMeaning(_Frozen):
    code: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]{0,31}$")]
    label: Text


def _default_meanings() -> tuple[SignatureMeaning, ...]:
    return (SignatureMeaning(code="author", label=Text(en="Author: I entered these data",
                                                       fr="Auteur : j'ai saisi ces données")),
            SignatureMeaning(code="review", label=Text(en="Review: I reviewed these data",
                                                       fr="Relecture : j'ai relu ces données")),
            SignatureMeaning(code="approval", label=Text(en="Approval: I approve these data as the investigator",
                                                         fr="Approbation : j'approuve ces données en tant "
                                                            "qu'investigateur")))


class SignatureRules(_Frozen):
    """Electronic signatures (21 CFR 11.50): the meanings a signer chooses from, and the roles that may sign."""

    meanings: tuple[SignatureMeaning, ...] = Field(default_factory=_default_meanings, min_length=1)
    roles: tuple[Literal["investigator", "nurse"], ...] = ("investigator",)
    # Who may unlock a locked form or a locked subject (with a reason). A monitor locks after review but does not
    # unlock: re-opening locked data is the site's decision.
    unlock_roles: tuple[Literal["investigator", "admin", "monitor", "nurse"], ...] = ("investigator", "admin")


class ExportRules(_Frozen):
    """Data out (issue 16): who may export, and what a de-identified export cuts (``form.ITEM`` dates kept as the
    year only; subjects' initials are always left out of a de-identified export)."""

    roles: tuple[Literal["investigator", "monitor", "admin", "nurse"], ...] = ("investigator", "monitor", "admin")
    year_only: tuple[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}\.[A-Z][A-Z0-9_]{0,7}$")],
                     ...] = ()


class StudyMeta(_Frozen):
    """``study.yaml``: the study, its visits, shared code lists and the scoring rules to confirm with the sponsor."""

    name: NonEmpty
    protocol: NonEmpty
    title: Text
    version: NonEmpty
    anchor: AnchorRef | None = None
    events: tuple[EventDef, ...] = Field(min_length=1)
    codelists: dict[Ident, CodeList] = Field(default_factory=dict)
    bindings: StudyBindings | None = None  # what the program relies on (see formdef.bindings); checked at compile
    scoring: ScoringRules  # every number of the scores, in one place (see scoring.rules)
    infusion: InfusionProtocol = InfusionProtocol()
    signatures: SignatureRules = SignatureRules()
    export: ExportRules = ExportRules()


class StudyDef(_Frozen):
    """The compiled study: metadata plus every form, by id."""

    meta: StudyMeta
    forms: dict[str, FormDef]

    def event(self, event_id: str) -> EventDef:
        for e in self.meta.events:
            if e.id == event_id:
                return e
        raise KeyError(event_id)

    def form(self, form_id: str) -> FormDef:
        return self.forms[form_id]

    @property
    def bindings(self) -> StudyBindings:
        """The study's bindings; a form set without them cannot run the bedside, the scores or the schedule."""
        if self.meta.bindings is None:
            raise LookupError("study.yaml has no 'bindings:' section (see forms/README.md)")
        return self.meta.bindings


# ----- one definition per form id and version (issue 18, insider attack B, finding 2) ------------------------------
def bound_forms(study: StudyDef) -> dict[str, tuple[str, str, str]]:
    """The definitions a study runs: form id -> (version, content hash, canonical JSON)."""
    return {form_id: (form.version, form.content_hash(), form.canonical_json())
            for form_id, form in study.forms.items()}


def _rules(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"en", "fr"}:  # a text in both languages: wording, not a rule
            return None
        return {k: _rules(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rules(v) for v in value]
    return value


def rules_hash(definition_json: str) -> str | None:
    """SHA-256 of what a stored definition says about the values (types, limits, codes, requirements, checks,
    calculations, groups), read with this program's schema (its defaults filled in), without its wording (every
    text in both languages) and without who enters it (``entry``): a help text reworded, or a definition written by
    another program version, is the same set of rules. None: not a definition this program reads."""
    try:
        data = _rules(FormDef.model_validate_json(definition_json).model_dump(mode="json"))
    except ValueError:
        return None
    data.pop("entry", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
                          ).hexdigest()


def differs(content_hash: str, definition_json: str | None, known: Mapping[str, str | None]) -> str | None:
    """The hash of the definition recorded for a form id and version (``known``: hash -> its text) whose rules the
    definition ``content_hash`` (text ``definition_json``) does not share (None: it is one of them, has the same
    rules, or nothing is known for that version). A form id and version name one set of rules: a planted forms
    folder with the same version and another limit differs; reworded help or another program version's
    serialisation does not (``rules_hash``)."""
    if not known or content_hash in known:
        return None
    mine = rules_hash(definition_json) if definition_json is not None else None
    if mine is not None and any(text is not None and rules_hash(text) == mine for text in known.values()):
        return None
    return sorted(known)[0]


def recorded_mismatch(study: StudyDef, recorded: Iterable[tuple[str, str, str]],
                      text_of: Callable[[str], str | None]) -> tuple[str, str, str, str] | None:
    """The first form of ``study`` whose version a database recorded (``recorded``: its snapshots' form id, version
    and hash; ``text_of``: a snapshot's text) under another definition: (form id, version, recorded hash, this
    study's hash); None: every form is one the database knows, or a version it never used."""
    by_version: dict[tuple[str, str], list[str]] = {}
    for form_id, version, content_hash in recorded:
        by_version.setdefault((form_id, version), []).append(content_hash)
    for form_id, form in sorted(study.forms.items()):
        hashes = by_version.get((form_id, form.version))
        mine = form.content_hash()
        if not hashes or mine in hashes:
            continue
        # a snapshot this program's schema no longer reads (an older program's) cannot be judged: not held against
        known = {h: text for h in hashes if (text := text_of(h)) is not None and rules_hash(text) is not None}
        other = differs(mine, form.canonical_json(), known)
        if other is not None:
            return form_id, form.version, other, mine
    return None
