"""Packets between the workstations of one site (issue 18, docs/workstations.md "Packets"). No Qt.

The interface other parts call (the hub's ``hub ingest`` calls ``import_packet`` on a PostgreSQL session)::

    key = packet_key(db_key, db_id)                       # HKDF-SHA256, info msc-sle-crf/packet/v1, salt db_id
    result = export_packet(session, clock, workstation_label, signer, actor_username, actor_role, study,
                           out_dir, packet_key=key, db_id=db_id, ca_fingerprint=fp) -> ExportResult | None
    result = import_packet(session, clock, workstation_label, signer, actor_username, actor_role, packet_bytes,
                           *, packet_key=key, expected_db_id=db_id) -> ImportResult

Both work inside the caller's write transaction (the caller commits; an exception leaves nothing), use ORM/Core
only (no SQLite-only SQL), and append to the trail with ``audit.append_many``. A refused packet raises
``PacketRefused`` (a ``ValidationError``: one bilingual line). A packet already imported returns an
``ImportResult`` with ``duplicate=True`` and changes nothing.
"""
