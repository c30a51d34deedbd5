"""Analysis-ready datasets: one CSV per item group (UTF-8 with BOM, comma-separated, decimal point, ISO dates; one
row per subject, visit and repeat), the subjects, every derived score (unrounded), a codebook (CSV and HTML) and R
and SAS import scripts that apply the labels and formats. Also the whole audit trail as CSV."""

from __future__ import annotations

import contextlib
import csv
import html
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from msc_sle_crf.export.odm import redact
from msc_sle_crf.export.source import AUDIT_COLUMNS, InstanceRow, SubjectRow, ValueRow
from msc_sle_crf.formdef.definitions import FormDef, Item, ItemGroup, ItemType, StudyDef
from msc_sle_crf.i18n import L, Lang

BOM = "\ufeff"
# The language of the labels the datasets carry (_LBL columns, the codebook's codes, the scripts' formats): always
# English, whoever exports, so that the same data give the same files at every site and on the hub (the codebook
# has the French variable labels beside; MANIFEST.json says it as "dataset_labels").
LABELS_LANG = Lang.EN
KEYS = ("SUBJID", "VISIT", "FORMSTAT")


@dataclass(frozen=True)
class Variable:
    """One column of one dataset, as the codebook describes it."""

    dataset: str
    name: str
    label_en: str
    label_fr: str
    type: str
    unit: str = ""
    codes: str = ""
    ranges: str = ""
    form: str = ""
    derivation: str = ""
    pairs: tuple[tuple[str, str], ...] = ()  # code -> label (English), for the scripts' formats


@dataclass(frozen=True)
class ScoreRow:
    subject: str
    visit: str  # "" for scores over the whole follow-up
    name: str
    value: str  # exact (Decimal as text), "" when not computable
    rule: str
    reason: str  # why not computable, in English (LABELS_LANG)
    reason_fr: str = ""  # the same in French


def dataset_file(form: FormDef, group: ItemGroup) -> str:
    return f"{form.id}__{group.id}.csv"


def _writer(fh: IO[str]) -> Any:
    return csv.writer(fh, lineterminator="\r\n")


def _pairs(form: FormDef, item: Item, study: StudyDef) -> tuple[tuple[str, str], ...]:
    cl = form.codelist_for(item, study.meta.codelists)
    return tuple((c.code, c.label.get(LABELS_LANG)) for c in cl.items) if cl else ()


def _codes_text(pairs: tuple[tuple[str, str], ...]) -> str:
    return "; ".join(f"{code}={label}" for code, label in pairs)


def _ranges(item: Item) -> str:
    parts = []
    if item.hard_min is not None or item.hard_max is not None:
        parts.append(f"hard [{item.hard_min if item.hard_min is not None else ''}, "
                     f"{item.hard_max if item.hard_max is not None else ''}]")
    if item.soft_min is not None or item.soft_max is not None:
        parts.append(f"soft [{item.soft_min if item.soft_min is not None else ''}, "
                     f"{item.soft_max if item.soft_max is not None else ''}]")
    return "; ".join(parts)


def group_columns(form: FormDef, group: ItemGroup, study: StudyDef) -> list[Variable]:
    ds = dataset_file(form, group)[:-4]
    out = [Variable(ds, "SUBJID", "Subject number", "Numéro du patient", "text", form=form.id),
           Variable(ds, "VISIT", "Visit (study event id)", "Visite (identifiant)", "text", form=form.id),
           Variable(ds, "FORMSTAT", "Form status", "État du formulaire", "text",
                    codes="draft; complete; verified; signed; locked", form=form.id)]
    if group.repeating:
        out.append(Variable(ds, "ROW", "Row number (repeat key)", "Numéro de ligne", "integer", form=form.id))
    from msc_sle_crf.export.odm import stored_decimals

    for item in group.items:
        kind = {ItemType.DECIMAL: "float", ItemType.PARTIAL_DATE: "partial date (ISO 8601)",
                ItemType.YESNO: "code", ItemType.CHOICE: "code", ItemType.MULTICHOICE: "codes (;-separated)"}.get(
            item.type, str(item.type))
        if item.type is ItemType.INTEGER and stored_decimals(item):
            kind = "float"  # an integer typed in another unit is stored converted: 250123 /mm3 = 250.123 G/L
        derivation = f"{item.calc.function}({', '.join(item.calc.inputs)})" if item.calc else ""
        pairs = _pairs(form, item, study)
        out.append(Variable(ds, item.id, item.label.en, item.label.fr, kind, item.unit or "", _codes_text(pairs),
                            _ranges(item), form.id, derivation, pairs if item.type is not ItemType.MULTICHOICE
                            else ()))
        if item.type in (ItemType.CHOICE, ItemType.YESNO):
            out.append(Variable(ds, f"{item.id}_LBL", f"{item.label.en} (label, in English)",
                                f"{item.label.fr} (libellé, en anglais)", "text", form=form.id))
        if item.missing:
            missing = tuple((m.value, m.label(LABELS_LANG)) for m in item.missing)
            out.append(Variable(ds, f"{item.id}_MISS", f"{item.label.en}: missing code",
                                f"{item.label.fr} : code de donnée manquante", "code",
                                codes=_codes_text(missing), form=form.id, pairs=missing))
    return out


