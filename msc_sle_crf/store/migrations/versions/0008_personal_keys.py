"""Records no insider can rewrite (issue 14): the author and signature of each audit transaction, the signer's
signature of each electronic signature, the personal certificates the site CA issues.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN: the append-only triggers and the rows stay as they are (older records keep
    # NULL: written before signing existed).
    op.add_column("audit_event", sa.Column("signer", sa.String(64), nullable=True))
    op.add_column("audit_event", sa.Column("sig", sa.Text(), nullable=True))
    op.add_column("signature", sa.Column("sig", sa.Text(), nullable=True))
    op.create_table(
        "certificate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("serial", sa.String(64), nullable=False),
        sa.Column("cert_pem", sa.Text(), nullable=False),
        sa.Column("issued_utc", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate")),
        sqlite_autoincrement=True,
    )
    if op.get_context().dialect.name == "postgresql":  # the hub (issue 18): guards and grants
        from msc_sle_crf.hub import ddl

        ddl.append_only("certificate", "certificate is append-only")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER certificate_no_{verb.lower()} BEFORE {verb} ON certificate
                BEGIN SELECT RAISE(ABORT, 'certificate is append-only'); END
            """)
    # The old site certificate's key was protected by a passphrase derived from the database key: anyone who can
    # open the database could sign with it. It is never used again (the site CA replaces it).
    op.execute("DELETE FROM site_setting WHERE key = 'pdf_signing_key'")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        from msc_sle_crf.hub import ddl

        ddl.drop_append_only("certificate")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS certificate_no_{verb}")
    op.drop_table("certificate")
    with op.batch_alter_table("signature") as batch:
        batch.drop_column("sig")
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_column("sig")
        batch.drop_column("signer")
