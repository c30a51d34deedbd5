"""CDISC ODM 1.3.2, standard elements only (no vendor namespace): the study's metadata generated from the compiled
forms, a Snapshot of the current values, and a Transactional Archival file of the whole trail.

Both files are streamed (``lxml.etree.xmlfile``: one subject or one audit record in memory at a time) and checked
against the official XSD with a validating ``iterparse`` that frees what it has read (bounded memory too) before
they are moved under the export's name.

OIDs: ``SE.<visit>``, ``F.<form>``, ``IG.<form>.<group>``, ``I.<form>.<ITEM>``, ``CL.<form>.<codelist>`` (the
study's shared lists ``CL.<codelist>``, yes/no ``CL.YN``), ``MU.<n>``, ``U.<user name>``, ``LOC.<workstation>``,
``SD.<meaning>``. Repeat keys of repeating item groups: the row numbers as stored (from 1, never empty); others
carry none.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from lxml import etree

from msc_sle_crf.export.source import InstanceRow, SignatureRow, Source, SubjectRow, UserRow, ValueRow
from msc_sle_crf.formdef.definitions import (
    YESNO_CODELIST,
    CodeList,
    FormDef,
    Item,
    ItemGroup,
    ItemType,
    MissingCode,
    StudyDef,
    Text,
)

NS = "http://www.cdisc.org/ns/odm/v1.3"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ODM_VERSION = "1.3.2"
SCHEMA_DIR_ENV = "MSC_SLE_CRF_ODM_XSD"

DATA_TYPES = {
    ItemType.INTEGER: "integer", ItemType.DECIMAL: "float", ItemType.TEXT: "text", ItemType.DATE: "date",
    ItemType.PARTIAL_DATE: "partialDate", ItemType.TIME: "time", ItemType.DATETIME: "datetime",
    ItemType.CHOICE: "text", ItemType.MULTICHOICE: "text", ItemType.YESNO: "text",
}
# Standard annotations: the code lists the Flag elements use (defined in the metadata, so any reader decodes them).
NULL_FLAVOR = "CL.NULLFLAVOR"  # ND / UNK / NA: why a value is absent (IsNull="Yes")
FLAG_TYPE = "CL.FLAGTYPE"  # what a flag is about
FORM_STATUS = "CL.FORMSTATUS"
QUERY_STATUS = "CL.QUERYSTATUS"
SDV_STATUS = "CL.SDV"
EVENT_KIND = "CL.EVENTKIND"  # audit events that are not a value (subject, visit, form or row level)
_FLAG_TYPES = {"NULLFLAVOR": ("Missing value code", "Code de donnée manquante"),
               "FORMSTATUS": ("Form status", "État du formulaire"),
               "QUERY": ("Data query", "Requête (query)"),
               "SDV": ("Source data verification", "Vérification des données source"),
               "EVENT": ("Audit event", "Événement d'audit")}
_FORM_STATUSES = {"draft": ("Draft", "Brouillon"), "complete": ("Complete", "Complet"),
                  "verified": ("Source-verified", "Vérifié (source)"), "signed": ("Signed", "Signé"),
                  "locked": ("Locked", "Verrouillé")}
_QUERY_STATUSES = {"open": ("Open", "Ouverte"), "answered": ("Answered", "Répondue"),
                   "closed": ("Closed", "Close"), "reopened": ("Re-opened", "Ré-ouverte")}
_SDV = {"verified": ("Verified against source", "Vérifié contre la source")}


_NSMAP = {None: NS}


def E(tag: str, attrib: Mapping[str, str | None] | None = None, text: str | None = None) -> etree._Element:
    el = etree.Element(f"{{{NS}}}{tag}", {k: v for k, v in (attrib or {}).items() if v is not None},
                       nsmap=_NSMAP)
    if text is not None:
        el.text = clean(text)
    return el


def sub(parent: etree._Element, tag: str, attrib: Mapping[str, str | None] | None = None,
        text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{NS}}}{tag}", {k: v for k, v in (attrib or {}).items() if v is not None})
    if text is not None:
        el.text = clean(text)
    return el


_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def clean(text: str) -> str:
    """Text XML 1.0 can carry (control characters cannot be written at all: shown as U+FFFD)."""
    return _XML_BAD.sub("\ufffd", text)


def translated(parent: etree._Element, tag: str, text: Text | tuple[str, str]) -> etree._Element:
    en, fr = (text.en, text.fr) if isinstance(text, Text) else text
    el = sub(parent, tag)
    sub(el, "TranslatedText", {XML_LANG: "en"}, en)
    sub(el, "TranslatedText", {XML_LANG: "fr"}, fr)
    return el


def oid_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text) or "_"


def item_oid(form: str, item: str) -> str:
    return f"I.{form}.{item}"


def group_oid(form: str, group: str) -> str:
    return f"IG.{form}.{group}"


def user_oid(username: str | None) -> str:
    return f"U.{oid_part(username or 'system')}"


def location_oid(workstation: str | None) -> str:
    return f"LOC.{oid_part(workstation or 'unknown')}"


def codelist_oid(form: FormDef, item: Item, study: StudyDef) -> str | None:
    if item.type is ItemType.YESNO:
        return "CL.YN"
    if item.codelist is None or item.type is ItemType.MULTICHOICE:
        return None
    return f"CL.{form.id}.{item.codelist}" if item.codelist in form.codelists else f"CL.{item.codelist}"


def mdv_oid(study: StudyDef) -> str:
    return f"MDV.{oid_part(study.meta.version)}"


def study_oid(study: StudyDef) -> str:
    return f"S.{oid_part(study.meta.name)}"


def odm_value(item: Item | None, text: str) -> str:
    """A stored value as ODM writes it (times and date-times with seconds, ISO 8601)."""
    if item is None:
        return text
    if item.type is ItemType.TIME and len(text) == 5:
        return text + ":00"
    if item.type is ItemType.DATETIME and len(text) == 16:
        return text + ":00"
    return text


def local_stamp(ts_utc: str, offset_min: int | None) -> str:
    """An audit time as local time with its UTC offset (xs:dateTime), e.g. 2026-03-01T10:15:02.123+01:00."""
    moment = dt.datetime.fromisoformat(ts_utc.replace("Z", "+00:00"))
    zone = dt.timezone(dt.timedelta(minutes=offset_min or 0))
    return moment.astimezone(zone).isoformat(timespec="milliseconds")


# ----- metadata ----------------------------------------------------------------------------------------------------
def units(study: StudyDef) -> dict[str, str]:
    """Every unit the forms use, unit -> MeasurementUnit OID, in a stable order."""
    return form_units(study.forms)


def form_units(forms: Mapping[str, FormDef]) -> dict[str, str]:
    """Every unit of these forms, canonical and alternative (a value may be entered in either: the ItemDef lists
    them all, each ItemData says which one its value is in), unit -> MeasurementUnit OID, in a stable order."""
    found = sorted({u for f in forms.values() for i in f.all_items()
                    for u in ((i.unit,) if i.unit else ()) + tuple(a.unit for a in i.alt_units)})
    return {u: f"MU.{n + 1}" for n, u in enumerate(found)}


def _unit_ref(unit: str | None, unit_oids: Mapping[str, str]) -> str:
    """A MeasurementUnitRef element as text ("" when the unit is none or not defined in the file)."""
    oid = unit_oids.get(unit) if unit else None  # MU.<n>: nothing to escape
    return f'<MeasurementUnitRef MeasurementUnitOID="{oid}"/>' if oid else ""


def study_element(study: StudyDef) -> etree._Element:  # noqa: PLR0912 - one branch per ODM definition
    meta = study.meta
    root = E("Study", {"OID": study_oid(study)})
    gv = sub(root, "GlobalVariables")
    sub(gv, "StudyName", None, meta.name)
    sub(gv, "StudyDescription", None, meta.title.en)
    sub(gv, "ProtocolName", None, meta.protocol)
    unit_oids = units(study)
    if unit_oids:
        basic = sub(root, "BasicDefinitions")
        for unit, oid in unit_oids.items():
            mu = sub(basic, "MeasurementUnit", {"OID": oid, "Name": unit})
            translated(mu, "Symbol", (unit, unit))
    mdv = sub(root, "MetaDataVersion", {"OID": mdv_oid(study), "Name": f"{meta.name} forms {meta.version}",
                                        "Description": "Generated from the compiled form definitions"})
    protocol = sub(mdv, "Protocol")
    translated(protocol, "Description", meta.title)
    for n, event in enumerate(meta.events, 1):
        sub(protocol, "StudyEventRef", {"StudyEventOID": f"SE.{event.id}", "OrderNumber": str(n),
                                        "Mandatory": "No"})
    for event in meta.events:
        se = sub(mdv, "StudyEventDef", {"OID": f"SE.{event.id}", "Name": event.label.en, "Repeating": "No",
                                        "Type": "Scheduled" if event.day is not None else "Common"})
        translated(se, "Description", event.label)
        for n, form_id in enumerate(event.forms, 1):
            sub(se, "FormRef", {"FormOID": f"F.{form_id}", "OrderNumber": str(n), "Mandatory": "No"})
    forms = list(study.forms.values())
    for form in forms:
        fd = sub(mdv, "FormDef", {"OID": f"F.{form.id}", "Name": form.label.en, "Repeating": "No"})
        translated(fd, "Description", form.label)
        for n, group in enumerate(form.groups, 1):
            sub(fd, "ItemGroupRef", {"ItemGroupOID": group_oid(form.id, group.id), "OrderNumber": str(n),
                                     "Mandatory": "Yes" if group.min_rows > 0 else "No"})
    for form in forms:
        for group in form.groups:
            ig = sub(mdv, "ItemGroupDef", {"OID": group_oid(form.id, group.id), "Name": group.label.en,
                                           "Repeating": "Yes" if group.repeating else "No",
                                           "SASDatasetName": dataset_name(form, group)[:8].upper()})
            translated(ig, "Description", group.label)
            for n, item in enumerate(group.items, 1):
                sub(ig, "ItemRef", {"ItemOID": item_oid(form.id, item.id), "OrderNumber": str(n),
                                    "Mandatory": "Yes" if item.required else "No",
                                    "MethodOID": f"MT.{form.id}.{item.id}" if item.calc else None})
    for form in forms:
        for item in form.all_items():
            _item_def(mdv, form, item, study, unit_oids)
    _dataset_item_defs(mdv, forms)
    _codelists(mdv, study)
    for form in forms:
        for item in form.all_items():
            if item.calc is not None:
                md = sub(mdv, "MethodDef", {"OID": f"MT.{form.id}.{item.id}", "Name": item.calc.function,
                                            "Type": "Computation"})
                rule = f"{item.calc.function}({', '.join(item.calc.inputs)})"
                translated(md, "Description", (f"Calculated: {rule}", f"Calculé : {rule}"))
    return root


def dataset_name(form: FormDef, group: ItemGroup) -> str:
    return f"{form.id}__{group.id}"


def stored_decimals(item: Item) -> int | None:
    """The most decimals a stored value of a numeric item can have (None: not numeric, or no limit declared). A
    value typed in the item's unit has at most its precision; one typed in another unit is stored converted exactly,
    typed number x factor (0,9 mg/dL x 88.4 = 79.56 µmol/L, 4512 /mm3 x 0.001 = 4.512 G/L), never rounded to the
    item's precision (that would change what was entered, or lose the resolution of the unit it was typed in), so
    it may have the factor's decimals more. The ItemDef declares this (SignificantDigits), so that every value of
    the file agrees with its metadata."""
    if item.type is ItemType.INTEGER:
        typed: int | None = 0
    elif item.type is ItemType.DECIMAL:
        typed = item.precision
    else:
        return None
    if typed is None:
        return None
    most = typed
    for alt in item.alt_units:
        exponent = alt.factor.as_tuple().exponent
        in_alt = getattr(alt, "precision", None)  # a precision of its own for the unit, if the form gives one
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        most = max(most, (typed if in_alt is None else int(in_alt)) + places)
    return most


# The columns of the datasets (and their Dataset-JSON copies, whose metaDataRef is the snapshot) that are not items:
# defined here so that every column OID resolves; no ItemGroupDef refers to them (no ItemData carries them).
_KEY_COLUMNS: dict[str, tuple[str, tuple[str, str], str | None]] = {
    "SUBJID": ("text", ("Subject number (the SubjectKey)", "Numéro du patient (SubjectKey)"), None),
    "VISIT": ("text", ("Visit: the study event id (StudyEventOID without SE.)",
                       "Visite : identifiant de l'événement (StudyEventOID sans SE.)"), None),
    "FORMSTAT": ("text", ("Form status", "État du formulaire"), FORM_STATUS),
    "ROW": ("integer", ("Row number (the ItemGroupRepeatKey)", "Numéro de ligne (ItemGroupRepeatKey)"), None),
}
_LABEL_SUFFIX, _MISSING_SUFFIX = "_LBL", "_MISS"


def column_oid(form: FormDef, group: ItemGroup, column: str) -> str | None:
    """The OID of the ItemDef describing a column of ``group``'s dataset (None: a column this file does not
    define): the item's own, ``I.<KEY>`` for the key columns, ``I.<form>.<ITEM>.LBL`` / ``.MISS`` for an item's
    label and missing-code columns."""
    ids = {i.id for i in group.items}
    if column in ids:
        return item_oid(form.id, column)
    if column in _KEY_COLUMNS:
        return f"I.{column}"
    for suffix in (_LABEL_SUFFIX, _MISSING_SUFFIX):
        base = column.removesuffix(suffix)
        if column.endswith(suffix) and base in ids:
            return f"{item_oid(form.id, base)}.{suffix.lstrip('_')}"
    return None


def _dataset_item_defs(mdv: etree._Element, forms: Iterable[FormDef]) -> None:
    for name, (kind, label, codelist) in _KEY_COLUMNS.items():
        el = sub(mdv, "ItemDef", {"OID": f"I.{name}", "Name": label[0], "DataType": kind, "SASFieldName": name})
        translated(el, "Description", (f"Dataset column {name}: {label[0]}", f"Colonne {name} : {label[1]}"))
        if codelist:
            sub(el, "CodeListRef", {"CodeListOID": codelist})
    for form in forms:
        for item in form.all_items():
            oid = item_oid(form.id, item.id)
            if item.type in (ItemType.CHOICE, ItemType.YESNO):
                name = item.id + _LABEL_SUFFIX
                el = sub(mdv, "ItemDef", {"OID": f"{oid}.LBL", "Name": f"{item.label.en} (label)", "DataType": "text"})
                translated(el, "Description", (f"Dataset column {name}: the label of the code in {item.id} ({oid})",
                                               f"Colonne {name} : le libellé du code de {item.id} ({oid})"))
            if item.missing:
                name = item.id + _MISSING_SUFFIX
                el = sub(mdv, "ItemDef", {"OID": f"{oid}.MISS", "Name": f"{item.label.en}: missing code",
                                          "DataType": "text"})
                translated(el, "Description", (f"Dataset column {name}: why {item.id} ({oid}) is empty",
                                               f"Colonne {name} : pourquoi {item.id} ({oid}) est vide"))
                sub(el, "CodeListRef", {"CodeListOID": NULL_FLAVOR})


def _item_def(mdv: etree._Element, form: FormDef, item: Item, study: StudyDef, unit_oids: dict[str, str]) -> None:
    attrs = {"OID": item_oid(form.id, item.id), "Name": item.label.en, "DataType": DATA_TYPES[item.type],
             "SASFieldName": item.id}
    if item.type is ItemType.TEXT and item.max_length:
        attrs["Length"] = str(item.max_length)
    places = stored_decimals(item)
    if places is not None and (item.type is ItemType.DECIMAL or places > 0):
        attrs["DataType"] = "float"  # an integer item entered in another unit may hold a fraction (250123 /mm3)
        attrs["SignificantDigits"] = str(places)
    el = sub(mdv, "ItemDef", attrs)
    description = item.help or item.label
    if item.type is ItemType.MULTICHOICE:
        cl = form.codelist_for(item, study.meta.codelists)
        codes = ", ".join(f"{c.code}={c.label.en}" for c in cl.items) if cl else ""
        codes_fr = ", ".join(f"{c.code}={c.label.fr}" for c in cl.items) if cl else ""
        description = Text(en=f"Several codes, ';'-separated: {codes}", fr=f"Plusieurs codes séparés par ';' : "
                                                                              f"{codes_fr}")
    translated(el, "Description", description)
    translated(el, "Question", item.label)
    for unit in ((item.unit,) if item.unit else ()) + tuple(a.unit for a in item.alt_units):
        if unit in unit_oids:  # the canonical unit first: the one ranges, datasets and the snapshot use
            sub(el, "MeasurementUnitRef", {"MeasurementUnitOID": unit_oids[unit]})
    for bound, comparator, hardness in ((item.hard_min, "GE", "Hard"), (item.hard_max, "LE", "Hard"),
                                        (item.soft_min, "GE", "Soft"), (item.soft_max, "LE", "Soft")):
        if bound is None:
            continue
        rc = sub(el, "RangeCheck", {"Comparator": comparator, "SoftHard": hardness})
        sub(rc, "CheckValue", None, format(bound, "f"))
        if item.unit and item.unit in unit_oids:  # the bounds are in the canonical unit, whichever was entered
            sub(rc, "MeasurementUnitRef", {"MeasurementUnitOID": unit_oids[item.unit]})
        word = ("at least", "au moins") if comparator == "GE" else ("at most", "au plus")
        kind = ("must be", "doit être") if hardness == "Hard" else ("is unusual unless", "est inhabituel sauf si")
        translated(rc, "ErrorMessage", (f"{item.label.en} {kind[0]} {word[0]} {bound}",
                                        f"{item.label.fr} {kind[1]} {word[1]} {bound}"))
    cl_oid = codelist_oid(form, item, study)
    if cl_oid:
        sub(el, "CodeListRef", {"CodeListOID": cl_oid})


def _codelist(mdv: etree._Element, oid: str, name: str, items: Iterable[tuple[str, str, str]]) -> None:
    cl = sub(mdv, "CodeList", {"OID": oid, "Name": name, "DataType": "text"})
    for code, en, fr in items:
        cli = sub(cl, "CodeListItem", {"CodedValue": code})
        translated(cli, "Decode", (en, fr))


def _codelists(mdv: etree._Element, study: StudyDef) -> None:
    def rows(cl: CodeList) -> list[tuple[str, str, str]]:
        return [(c.code, c.label.en, c.label.fr) for c in cl.items]

    _codelist(mdv, "CL.YN", "yes/no", rows(YESNO_CODELIST))
    for name, cl in study.meta.codelists.items():
        _codelist(mdv, f"CL.{name}", name, rows(cl))
    for form in study.forms.values():
        for name, cl in form.codelists.items():
            _codelist(mdv, f"CL.{form.id}.{name}", f"{form.id}.{name}", rows(cl))
    _codelist(mdv, NULL_FLAVOR, "missing value codes", [(m.value, _MISSING_EN[m], _MISSING_FR[m]) for m in MissingCode])
    _codelist(mdv, FLAG_TYPE, "flag types", [(k, *v) for k, v in _FLAG_TYPES.items()])
    _codelist(mdv, FORM_STATUS, "form statuses", [(k, *v) for k, v in _FORM_STATUSES.items()])
    _codelist(mdv, QUERY_STATUS, "query statuses", [(k, *v) for k, v in _QUERY_STATUSES.items()])
    _codelist(mdv, SDV_STATUS, "source data verification", [(k, *v) for k, v in _SDV.items()])
    _codelist(mdv, EVENT_KIND, "audit events", [(a, a.replace("_", " "), a.replace("_", " ")) for a in EVENT_ACTIONS])


_MISSING_EN = {MissingCode.NOT_DONE: "Not done", MissingCode.UNKNOWN: "Unknown",
               MissingCode.NOT_APPLICABLE: "Not applicable"}
_MISSING_FR = {MissingCode.NOT_DONE: "Non fait", MissingCode.UNKNOWN: "Inconnu",
               MissingCode.NOT_APPLICABLE: "Non applicable"}
EVENT_ACTIONS = ("create", "update", "delete", "status_change", "sign", "signature_invalidated", "source_verified",
                 "query", "data_entry", "data_change", "row_add", "row_remove", "infusion_event", "product_check",
                 "two_person_check", "lock", "unlock", "export", "print", "access_denied", "draft_save",
                 "draft_discard", "sign_failed", "other")


def flag(parent: etree._Element, seq: int, value: str, value_list: str, kind: str,  # noqa: PLR0917
         comment: str | None = None) -> None:
    ann = sub(parent, "Annotation", {"SeqNum": str(seq)})
    if comment:
        sub(ann, "Comment", {"SponsorOrSite": "Site"}, comment)
    fl = sub(ann, "Flag")
    sub(fl, "FlagValue", {"CodeListOID": value_list}, value)
    sub(fl, "FlagType", {"CodeListOID": FLAG_TYPE}, kind)


def admin_data(study: StudyDef, users: list[UserRow], workstations: list[str], *,
               deidentified: bool) -> etree._Element:
    admin = E("AdminData", {"StudyOID": study_oid(study)})
    names = {u.username for u in users}
    for u in users:
        user = sub(admin, "User", {"OID": user_oid(u.username), "UserType": "Other"})
        sub(user, "LoginName", None, u.username)
        sub(user, "DisplayName", None, f"{u.username} ({u.role})")
        if not deidentified:
            sub(user, "FullName", None, u.full_name)
    for extra in ("system", "#recovery"):
        if extra not in names:
            user = sub(admin, "User", {"OID": user_oid(extra), "UserType": "Other"})
            sub(user, "LoginName", None, extra)
    for ws in workstations or ["unknown"]:
        loc = sub(admin, "Location", {"OID": location_oid(ws), "Name": ws, "LocationType": "Site"})
        sub(loc, "MetaDataVersionRef", {"StudyOID": study_oid(study), "MetaDataVersionOID": mdv_oid(study),
                                        "EffectiveDate": "2018-01-01"})
    for meaning in study.meta.signatures.meanings:
        sd = sub(admin, "SignatureDef", {"OID": f"SD.{meaning.code}", "Methodology": "Electronic"})
        sub(sd, "Meaning", None, f"{meaning.label.en} / {meaning.label.fr}")
        sub(sd, "LegalReason", None, "21 CFR Part 11 electronic signature (user name and password)")
    return admin


def odm_root_attrs(file_oid: str, created: str, file_type: str, version: str, *, archival: bool) -> dict[str, str]:
    attrs = {"FileType": file_type, "FileOID": file_oid, "CreationDateTime": created, "ODMVersion": ODM_VERSION,
             "Originator": "msc-sle-crf", "SourceSystem": "msc-sle-crf", "SourceSystemVersion": version}
    if archival:
        attrs["Granularity"] = "All"
        attrs["Archival"] = "Yes"
    return attrs


# ----- the snapshot ------------------------------------------------------------------------------------------------
Tick = Callable[[int], None]


def write_snapshot(path: Path, source: Source, study: StudyDef, *, subjects: list[SubjectRow],
                   instances: list[InstanceRow], removed: set[tuple[int, str, int]], users: list[UserRow],
                   workstations: list[str], signatures: list[SignatureRow], file_oid: str, created: str,
                   version: str, deidentified: bool, values: Iterable[ValueRow], tick: Tick) -> None:
    """Current values of the chosen subjects (values come grouped by form instance)."""
    wanted = {s.id for s in subjects}
    sigs: dict[int, list[SignatureRow]] = defaultdict(list)
    for s in signatures:
        sigs[s.instance_id].append(s)
    order: dict[int, list[InstanceRow]] = defaultdict(list)
    for inst in instances:
        if inst.subject_id in wanted:
            order[inst.subject_id].append(inst)
    by_subject = per_subject(values, wanted)
    unit_oids = units(study)
    # every place a signature names is defined (a signature whose sign record is not found: "unknown", defined too)
    places = list(workstations) + sorted({s.workstation or "unknown" for s in signatures} - set(workstations))
    with open(path, "wb") as fh, etree.xmlfile(fh, encoding="UTF-8") as xf:
        xf.write_declaration()
        with xf.element(f"{{{NS}}}ODM", odm_root_attrs(file_oid, created, "Snapshot", version, archival=False),
                        nsmap={None: NS}):
            xf.write(study_element(study))
            xf.write(admin_data(study, users, places, deidentified=deidentified))
            with xf.element(f"{{{NS}}}ClinicalData", {"StudyOID": study_oid(study),
                                                      "MetaDataVersionOID": mdv_oid(study)}):
                for n, subject in enumerate(subjects, 1):
                    by_instance: dict[int, list[ValueRow]] = defaultdict(list)
                    for v in by_subject(subject.id):
                        by_instance[v.instance_id].append(v)
                    xf.write(_subject_snapshot(source, study, subject, order[subject.id], by_instance, removed,
                                               sigs, unit_oids))
                    tick(n)


def per_subject(values: Iterable[ValueRow], wanted: set[int]) -> Callable[[int], list[ValueRow]]:
    """``take(subject_id)``: that subject's values from a stream ordered by subject id (asked in that order)."""
    stream = iter(values)
    pending: list[ValueRow | None] = [next(stream, None)]

    def take(subject_id: int) -> list[ValueRow]:
        out: list[ValueRow] = []
        v = pending[0]
        while v is not None and v.subject_id <= subject_id:
            if v.subject_id == subject_id:
                out.append(v)
            v = next(stream, None)
        pending[0] = v
        return out

    _ = wanted
    return take