def _cell(form: FormDef, item: Item, v: ValueRow | None, study: StudyDef) -> list[str]:
    value = "" if v is None or v.missing_code else (v.analysis_value or "")
    out = [value]
    if item.type in (ItemType.CHOICE, ItemType.YESNO):
        cl = form.codelist_for(item, study.meta.codelists)
        out.append(cl.label(value, LABELS_LANG) if cl and value else "")
    if item.missing:
        out.append(v.missing_code or "" if v is not None else "")
    return out


def write_group_datasets(folder: Path, study: StudyDef, subjects: list[SubjectRow], instances: list[InstanceRow],  # noqa: PLR0917
                         removed: set[tuple[int, str, int]], values: Iterable[ValueRow],
                         definition: Callable[[str, str], FormDef | None]) -> list[Variable]:
    """One CSV per item group of the current forms, streamed from values ordered by subject, instance and row."""
    wanted = {s.id: s.number for s in subjects}
    inst = {i.id: i for i in instances if i.subject_id in wanted}
    files: dict[tuple[str, str], tuple[IO[str], Any]] = {}
    variables: list[Variable] = []
    try:
        for form in study.forms.values():
            for group in form.groups:
                fh = open(folder / dataset_file(form, group), "w", encoding="utf-8", newline="")  # noqa: SIM115
                fh.write(BOM)
                w = _writer(fh)
                cols = group_columns(form, group, study)
                variables.extend(cols)
                w.writerow([c.name for c in cols])
                files[(form.id, group.id)] = (fh, w)

        def flush(key: tuple[int, str, int], cells: dict[str, ValueRow]) -> None:
            instance = inst.get(key[0])
            if instance is None or key in removed:
                return
            form = study.forms.get(instance.form)
            target = files.get((instance.form, key[1]))
            if form is None or target is None:
                return
            group = next(g for g in form.groups if g.id == key[1])
            row = [wanted[instance.subject_id], instance.event, instance.status]
            if group.repeating:
                row.append(str(key[2]))
            for item in group.items:
                row.extend(_cell(form, item, cells.get(item.id), study))
            target[1].writerow(row)

        current: tuple[int, str, int] | None = None
        cells: dict[str, ValueRow] = {}
        for v in values:
            key = (v.instance_id, v.group, v.row_no)
            if key != current:
                if current is not None:
                    flush(current, cells)
                current, cells = key, {}
            cells[v.item] = v
        if current is not None:
            flush(current, cells)
    finally:
        for handle, _w in files.values():
            handle.close()
    return variables


def write_subjects(folder: Path, subjects: list[SubjectRow], *, deidentified: bool,
                   stages: Mapping[str, str] | None = None,
                   stage_labels: Mapping[str, L] | None = None) -> list[Variable]:
    """subjects.csv. STATUS is the stage the app's subject list shows (``stages``: subject number -> stage, from
    services/overview.py; ``stage_labels`` its codes' labels); a subject it does not know (registered after it was
    read) or, without ``stages``, every subject: "locked" when locked, else "screening" (no form read)."""
    stage_labels = stage_labels or {}
    pairs = tuple((code, label.get(LABELS_LANG)) for code, label in stage_labels.items())
    cols = [Variable("subjects", "SUBJID", "Subject number", "Numéro du patient", "text")]
    if not deidentified:
        cols.append(Variable("subjects", "INITIALS", "Initials", "Initiales", "text"))
    cols += [Variable("subjects", "BRTHYR", "Year of birth", "Année de naissance", "integer"),
             Variable("subjects", "SEX", "Sex", "Sexe", "code", codes="F=Female; M=Male",
                     pairs=(("F", "Female"), ("M", "Male"))),
             Variable("subjects", "STATUS", "Subject status (stage in the study, as the subject list shows it)",
                      "Statut du patient (étape dans l'étude, comme la liste des patients l'affiche)",
                      "code" if pairs else "text", codes=_codes_text(pairs), pairs=pairs)]
    with open(folder / "subjects.csv", "w", encoding="utf-8", newline="") as fh:
        fh.write(BOM)
        w = _writer(fh)
        w.writerow([c.name for c in cols])
        for s in subjects:
            shown = (stages or {}).get(s.number) or ("locked" if s.status == "locked" else "screening")
            w.writerow([s.number, *([] if deidentified else [s.initials]), s.birth_year, s.sex, shown])
    return cols


