"""Packets for one signed-in user (the CLI and the app screen): export and import through ``ServiceContext``."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from msc_sle_crf import audit
from msc_sle_crf.access import Perm
from msc_sle_crf.audit import Action
from msc_sle_crf.clock import format_stored
from msc_sle_crf.errors import Msg, StoreError
from msc_sle_crf.export.options import Cancelled
from msc_sle_crf.i18n import L, Lang
from msc_sle_crf.menu_texts import ACCOUNTS_PATH
from msc_sle_crf.security.keyslots import KIND_USER
from msc_sle_crf.services import reads
from msc_sle_crf.services.changes import Change, Changes
from msc_sle_crf.services.context import ServiceContext
from msc_sle_crf.store import account_state
from msc_sle_crf.store.tables import AppUser, AuditEvent, ItemConflict
from msc_sle_crf.sync import packets as P
from msc_sle_crf.sync import secret
from msc_sle_crf.trail_words import Side, conflict_side


@dataclass(frozen=True)
class ConflictInfo:
    """An item two workstations changed differently (both values, who, where, when), until it is resolved."""

    id: int
    kept: dict[str, Any]
    other: dict[str, Any]

    def line(self, side: dict[str, Any]) -> L:
        return L(f"{side.get('text')!r} by {side.get('user')} on {side.get('ws')}, {side.get('utc')}",
                 f"{side.get('text')!r} par {side.get('user')} sur {side.get('ws')}, {side.get('utc')}")

    def describe(self) -> L:
        kept, other = self.line(self.kept), self.line(self.other)
        return L(f"Conflict between workstations: kept {kept.en}; other value {other.en}. Enter the right value "
                 "(with a reason) to resolve it.",
                 f"Conflit entre postes : conservée {kept.fr} ; autre valeur {other.fr}. Saisissez la bonne valeur "
                 "(avec un motif) pour le résoudre.")


def _place(session: Session, study: Any, where: tuple[str, str, str, str, str | None]) -> L:
    """Where a conflict is, in words: subject / visit / form / item (its row in a repeating section, as the form
    numbers it), by their labels; an id the definitions do not know is said as stored. ``where``: subject, visit,
    form, item, repeat key as the trail stores them."""
    subject, visit, form_id, item_id, repeat_key = where
    def label(find: Callable[[], Any], stored: str) -> L:
        try:
            return find().label.as_l()  # type: ignore[no-any-return]
        except (KeyError, AttributeError):
            return L(stored, stored)

    visit_l = label(lambda: study.event(visit), visit)
    form = getattr(study, "forms", {}).get(form_id)
    form_l = label(lambda: form, form_id) if form is not None else L(form_id, form_id)
    item_l = label(lambda: form.item(item_id), item_id) if form is not None else L(item_id, item_id)
    group_id, _, row = (repeat_key or "").partition(":")
    try:
        repeating = form is not None and form.group_of(item_id).repeating
    except KeyError:
        repeating = False
    if repeating and row.isdigit():
        instance = reads.instance(session, reads.subject(session, subject).id, visit, form_id)
        rows = sorted(r.row_no for r in reads.live_rows(session, instance.id) if r.group_id == group_id) \
            if instance is not None else []
        n = rows.index(int(row)) + 1 if int(row) in rows else None
        item_l = L(f"{item_l.en} (row #{n})", f"{item_l.fr} (ligne #{n})") if n else \
            L(f"{item_l.en} (removed row)", f"{item_l.fr} (ligne supprimée)")
    return L(f"{subject} / {visit_l.en} / {form_l.en} / {item_l.en}", f"{subject} / {visit_l.fr} / {form_l.fr} / "
             f"{item_l.fr}")


def _form_line(session: Session, study: Any, data: dict[str, Any], where: tuple[str, str, str],  # noqa: PLR0917
               repeat_key: str | None, states: tuple[str | None, str | None]) -> L:
    """A form state kept, or a removed row kept, by an import (sync/merge.py), in words (errors.Msg)."""
    from msc_sle_crf.status import FormStatus

    place = _place(session, study, (*where, "", None))
    form = L(place.en.rstrip(" /"), place.fr.rstrip(" /"))
    if data.get("kind") == "row":
        row = L(f"{form.en} / row {repeat_key}", f"{form.fr} / ligne {repeat_key}")
        params: dict[str, Any] = {"row": row, "removed_on": str((data.get("removal") or {}).get("ws")),
                                  "changed_on": str((data.get("change") or {}).get("ws"))}
        msg = Msg.MERGE_ROW_KEPT
    else:
        def label(state: str | None) -> L:
            try:
                return FormStatus(str(state)).as_l()
            except ValueError:
                return L(str(state), str(state))

        params = {"form": form, "kept": label(states[1]), "other": label(states[0])}
        msg = Msg.MERGE_FORM_STATE_KEPT
    return L(msg.render(Lang.EN, **params), msg.render(Lang.FR, **params))


def conflict_line(place: L, kept: Side, other: Side, offset_min: int) -> L:
    """One conflict an import found, for the Packets screen and ``packet import``: where, both values (who, on which
    workstation, when in local time), which is shown, what to do."""
    k_en, k_fr = (conflict_side(kept, lang, offset_min) for lang in (Lang.EN, Lang.FR))
    o_en, o_fr = (conflict_side(other, lang, offset_min) for lang in (Lang.EN, Lang.FR))
    return L(f"{place.en}: {k_en} is shown (recorded first); {o_en} is kept beside it. Enter the right value on the "
             "form, with a reason, to resolve it.",
             f"{place.fr} : {k_fr} est affichée (enregistrée en premier) ; {o_fr} est conservée à côté. Saisissez "
             "la bonne valeur dans le formulaire, avec un motif, pour le résoudre.")


@dataclass(frozen=True)
class ImportOutcome:
    path: Path
    result: P.ImportResult
    # What the import wrote into this trail, as a change record: open screens refresh from it like from any write.
    changes: Changes = field(default_factory=Changes)
    utc_offset_min: int = 0  # this workstation's offset from UTC: times are shown as its wall clock shows them
    # Accounts this packet disabled or enabled again here by an administrator's act made on another workstation
    # (issue 18, store/account_state.py): (account, workstation). Only accounts enabled here with a key slot here
    # (a sign-in that changes): a disable made here is lifted only here.
    disabled_elsewhere: tuple[tuple[str, str], ...] = ()
    enabled_elsewhere: tuple[tuple[str, str], ...] = ()
    kept_last_admin: tuple[tuple[str, str], ...] = ()  # disabled elsewhere, but this workstation's last administrator
    enabled_but_disabled_here: tuple[tuple[str, str], ...] = ()  # enabled elsewhere; a disable made here holds
    created_elsewhere: tuple[tuple[str, str], ...] = ()  # created on another workstation, with no account here
    conflicts: tuple[L, ...] = field(default=(), kw_only=True)  # those this import opened, in words

    def line(self) -> L:
        line = self._applied()
        for account, ws in self.disabled_elsewhere:
            line = L(f"{line.en} {account} was disabled on {ws}: the account can no longer sign in on this "
                     "workstation (an open session of it ends at its next action). Its key to this database stays "
                     f"valid: an administrator must disable the account here too ({ACCOUNTS_PATH.en}) to "
                     "revoke it, which re-keys this database.",
                     f"{line.fr} {account} a été désactivé sur le poste {ws} : le compte ne peut plus se connecter "
                     "sur ce poste (une session ouverte se termine à sa prochaine action). Sa clé de cette base "
                     f"reste valable : un administrateur doit désactiver le compte ici aussi ({ACCOUNTS_PATH.fr}) "
                     "pour la révoquer, ce qui change la clé de cette base.")
        for account, ws in self.kept_last_admin:
            line = L(f"{line.en} {account} was disabled on {ws} but can still sign in on this workstation: it is its "
                     f"last administrator. Enrol another administrator here ({ACCOUNTS_PATH.en}), then "
                     f"disable {account} here.",
                     f"{line.fr} {account} a été désactivé sur le poste {ws} mais peut encore se connecter sur ce "
                     f"poste : c'est son dernier administrateur. Créez un autre administrateur ici "
                     f"({ACCOUNTS_PATH.fr}), puis désactivez {account} ici.")
        for account, ws in self.enabled_elsewhere:
            line = L(f"{line.en} {account} was enabled again on {ws}: the account can sign in on this workstation "
                     "again (with its password of this workstation).",
                     f"{line.fr} {account} a été réactivé sur le poste {ws} : le compte peut de nouveau se "
                     "connecter sur ce poste (avec son mot de passe de ce poste).")
        for account, ws in self.enabled_but_disabled_here:
            line = L(f"{line.en} {account} was enabled again on {ws} but stays disabled on this workstation: it was "
                     f"disabled here, and only an enable made here lifts that. Enable it here if wanted "
                     f"({ACCOUNTS_PATH.en}).",
                     f"{line.fr} {account} a été réactivé sur le poste {ws} mais reste désactivé sur ce poste : il "
                     f"a été désactivé ici, et seule une réactivation faite ici lève cette désactivation. "
                     f"Réactivez-le ici si besoin ({ACCOUNTS_PATH.fr}).")
        for account, ws in self.created_elsewhere:
            line = L(f"{line.en} {account} was created on {ws}; it signs in there only. To let it work on this "
                     f"workstation, add it here with the same user name ({ACCOUNTS_PATH.en}).",
                     f"{line.fr} {account} a été créé sur le poste {ws} ; il ne se connecte que là-bas. Pour qu'il "
                     f"travaille sur ce poste, ajoutez-le ici avec le même identifiant ({ACCOUNTS_PATH.fr}).")
        return line

    def _applied(self) -> L:
        r = self.result
        if r.duplicate:
            when = format_stored(r.imported_utc, self.utc_offset_min, seconds=False) if r.imported_utc else "?"
            return L(f"{self.path.name}: already imported on {when} (packet {r.seq} of {r.origin_ws}); "
                     "nothing changed.",
                     f"{self.path.name} : déjà importé le {when} (paquet {r.seq} de {r.origin_ws}) ; rien "
                     "n'a changé.")
        return L(f"{self.path.name}: packet {r.seq} of {r.origin_ws} applied: {r.copied} record(s) copied, "
                 f"{r.skipped} already here, {r.conflicts} conflict(s).",
                 f"{self.path.name} : paquet {r.seq} de {r.origin_ws} appliqué : {r.copied} enregistrement(s) "
                 f"copié(s), {r.skipped} déjà présent(s), {r.conflicts} conflit(s).")


def _origin_ws(origin: str | None) -> str | None:
    """The workstation a copied record was first recorded on (None: this workstation's own record)."""
    ws = (audit.parse_origin(origin) or {}).get("ws")
    return str(ws) if ws else None


def packet_header(path: Path) -> tuple[str, int] | None:
    """The origin workstation and number a packet's clear header announces (None: no readable header). Only for
    putting several files in chain order: the import checks everything (the header is authenticated there)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(P.MAGIC) + 4096)
    except OSError:
        return None
    end = head.find(b"\n", len(P.MAGIC))
    if not head.startswith(P.MAGIC) or end < 0:
        return None
    try:
        header = json.loads(head[len(P.MAGIC):end])
        return str(header["ws"]), int(header["seq"])
    except (ValueError, KeyError, TypeError):
        return None


def chain_order(paths: Iterable[Path]) -> list[Path]:
    """Several packet files in the order they must be applied: by origin workstation, then by number; files without
    a readable header last, by name (their import says why they are refused)."""
    def key(path: Path) -> tuple[int, str, int, str]:
        header = packet_header(path)
        return (0, header[0], header[1], path.name) if header else (1, "", 0, path.name)

    return sorted((Path(p) for p in paths), key=key)


@contextlib.contextmanager
def _interruptible(session: Any, cancelled: Callable[[], bool] | None) -> Iterator[None]:
    """While the block runs, ``cancelled()`` is asked before each SQL statement (and, inside a long statement, by
    SQLite's progress handler): once it is true the work stops with ``Cancelled`` and the caller's transaction is
    rolled back. Both are removed before the caller commits, so a cancel never interrupts the COMMIT itself."""
    if cancelled is None:
        yield
        return
    stop = cancelled
    conn = session.connection()

    def before_statement(*_args: Any) -> None:
        if stop():
            raise Cancelled

    raw = conn.connection.driver_connection
    handler = getattr(raw, "set_progress_handler", None)  # SQLite only (the hub ingests through the CLI)
    event.listen(conn, "before_cursor_execute", before_statement)
    if handler is not None:
        handler(lambda: 1 if stop() else 0, 1000)
    try:
        yield
    finally:
        event.remove(conn, "before_cursor_execute", before_statement)
        if handler is not None:
            handler(None, 0)


class Packets:
    def __init__(self, ctx: ServiceContext, study: Any) -> None:
        self.ctx = ctx
        self.study = study

    def _definitions(self) -> dict[str, tuple[str, str, str]] | None:
        """The definitions this workstation runs (form id -> version, hash): a packet's forms must match them."""
        from msc_sle_crf.formdef.definitions import bound_forms

        return bound_forms(self.study) if self.study is not None else None

    def _require(self) -> None:
        """Whoever handles the data (VIEW_DATA) or the encrypted copies of the database (BACKUP: administrators)."""
        self.ctx.require(Perm.BACKUP if self.ctx.can(Perm.BACKUP) else Perm.VIEW_DATA)

    def _keys(self, session: Session, data: bytes = b"", code: str | None = None,
              name: str = "packet") -> tuple[bytes, ...]:
        """The site's packet secret (made in this transaction if this database has none yet): the generation the
        packet's header names, alone (taken from its seal with ``code`` if this database does not hold it yet); for a
        header naming none, every generation and the first version's key (a workstation not yet upgraded)."""
        ctx = self.ctx
        return secret.import_keys(session, ctx.clock, ctx.site.workstation, ctx.site.signer(ctx.actor.username),
                                  ctx.actor.username, ctx.actor.role.value, db_key=ctx.store.key,
                                  db_id=ctx.site.keyfile.db_id, header=P.header_of(data), code=code, name=name)

    def export(self, out_dir: Path, *, cancelled: Callable[[], bool] | None = None) -> P.ExportResult | None:
        """Write this workstation's packet into ``out_dir``; None: nothing new since the last packet.
        ``cancelled`` (checked from another thread): raises ``Cancelled`` with nothing recorded and no file, until
        the file is in place; after that the packet is written and recorded whatever ``cancelled`` says."""
        self._require()
        ctx = self.ctx
        actor = ctx.actor
        stop = cancelled or (lambda: False)
        try:
            with ctx.store.write(data=False) as session:
                if stop():
                    raise Cancelled
                with _interruptible(session, cancelled):
                    gen = secret.current(session, ctx.clock, ctx.site.workstation, ctx.site.signer(actor.username),
                                         actor.username, actor.role.value, db_key=ctx.store.key,
                                         db_id=ctx.site.keyfile.db_id)  # its newest generation, named in the header
                    result = P.export_packet(session, ctx.clock, ctx.site.workstation,
                                             ctx.site.signer(actor.username), actor.username, actor.role.value,
                                             self.study, Path(out_dir), packet_key=gen.secret,
                                             db_id=ctx.site.keyfile.db_id, key_header=gen.header())
        except Exception:
            if stop():
                raise Cancelled from None
            raise
        self._note_head()
        return result

    def import_file(self, path: Path, *, cancelled: Callable[[], bool] | None = None,
                    code: str | None = None) -> ImportOutcome:
        """Check and apply one packet file (one transaction: all or nothing). ``cancelled`` (checked from another
        thread while the import runs): raises ``Cancelled`` after rolling everything back: data and trail stay
        exactly as before. ``code``: the one-time code of the renewal of the site's packet secret the packet is
        under, when this database does not hold it yet (shown to the administrator of the workstation that
        renewed it; never stored)."""
        self._require()
        path = Path(path)
        stop = cancelled or (lambda: False)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise StoreError(Msg.INPUT_UNREADABLE, path=str(path)[:300],
                             reason=L(str(exc.strerror or exc), str(exc.strerror or exc))) from None
        ctx = self.ctx
        actor = ctx.actor
        try:
            with ctx.store.write() as session:
                if stop():
                    raise Cancelled
                before = int(session.execute(select(func.max(AuditEvent.id))).scalar() or 0)
                with _interruptible(session, cancelled):
                    result = P.import_packet(session, ctx.clock, ctx.site.workstation,
                                             ctx.site.signer(actor.username), actor.username, actor.role.value,
                                             data, packet_key=self._keys(session, data, code, path.name),
                                             expected_db_id=ctx.site.keyfile.db_id,
                                             name=path.name, definitions=self._definitions())
                if stop():  # the last moment a cancel is heard: the transaction is not committed yet
                    raise Cancelled
        except Exception:
            if stop():
                raise Cancelled from None
            raise
        # the copies may bind keys and disable or enable accounts here: every cached directory and account state
        # of this program is read again (an open session of an account disabled elsewhere ends at its next action)
        ctx.site.binding_epoch += 1
        ctx.forget_directory()
        self._note_head()
        with ctx.read() as session:
            rows = session.execute(select(
                AuditEvent.action, AuditEvent.subject, AuditEvent.visit, AuditEvent.form, AuditEvent.item,
                AuditEvent.repeat_key, AuditEvent.new_value, AuditEvent.origin).where(AuditEvent.id > before)).all()
            written = [(*row[:7], _origin_ws(row[7])) for row in rows]
            news = self._account_news(session, written, before)
            conflicts = self._conflicts_opened(session, before)
        result.conflict_lines = [line.get() for line in conflicts]  # said, not the merge's internal codes
        known = {a.value for a in Action}
        changes = Changes(tuple(Change.of(Action(a), subject=subj, visit=visit, form=form, item=item,
                                          repeat_key=repeat, new_value=new)
                                for a, subj, visit, form, item, repeat, new, _ws in written if a in known))
        return ImportOutcome(path, result, changes, ctx.clock.local_offset_minutes(), *news, conflicts=conflicts)

    def _conflicts_opened(self, session: Session, before: int) -> tuple[L, ...]:
        """The conflicts the import just opened here (its own ``merge_conflict`` records on an item, not the copies
        of another workstation's), each in words from the facts the record holds."""
        offset = self.ctx.clock.local_offset_minutes()
        rows = session.execute(select(AuditEvent.subject, AuditEvent.visit, AuditEvent.form, AuditEvent.item,
                                      AuditEvent.repeat_key, AuditEvent.detail, AuditEvent.old_value,
                                      AuditEvent.new_value).where(
            AuditEvent.id > before, AuditEvent.action == Action.MERGE_CONFLICT.value, AuditEvent.origin.is_(None))
            .order_by(AuditEvent.id)).all()
        lines = []
        for subject, visit, form, item, repeat_key, detail, old, new in rows:
            try:
                data = json.loads(detail or "")
            except ValueError:
                continue
            if not isinstance(data, dict):
                continue
            if data.get("kind") in ("form", "row"):  # a form's state, a row kept (h69)
                lines.append(_form_line(session, self.study, data, (str(subject), str(visit), str(form)), repeat_key,
                                        (old, new)))
                continue
            if data.get("kind") != "item" or not isinstance(data.get("kept"), dict) \
                    or not isinstance(data.get("other"), dict):
                continue
            place = _place(session, self.study, (str(subject), str(visit), str(form), str(item), repeat_key))
            lines.append(conflict_line(place, data["kept"], data["other"], offset))
        return tuple(lines)

    def _account_news(self, session: Session, written: list[tuple[Any, ...]], before: int
                      ) -> tuple[tuple[tuple[str, str], ...], ...]:
        """The accounts whose sign-in here this import changed: disabled, or enabled again, by another
        workstation's act (the one that holds now, not before the import), and those a disable made elsewhere
        does not stop because they are this workstation's last administrator. Only accounts enabled here with a
        key slot here: the others could not sign in here anyway."""
        site = self.ctx.site
        copied = dict.fromkeys(str(item) for a, _s, _v, _f, item, _r, _n, ws in written
                               if a in (Action.USER_DISABLE.value, Action.USER_ENABLE.value) and item and ws)
        disabled: list[tuple[str, str]] = []
        enabled: list[tuple[str, str]] = []
        kept: list[tuple[str, str]] = []
        enables = {str(item): str(ws) for a, _s, _v, _f, item, _r, _n, ws in written
                   if a == Action.USER_ENABLE.value and item and ws}
        not_here: list[tuple[str, str]] = []  # an enable copied for an account disabled here: it stays disabled
        for account in copied:
            active = session.execute(select(AppUser.active).where(AppUser.username == account)).scalar()
            if active is False and account in enables:
                not_here.append((account, enables[account]))
            if site.keyfile.find(KIND_USER, account) is None or not active:
                continue
            rows = account_state.records(session, account)
            was = account_state.holding(account, [r for r in rows if int(r[0]) <= before])
            now = account_state.holding(account, rows)
            if now is not None and site.disabled_elsewhere(account, session) is None:
                kept.append((account, now.ws))
            elif now is not None and was is None:
                disabled.append((account, now.ws))
            elif now is None and was is not None:
                act = account_state.latest(rows)
                enabled.append((account, str(act[2]) if act and act[2] else was.ws))
        created = []  # accounts made on another workstation: they sign in there only until enrolled here
        for a, _s, _v, _f, item, _r, _n, ws in written:
            if a == Action.USER_ADD.value and item and ws and session.execute(
                    select(AppUser.id).where(AppUser.username == str(item))).scalar() is None:
                created.append((str(item), str(ws)))
        return tuple(disabled), tuple(enabled), tuple(kept), tuple(not_here), tuple(dict.fromkeys(created))

    def _note_head(self) -> None:
        """The trail head noted outside the WAL, as every write of the program does (store/head.py)."""
        from msc_sle_crf.store.tables import AuditEvent

        with self.ctx.read() as session:
            last = session.execute(select(AuditEvent.id, AuditEvent.hash, AuditEvent.ts_utc)
                                   .order_by(AuditEvent.id.desc()).limit(1)).first()
        if last is not None:
            self.ctx.site.note_head(int(last[0]), str(last[1]), str(last[2]))

    def conflicts(self, ref: Any) -> dict[tuple[str, int, str], ConflictInfo]:
        """The open conflicts of one form, by item (what the form shows on the field)."""
        return dict(self._conflicts(ref, only_open=True))

    def conflicts_by_id(self, ref: Any) -> dict[int, ConflictInfo]:
        """Every conflict of one form, open or resolved, by id (the id of its automatic query too): the query and
        the history say it again in the reader's language from these facts."""
        return {info.id: info for _key, info in self._conflicts(ref, only_open=False)}

    def _conflicts(self, ref: Any, *, only_open: bool) -> list[tuple[tuple[str, int, str], ConflictInfo]]:
        import json

        self.ctx.require(Perm.VIEW_DATA, subject=ref.subject)
        with self.ctx.read() as session:
            subject = reads.subject(session, ref.subject)
            instance = reads.instance(session, subject.id, ref.event, ref.form)
            if instance is None:
                return []
            query = select(ItemConflict).where(ItemConflict.instance_id == instance.id)
            if only_open:
                query = query.where(ItemConflict.status == "open")
            rows = session.execute(query.order_by(ItemConflict.id)).scalars().all()
            return [((c.group_id, c.row_no, c.item_id), ConflictInfo(c.id, json.loads(c.kept), json.loads(c.other)))
                    for c in rows]