def _subject_snapshot(source: Source, study: StudyDef, subject: SubjectRow, instances: list[InstanceRow],  # noqa: PLR0917
                      values: dict[int, list[ValueRow]], removed: set[tuple[int, str, int]],
                      sigs: dict[int, list[SignatureRow]], unit_oids: Mapping[str, str]) -> etree._Element:
    sd = E("SubjectData", {"SubjectKey": subject.number})
    events: dict[str, etree._Element] = {}
    event_order = [e.id for e in study.meta.events]
    for inst in sorted(instances, key=lambda i: (event_order.index(i.event) if i.event in event_order else 99,
                                                  i.id)):
        se = events.get(inst.event)
        if se is None:
            se = events[inst.event] = sub(sd, "StudyEventData", {"StudyEventOID": f"SE.{inst.event}"})
        fd = sub(se, "FormData", {"FormOID": f"F.{inst.form}"})
        last_sig = sigs.get(inst.id, [])[-1:] if inst.status in ("signed", "locked") else []
        for s in last_sig:
            sig = sub(fd, "Signature", {"ID": f"SIG.{inst.id}"})
            sub(sig, "UserRef", {"UserOID": user_oid(s.username)})
            sub(sig, "LocationRef", {"LocationOID": location_oid(s.workstation)})
            sub(sig, "SignatureRef", {"SignatureOID": f"SD.{s.meaning}"})
            sub(sig, "DateTimeStamp", None, local_stamp(s.signed_utc, s.utc_offset_min))
        flag(fd, 1, inst.status, FORM_STATUS, "FORMSTATUS")
        definition = source.definition(inst.form_hash, inst.form)
        groups: dict[tuple[str, int], etree._Element] = {}
        for v in values.get(inst.id, []):
            if (inst.id, v.group, v.row_no) in removed:
                continue
            group = next((g for g in definition.groups if g.id == v.group), None) if definition else None
            key = (v.group, v.row_no)
            ig = groups.get(key)
            if ig is None:
                attrs = {"ItemGroupOID": group_oid(inst.form, v.group)}
                if group is None or group.repeating:
                    attrs["ItemGroupRepeatKey"] = str(v.row_no)
                ig = groups[key] = sub(fd, "ItemGroupData", attrs)
            item = definition.item(v.item) if definition is not None and definition.has_item(v.item) else None
            _item_data(ig, inst.form, item, v, unit_oids)
    return sd