def write_scores(folder: Path, scores: Iterable[ScoreRow]) -> list[Variable]:
    cols = [Variable("scores", "SUBJID", "Subject number", "Numéro du patient", "text"),
            Variable("scores", "VISIT", "Visit ('' = over the follow-up)", "Visite ('' = sur le suivi)", "text"),
            Variable("scores", "SCORE", "Score name", "Nom du score", "text"),
            Variable("scores", "VALUE", "Value (exact, unrounded)", "Valeur (exacte, non arrondie)", "text"),
            Variable("scores", "RULE", "Rule and its version", "Règle et version", "text",
                     derivation="see forms/study.yaml (scoring:)"),
            Variable("scores", "NOTCOMP", "Why not computable", "Pourquoi non calculable", "text"),
            Variable("scores", "NOTCOMP_FR", "Why not computable, in French", "Pourquoi non calculable, en français",
                     "text")]
    with open(folder / "scores.csv", "w", encoding="utf-8", newline="") as fh:
        fh.write(BOM)
        w = _writer(fh)
        w.writerow([c.name for c in cols])
        for s in scores:
            w.writerow([s.subject, s.visit, s.name, s.value, s.rule, _iso_dates(s.reason), _iso_dates(s.reason_fr)])
    return cols


_DMY = re.compile(r"\b(\d\d)/(\d\d)/(\d{4})\b", re.ASCII)


def _iso_dates(text: str) -> str:
    """A reason as the screen says it, with its dates as the rest of the export writes them (dd/mm/yyyy -> ISO)."""
    return _DMY.sub(r"\3-\2-\1", text)


CODEBOOK_COLUMNS = ("dataset", "variable", "label_en", "label_fr", "type", "unit", "codes", "ranges", "form",
                    "derivation")


def write_codebook(folder: Path, variables: list[Variable], study: StudyDef) -> None:
    with open(folder / "codebook.csv", "w", encoding="utf-8", newline="") as fh:
        fh.write(BOM)
        w = _writer(fh)
        w.writerow(CODEBOOK_COLUMNS)
        for v in variables:
            w.writerow([v.dataset, v.name, v.label_en, v.label_fr, v.type, v.unit, v.codes, v.ranges, v.form,
                        v.derivation])
    rows = "\n".join("<tr>" + "".join(f"<td>{html.escape(str(getattr(v, c if c != 'variable' else 'name')))}</td>"
                                      for c in CODEBOOK_COLUMNS) + "</tr>" for v in variables)
    head = "".join(f"<th>{c}</th>" for c in CODEBOOK_COLUMNS)
    title = html.escape(f"{study.meta.name} ({study.meta.protocol}) codebook, forms {study.meta.version}")
    (folder / "codebook.html").write_text(
        f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;"
        f"padding:2px 4px;font-size:12px}}</style></head><body><h1>{title}</h1><table><thead><tr>{head}</tr></thead>"
        f"<tbody>\n{rows}\n</tbody></table></body></html>\n", encoding="utf-8")


