"""One export run: every file written into a hidden folder beside the target, the ODM files validated against the
official schema, the manifest written and signed, then the folder renamed to the target. A cancel, an invalid file,
a full disk or any other error removes the hidden folder: nothing is ever left under the target's name."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from msc_sle_crf.export import datasets, manifest, odm
from msc_sle_crf.export.calculated import with_calculated
from msc_sle_crf.export.options import Cancelled, ExportOptions, ExportResult, InvalidOdm, Progress
from msc_sle_crf.export.source import Source
from msc_sle_crf.fileutil import fsync_dir
from msc_sle_crf.formdef.definitions import StudyDef
from msc_sle_crf.i18n import L

__all__ = ["Cancelled", "ExportOptions", "ExportResult", "InvalidOdm", "Progress", "run"]

def staging_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.export-{os.getpid()}.tmp")


def run(target: Path, source: Source, study: StudyDef, options: ExportOptions, *, scores: Callable[[], Iterable[
        datasets.ScoreRow]], identity: dict[str, Any], head_document: Callable[[int, str, str], dict[str, Any]],
        sign: Callable[[bytes], bytes], version: str, progress: Progress | None = None,
        cancelled: Callable[[], bool] | None = None, now: dt.datetime | None = None,
        stages: Callable[[], Mapping[str, str]] | None = None,
        stage_labels: Mapping[str, L] | None = None) -> ExportResult:
    """Write the export. ``source`` must be inside its read transaction (``Source.begin``)."""
    import time

    started = time.monotonic()
    stage = staging_name(target)
    stage.mkdir(mode=0o700)
    try:
        result = _write(stage, target, source, study, options, scores=scores, identity=identity,
                        head_document=head_document, sign=sign, version=version, progress=progress,
                        cancelled=cancelled, now=now, stages=stages, stage_labels=stage_labels)
        if os.path.lexists(target):
            raise FileExistsError(17, "File exists", str(target))
        os.rename(stage, target)
        fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(stage)
        raise
    return ExportResult(target, result.subjects, result.audit_records, result.archival_records, result.files,
                        result.head, time.monotonic() - started)


def _write(stage: Path, target: Path, source: Source, study: StudyDef, options: ExportOptions, *,  # noqa: PLR0915
           scores: Callable[[], Iterable[datasets.ScoreRow]], identity: dict[str, Any],
           head_document: Callable[[int, str, str], dict[str, Any]], sign: Callable[[bytes], bytes], version: str,
           progress: Progress | None, cancelled: Callable[[], bool] | None,
           now: dt.datetime | None, stages: Callable[[], Mapping[str, str]] | None = None,
           stage_labels: Mapping[str, L] | None = None) -> ExportResult:
    moment = now or dt.datetime.now(dt.UTC)
    created = moment.astimezone().isoformat(timespec="seconds")
    subjects = source.subjects()
    if options.subjects:
        unknown = sorted(set(options.subjects) - {s.number for s in subjects})
        if unknown:
            raise LookupError(", ".join(unknown))
    total_records = source.audit_count() if options.audit_trail else 0
    # the run's units: subjects (snapshot) + subjects (datasets) + records (trail CSV) + records (archival) + 1
    total = 2 * len(subjects) + 2 * total_records + len(subjects) + 1
    done = [0]

    def step(what: L, advance: int = 0, at: int | None = None) -> None:
        if cancelled is not None and cancelled():
            raise Cancelled
        if at is not None:
            done[0] = at
        done[0] += advance
        if progress is not None:
            progress(min(done[0], total), total, what)

    instances = source.instances()
    removed = source.removed_rows()
    users = source.users()
    workstations = source.workstations()
    head = source.head()
    file_oid = f"msc-sle-crf.{target.name}.{moment.strftime('%Y%m%dT%H%M%S')}"
    (stage / "odm").mkdir()
    (stage / "datasets").mkdir()
    snap_what = L("ODM snapshot", "instantané ODM")
    base = 0
    odm.write_snapshot(stage / "odm" / "snapshot.xml", source, study, subjects=subjects, instances=instances,
                       removed=removed, users=users, workstations=workstations, signatures=source.signatures(),
                       file_oid=file_oid + ".snapshot", created=created, version=version,
                       deidentified=options.deidentified, values=_values(source, options, study, instances,
                                                                         removed, subjects),
                       tick=lambda n: step(snap_what, at=base + n))
    base += len(subjects)
    ds_what = L("datasets and codebook", "jeux de données et dictionnaire")
    step(ds_what, at=base)
    folder = stage / "datasets"
    variables = datasets.write_group_datasets(folder, study, subjects, instances, removed,
                                              _values(source, options, study, instances, removed, subjects),
                                              source.definition)
    variables += datasets.write_subjects(folder, subjects, deidentified=options.deidentified,
                                         stages=stages() if stages is not None else None, stage_labels=stage_labels)
    step(L("derived scores", "scores dérivés"), advance=len(subjects) // 2)
    wanted = {s.number for s in subjects}
    variables += datasets.write_scores(folder, (r for r in scores() if r.subject in wanted))
    datasets.write_dataset_json(folder, stage / "datasets-json", variables, study=study, created=created,
                                version=version, mdv=odm.mdv_oid(study), study_oid=odm.study_oid(study))
    datasets.write_codebook(stage, variables, study)
    datasets.write_r_script(stage, variables)
    datasets.write_sas_script(stage, variables)
    base += 2 * len(subjects)
    step(ds_what, at=base)
    audit_lines = archival = 0
    if options.audit_trail:
        trail_what = L("audit trail (CSV)", "piste d'audit (CSV)")
        only = wanted if options.subjects else None
        audit_lines = datasets.write_trail(stage / "audit_trail.csv", source.audit(), subjects=only,
                                           deidentified=options.deidentified,
                                           tick=lambda n: step(trail_what, at=base + n),
                                           head_text=f"trail #{head[0]} {head[1]}",
                                           year_only=frozenset(study.meta.export.year_only),
                                           full_names=[u.full_name for u in users])
        base += total_records
        arch_what = L("ODM archival file (every change)", "fichier ODM d'archive (chaque modification)")
        archival = odm.write_archival(stage / "odm" / "archival.xml", source, study, subjects=subjects, users=users,
                                      workstations=workstations, file_oid=file_oid + ".archival", created=created,
                                      version=version, deidentified=options.deidentified,
                                      tick=lambda n: step(arch_what, at=base + n))
        base += total_records
    check_what = L("checking the ODM files against the official schema", "contrôle des fichiers ODM (schéma "
                   "officiel)")
    step(check_what, at=base)
    for name in ("snapshot.xml", "archival.xml"):
        path = stage / "odm" / name
        if path.exists():
            problem = odm.validate(path)
            if problem is not None:
                raise InvalidOdm(name, problem)
        step(check_what)
    files = manifest.listing(stage)
    document = {"format": manifest.FORMAT, "version": manifest.VERSION,
                "study": {"name": study.meta.name, "protocol": study.meta.protocol, "forms_version":
                          study.meta.version},
                "forms": {f.id: {"version": f.version, "sha256": f.content_hash()} for f in study.forms.values()},
                "software": {"msc-sle-crf": version, "odm": odm.ODM_VERSION},
                "generated_utc": moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                "generated_local": created,
                "generated_by": {k: v for k, v in identity.items() if k != "full_name"} if options.deidentified
                else identity,
                "options": {"subjects": list(options.subjects) or "all", "audit_trail": options.audit_trail,
                            "deidentified": options.deidentified},
                "dataset_labels": datasets.LABELS_LANG.value,  # _LBL columns and code labels: English for all
                "subjects": len(subjects), "audit_records": audit_lines, "archival_transactions": archival,
                "trail_head": head_document(*head), "files": files}
    data = manifest.manifest_bytes(document)
    (stage / manifest.MANIFEST).write_bytes(data)
    (stage / manifest.SIGNATURE).write_bytes(sign(data))
    for root, _dirs, names in os.walk(stage):  # durable before the rename makes it visible
        for name in names:
            fd = os.open(Path(root) / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    step(L("done", "terminé"), at=total)
    return ExportResult(target, len(subjects), audit_lines, archival, files, (head[0], head[1]))


def _values(source: Source, options: ExportOptions, study: StudyDef, instances: list[Any],  # noqa: PLR0917
            removed: set[tuple[int, str, int]], subjects: list[Any]) -> Iterable[Any]:
    """The stored values as exported (de-identified when asked), with the calculated items' values the form shows,
    computed from them (export/calculated.py; one form instance at a time)."""
    wanted = {s.id for s in subjects}  # a subset: the others' values pass by unwritten, so none is computed
    return with_calculated(_deidentify(source.values(), options, study, instances),
                           [i for i in instances if i.subject_id in wanted], study, source.definition, removed)


def _deidentify(values: Iterable[Any], options: ExportOptions, study: StudyDef,
                instances: list[Any]) -> Iterable[Any]:
    """Values with the identifying dates cut to the year (study.yaml ``export: year_only``) when de-identified."""
    if not options.deidentified:
        yield from values
        return
    year_only = set(study.meta.export.year_only)
    forms = {i.id: i.form for i in instances}
    from dataclasses import replace

    for v in values:
        if f"{forms.get(v.instance_id)}.{v.item}" in year_only:
            value = v.value[:4] if v.value else v.value
            yield replace(v, value=value, canonical=None)
        else:
            yield v