def _item_data(parent: etree._Element, form: str, item: Item | None, v: ValueRow,
               unit_oids: Mapping[str, str]) -> etree._Element:
    """A current value: in the item's canonical unit (the datasets' value), which its MeasurementUnitRef names
    (the ItemDef lists every unit a value may be entered in)."""
    attrs = {"ItemOID": item_oid(form, v.item)}
    value = v.analysis_value
    if v.missing_code or value is None:
        attrs["IsNull"] = "Yes"
        el = sub(parent, "ItemData", attrs)
        if v.missing_code:
            flag(el, 1, v.missing_code, NULL_FLAVOR, "NULLFLAVOR", v.missing_reason)
        return el
    attrs["Value"] = clean(odm_value(item, value))
    el = sub(parent, "ItemData", attrs)
    unit = _snapshot_unit(item, v)
    if unit is not None and unit in unit_oids:
        sub(el, "MeasurementUnitRef", {"MeasurementUnitOID": unit_oids[unit]})
    return el


def _snapshot_unit(item: Item | None, v: ValueRow) -> str | None:
    """The unit ``v.analysis_value`` is in: the canonical one, or the unit typed when it could not be converted."""
    if item is None or item.type not in (ItemType.INTEGER, ItemType.DECIMAL):
        return None
    return v.unit if v.unit and v.canonical is None else item.unit