def _r_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def write_r_script(folder: Path, variables: list[Variable]) -> None:
    """import.R: reads every dataset with the right types and a "label" attribute on every column. A coded column
    keeps its codes (the dose cohort's 4 stays "4": a factor of labels would make it 3 under as.numeric) with their
    labels as a "labels" attribute (code values named by label, as haven's labelled vectors); its _LBL column is a
    factor whose levels follow the code list's order. Base R only."""
    by_ds: dict[str, list[Variable]] = {}
    for v in variables:
        by_ds.setdefault(v.dataset, []).append(v)
    lines = ["# Generated by msc-sle-crf: reads the datasets of this export with labels and formats (base R only).",
             "# Usage: source(\"import.R\") from this folder; every dataset becomes a data frame in `crf`.",
             "# Coded columns keep their codes (attribute \"labels\": the code of each label); X_LBL holds the",
             "# English label of X as a factor in code-list order.",
             "crf <- list()",
             "here <- if (exists(\"crf_dir\")) crf_dir else \"datasets\"",
             "read_ds <- function(name, types, labels, codes) {",
             "  df <- utils::read.csv(file.path(here, paste0(name, \".csv\")), fileEncoding = \"UTF-8-BOM\",",
             "                        colClasses = \"character\", na.strings = \"\", check.names = FALSE)",
             "  for (col in names(df)) {",
             "    t <- types[[col]]",
             "    if (identical(t, \"integer\")) df[[col]] <- as.integer(df[[col]])",
             "    if (identical(t, \"float\")) df[[col]] <- as.numeric(df[[col]])",
             "    if (identical(t, \"date\")) df[[col]] <- as.Date(df[[col]])",
             "    if (!is.null(codes[[col]])) attr(df[[col]], \"labels\") <- stats::setNames(names(codes[[col]]),",
             "                                                                   unname(codes[[col]]))",
             "    coded <- sub(\"_LBL$\", \"\", col)",
             "    if (coded != col && !is.null(codes[[coded]])) {",
             "      shown <- unique(c(unname(codes[[coded]]), sort(unique(df[[col]][!is.na(df[[col]])]))))",
             "      df[[col]] <- factor(df[[col]], levels = shown)",
             "    }",
             "    attr(df[[col]], \"label\") <- labels[[col]]",
             "  }",
             "  df",
             "}"]
    for ds, cols in by_ds.items():
        types = ", ".join(f"{_r_string(c.name)} = {_r_string(c.type)}" for c in cols)
        labels = ", ".join(f"{_r_string(c.name)} = {_r_string(c.label_en + (' [' + c.unit + ']' if c.unit else ''))}"
                           for c in cols)
        codes = []
        for c in cols:
            if c.pairs:
                codes.append(f"{_r_string(c.name)} = c(" + ", ".join(f"{_r_string(k)} = {_r_string(lab)}"
                                                                     for k, lab in c.pairs) + ")")
        lines.append(f"crf[[{_r_string(ds)}]] <- read_ds({_r_string(ds)}, list({types}),")
        lines.append(f"  list({labels}),")
        lines.append(f"  list({', '.join(codes)}))")
    lines.append("invisible(crf)")
    (folder / "import.R").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _sas_name(name: str) -> str:
    return name[:32]


def _sas_label(c: Variable) -> str:
    text = c.label_en + (f" [{c.unit}]" if c.unit else "")
    return text.replace("'", "''")[:256]


def write_sas_script(folder: Path, variables: list[Variable]) -> None:
    """import.sas: PROC FORMAT for the coded variables, then one DATA step per dataset with INFORMATs and LABELs."""
    by_ds: dict[str, list[Variable]] = {}
    for v in variables:
        by_ds.setdefault(v.dataset, []).append(v)
    lines = ["/* Generated by msc-sle-crf: reads the datasets of this export with labels and formats. */",
             "/* Set the folder first:  %let crfdir = /path/to/export/datasets;  */", "proc format;"]
    formats: dict[tuple[str, str], str] = {}
    for cols in by_ds.values():
        for c in cols:
            if c.pairs and (c.dataset, c.name) not in formats:
                fmt = f"${c.name[:20]}F{len(formats)}"
                formats[(c.dataset, c.name)] = fmt
                values = " ".join(f"'{k.replace(chr(39), chr(39) * 2)}'='{lab.replace(chr(39), chr(39) * 2)}'"
                                  for k, lab in c.pairs)
                lines.append(f"  value {fmt} {values};")
    lines.append("run;")
    for ds, cols in by_ds.items():
        member = ds[:32]
        lines.append(f"data work.{member};")
        lines.append(f"  infile \"&crfdir/{ds}.csv\" dsd firstobs=2 encoding='utf-8' termstr=crlf lrecl=32767;")
        informats = []
        for c in cols:
            if c.type in ("integer", "float"):
                informats.append(f"{_sas_name(c.name)} best32.")
            elif c.type == "date":
                informats.append(f"{_sas_name(c.name)} yymmdd10.")
            else:
                informats.append(f"{_sas_name(c.name)} $200.")
        lines.append("  informat " + " ".join(informats) + ";")
        lines.append("  input " + " ".join(_sas_name(c.name) + ("" if c.type in ("integer", "float", "date")
                                                                else " $") for c in cols) + ";")
        dates = [_sas_name(c.name) for c in cols if c.type == "date"]
        if dates:
            lines.append("  format " + " ".join(dates) + " yymmdd10.;")
        fmts = [f"{_sas_name(c.name)} {formats[(ds, c.name)]}." for c in cols if (ds, c.name) in formats]
        if fmts:
            lines.append("  format " + " ".join(fmts) + ";")
        labels = " ".join(f"{_sas_name(c.name)}='{_sas_label(c)}'" for c in cols)
        lines.append(f"  label {labels};")
        lines.append("run;")
    (folder / "import.sas").write_text("\n".join(lines) + "\n", encoding="utf-8")


