"""Clinical scores: pure, typed functions, one module per instrument, unit-tested against the published
definitions (../shared/reference/clinical-reference.md). No Qt, no database. Every "confirm with sponsor" rule is
configuration (``scoring`` in forms/study.yaml, see ``rules``)."""