# ----- the archival file -------------------------------------------------------------------------------------------
_VALUE_ACTIONS = frozenset({"data_entry", "data_change"})
_MISSING_TEXT = re.compile(r"^\[(ND|UNK|NA)\]\s*(.*)$", re.S)


def write_archival(path: Path, source: Source, study: StudyDef, *, subjects: list[SubjectRow], users: list[UserRow],
                   workstations: list[str], file_oid: str, created: str, version: str, deidentified: bool,
                   tick: Tick) -> int:
    """Every audit record about a subject (of the chosen ones), in trail order, each as one transaction with its
    AuditRecord. Returns how many were written. The transactions are written as text (3x faster than building
    elements; the file is validated against the schema before it is kept, like every ODM file)."""
    wanted = {s.number for s in subjects}
    forms = study.forms
    year_only = frozenset(study.meta.export.year_only)
    unit_oids = units(study)
    written = 0
    root = etree.Element(f"{{{NS}}}ODM", odm_root_attrs(file_oid, created, "Transactional", version, archival=True),
                         nsmap=_NSMAP)
    opening = etree.tostring(root).decode("utf-8").replace("/>", ">")
    clinical = E("ClinicalData", {"StudyOID": study_oid(study), "MetaDataVersionOID": mdv_oid(study)})
    with open(path, "wb") as fh:
        fh.write(b'<?xml version="1.0" encoding="UTF-8"?>\n')
        fh.write(opening.encode("utf-8"))
        for el in (study_element(study), admin_data(study, users, workstations, deidentified=deidentified)):
            fh.write(_without_ns(etree.tostring(el, encoding="UTF-8")))
        fh.write(_without_ns(etree.tostring(clinical, encoding="UTF-8")).replace(b"/>", b">"))
        parts: list[str] = []
        for n, rec in enumerate(source.audit(), 1):
            if rec[7] is not None and rec[7] in wanted:
                transaction(parts, rec, forms, deidentified=deidentified, year_only=year_only, unit_oids=unit_oids)
                written += 1
            if n % 1000 == 0:
                fh.write("".join(parts).encode("utf-8"))
                parts = []
                tick(n)
        fh.write("".join(parts).encode("utf-8"))
        fh.write(b"</ClinicalData></ODM>\n")
    return written