# ----- the audit trail --------------------------------------------------------------------------------------------
TRAIL_HEADER = ("record_id", "time_local", "utc_offset_min", "time_utc", "user", "role", "workstation", "action",
                "subject", "visit", "form", "item", "repeat_key", "old_value", "new_value", "reason", "detail",
                "prev_hash", "hash", "signed_by")


NAME_REMOVED = "[name removed]"
_NAME_KEYS = frozenset({"full_name", "printed_name"})
_FREE_TEXT = ("old_value", "new_value", "reason", "detail")


def _without_name_fields(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: NAME_REMOVED if k in _NAME_KEYS and v else _without_name_fields(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_without_name_fields(v) for v in data]
    return data


def name_scrubber(full_names: Iterable[str]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """For a de-identified export: a record with the staff's full names taken out of its free-text columns (old and
    new value, reason, detail): a ``full_name``/``printed_name`` field of a JSON value (the account records, under
    any name the account ever had), and any account's current full name anywhere else, as typed or JSON-escaped."""
    import json
    import re

    variants = {v for name in full_names if name.strip()
                for v in (name, json.dumps(name)[1:-1], json.dumps(name, ensure_ascii=False)[1:-1])}
    pattern = re.compile("|".join(re.escape(v) for v in sorted(variants, key=len, reverse=True))) if variants \
        else None
    columns = [AUDIT_COLUMNS.index(c) for c in _FREE_TEXT]

    def scrub_text(text: str) -> str:
        if '_name"' in text and text.startswith("{"):
            with contextlib.suppress(ValueError):
                text = json.dumps(_without_name_fields(json.loads(text)), sort_keys=True)
        return pattern.sub(NAME_REMOVED, text) if pattern is not None else text

    def scrub(rec: tuple[Any, ...]) -> tuple[Any, ...]:
        out = list(rec)
        for n in columns:
            if isinstance(out[n], str):
                out[n] = scrub_text(out[n])
        return tuple(out)

    return scrub


def write_trail(path: Path, records: Iterator[tuple[Any, ...]], *, subjects: set[str] | None, deidentified: bool,
                tick: Callable[[int], None], head_text: str, year_only: frozenset[str] = frozenset(),
                full_names: Iterable[str] = ()) -> int:
    """Every record (or, for a subset of subjects, every record about them and every record about no subject),
    streamed; the last line carries the trail head (``verify --receipt`` reads it). De-identified: without the
    subjects' initials, the identifying dates cut to the year, and no staff full name (``full_names``: every
    account's, see ``name_scrubber``)."""
    from msc_sle_crf.export.odm import local_stamp

    count = 0
    idx = {name: n for n, name in enumerate(AUDIT_COLUMNS)}
    scrub = name_scrubber(full_names)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(BOM)
        w = _writer(fh)
        w.writerow(TRAIL_HEADER)
        for n, rec in enumerate(records, 1):
            subject = rec[idx["subject"]]
            if subjects is not None and subject is not None and subject not in subjects:
                continue
            out = scrub(redact(rec, year_only)) if deidentified else rec
            w.writerow([out[idx["id"]], local_stamp(out[idx["ts_utc"]], out[idx["utc_offset_min"]]),
                        out[idx["utc_offset_min"]], out[idx["ts_utc"]],
                        *(("" if out[idx[c]] is None else out[idx[c]]) for c in AUDIT_COLUMNS[3:])])
            count += 1
            if n % 5000 == 0:
                tick(n)
        w.writerow([f"# {head_text}"])
    return count


# ----- CDISC Dataset-JSON 1.1 of the same datasets ------------------------------------------------------------------
_JSON_TYPES = {"integer": "integer", "float": "decimal", "date": "date"}
# The columns that identify one row (keySequence 1, 2...): a score dataset has one row per subject, visit and score.
_KEYS = {"subjects": ("SUBJID",), "scores": ("SUBJID", "VISIT", "SCORE")}
_GROUP_KEYS = ("SUBJID", "VISIT", "ROW")


def _json_oids(ds: str, names: list[str], study: StudyDef) -> tuple[str, list[str], set[str]]:
    """A dataset's itemGroupOID and its columns' itemOIDs: those of the snapshot's metadata (metaDataRef) for an
    item group's dataset (``IG.<form>.<group>``, ``I.<form>.<ITEM>``...); the others (subjects, scores, a column
    the metadata does not define) ``IG.<dataset>`` / ``IT.<dataset>.<column>``. Also its integer items that may
    hold a fraction (typed in another unit: 250123 /mm3 = 250.123 G/L), decimals as their ItemDef says."""
    from msc_sle_crf.export.odm import column_oid, dataset_name, group_oid, stored_decimals

    for form in study.forms.values():
        for group in form.groups:
            if dataset_name(form, group) == ds:
                fractional = {i.id for i in group.items if i.type is ItemType.INTEGER and stored_decimals(i)}
                return (group_oid(form.id, group.id), [column_oid(form, group, n) or f"IT.{ds}.{n}" for n in names],
                        fractional)
    return f"IG.{ds}", [f"IT.{ds}.{n}" for n in names], set()


def write_dataset_json(csv_folder: Path, json_folder: Path, variables: list[Variable], *, study: StudyDef,
                       created: str, version: str, mdv: str, study_oid: str) -> None:
    """Each CSV dataset again as CDISC Dataset-JSON 1.1 (streamed row by row from the CSV just written; decimals
    as strings, exact; empty cells null)."""
    import json

    by_ds: dict[str, list[Variable]] = {}
    for v in variables:
        by_ds.setdefault(v.dataset, []).append(v)
    json_folder.mkdir(exist_ok=True)
    for ds, cols in by_ds.items():
        source = csv_folder / f"{ds}.csv"
        if not source.exists():
            continue
        with open(source, encoding="utf-8-sig", newline="") as fh:
            records = sum(1 for _ in fh) - 1
        names = [c.name for c in cols]
        keys = [k for k in _KEYS.get(ds, _GROUP_KEYS) if k in names]
        group_oid, item_oids, fractional = _json_oids(ds, names, study)
        types = ["decimal" if c.name in fractional else _JSON_TYPES.get(c.type, "string") for c in cols]
        header = {
            "datasetJSONCreationDateTime": created[:19], "datasetJSONVersion": "1.1.0",
            "fileOID": f"{study_oid}.{ds}", "originator": "msc-sle-crf",
            "sourceSystem": {"name": "msc-sle-crf", "version": version}, "studyOID": study_oid,
            "metaDataVersionOID": mdv, "metaDataRef": "../odm/snapshot.xml", "itemGroupOID": group_oid,
            "records": records, "name": ds[:32], "label": f"{study.meta.name} {ds}",
            "columns": [{"itemOID": oid, "name": c.name, "label": c.label_en,
                         "dataType": t, **({"targetDataType": "decimal"} if t == "decimal" else {}),
                         **({"keySequence": keys.index(c.name) + 1} if c.name in keys else {})}
                        for c, t, oid in zip(cols, types, item_oids, strict=True)],
        }
        text = json.dumps(header, ensure_ascii=False)
        with open(source, encoding="utf-8-sig", newline="") as src, \
                open(json_folder / f"{ds}.json", "w", encoding="utf-8") as out:
            out.write(text[:-1] + ', "rows": [')
            reader = csv.reader(src)
            next(reader, None)
            first = True
            for row in reader:
                cells: list[Any] = []
                for value, t in zip(row, types, strict=False):
                    if value == "":
                        cells.append(None)
                    elif t == "integer" and value.lstrip("-").isdigit():
                        cells.append(int(value))
                    else:
                        cells.append(value)
                out.write(("\n" if first else ",\n") + json.dumps(cells, ensure_ascii=False))
                first = False
            out.write("\n]}\n")
