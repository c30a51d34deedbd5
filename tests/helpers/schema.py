"""A database taken back to the first schema (0001), to test upgrades from the oldest release."""

from __future__ import annotations

# Every table, index and column migrations 0002-0009 added, newest first (the 0001 audit table's records then read
# as written before signing existed).
BACK_TO_0001 = (
    "DROP TABLE item_conflict", "DROP TABLE sync_packet_in", "DROP TABLE sync_packet_out",
    "DROP TABLE query_message", "DROP TABLE data_query", "DROP TABLE item_verification",
    "DROP TABLE signature", "DROP TABLE infusion_event",
    "DROP INDEX ix_audit_event_subject_form_item", "DROP TABLE item_value", "DROP TABLE form_row",
    "DROP TABLE form_instance", "DROP TABLE form_definition", "DROP TABLE draft",
    "DROP TABLE subject", "DROP TABLE certificate",
    "ALTER TABLE audit_event DROP COLUMN signer", "ALTER TABLE audit_event DROP COLUMN sig",
    "ALTER TABLE audit_event DROP COLUMN origin",
    "UPDATE alembic_version SET version_num = '0001'",
)