def _without_ns(data: bytes) -> bytes:
    return data.replace(f' xmlns="{NS}"'.encode(), b"", 1)


_ATTR = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;",
                       "\t": "&#9;"})
_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


def _a(text: str) -> str:
    return clean(text).translate(_ATTR)


def _t(text: str) -> str:
    return clean(text).translate(_TEXT)


def _audit_record(out: list[str], rec: tuple[Any, ...]) -> None:
    (rid, ts, offset, username, _role, workstation, _action, _s, _v, _f, _i, _rk, _old, _new, reason, _detail,
     _prev, digest, _signer) = rec
    out.append(f'<AuditRecord ID="AR.{rid}"><UserRef UserOID="{_a(user_oid(username))}"/>'
               f'<LocationRef LocationOID="{_a(location_oid(workstation))}"/>'
               f"<DateTimeStamp>{local_stamp(ts, offset)}</DateTimeStamp>")
    if reason:
        out.append(f"<ReasonForChange>{_t(reason)}</ReasonForChange>")
    out.append(f"<SourceID>audit_event#{rid} sha256:{digest}</SourceID></AuditRecord>")


def _flag(out: list[str], value: str, value_list: str, kind: str, comment: str | None = None) -> None:
    out.append('<Annotation SeqNum="1">')
    if comment:
        out.append(f'<Comment SponsorOrSite="Site">{_t(comment)}</Comment>')
    out.append(f'<Flag><FlagValue CodeListOID="{value_list}">{_t(value)}</FlagValue>'
               f'<FlagType CodeListOID="{FLAG_TYPE}">{kind}</FlagType></Flag></Annotation>')


