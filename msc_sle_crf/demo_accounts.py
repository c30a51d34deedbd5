"""The TRAINING database's demo accounts, with their published passwords (training only: printed, documented, never
for real data). A module of its own so that the sign-in window shows them without loading the services."""

from __future__ import annotations

DEMO_ACCOUNTS: tuple[tuple[str, str, str, str], ...] = (
    # username, full name, role, password
    ("admin", "Alice Admin (formation)", "admin", "training-manager"),
    ("dr.martin", "Dr Claire Martin (formation)", "investigator", "training-doctor"),
    ("nurse.durand", "Inès Durand IDE (formation)", "nurse", "training-nurse"),
    ("monitor.petit", "Paul Petit ARC (formation)", "monitor", "training-monitor"),
)
