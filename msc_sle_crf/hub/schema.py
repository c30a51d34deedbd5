"""The hub's schema: the site's Alembic migrations, run as the owner role, granting the application role its part."""

from __future__ import annotations

from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from msc_sle_crf.hub.ddl import APP_ROLE_ATTRIBUTE, check_role_name
from msc_sle_crf.hub.store import HubError, HubStore, connection_error
from msc_sle_crf.i18n import L
from msc_sle_crf.store.migrate import alembic_config, head_revision


def current_revision(store: HubStore) -> str | None:
    try:
        with store.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise connection_error(exc, store.params) from None


def has_tables(store: HubStore) -> bool:
    with store.read() as session:
        return bool(session.execute(text(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()")).scalar())


def upgrade(store: HubStore, app_role: str, target: str = "head") -> None:
    """Bring the hub's schema to head (one transaction: PostgreSQL's DDL is transactional)."""
    try:
        role = check_role_name(app_role)
    except ValueError:
        raise HubError(L(f"--app-role: '{app_role}' is not a plain PostgreSQL role name (lower-case letters, digits, "
                         "'_')", f"--app-role : « {app_role} » n'est pas un nom de rôle PostgreSQL simple (lettres "
                         "minuscules, chiffres, « _ »)")) from None
    with store.read() as session:
        row = session.execute(text("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = :r"),
                              {"r": role}).first()
        me = session.execute(text("SELECT current_user")).scalar()
    if row is None:
        raise HubError(L(f"the application role '{role}' does not exist on the hub's server: ask its administrator "
                         f"to create it (CREATE ROLE {role} LOGIN; GRANT CONNECT ON DATABASE ... TO {role})",
                         f"le rôle applicatif « {role} » n'existe pas sur le serveur du hub : demandez à son "
                         f"administrateur de le créer (CREATE ROLE {role} LOGIN; GRANT CONNECT ON DATABASE ... TO "
                         f"{role})"))
    if row[0] or row[1] or role == me:
        raise HubError(L(f"the application role '{role}' must be a role of least privilege: not a superuser, not "
                         "able to create roles, not the owner that runs the migrations",
                         f"le rôle applicatif « {role} » doit avoir le moindre privilège : ni superutilisateur, ni "
                         "créateur de rôles, ni le propriétaire qui exécute les migrations"))
    cfg = alembic_config()
    try:
        with store.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            cfg.attributes[APP_ROLE_ATTRIBUTE] = role
            command.upgrade(cfg, target)
    except SQLAlchemyError as exc:
        raise connection_error(exc, store.params) from None
    if target == "head" and current_revision(store) != head_revision():
        raise HubError(L("the hub's schema did not reach this program's version", "le schéma du hub n'a pas "
                         "atteint la version de ce programme"))


def require_current(store: HubStore) -> None:
    """The hub's schema is this program's: older, the owner upgrades it first (``hub upgrade``); newer, this
    program is too old for it. One line either way."""
    found, head = current_revision(store), head_revision()
    if found == head:
        return
    if found is None:
        raise HubError(L(f"{store.where} is not a hub (no schema): make it with 'hub init'",
                         f"{store.where} n'est pas un hub (aucun schéma) : créez-le avec « hub init »"))
    from msc_sle_crf.store.migrate import known_revisions

    if found not in known_revisions():
        raise HubError(L(f"the hub {store.where} was upgraded by a newer version of the program (schema {found}): "
                         "install that version", f"le hub {store.where} a été mis à jour par une version plus récente "
                         f"du programme (schéma {found}) : installez cette version"))
    raise HubError(L(f"the hub's schema ({found}) is older than this program's ({head}): its owner runs 'hub "
                     "upgrade' first", f"le schéma du hub ({found}) est plus ancien que celui de ce programme "
                     f"({head}) : son propriétaire lance d'abord « hub upgrade »"))