def redact(rec: tuple[Any, ...], year_only: frozenset[str] = frozenset()) -> tuple[Any, ...]:
    """A record for a de-identified export: the subject's initials removed from its registration record, the
    identifying dates (study.yaml ``export: year_only``) cut to the year."""
    if rec[10] is not None and f"{rec[9]}.{rec[10]}" in year_only:
        return (*rec[:12], _year(rec[12]), _year(rec[13]), *rec[14:])
    if rec[6] == "create" and rec[9] == "subject" and rec[13]:
        import json

        try:
            data = json.loads(rec[13])
        except ValueError:
            return rec
        if isinstance(data, dict):
            data.pop("initials", None)
            return (*rec[:13], json.dumps(data, sort_keys=True), *rec[14:])
    return rec


def _year(text: str | None) -> str | None:
    return text[:4] if text and not text.startswith("[") else text


def transaction(out: list[str], rec: tuple[Any, ...], forms: dict[str, FormDef], *,  # noqa: PLR0912, PLR0915
                deidentified: bool, year_only: frozenset[str] = frozenset(),
                unit_oids: Mapping[str, str] | None = None) -> None:
    """One audit record as an ODM transaction: SubjectData > [StudyEventData > [FormData > [ItemGroupData >
    [ItemData]]]], the AuditRecord on the deepest element the record names (appended to ``out`` as text).
    ``unit_oids``: the MeasurementUnit OIDs of the file's metadata (``form_units(forms)`` when not given: pass
    them when writing many records)."""
    if deidentified:
        rec = redact(rec, year_only)
    (_rid, _ts, _offset, _username, _role, _ws, action, subject, visit, form, item, repeat_key, old, new, _reason,
     detail, _prev, _digest, _signer) = rec
    insert = action in ("create", "row_add") or (action in _VALUE_ACTIONS and old is None)
    kind = "Remove" if action in ("row_remove", "delete") else "Insert" if insert else "Update"
    describe = " | ".join(x for x in (f"{action}", f"old: {old}" if old is not None else "",
                                      f"new: {new}" if new is not None else "",
                                      detail or "") if x)
    key = _a(subject)
    if visit is None:  # a subject-level record (registration, status, bedside events without a visit)
        out.append(f'<SubjectData SubjectKey="{key}" TransactionType="{kind}">')
        _audit_record(out, rec)
        _flag(out, _event_code(action), EVENT_KIND, "EVENT", describe)
        out.append("</SubjectData>")
        return
    out.append(f'<SubjectData SubjectKey="{key}" TransactionType="Context">')
    event = _a(f"SE.{visit}")
    if form is None:
        out.append(f'<StudyEventData StudyEventOID="{event}" TransactionType="{kind}">')
        _audit_record(out, rec)
        _flag(out, _event_code(action), EVENT_KIND, "EVENT", describe)
        out.append("</StudyEventData></SubjectData>")
        return
    out.append(f'<StudyEventData StudyEventOID="{event}" TransactionType="Context">')
    form_oid = _a(f"F.{form}")
    group_id, row_no = _split_key(repeat_key)
    if group_id is None or (item is None and action not in ("row_add", "row_remove")):
        out.append(f'<FormData FormOID="{form_oid}" TransactionType="{kind if action == "create" else "Update"}">')
        _audit_record(out, rec)
        if action in ("status_change", "sign", "lock", "unlock", "source_verified") and new in _FORM_STATUSES:
            _flag(out, str(new), FORM_STATUS, "FORMSTATUS", describe)
        else:
            _flag(out, _event_code(action), EVENT_KIND, "EVENT", describe)
        out.append("</FormData></StudyEventData></SubjectData>")
        return
    definition = forms.get(form)
    group = next((g for g in definition.groups if g.id == group_id), None) if definition else None
    out.append(f'<FormData FormOID="{form_oid}" TransactionType="Context">')
    ig = f'<ItemGroupData ItemGroupOID="{_a(group_oid(form, group_id))}"'
    if group is None or group.repeating:
        ig += f' ItemGroupRepeatKey="{row_no if row_no is not None else 0}"'
    close = "</ItemGroupData></FormData></StudyEventData></SubjectData>"
    if item is None:  # a row added or removed
        out.append(f'{ig} TransactionType="{kind}">')
        _audit_record(out, rec)
        _flag(out, _event_code(action), EVENT_KIND, "EVENT", describe)
        out.append(close)
        return
    out.append(f'{ig} TransactionType="Context">')
    it = definition.item(item) if definition is not None and definition.has_item(item) else None
    oid = _a(item_oid(form, item))
    if action in _VALUE_ACTIONS:
        _value_transaction(out, rec, oid, it, new, kind, form_units(forms) if unit_oids is None else unit_oids)
    else:
        out.append(f'<ItemData ItemOID="{oid}" TransactionType="Context">')
        _audit_record(out, rec)
        if action == "source_verified":
            _flag(out, "verified", SDV_STATUS, "SDV", describe)
        elif action == "query":
            _flag(out, str(new) if new in _QUERY_STATUSES else "open", QUERY_STATUS, "QUERY", describe)
        else:
            _flag(out, _event_code(action), EVENT_KIND, "EVENT", describe)
        out.append("</ItemData>")
    out.append(close)


