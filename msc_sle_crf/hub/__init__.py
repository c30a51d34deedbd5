"""The hub (issue 18): the same schema and rules on a PostgreSQL server, over TLS, with a role of least privilege.

Design: docs/workstations.md, "The hub". ``ddl`` is used by the migrations (no driver import); ``store`` holds the
connection (psycopg 3); ``init`` copies a site database into a new hub. No Qt anywhere here.
"""
