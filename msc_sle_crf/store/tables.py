"""The database tables as typed ORM classes (and their declarative base).

Schema changes go through an Alembic migration in msc_sle_crf/store/migrations."""

from __future__ import annotations

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Constraint names are fixed so that Alembic batch migrations on SQLite can find and alter them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SiteSetting(Base):
    __tablename__ = "site_setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_utc: Mapped[str] = mapped_column(String(32))


class AppUser(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    created_utc: Mapped[str] = mapped_column(String(32))
    disabled_utc: Mapped[str | None] = mapped_column(String(32), default=None)


class Subject(Base):
    __tablename__ = "subject"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_number: Mapped[str] = mapped_column(String(16), unique=True)
    initials: Mapped[str] = mapped_column(String(4))
    birth_year: Mapped[int] = mapped_column(Integer)
    sex: Mapped[str] = mapped_column(String(1))
    status: Mapped[str] = mapped_column(String(16), default="screening")
    created_utc: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    # The workstation that enters this subject's visits (issue 18); None: the database's first workstation.
    owner_ws: Mapped[str | None] = mapped_column(String(16), default=None)


class Draft(Base):
    """Input not yet committed as data (a half-filled dialog). Encrypted with the rest of the database."""

    __tablename__ = "draft"
    __table_args__ = (UniqueConstraint("user_id", "draft_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    draft_key: Mapped[str] = mapped_column(String(120))
    payload: Mapped[str] = mapped_column(Text)
    updated_utc: Mapped[str] = mapped_column(String(32))


class AuditEvent(Base):
    """Append-only, hash-chained audit trail. Triggers refuse UPDATE and DELETE (see migration 0001)."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_subject_form_item", "subject", "form", "item"),  # item history look-ups
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts_utc: Mapped[str] = mapped_column(String(32))
    utc_offset_min: Mapped[int] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(16))
    workstation: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str | None] = mapped_column(String(32))
    visit: Mapped[str | None] = mapped_column(String(32))
    form: Mapped[str | None] = mapped_column(String(64))
    item: Mapped[str | None] = mapped_column(String(64))
    repeat_key: Mapped[str | None] = mapped_column(String(32))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    signer: Mapped[str | None] = mapped_column(String(64), default=None)  # whose session wrote it (issue 14)
    sig: Mapped[str | None] = mapped_column(Text, default=None)  # the author's signature, on a transaction's last
    # A copy of another workstation's record (issue 18): JSON {ws, id, prev, hash, signer, sig} of the original.
    # Not hashed into this record: the original verifies itself against its author's key.
    origin: Mapped[str | None] = mapped_column(Text, default=None)


class FormDefinitionSnapshot(Base):
    """Every form definition data was ever entered under, by content hash, so old data stays readable."""

    __tablename__ = "form_definition"

    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    form_id: Mapped[str] = mapped_column(String(40))
    version: Mapped[str] = mapped_column(String(16))
    definition_json: Mapped[str] = mapped_column(Text)
    first_used_utc: Mapped[str] = mapped_column(String(32))


class FormInstance(Base):
    """One form of one visit of one subject, with the definition it was entered under."""

    __tablename__ = "form_instance"
    __table_args__ = (UniqueConstraint("subject_id", "event_id", "form_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"))
    event_id: Mapped[str] = mapped_column(String(12))
    form_id: Mapped[str] = mapped_column(String(40))
    form_version: Mapped[str] = mapped_column(String(16))
    form_hash: Mapped[str] = mapped_column(ForeignKey("form_definition.content_hash"))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    created_utc: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    updated_utc: Mapped[str] = mapped_column(String(32))
    completed_utc: Mapped[str | None] = mapped_column(String(32), default=None)
    completed_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), default=None)


class FormRow(Base):
    """A row of a repeating item group. Removing a row marks it removed; its values stay in the database."""

    __tablename__ = "form_row"
    __table_args__ = (UniqueConstraint("instance_id", "group_id", "row_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("form_instance.id"))
    group_id: Mapped[str] = mapped_column(String(40))
    row_no: Mapped[int] = mapped_column(Integer)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_utc: Mapped[str] = mapped_column(String(32))


class ItemValue(Base):
    """The current value of one item. Its whole history is in the audit trail."""

    __tablename__ = "item_value"
    __table_args__ = (
        UniqueConstraint("instance_id", "group_id", "row_no", "item_id"),
        # The subject list reads every subject's visit dates from this index alone (covering index).
        Index("ix_item_value_item_id", "item_id", "instance_id", "value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("form_instance.id"))
    group_id: Mapped[str] = mapped_column(String(40))
    row_no: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[str] = mapped_column(String(8))
    value: Mapped[str | None] = mapped_column(Text, default=None)  # as entered (canonical text form)
    unit: Mapped[str | None] = mapped_column(String(20), default=None)  # unit entered in, None = canonical
    canonical: Mapped[str | None] = mapped_column(Text, default=None)  # converted to the canonical unit
    missing_code: Mapped[str | None] = mapped_column(String(4), default=None)
    missing_reason: Mapped[str | None] = mapped_column(Text, default=None)
    confirmed: Mapped[str | None] = mapped_column(String(200), default=None)  # soft rules confirmed, ';'-joined
    updated_utc: Mapped[str] = mapped_column(String(32))
    updated_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))


class InfusionEvent(Base):
    """What happened at the bedside, in order: product checks, timer events, time corrections, readings not done.
    Append-only (triggers refuse UPDATE and DELETE); the timer and the schedule are computed from it."""

    __tablename__ = "infusion_event"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy declarative attribute

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"))
    kind: Mapped[str] = mapped_column(String(24))
    wall_utc: Mapped[str] = mapped_column(String(32))
    mono: Mapped[float | None] = mapped_column(Float, default=None)
    boot: Mapped[str | None] = mapped_column(String(64), default=None)
    username: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    detail: Mapped[str | None] = mapped_column(Text, default=None)  # JSON
    refers_to: Mapped[int | None] = mapped_column(Integer, default=None)  # the event a correction applies to


class Signature(Base):
    """An electronic signature of a form instance (21 CFR 11.50): who (printed name, role), when (UTC and offset),
    what it means, and the SHA-256 of the content signed. Append-only; a later change of the data makes it invalid
    (the content no longer matches), which is shown everywhere and audited."""

    __tablename__ = "signature"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy declarative attribute

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("form_instance.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    username: Mapped[str] = mapped_column(String(64))
    printed_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16))
    meaning: Mapped[str] = mapped_column(String(32))
    signed_utc: Mapped[str] = mapped_column(String(32))
    utc_offset_min: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    # The signer's Ed25519 signature over all of the above and the form's identity (issue 14); None: signed
    # before personal keys existed.
    sig: Mapped[str | None] = mapped_column(Text, default=None)


class Certificate(Base):
    """A personal certificate the site CA issued (append-only: a newer one for the same user supersedes it)."""

    __tablename__ = "certificate"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy declarative attribute

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    serial: Mapped[str] = mapped_column(String(64))
    cert_pem: Mapped[str] = mapped_column(Text)
    issued_utc: Mapped[str] = mapped_column(String(32))


class DataQuery(Base):
    """A query on one item: opened by a monitor (or automatically when the site confirmed a value a check flagged),
    answered by the site, closed or re-opened by the monitor. Its messages are the history."""

    __tablename__ = "data_query"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("form_instance.id"))
    group_id: Mapped[str] = mapped_column(String(40))
    row_no: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))  # open, answered, closed
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_utc: Mapped[str] = mapped_column(String(32))


class QueryMessage(Base):
    """One step of a query (open, answer, close, re-open), append-only."""

    __tablename__ = "query_message"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy declarative attribute

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    query_id: Mapped[int] = mapped_column(ForeignKey("data_query.id"))
    kind: Mapped[str] = mapped_column(String(16))
    username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    utc: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)


class ItemVerification(Base):
    """Source-data verification of one item, with the value it verified: a later change makes it void."""

    __tablename__ = "item_verification"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy declarative attribute

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("form_instance.id"))
    group_id: Mapped[str] = mapped_column(String(40))
    row_no: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[str] = mapped_column(String(8))
    username: Mapped[str] = mapped_column(String(64))
    utc: Mapped[str] = mapped_column(String(32))
    value_hash: Mapped[str] = mapped_column(String(64))


class SyncPacketOut(Base):
    """A packet this workstation wrote (issue 18): numbered and chained, append-only."""

    __tablename__ = "sync_packet_out"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    file_oid: Mapped[str] = mapped_column(String(120))
    prior_file_oid: Mapped[str | None] = mapped_column(String(120), default=None)
    first_record: Mapped[int] = mapped_column(Integer)
    last_record: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    created_utc: Mapped[str] = mapped_column(String(32))
    username: Mapped[str] = mapped_column(String(64))


class SyncPacketIn(Base):
    """A packet from another workstation applied here (issue 18): the same packet twice changes nothing."""

    __tablename__ = "sync_packet_in"

    origin_ws: Mapped[str] = mapped_column(String(16), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    file_oid: Mapped[str] = mapped_column(String(120))
    last_record: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    imported_utc: Mapped[str] = mapped_column(String(32))
    username: Mapped[str] = mapped_column(String(64))
    applied: Mapped[int] = mapped_column(Integer)
    conflicts: Mapped[int] = mapped_column(Integer)


class ItemConflict(Base):
    """Two workstations changed the same item from the same base (issue 18): both values kept, side by side,
    until someone enters the right one."""

    __tablename__ = "item_conflict"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("form_instance.id"))
    group_id: Mapped[str] = mapped_column(String(40))
    row_no: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[str] = mapped_column(String(8))
    kept: Mapped[str] = mapped_column(Text)  # JSON: value, unit, canonical, missing code/reason, author, ws, time
    other: Mapped[str] = mapped_column(Text)  # JSON: the same for the value not kept current
    status: Mapped[str] = mapped_column(String(16))  # open, resolved
    opened_utc: Mapped[str] = mapped_column(String(32))
    resolved_utc: Mapped[str | None] = mapped_column(String(32), default=None)