def _event_code(action: str) -> str:
    return action if action in EVENT_ACTIONS else "other"


def _split_key(repeat_key: str | None) -> tuple[str | None, int | None]:
    if not repeat_key or ":" not in repeat_key:
        return None, None
    group, _, row = repeat_key.rpartition(":")
    try:
        return group, int(row)
    except ValueError:
        return group, None


_CONVERTED = re.compile(r"(?:^|; )= (\S+) (.+)$")


def _value_transaction(out: list[str], rec: tuple[Any, ...], oid: str, item: Item | None,  # noqa: PLR0917
                       new: str | None, kind: str, unit_oids: Mapping[str, str]) -> None:
    """The value a data entry or change recorded, as the trail wrote it ("38.4", "4500 /mm3", "[ND] reason"): a
    number with the unit it was typed in (its MeasurementUnitRef; none typed: the item's canonical unit)."""
    if new is None:
        out.append(f'<ItemData ItemOID="{oid}" TransactionType="Remove" IsNull="Yes">')
        _audit_record(out, rec)
        out.append("</ItemData>")
        return
    missing = _MISSING_TEXT.match(new)
    if missing:
        out.append(f'<ItemData ItemOID="{oid}" TransactionType="{kind}" IsNull="Yes">')
        _audit_record(out, rec)
        _flag(out, missing.group(1), NULL_FLAVOR, "NULLFLAVOR", missing.group(2) or None)
        out.append("</ItemData>")
        return
    value, unit, comment = new, None, None
    numeric = item is not None and item.type in (ItemType.INTEGER, ItemType.DECIMAL)
    if numeric and " " in new:
        value, _, unit = new.partition(" ")
    ref = ""
    if numeric and item is not None:
        ref = _unit_ref(unit or item.unit, unit_oids)
        converted = _CONVERTED.search(rec[15] or "") if unit and not ref else None
        if converted and _unit_ref(converted.group(2), unit_oids):
            # typed in a unit this file does not define (since removed from the form): the converted value the
            # trail recorded, in a unit it does define, never the typed number alone
            comment = f"entered as {value} {unit}"
            value, ref = converted.group(1), _unit_ref(converted.group(2), unit_oids)
        elif unit and not ref:
            comment = f"entered in {unit} (a unit this file does not define)"
    out.append(f'<ItemData ItemOID="{oid}" TransactionType="{kind}" Value="{_a(odm_value(item, value))}">')
    _audit_record(out, rec)
    out.append(ref)
    if comment:
        out.append(f'<Annotation SeqNum="1"><Comment SponsorOrSite="Site">{_t(comment)}</Comment></Annotation>')
    out.append("</ItemData>")


