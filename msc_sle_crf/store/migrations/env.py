"""Alembic environment. Always run programmatically with an open, keyed connection
(``config.attributes['connection']``); there is no URL and no alembic.ini, so no key can leak into one."""

from alembic import context

from msc_sle_crf.store.tables import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through msc_sle_crf.store.migrate, which supplies a keyed connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
