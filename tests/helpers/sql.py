"""Raw SQL for tests only: it bypasses the service layer and the audit trail on purpose (tampering, old schemas)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from msc_sle_crf.store.db import Store


def run_sql(store: Store, sql: str) -> list[Any]:
    with store.write_engine.begin() as conn:
        result = conn.execute(text(sql))
        return list(result.fetchall()) if result.returns_rows else []