# ----- validation --------------------------------------------------------------------------------------------------
_SCHEMA: etree.XMLSchema | None = None


def schema_dir() -> Path:
    import os

    override = os.environ.get(SCHEMA_DIR_ENV)
    if override:
        return Path(override)
    here = Path(__file__).resolve()
    for candidate in (here.parent / "xsd", here.parents[2] / "resources" / "odm-1.3.2"):
        if (candidate / "ODM1-3-2.xsd").is_file():
            return candidate
    return here.parent / "xsd"


def schema() -> etree.XMLSchema:
    global _SCHEMA  # noqa: PLW0603 - parsed once per process (about 0.2 s)
    if _SCHEMA is None:
        _SCHEMA = etree.XMLSchema(etree.parse(str(schema_dir() / "ODM1-3-2.xsd")))
    return _SCHEMA


def validate(path: Path) -> str | None:
    """None when ``path`` is valid against the official ODM 1.3.2 schema, else the first error (line: message).
    A validating iterparse that frees what it has read: memory stays bounded whatever the file's size."""
    try:
        for _event, el in etree.iterparse(str(path), events=("end",), schema=schema(), huge_tree=True):
            if el.tag in (f"{{{NS}}}SubjectData", f"{{{NS}}}MetaDataVersion"):
                el.clear(keep_tail=True)
                while el.getprevious() is not None:
                    del el.getparent()[0]
    except etree.XMLSyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    return None


def iter_source_ids(path: Path) -> Iterator[str]:
    """The SourceID of every AuditRecord in an archival file (tests and export-verify use it)."""
    for _event, el in etree.iterparse(str(path), events=("end",), tag=f"{{{NS}}}SourceID", huge_tree=True):
        yield el.text or ""
        el.clear()
