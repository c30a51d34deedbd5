"""Data out (issue 16): the trial's data for the sponsor's statisticians, another EDC or an inspector.

One export is a new folder, written aside and renamed into place only when complete:

- ``odm/snapshot.xml``: CDISC ODM 1.3.2 Snapshot: the study's metadata generated from the compiled forms and the
  current values (missing values as ``IsNull`` with a standard annotation);
- ``odm/archival.xml``: ODM 1.3.2 Transactional Archival: every audit record of a subject as one transaction in time
  order, with its AuditRecord (SourceID: the trail record and its hash), signatures, queries and SDV;
- ``datasets/``: one CSV per item group (UTF-8 with BOM), the subjects, every derived score, a codebook (CSV and
  HTML) and R and SAS import scripts; ``datasets-json/``: the same datasets as CDISC Dataset-JSON 1.1;
- ``audit_trail.csv``: every record of the trail;
- ``MANIFEST.json`` (SHA-256 of every file, the signed trail head, who, when, versions) and ``MANIFEST.sig``.

No Qt, no service: ``services.export`` checks the role, reads the database and audits the export.
"""

from __future__ import annotations

from msc_sle_crf.export.options import Cancelled, ExportOptions, ExportResult, Progress

__all__ = ["Cancelled", "ExportOptions", "ExportResult", "Progress"]
