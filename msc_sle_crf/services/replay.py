"""The trail against the data (issue 14, item 4): replay the audit trail and compare it with what is stored.

Every stored value, form state, row removal, electronic signature, source-data verification mark, query and its
messages, subject, infusion-day event, account, personal certificate and site setting must be what the trail says it
became, down to the columns the trail determines only with the writer's rules: a value shown as confirmed (its record
confirmed a warning), the check or event a bedside event refers to, an account's forced password change, and the
times a row keeps beside its record (exactly its record's when the writer stamped both from one clock reading,
services/row_times.py; within SKEW_SECONDS of it for records written before). Anything the trail does not
explain (a value changed with raw SQL and no audit record, a signature row nobody signed in the trail, a query
message nobody wrote, a role raised by hand) is named: subject / visit / form / item and row.

Memory: the replayed state is one entry per stored value, row, form, query... (the size of the data, not of the
trail); the records themselves stream through.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from msc_sle_crf.audit import RECOVERY_SIGNER
from msc_sle_crf.clock import parse_iso_utc
from msc_sle_crf.security import ca, packet_secret
from msc_sle_crf.services.sdv_hash import NO_VALUE_HASH, hash_of_value
from msc_sle_crf.site_settings import DEFAULT_SETTINGS
from msc_sle_crf.store.site import CA_CERT_SETTING
from msc_sle_crf.sync.identity import FIRST_WS, SETTING_KEYS
from msc_sle_crf.sync.ownership import added_block, added_ws, handover_problem, number_problem, opened_ws

# indexes in audit.STORED_FIELDS order
_ID, _TS, _USER, _ROLE, _ACTION, _SUBJ, _VISIT, _FORM, _ITEM = 0, 1, 3, 4, 6, 7, 8, 9, 10
_REPEAT, _OLD, _NEW, _DETAIL = 11, 12, 13, 15
_SIGNER = 18
_ROLE = 4
_ORIGIN = 20  # audit.VERIFY_FIELDS: set on a copy of another workstation's record (issue 18)
# What a copy never changes here: accounts, keys and settings are each workstation's own (docs/workstations.md).
_LOCAL_ONLY = frozenset({"site_init", "user_add", "user_disable", "user_enable", "key_bind", "setting_change",
                         "certificate", "packet_secret", "password_change", "password_reset"})
_REASON = 14
_CREATED_UNDER = re.compile(r"created under version \S+ \(([0-9a-f]{12,64})\)")
_TIMER = re.compile(r" ?\[timer: (\S+) s since boot (\S+)\]\Z")
_CANONICAL = re.compile(r"(?:^|; )= (\S+) ")
_SIGN = re.compile(r"meaning: (.*); sha256: ([0-9a-f]{64})")
_QUERY = re.compile(r"query #(\d+) (\w+): ", re.DOTALL)
_RESOLVED = re.compile(r"conflict #(\d+) resolved")
_CHANGE_FIELDS = ("text", "user", "ws", "id", "utc")  # one side of a conflict as its merge_conflict record says
_MISSING = object()
_IDENTITY_SQL = ("SELECT key, value FROM site_setting WHERE key IN ("  # noqa: S608 - placeholders only
                 + ", ".join("?" * len(SETTING_KEYS)) + ")")
# What a conflict between workstations keeps: the less advanced state (sync/merge.py)
FORM_RANK = {"draft": 0, "complete": 1, "verified": 2, "signed": 3, "locked": 4}
QUERY_RANK = {"open": 0, "answered": 1, "closed": 2}
# A change of a form's content is a change of the form (h69, docs/workstations.md "Conflicts"): the state a form is in
# just after a record of its content when no state record follows it (services/entry.py writes ``data_entry`` on a
# form not completed, ``data_change`` on a completed one, whose verified / signed state goes back to complete with a
# record of its own; a new row moves a completed form to draft with one). A side of a form state conflict may be one.
CONTENT_STATE = {"data_entry": "draft", "data_change": "complete", "row_add": "draft"}
# A row removal says in its new value the state it left its form in (since h79: "draft" or "complete", a verified or
# signed form going back to complete with a record of its own); one written before says nothing and is no side.
REMOVAL_STATES = frozenset({"draft", "complete"})


def content_state(action: str, new: str | None) -> str | None:
    """The state a record of a form's content leaves the form in, or None (not one, or a removal written before
    h79): what a side of a form state conflict may name (sync/merge.py ``_form_state``)."""
    if action == "row_remove":
        return new if new in REMOVAL_STATES else None
    return CONTENT_STATE.get(action)
MAX_NAMED = 500  # what is unexplained beyond this is counted, not listed (a wholesale rewrite)
_SITE_INIT_INTERNAL = {"db_id", "training", "recovery_keys", "ca_fingerprint"}
_SITE_INIT_COMPARED = frozenset({"db_id", "training"})  # settings only the site_init record sets
# A row's own time (a query opened, a message, an SDV mark) was read inside the transaction whose record was stamped
# when it ended (``Tx.seal``): a few milliseconds later. More than this apart, the row's time is not its record's.
# Since services/row_times.py, a workstation stamps both from one reading once its ``row_times`` marker is in the
# trail: its later records' times (``_Exact``) must equal their rows' exactly; the tolerance stays for the others.
SKEW_SECONDS = 60
_CONFIRMED = "confirmed: "  # a value record's detail when the site confirmed a warning on it (services/entry.py)


def describe(value: str | None, unit: str | None, missing: str | None, missing_reason: str | None) -> str | None:
    """How a stored value reads in the audit trail (the same text as ``entry._describe``)."""
    if missing:
        return f"[{missing}] {missing_reason or ''}".strip()
    if value is None:
        return None
    return f"{value} {unit}" if unit else value


@dataclass(frozen=True)
class Unexplained:
    """Something stored that the trail does not explain."""

    where: str  # subject / visit / form / item (row)
    what: str

    def line(self) -> str:
        return f"{self.where}: {self.what}"


def _where(subject: str | None, visit: str | None = None, form: str | None = None, item: str | None = None,
           row: str | None = None) -> str:
    parts = [f"subject {subject}" if subject else None, f"visit {visit}" if visit else None,
             f"form {form}" if form else None, f"item {item}" if item else None, f"row {row}" if row else None]
    return " / ".join(p for p in parts if p)


def _conflict_where(key: tuple[str, str, str, str, int, str]) -> str:
    return _where(key[0], key[1], key[2], key[5], f"{key[3]}:{key[4]}")


def _side(text: str | None) -> dict[str, Any] | None:
    try:
        data = json.loads(text or "")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


class _Exact(str):
    """A record's time that its row must hold exactly (the writer stamped both from one clock reading)."""

    __slots__ = ()


def _apart(stored: Any, recorded: str) -> bool:
    """A row's time is not its record's: different (``_Exact``), or more than SKEW_SECONDS apart (or not a time)."""
    if isinstance(recorded, _Exact):
        return str(stored) != str(recorded)
    try:
        when = parse_iso_utc(recorded)
    except ValueError:
        return False  # not a time the program wrote: nothing to compare with
    try:
        return abs((parse_iso_utc(str(stored)) - when).total_seconds()) > SKEW_SECONDS
    except ValueError:
        return True


def _split(repeat_key: str | None) -> tuple[str, int] | None:
    if not repeat_key or ":" not in repeat_key:
        return None
    group, _, row = repeat_key.rpartition(":")
    try:
        return group, int(row)
    except ValueError:
        return None


class Replay:
    """Consumes audit records in order (``__call__``), then ``compare(conn)`` lists what the data has that the
    trail does not explain."""

    def __init__(self) -> None:
        self.subjects: dict[str, dict[str, Any]] = {}
        self.forms: dict[tuple[str, str, str], str] = {}
        self.definitions: dict[tuple[str, str, str], str] = {}  # (a prefix of) each instance's definition hash
        self.values: dict[tuple[str, str, str, str, int, str], tuple[str | None, str | None]] = {}
        self.rows: dict[tuple[str, str, str, str, int], bool] = {}
        # (subject, visit, form, meaning, content hash, username, role): a signature row's role is its record's
        self.signatures: Counter[tuple[str, str, str, str, str, str, str]] = Counter()
        self.sdv: Counter[tuple[str, str, str, str, int, str, str]] = Counter()
        self.sdv_values: dict[tuple[str, str, str, str, int, str, str], set[str | None]] = {}
        self.sdv_times: dict[tuple[str, str, str, str, int, str, str], list[str]] = {}  # when each mark was recorded
        self.queries: dict[int, dict[str, Any]] = {}
        # per value: did the record that set it confirm a warning? (item_value.confirmed may be set only then)
        self.confirmed: dict[tuple[str, str, str, str, int, str], bool] = {}
        # per subject, the product checks recorded so far (their wall times); per second check (subject, wall time,
        # user), how many there were before it: the check it confirms is one of those (services/bedside.py)
        self.product_checks: dict[str, list[str]] = {}
        self.second_checks: dict[tuple[str, str, str], int] = {}
        self.certificates: Counter[tuple[str, str]] = Counter()  # personal certificates issued: (account, serial)
        # item conflicts between workstations (issue 18): what each merge_conflict record said, and when the
        # conflict_resolved records came (a conflict voids the form's signatures and the item's SDV marks)
        self.conflicts: dict[int, dict[str, Any]] = {}
        self.resolved: dict[int, str] = {}
        self.resolved_times: dict[int, list[str]] = {}  # each conflict_resolved record's time, per conflict
        self.infusion: Counter[tuple[Any, ...]] = Counter()
        self.users: dict[str, dict[str, Any]] = {}
        self.settings: dict[str, str] = {}
        self.ca_fingerprint: str | None = None  # the site CA as the trail last recorded it (by an administrator)
        self.ca_refused: list[str] = []  # site CA changes recorded by someone who is not an administrator
        self.workstations: dict[str, dict[str, str]] = {}  # identity settings each workstation was set up with
        # the fingerprints of the generations of the site's packet secret this trail's own records announced
        self.packet_secrets: list[str] = []
        self.blocks: dict[str, tuple[int, int]] = {}  # subject numbers each added workstation was given
        # the workstations the site created (WS-01 and each admin-signed ``workstation_add``); None until the replay
        # is fed the ``workstation_add`` records (a replay of some subjects' records only: not checked)
        self.added: set[str] | None = None
        self.handovers_refused: list[tuple[str, str]] = []  # (subject, why): a subject_handover that is not valid
        # the records each side of a conflict between workstations may name (issue 18 insider round): per item,
        # form and query, (workstation, id as written there, what it set) of each record that set it
        self.value_records: dict[tuple[str, str, str, str, int, str],
                                 list[tuple[str, int, str | None, str | None, bool]]] = {}  # ... its converted
        # value, and whether it confirmed a warning
        self.form_records: dict[tuple[str, str, str], list[tuple[str, int, str | None]]] = {}
        self.query_records: dict[int, list[tuple[str, int, str | None]]] = {}
        self.row_removals: dict[tuple[str, str, str, str, int], list[tuple[str, int]]] = {}  # each row's removals
        self.merges_refused: list[tuple[str, str]] = []  # (subject, why): a merge_conflict that is not valid
        self.form_decisions: dict[tuple[str, str, str], set[frozenset[tuple[str, Any]]]] = {}  # sides decided (h68)
        # the workstation that wrote this trail's own records (no origin): WS-01 until this database's own
        # ``workstation_open … workstation_id`` record (a fork's first own records) names another
        self.writer = FIRST_WS
        # the workstations whose ``row_times`` marker was replayed: their later timed records are compared exactly
        self.exact: set[str] = set()

    # ----- the trail ----------------------------------------------------------------------------------------------
    def __call__(self, row: Sequence[Any]) -> None:
        if len(row) > _ORIGIN and row[_ORIGIN] is not None and row[_ACTION] in _LOCAL_ONLY:
            return  # a copy of another workstation's account or setting record: this workstation's stay its own
        handler = getattr(self, f"_on_{row[_ACTION]}", None)
        if handler is not None:
            handler(row)

    def _on_site_init(self, row: Sequence[Any]) -> None:
        try:
            data = json.loads(row[_NEW] or "{}")
        except ValueError:
            return
        for key, value in data.items():
            if key not in _SITE_INIT_INTERNAL and isinstance(value, str):
                self.settings[key] = value
        if isinstance(data.get("ca_fingerprint"), str):
            self.ca_fingerprint = data["ca_fingerprint"]
        if isinstance(data.get("db_id"), str):
            self.settings["db_id"] = data["db_id"]
        if isinstance(data.get("training"), bool):  # stored as "1" / "0" (store/site.py)
            self.settings["training"] = "1" if data["training"] else "0"

    def _on_certificate(self, row: Sequence[Any]) -> None:
        """The site CA (the trust root of every PDF) may be replaced by an administrator only; a personal certificate
        is issued by an administrator or with the recovery code (store/site.py ``issue_certificate``)."""
        account = self.users.get(row[_SIGNER] or "") or {}
        if row[_ITEM] != "site CA":
            if row[_ITEM] and (row[_SIGNER] == RECOVERY_SIGNER or (account.get("role") == "admin"
                                                                   and account.get("active"))):
                self.certificates[(row[_ITEM], row[_NEW] or "")] += 1
            return
        if account.get("role") == "admin" and account.get("active"):
            self.ca_fingerprint = row[_NEW]
        else:
            self.ca_refused.append(f"record #{row[_ID]} by '{row[_SIGNER]}'")

    def _on_setting_change(self, row: Sequence[Any]) -> None:
        if row[_ITEM] and row[_ITEM] in DEFAULT_SETTINGS:
            self.settings[row[_ITEM]] = row[_NEW]

    def _on_packet_secret(self, row: Sequence[Any]) -> None:
        """The site's packet secret (issue 18): the setting must hold exactly the generations these records announced
        (made, renewed here, received here with a one-time code; a copy of another workstation's is not one of this
        database's)."""
        try:
            data = json.loads(row[_NEW] or "{}")
        except ValueError:
            data = {}
        fp = str(data.get("fingerprint")) if isinstance(data, dict) else ""
        if fp not in self.packet_secrets:
            self.packet_secrets.append(fp)

    def written_on(self, row: Sequence[Any]) -> str:
        """The workstation that wrote a record: a copy's origin, else this trail's writer at that point."""
        if len(row) > _ORIGIN and row[_ORIGIN]:
            try:
                origin = json.loads(row[_ORIGIN])
            except ValueError:
                origin = None
            return str(origin.get("ws")) if isinstance(origin, dict) else "?"
        return self.writer

    def identity(self, row: Sequence[Any]) -> tuple[str, int]:
        """Which record this is everywhere: (workstation, id there): a copy's origin, else this trail's own."""
        if len(row) > _ORIGIN and row[_ORIGIN]:
            try:
                origin = json.loads(row[_ORIGIN])
                return str(origin["ws"]), int(origin["id"])
            except (ValueError, TypeError, KeyError):
                return "?", 0
        return self.writer, int(row[_ID])

    def _on_row_times(self, row: Sequence[Any]) -> None:
        self.exact.add(self.identity(row)[0])

    def _time(self, row: Sequence[Any]) -> str:
        """A timed record's time: ``_Exact`` once its workstation stamps rows and records from one reading."""
        ts = str(row[_TS] or "")
        if self.exact and self.identity(row)[0] in self.exact:
            return _Exact(ts)
        return ts

    def _note_form(self, row: Sequence[Any]) -> None:
        if row[_SUBJ] and row[_VISIT] and row[_FORM] and not row[_ITEM]:
            self.form_records.setdefault((row[_SUBJ], row[_VISIT], row[_FORM]), []).append(
                (*self.identity(row), row[_NEW]))

    def _on_workstation_open(self, row: Sequence[Any]) -> None:
        ws = opened_ws(row[_DETAIL])
        if ws is not None and row[_ITEM] == "workstation_id" and not (len(row) > _ORIGIN and row[_ORIGIN]):
            self.writer = ws  # this database became WS-nn (its first own records)
        if ws is not None and row[_ITEM]:
            self.workstations.setdefault(ws, {})[row[_ITEM]] = row[_NEW]

    def note_workstations(self) -> None:
        """This replay is fed every ``workstation_add`` record (a whole trail, or a packet import's subjects plus
        those records): a handover's target is then checked against them."""
        if self.added is None:
            self.added = {FIRST_WS}

    def _on_workstation_add(self, row: Sequence[Any]) -> None:
        self.note_workstations()
        ws = added_ws(row[_ROLE], row[_ITEM], row[_NEW])
        if ws is not None and self.added is not None:
            self.added.add(ws)
        block = added_block(row[_ROLE], row[_ITEM], row[_NEW])
        if block is not None:
            self.blocks.setdefault(*block)

    def _on_subject_handover(self, row: Sequence[Any]) -> None:
        """Valid only on the subject's owner at that point, by a role that may hand over, to a workstation the site
        created (sync/ownership.handover_problem); an invalid one changes nothing and is reported."""
        subject = row[_SUBJ]
        if subject not in self.subjects:
            return
        made_on = self.written_on(row)
        problem = handover_problem(role=row[_ROLE], made_on=made_on, owner=self.subjects[subject].get("owner_ws"),
                                   target=row[_NEW], added=self.added)
        if problem is not None:
            self.handovers_refused.append((subject, f"subject_handover record #{row[_ID]} by '{row[_USER]}' on "
                                                    f"{made_on} to {row[_NEW]} is not valid: {problem.en}"))
            return
        self.subjects[subject]["owner_ws"] = row[_NEW]

    def _on_user_add(self, row: Sequence[Any]) -> None:
        try:
            data = json.loads(row[_NEW] or "{}")
        except ValueError:
            return
        if row[_ITEM]:
            # whether its first password must be changed (recorded since 3 December 2026; unknown before)
            must_change = data.get("must_change_password") if isinstance(data, dict) else None
            self.users[row[_ITEM]] = {"role": data.get("role"), "full_name": data.get("full_name"), "active": True,
                                      "must_change_password": must_change if isinstance(must_change, bool) else None}

    def _on_user_disable(self, row: Sequence[Any]) -> None:
        if row[_ITEM] in self.users:
            self.users[row[_ITEM]]["active"] = False

    def _on_user_enable(self, row: Sequence[Any]) -> None:
        if row[_ITEM] in self.users:  # under a one-time password (services/accounts.py)
            self.users[row[_ITEM]].update(active=True, must_change_password=True)

    def _on_password_change(self, row: Sequence[Any]) -> None:
        if row[_ITEM] in self.users:  # chosen by its owner
            self.users[row[_ITEM]]["must_change_password"] = False

    def _on_password_reset(self, row: Sequence[Any]) -> None:
        """A one-time password from an administrator, to be changed; one set with the recovery code is chosen by
        whoever holds it (store/site.py; a step completed after an interruption is written "on behalf of" it)."""
        if row[_ITEM] in self.users:
            by_code = row[_USER] == RECOVERY_SIGNER or (row[_DETAIL] or "").startswith(
                f"on behalf of {RECOVERY_SIGNER}: ")
            self.users[row[_ITEM]]["must_change_password"] = not by_code

    def _on_create(self, row: Sequence[Any]) -> None:
        subject, visit, form = row[_SUBJ], row[_VISIT], row[_FORM]
        if form == "subject" and subject:
            try:
                data = json.loads(row[_NEW] or "{}")
            except ValueError:
                data = {}
            self.subjects[subject] = {**data, "status": "screening"}
            made_on = self.written_on(row)
            problem = number_problem(subject, made_on, self.blocks)  # inside its workstation's block (sync/ownership)
            if problem is not None:
                self.handovers_refused.append((subject, f"subject {subject} (create record #{row[_ID]} by "
                                                        f"'{row[_USER]}' on {made_on}) is not valid: {problem.en}"))
        elif subject and visit and form:
            self.forms[(subject, visit, form)] = row[_NEW] or "draft"
            created = _CREATED_UNDER.search(row[_DETAIL] or "")
            if created is not None:  # the definition the instance was created under (its hash, or its start)
                self.definitions[(subject, visit, form)] = created.group(1)

    def _on_data_entry(self, row: Sequence[Any]) -> None:
        split = _split(row[_REPEAT])
        if split is None or not (row[_SUBJ] and row[_VISIT] and row[_FORM] and row[_ITEM]):
            return
        match = _CANONICAL.search(row[_DETAIL] or "")
        key = (row[_SUBJ], row[_VISIT], row[_FORM], split[0], split[1], row[_ITEM])
        self.values[key] = (row[_NEW], match.group(1) if match else None)
        self.confirmed[key] = (row[_DETAIL] or "").startswith(_CONFIRMED)
        self.value_records.setdefault(key, []).append((*self.identity(row), *self.values[key], self.confirmed[key]))
        self._note_content(row)

    _on_data_change = _on_data_entry

    def _note_content(self, row: Sequence[Any]) -> None:
        """A record of a form's content: a side of a form state conflict may name it (sync/merge.py)."""
        state = content_state(str(row[_ACTION]), row[_NEW])
        if state is not None:
            self.form_records.setdefault((row[_SUBJ], row[_VISIT], row[_FORM]), []).append(
                (*self.identity(row), state))

    def _on_merge_conflict(self, row: Sequence[Any]) -> None:
        """Two workstations changed the same thing from the same base (issue 18): the state kept current. Valid only
        when it names the records of its two sides (``_merge_problem``); one that is not changes nothing and is
        reported (an insider's made-up conflict would otherwise sign a form, close a query, set a value)."""
        try:
            data = json.loads(row[_DETAIL] or "{}")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            data = {}
        problem = self._merge_problem(row, data)
        if problem is not None:
            self.merges_refused.append((str(row[_SUBJ] or ""), f"merge_conflict record #{row[_ID]} by "
                                                              f"'{row[_USER]}' is not valid: {problem}"))
            return
        kind = data.get("kind")
        if kind == "item":
            split = _split(row[_REPEAT])
            assert split is not None
            key = (row[_SUBJ], row[_VISIT], row[_FORM], split[0], split[1], row[_ITEM])
            if data["conflict"] in self.conflicts:
                # the same conflict found again by another workstation (crossed packets: each applied the other's
                # change and opened it; sync/merge.py): it was decided the same way; a resolution recorded since
                # stands. Still a record of this value (a later conflict may name it as a side).
                self.value_records.setdefault(key, []).append((*self.identity(row), *self.values.get(
                    key, (None, None)), self.confirmed.get(key, False)))
                return
            self.values[key] = (row[_NEW], data.get("canonical"))
            self.confirmed[key] = self._kept_confirmed(key, data.get("kept"))
            self.value_records.setdefault(key, []).append((*self.identity(row), *self.values[key],
                                                           self.confirmed[key]))
            self.conflicts.setdefault(data["conflict"], {"where": key, "kept": data.get("kept"),
                                                         "other": data.get("other")})
        elif kind == "form":
            where = (row[_SUBJ], row[_VISIT], row[_FORM])
            sides = frozenset((str(s.get("ws")), s.get("id")) for s in data["sides"].values() if isinstance(s, dict))
            if data.get("rule") == 2 and sides in self.form_decisions.setdefault(where, set()):
                # the same conflict decided on two workstations (crossed packets, since h68): the first one here
                # decided it; a change made since stands (sync/merge.py ``_decided_elsewhere``)
                self._note_form((*row[:_NEW], self.forms.get(where), *row[_NEW + 1:]))  # a side: the state here
                return
            if data.get("rule") == 2:
                self.form_decisions[where].add(sides)
            self.forms[where] = row[_NEW]
            self._note_form(row)
        elif kind == "row":  # a removal against a change of the row's values: the row is kept (h69)
            split = _split(row[_REPEAT])
            assert split is not None
            self.rows[(row[_SUBJ], row[_VISIT], row[_FORM], split[0], split[1])] = False
        elif kind == "query":
            self.queries[data["query"]]["status"] = row[_NEW]
            self.query_records.setdefault(data["query"], []).append((*self.identity(row), row[_NEW]))

    def _kept_confirmed(self, key: tuple[str, str, str, str, int, str], kept: Any) -> bool:
        """Whether the record of a conflict's kept side confirmed a warning (the merge keeps that side's row)."""
        found = [r for r in self.value_records.get(key, [])
                 if isinstance(kept, dict) and (r[0], r[1]) == (kept.get("ws"), kept.get("id"))]
        return bool(found and found[0][4])

    def _merge_problem(self, row: Sequence[Any], data: dict[str, Any]) -> str | None:  # noqa: PLR0911
        """Why a merge_conflict record does not hold, or None. Its two sides must be records this trail holds (by
        workstation and id), of the same item / form / query, from two different workstations, that set what the
        record says each side had; what it keeps must be what the merge keeps."""
        kind = data.get("kind")
        if kind == "item":
            split = _split(row[_REPEAT])
            if split is None or not (row[_SUBJ] and row[_VISIT] and row[_FORM] and row[_ITEM]) \
                    or not isinstance(data.get("conflict"), int):
                return "it names no item and no conflict"
            key = (row[_SUBJ], row[_VISIT], row[_FORM], split[0], split[1], row[_ITEM])
            records, said = self.value_records.get(key, []), []
            for name in ("kept", "other"):
                side = data.get(name)
                if not isinstance(side, dict):
                    return f"it names no {name} side"
                found = [r for r in records if (r[0], r[1]) == (side.get("ws"), side.get("id"))]
                if not found or found[0][2] != side.get("text"):
                    return (f"its {name} side ({side.get('ws')} #{side.get('id')}) is not a record of this value "
                            f"that set {side.get('text')!r}")
                said.append((side.get("ws"), side.get("text"), found[0][3], found[0][4]))
            if said[0][0] == said[1][0]:
                return "its two sides are records of one workstation"
            if row[_NEW] != said[0][1] or data.get("canonical") != said[0][2]:
                return "what it keeps is not its kept side's value"
            return self._id_problem(data)
        if kind == "form":
            if not (row[_SUBJ] and row[_VISIT] and row[_FORM]) or row[_ITEM]:
                return "it names no form"
            return self._sides_problem(data, self.form_records.get((row[_SUBJ], row[_VISIT], row[_FORM]), []),
                                       row, FORM_RANK, "this form's state")
        if kind == "query":
            qid = data.get("query")
            if not isinstance(qid, int) or qid not in self.queries:
                return "it names no query the trail raised"
            return self._sides_problem(data, self.query_records.get(qid, []), row, QUERY_RANK,
                                       f"query #{qid}'s status")
        if kind == "row":
            return self._row_problem(row, data)
        return f"its kind {str(kind)[:20]!r} is not one the merge writes"

    def _id_problem(self, data: dict[str, Any]) -> str | None:
        """A conflict recorded since 3 December 2026 (``"id": "pair"``) has the id its two sides make
        (sync/merge.py ``pair_id``), and one found again names the same two sides. Those recorded before keep their
        id (made from the later side only) as it is."""
        if data.get("id") != "pair":
            return None
        from msc_sle_crf.sync.merge import pair_id, side_change

        kept, other = side_change(data.get("kept")), side_change(data.get("other"))
        if kept is None or other is None or data["conflict"] != pair_id(kept, other):
            return f"its id {data['conflict']} is not the one its two sides make"
        known = self.conflicts.get(data["conflict"])
        if known is not None and {(s.get("ws"), s.get("id")) for s in (known["kept"], known["other"])
                                  if isinstance(s, dict)} != {(kept.ws, kept.id), (other.ws, other.id)}:
            return f"its id {data['conflict']} names another conflict"
        return None

    @staticmethod
    def _sides_problem(data: dict[str, Any], records: list[tuple[str, int, str | None]], row: Sequence[Any],
                       rank: dict[str, int], what: str) -> str | None:
        sides = data.get("sides")
        if not isinstance(sides, dict):
            return f"it names no records of {what} on each side"
        states = []
        for name in ("local", "incoming"):
            side = sides.get(name)
            found = [r for r in records if isinstance(side, dict) and (r[0], r[1]) == (side.get("ws"), side.get("id"))]
            if not found:
                where = f"{side.get('ws')} #{side.get('id')}" if isinstance(side, dict) else "none"
                return f"its {name} side ({where}) is not a record of {what}"
            states.append(found[0])
        if states[0][0] == states[1][0]:
            return "its two sides are records of one workstation"
        said = {states[0][2], states[1][2]}
        if {row[_OLD], row[_NEW]} != said or row[_OLD] == row[_NEW] \
                or rank.get(str(row[_NEW]), 99) >= rank.get(str(row[_OLD]), -1):
            return (f"it keeps {row[_NEW]!r} over {row[_OLD]!r}; its sides' records set {sorted(map(str, said))} "
                    "(the less advanced is kept)")
        return None

    def _on_conflict_resolved(self, row: Sequence[Any]) -> None:
        match = _RESOLVED.match(row[_DETAIL] or "")
        if match:
            cid = int(match.group(1))
            self.resolved[cid] = max(self.resolved.get(cid, ""), str(row[_TS] or ""))
            self.resolved_times.setdefault(cid, []).append(self._time(row))

    def _on_row_add(self, row: Sequence[Any]) -> None:
        split = _split(row[_REPEAT])
        if split is not None:
            self.rows[(row[_SUBJ], row[_VISIT], row[_FORM], split[0], split[1])] = False
            self._note_content(row)

    def _on_row_remove(self, row: Sequence[Any]) -> None:
        split = _split(row[_REPEAT])
        if split is not None:
            self.rows[(row[_SUBJ], row[_VISIT], row[_FORM], split[0], split[1])] = True
            self.row_removals.setdefault((row[_SUBJ], row[_VISIT], row[_FORM], split[0], split[1]), []).append(
                self.identity(row))
            self._note_content(row)

    def _row_problem(self, row: Sequence[Any], data: dict[str, Any]) -> str | None:
        """A row removed on one workstation while another changed a value in it (sync/merge.py ``form_rows``): the
        row is kept. Its sides: the removal (a ``row_remove`` record of that row) and the change (a record of a value
        of that row), from two workstations."""
        split = _split(row[_REPEAT])
        if split is None or not (row[_SUBJ] and row[_VISIT] and row[_FORM]) or row[_ITEM]:
            return "it names no row"
        where = (row[_SUBJ], row[_VISIT], row[_FORM], split[0], split[1])
        removal, change = data.get("removal"), data.get("change")
        if not isinstance(removal, dict) or (removal.get("ws"), removal.get("id")) not in self.row_removals.get(
                where, []):
            return "its removal side is not a record removing this row"
        if not isinstance(change, dict) or not any(
                (r[0], r[1]) == (change.get("ws"), change.get("id")) for key, records in self.value_records.items()
                if key[:5] == where for r in records):
            return "its change side is not a record of a value of this row"
        if removal.get("ws") == change.get("ws"):
            return "its two sides are records of one workstation"
        if (row[_OLD], row[_NEW]) != ("removed", "present"):
            return "it does not keep the row"
        return None

    def _on_status_change(self, row: Sequence[Any]) -> None:
        subject, new = row[_SUBJ], row[_NEW]
        if row[_FORM] == "subject":
            if subject in self.subjects:
                self.subjects[subject]["status"] = new
            for key, status in list(self.forms.items()):
                if key[0] != subject:
                    continue
                if new == "locked":
                    self.forms[key] = "locked"
                elif row[_OLD] == "locked" and status == "locked":
                    self.forms[key] = "signed"
                else:
                    continue
                # a side of a form state conflict may be this record (sync/merge.py ``_form_sides``)
                self.form_records.setdefault(key, []).append((*self.identity(row), self.forms[key]))
        elif subject and row[_VISIT] and row[_FORM]:
            self.forms[(subject, row[_VISIT], row[_FORM])] = new
            self._note_form(row)

    def _on_source_verified(self, row: Sequence[Any]) -> None:
        if row[_ITEM]:
            split = _split(row[_REPEAT])
            if split is not None:
                mark = (row[_SUBJ], row[_VISIT], row[_FORM], split[0], split[1], row[_ITEM], row[_USER])
                self.sdv[mark] += 1
                self.sdv_times.setdefault(mark, []).append(self._time(row))
                # what the value was when this monitor verified it (a mark is shown as holding while it is so)
                self.sdv_values.setdefault(mark, set()).add(self.values.get(mark[:6], (None, None))[0])
        elif row[_SUBJ] and row[_VISIT] and row[_FORM]:
            self.forms[(row[_SUBJ], row[_VISIT], row[_FORM])] = row[_NEW]
            self._note_form(row)

    def _on_sign(self, row: Sequence[Any]) -> None:
        self.forms[(row[_SUBJ], row[_VISIT], row[_FORM])] = row[_NEW] or "signed"
        self._note_form(row)
        match = _SIGN.search(row[_DETAIL] or "")
        if match:
            self.signatures[(row[_SUBJ], row[_VISIT], row[_FORM], match.group(1), match.group(2), row[_USER],
                             row[_ROLE])] += 1

    def _on_query(self, row: Sequence[Any]) -> None:
        match = _QUERY.match(row[_DETAIL] or "")
        if not match:
            return
        split = _split(row[_REPEAT])
        row_text = f"{split[0]}:{split[1]}" if split is not None else None
        qid = int(match.group(1))
        if match.group(2) == "auto" and qid in self.queries and qid in self.conflicts:
            # the automatic query of a conflict another workstation found too (crossed packets): the same query,
            # opened once here (its message is this trail's first opening; sync/merge.py): it changes nothing
            self.query_records.setdefault(qid, []).append((*self.identity(row), self.queries[qid]["status"]))
            return
        # where it was raised (its item and row), and whether the program raised it (its first message "auto")
        query = self.queries.setdefault(int(match.group(1)), {"status": None, "messages": Counter(),
                                                               "where": (row[_SUBJ], row[_VISIT], row[_FORM],
                                                                         row[_ITEM], row_text),
                                                               "automatic": match.group(2) == "auto",
                                                               "opened": self._time(row), "times": {}})
        query["status"] = row[_NEW]
        message = (match.group(2), row[_USER], row[_ROLE], row[_DETAIL])
        query["messages"][message] += 1
        query["times"].setdefault(message, []).append(self._time(row))  # when each message was recorded
        self.query_records.setdefault(int(match.group(1)), []).append((*self.identity(row), row[_NEW]))

    def _on_infusion_event(self, row: Sequence[Any]) -> None:
        if row[_SUBJ] and row[_ITEM]:
            detail = row[_DETAIL] or ""
            timer = _TIMER.search(detail)
            if timer is not None:  # since 2 December the timer reading is in the trail too
                detail = detail[:timer.start()]
            self.infusion[(row[_SUBJ], row[_ITEM], row[_NEW] or "", row[_USER] or "", row[_REASON] or "",
                           detail, timer.group(1, 2) if timer else None)] += 1
            checks = self.product_checks.setdefault(row[_SUBJ], [])
            if row[_ITEM] == "product_check":
                checks.append(row[_NEW] or "")
            elif row[_ITEM] == "second_check":
                self.second_checks[(row[_SUBJ], row[_NEW] or "", row[_USER] or "")] = len(checks)

    _on_product_check = _on_infusion_event
    _on_two_person_check = _on_infusion_event

    # ----- the data -----------------------------------------------------------------------------------------------
    def compare(self, conn: Any,  # noqa: PLR0912, PLR0915 - one pass per table
                subjects: Collection[str] | None = None) -> tuple[list[Unexplained], int]:
        """(what is unexplained, up to MAX_NAMED; how many in all). ``subjects``: only what is stored about these
        subjects (the replay then needs only their records: a packet import checks what it touched, at a cost
        that does not grow with the rest of the database); accounts, settings and definitions are not compared."""
        out: list[Unexplained] = []
        total = 0
        scoped = subjects is not None
        numbers = tuple(sorted(subjects or ()))
        marks = ", ".join("?" * len(numbers)) or "NULL"
        # the subject-scoped SQL: a filter on the subject's number (through its instances for per-form tables)
        only = f" WHERE subject_number IN ({marks})" if scoped else ""
        of_subject = f" WHERE s.subject_number IN ({marks})" if scoped else ""
        by_instance = (f" JOIN form_instance i ON i.id = t.instance_id JOIN subject s ON s.id = i.subject_id"
                       f" WHERE s.subject_number IN ({marks})") if scoped else ""

        def rows(template: str) -> Any:  # constant SQL; the filters above hold placeholders only
            sql = template.format(only=only, of_subject=of_subject, by_instance=by_instance,
                                  of_queries=" JOIN data_query t ON t.id = m.query_id" + by_instance if scoped else "")
            return conn.execute(sql, numbers) if scoped else conn.execute(sql)

        def note(where: str, what: str) -> None:
            nonlocal total
            total += 1
            if len(out) < MAX_NAMED:
                out.append(Unexplained(where, what))

        for subject, why in self.merges_refused:  # first: what follows from it (a state, a value) is then said
            if not scoped or subject in numbers:
                note(_where(subject), why)
        for number, initials, year, sex, status, owner in rows(
                "SELECT subject_number, initials, birth_year, sex, status, COALESCE(owner_ws, 'WS-01') "
                "FROM subject{only} ORDER BY id"):
            expected = self.subjects.get(number)
            if expected is None:
                note(_where(number), "the subject is not in the trail")
                continue
            expected.setdefault("owner_ws", FIRST_WS)  # registered on the first workstation (issue 18)
            for name, value in (("initials", initials), ("birth_year", year), ("sex", sex), ("status", status),
                                ("owner_ws", owner)):
                if expected.get(name) != value:
                    note(_where(number), f"{name} is {value!r}; the trail says {expected.get(name)!r}")
        forms = {}
        present = {number for (number,) in rows("SELECT subject_number FROM subject{only}")}
        for number in sorted(set(self.subjects) - present):
            note(_where(number), "the subject recorded in the trail is missing (deleted)")
        from msc_sle_crf.formdef.definitions import differs  # pydantic: loaded only when a check runs

        by_version: dict[tuple[str, str], dict[str, str | None]] = {}
        for content_hash, definition_json, form_id, version in () if scoped else conn.execute(
                "SELECT content_hash, definition_json, form_id, version FROM form_definition ORDER BY first_used_utc, "
                "content_hash"):
            if hashlib.sha256((definition_json or "").encode()).hexdigest() != content_hash:
                note(f"form definition {content_hash[:12]}", "its text does not match its hash (edited)")
            known = by_version.setdefault((str(form_id), str(version)), {})
            other = differs(content_hash, definition_json, known)  # one definition per form id and version
            if other is not None:
                note(f"form definition {content_hash[:12]}", f"form {form_id} version {version} was already "
                                                             f"recorded as definition {other[:12]} (a changed forms "
                                                             "folder?)")
            known[content_hash] = definition_json
        for iid, number, visit, form, status, form_hash in rows(
                "SELECT i.id, s.subject_number, i.event_id, i.form_id, i.status, i.form_hash FROM form_instance i "
                "JOIN subject s ON s.id = i.subject_id{of_subject} ORDER BY i.id"):
            forms[iid] = (number, visit, form)
            created_under = self.definitions.get((number, visit, form))
            if created_under is not None and not str(form_hash or "").startswith(created_under):
                note(_where(number, visit, form), f"its definition is {str(form_hash)[:12]}; the trail says it was "
                                                  f"created under {created_under[:12]} (what its values mean changed)")
            expected_status = self.forms.get((number, visit, form))
            if expected_status is None:
                note(_where(number, visit, form), "the form is not in the trail")
            elif expected_status != status:
                note(_where(number, visit, form), f"its state is '{status}'; the trail says '{expected_status}'")
        seen_values = set()
        for iid, group, row_no, item, value, unit, canonical, missing, missing_reason, confirmed in rows(
                "SELECT t.instance_id, t.group_id, t.row_no, t.item_id, t.value, t.unit, t.canonical, t.missing_code, "
                "t.missing_reason, t.confirmed FROM item_value t{by_instance} ORDER BY t.id"):
            number, visit, form = forms.get(iid, ("?", "?", "?"))
            key = (number, visit, form, group, row_no, item)
            seen_values.add(key)
            stored = describe(value, unit, missing, missing_reason)
            where = _where(number, visit, form, item, f"{group}:{row_no}")
            if key not in self.values:
                if stored is not None:
                    note(where, f"value {stored!r} was never entered (no audit record)")
                continue
            entered = self.values[key]
            if stored != entered[0]:
                note(where, f"stored {stored!r}; the trail says {entered[0]!r}")
            elif (canonical or None) != entered[1]:  # scores read the converted value when there is one
                note(where, f"converted value {canonical!r}; the trail says {entered[1]!r}")
            elif confirmed and not self.confirmed.get(key):  # a confirmed warning: completes, opens no query
                note(where, f"shown as confirmed by the site ({confirmed!r}); the trail says no warning on this value "
                            "was confirmed")
        for key, (text, _canon) in self.values.items():
            if key not in seen_values and text is not None:
                note(_where(key[0], key[1], key[2], key[5], f"{key[3]}:{key[4]}"),
                     f"value {text!r} recorded in the trail is missing")
        seen_rows = set()
        for iid, group, row_no, removed in rows(
                "SELECT t.instance_id, t.group_id, t.row_no, t.removed FROM form_row t{by_instance} ORDER BY t.id"):
            number, visit, form = forms.get(iid, ("?", "?", "?"))
            seen_rows.add((number, visit, form, group, row_no))
            expected_removed = self.rows.get((number, visit, form, group, row_no))
            if expected_removed is None:  # every row is added with a row_add record (services/entry.py)
                note(_where(number, visit, form, None, f"{group}:{row_no}"),
                     "the row is " + ("removed" if removed else "present") + "; the trail never added it")
            elif bool(removed) != expected_removed:
                note(_where(number, visit, form, None, f"{group}:{row_no}"),
                     "the row is " + ("removed" if removed else "present") + "; the trail says "
                     + ("removed" if expected_removed else "present"))
        for rkey in set(self.rows) - seen_rows:
            note(_where(rkey[0], rkey[1], rkey[2], None, f"{rkey[3]}:{rkey[4]}"), "the row recorded in the trail "
                                                                                  "is missing")
        signatures: Counter[tuple[str, str, str, str, str, str, str]] = Counter()
        for iid, meaning, digest, username, role in rows(
                "SELECT t.instance_id, t.meaning, t.content_hash, t.username, t.role FROM signature t{by_instance}"
                " ORDER BY t.id"):
            number, visit, form = forms.get(iid, ("?", "?", "?"))
            signatures[(number, visit, form, meaning, digest, username, role)] += 1
        for skey, count in (signatures - self.signatures).items():
            note(_where(skey[0], skey[1], skey[2]),
                 f"{count} signature(s) by '{skey[5]}' as '{skey[6]}' ({skey[3]}) not in the trail")
        for skey, count in (self.signatures - signatures).items():
            note(_where(skey[0], skey[1], skey[2]), f"{count} signature(s) by '{skey[5]}' recorded in the trail are "
                                                 "missing")
        sdv: Counter[tuple[str, str, str, str, int, str, str]] = Counter()
        current = {(iid, group, row_no, item): (hash_of_value(value, unit, missing, reason),
                                                describe(value, unit, missing, reason))
                   for iid, group, row_no, item, value, unit, missing, reason in rows(
                       "SELECT t.instance_id, t.group_id, t.row_no, t.item_id, t.value, t.unit, t.missing_code, "
                       "t.missing_reason FROM item_value t{by_instance}")}
        sdv_times: dict[tuple[str, str, str, str, int, str, str], list[str]] = {}
        for iid, group, row_no, item, username, digest, utc in rows(
                "SELECT t.instance_id, t.group_id, t.row_no, t.item_id, t.username, t.value_hash, t.utc FROM "
                "item_verification t{by_instance} ORDER BY t.id"):
            number, visit, form = forms.get(iid, ("?", "?", "?"))
            mark = (number, visit, form, group, row_no, item, username)
            sdv[mark] += 1
            sdv_times.setdefault(mark, []).append(str(utc))
            now_hash, now_text = current.get((iid, group, row_no, item), (NO_VALUE_HASH, None))
            if digest == now_hash and mark in self.sdv_values and now_text not in self.sdv_values[mark]:
                note(_where(number, visit, form, item, f"{group}:{row_no}"),
                     f"the verification mark by '{username}' claims the value {now_text!r}, which the trail says "
                     "was never the value verified")
        for mark, times in sdv_times.items():  # a mark made before a conflict was resolved is void (sync/merge.py)
            for utc, ts in zip(sorted(times), sorted(self.sdv_times.get(mark, [])), strict=False):
                if _apart(utc, ts):
                    note(_where(mark[0], mark[1], mark[2], mark[5], f"{mark[3]}:{mark[4]}"),
                         f"the source-data verification mark by '{mark[6]}' is dated {utc}; the trail recorded it "
                         f"at {ts}")
                    break
        for mark, count in (sdv - self.sdv).items():
            note(_where(mark[0], mark[1], mark[2], mark[5], f"{mark[3]}:{mark[4]}"),
                 f"{count} source-data verification mark(s) by '{mark[6]}' not in the trail")
        for mark, count in (self.sdv - sdv).items():
            note(_where(mark[0], mark[1], mark[2], mark[5], f"{mark[3]}:{mark[4]}"),
                 f"{count} source-data verification mark(s) recorded in the trail are missing")
        self._compare_queries(rows, forms, note)
        self._compare_conflicts(rows, forms, note)
        infusion: Counter[tuple[Any, ...]] = Counter()
        legacy = {key[:6] for key in self.infusion if key[6] is None}
        events: dict[int, tuple[str, str, str, str, str | None, int | None]] = {}
        for number, kind, wall, username, reason, detail, mono, boot, eid, refers_to in rows(
                "SELECT s.subject_number, e.kind, e.wall_utc, e.username, e.reason, e.detail, e.mono, e.boot, e.id, "
                "e.refers_to FROM infusion_event e JOIN subject s ON s.id = e.subject_id{of_subject} ORDER BY e.id"):
            key = (number, kind, wall, username, reason or "", detail or "")
            timer = None if key in legacy or (mono is None and boot is None) else (repr(mono), str(boot))
            infusion[(*key, timer)] += 1
            events[eid] = (number, kind, wall, username, detail, refers_to)
        self._compare_refers_to(events, note)
        for event, count in (infusion - self.infusion).items():
            note(_where(event[0]), f"{count} infusion-day event(s) '{event[1]}' at {event[2]} by '{event[3]}' not in "
                                   "the trail")
        for event, count in (self.infusion - infusion).items():
            note(_where(event[0]), f"{count} infusion-day event(s) '{event[1]}' recorded in the trail are missing")
        for subject, why in self.handovers_refused:
            if not scoped or subject in numbers:
                note(_where(subject), why)
        if scoped:
            return out, total
        for username, full_name, role, active, must_change in conn.execute(
                "SELECT username, full_name, role, active, must_change_password FROM app_user ORDER BY id"):
            expected_user = self.users.get(username)
            if expected_user is None:
                note(f"account {username}", "the account is not in the trail")
                continue
            for name, value in (("role", role), ("full_name", full_name), ("active", bool(active)),
                                ("must_change_password", bool(must_change))):
                if name == "must_change_password" and expected_user.get(name) is None:
                    continue  # an account added before its record said it (see _on_user_add)
                if expected_user.get(name) != value:
                    note(f"account {username}", f"{name} is {value!r}; the trail says {expected_user.get(name)!r}")
        identity = dict(conn.execute(_IDENTITY_SQL, SETTING_KEYS).fetchall())
        if identity:  # this copy's identity must be what its set-up records said (issue 18)
            opened = self.workstations.get(identity.get("workstation_id", ""), {})
            for key, value in sorted(identity.items()):
                if opened.get(key) != value:
                    note(f"site setting {key}", f"is {value!r}; the trail says {opened.get(key)!r}")
        secret_seen: list[str] | None = None
        for key, value in conn.execute("SELECT key, value FROM site_setting ORDER BY key"):
            if (key in DEFAULT_SETTINGS or key in _SITE_INIT_COMPARED) and key in self.settings \
                    and self.settings[key] != value:
                note(f"site setting {key}", f"is {value!r}; the trail says {self.settings[key]!r}")
            elif key == CA_CERT_SETTING:
                self._compare_ca(value, note)
            elif key == packet_secret.SETTING:
                secret_seen = packet_secret.fingerprints(value) or ["unreadable"]
        seen = secret_seen or []
        planted = [fp for fp in seen if fp not in self.packet_secrets]
        missing = [fp for fp in self.packet_secrets if fp not in seen]
        if planted or missing:
            note(f"site setting {packet_secret.SETTING}",
                 f"holds the secret(s) {', '.join(seen) or 'none'}; the trail announces "
                 f"{', '.join(self.packet_secrets) or 'none'}"
                 + (f" (not announced: {', '.join(planted)})" if planted else "")
                 + (f" (announced, missing: {', '.join(missing)})" if missing else ""))
        for refused in self.ca_refused:
            note("site CA certificate", f"replaced by someone who is not an administrator ({refused})")
        self._compare_certificates(conn, note)
        return out, total

    def _compare_certificates(self, conn: Any, note: Any) -> None:
        """Each personal certificate row (what a signed PDF's signer is certified as) must be one a certificate
        record issued, to that account with that serial, and its certificate must say so."""
        from cryptography import x509  # loaded only when a check runs

        stored: Counter[tuple[str, str]] = Counter()
        for username, serial, pem in conn.execute("SELECT username, serial, cert_pem FROM certificate ORDER BY id"):
            stored[(username, serial)] += 1
            try:
                cert = x509.load_pem_x509_certificate(str(pem).encode())
                named = (ca.subject_names(str(pem)).get("uid"), format(cert.serial_number, "x"))
            except ValueError:
                named = None
            if named != (username, serial):
                said = f"names '{named[0]}' with serial {named[1]}" if named else "is not a readable certificate"
                note(f"certificate of {username}", f"the row (serial {serial}) holds a certificate that {said}")
        for (username, serial), count in (stored - self.certificates).items():
            note(f"certificate of {username}", f"{count} certificate(s) with serial {serial} not issued in the trail")
        for (username, serial), count in (self.certificates - stored).items():
            note(f"certificate of {username}", f"{count} certificate(s) with serial {serial} issued in the trail are "
                                               "missing")

    def _compare_refers_to(self, events: dict[int, tuple[str, str, str, str, str | None, int | None]],
                           note: Any) -> None:
        """The event a bedside event applies to: a second person's check confirms a product check recorded before
        it (the bag then shows as double-checked), a time correction corrects the event its detail names (the
        timer reads the corrected time). Neither is in the records by id: each is derived as the writer chose it."""
        for number, kind, wall, username, detail, refers_to in events.values():
            target = events.get(refers_to) if refers_to is not None else None
            said = None
            if kind == "second_check":
                before = self.second_checks.get((number, wall, username))
                if before is None:
                    continue  # not in the trail: named as such
                allowed = self.product_checks.get(number, [])[:before]
                if target is None or target[0] != number or target[1] != "product_check" or target[2] not in allowed:
                    said = f"a product check recorded before it ({', '.join(allowed) or 'none'})"
            elif kind == "correct" and refers_to is not None:
                fixed = _side(detail) or {}
                if target is None or target[0] != number or (target[1], target[2]) != (fixed.get("kind"),
                                                                                       fixed.get("was")):
                    said = f"the {fixed.get('kind')} event at {fixed.get('was')}"
            if said is not None:
                what = f"the {target[1]} event at {target[2]}" if target is not None else f"event #{refers_to}"
                note(_where(number), f"the {kind} event at {wall} by '{username}' refers to {what}; the trail says "
                                     f"{said}")

    def _compare_ca(self, pem: str, note: Any) -> None:
        """The CA every PDF is checked against must be the one an administrator recorded in the trail (a CA put in
        the settings with raw SQL would make forged PDFs verify)."""
        try:
            fingerprint = ca.fingerprint(pem)
        except ValueError:
            note("site CA certificate", "it is not a readable certificate")
            return
        if fingerprint != self.ca_fingerprint:
            note("site CA certificate", f"its fingerprint is {fingerprint}; the trail says "
                                        f"{self.ca_fingerprint or 'no site CA'}")

    def _compare_conflicts(self, rows: Any, forms: dict[int, tuple[str, str, str]], note: Any) -> None:
        """Each conflict between workstations (it voids the form's signatures and the item's SDV marks while open,
        and those made before it was resolved) must be the one a merge_conflict record opened, with the two sides
        that record names, resolved only by a conflict_resolved record and not after it."""
        seen = set()
        for cid, iid, group, row_no, item, kept, other, status, opened, resolved in rows(
                "SELECT t.id, t.instance_id, t.group_id, t.row_no, t.item_id, t.kept, t.other, t.status, "
                "t.opened_utc, t.resolved_utc FROM item_conflict t{by_instance} ORDER BY t.id"):
            number, visit, form = forms.get(iid, ("?", "?", "?"))
            where = _where(number, visit, form, item, f"{group}:{row_no}")
            seen.add(cid)
            expected = self.conflicts.get(cid)
            if expected is None:
                note(where, f"conflict #{cid} between workstations is not in the trail (it voids the form's "
                            "signatures)")
                continue
            if (number, visit, form, group, row_no, item) != expected["where"]:
                note(where, f"conflict #{cid} is on this item; the trail says it was opened on "
                            f"{_conflict_where(expected['where'])}")
            sides = []
            for name, stored_json in (("kept", kept), ("other", other)):
                side = _side(stored_json)
                sides.append(side)
                said = expected[name] if isinstance(expected[name], dict) else {}
                if side is None or any(side.get(f) != said.get(f) for f in _CHANGE_FIELDS) or (
                        "value" in side and describe(side.get("value"), side.get("unit"), side.get("missing_code"),
                                                     side.get("missing_reason")) != side.get("text")):
                    note(where, f"conflict #{cid}: its {name} value is not what the trail says")
            times = [str(s.get("utc") or "") for s in sides if s is not None]
            if times and opened != max(times):
                note(where, f"conflict #{cid} opened at {opened}; the trail says {max(times)}")
            closed = self.resolved.get(cid)
            if closed is None and (status != "open" or resolved is not None):
                note(where, f"conflict #{cid} is '{status}'; the trail says 'open'")
            elif closed is not None and (status != "resolved" or not resolved or resolved > closed):
                note(where, f"conflict #{cid} is '{status}' ({resolved}); the trail says resolved by {closed}")
            elif closed is not None and all(_apart(resolved, ts) for ts in self.resolved_times.get(cid, [])):
                # what was signed or verified before it was resolved stays void: an earlier time revives it
                note(where, f"conflict #{cid} resolved at {resolved}; the trail says at "
                            f"{', '.join(self.resolved_times.get(cid, []))}")
        for cid in set(self.conflicts) - seen:
            expected = self.conflicts[cid]
            note(_conflict_where(expected["where"]), f"conflict #{cid} recorded in the trail is missing")

    def _compare_query_times(self, qid: int, query: dict[str, Any], expected: dict[str, Any], note: Any) -> None:
        """When a query was opened and each message written: the time of its record (services/monitoring.py,
        entry.py); a query a conflict between workstations opened: the conflict's time (sync/merge.py)."""
        conflict = self.conflicts.get(qid)
        sides = [conflict.get(name) for name in ("kept", "other")] if conflict is not None else []
        # the merge writes the conflict's time itself into the query and its message (sync/merge.py): exactly
        by_conflict = max((_Exact(str(s.get("utc") or "")) for s in sides if isinstance(s, dict)), default=None)
        opened = by_conflict if by_conflict is not None else expected.get("opened")
        if opened and _apart(query["opened"], opened):
            note(query["where"], f"query #{qid} opened at {query['opened']}; the trail says {opened}")
        for key, times in query["times"].items():
            recorded = expected.get("times", {}).get(key, [])
            if by_conflict is not None and key[0] == "auto":
                recorded = [by_conflict] * len(recorded)
            for utc, ts in zip(sorted(map(str, times)), sorted(recorded), strict=False):
                if _apart(utc, ts):
                    note(query["where"], f"query #{qid}: its '{key[0]}' message by '{key[1]}' is dated {utc}; the "
                                         f"trail recorded it at {ts}")
                    break

    def _compare_queries(self, rows: Any, forms: dict[int, tuple[str, str, str]], note: Any) -> None:
        stored: dict[int, dict[str, Any]] = {}
        for qid, iid, item, group, row_no, automatic, status, opened in rows(
                "SELECT t.id, t.instance_id, t.item_id, t.group_id, t.row_no, t.automatic, t.status, t.opened_utc "
                "FROM data_query t{by_instance} ORDER BY t.id"):
            number, visit, form = forms.get(iid, ("?", "?", "?"))
            stored[qid] = {"status": status, "messages": Counter(), "automatic": bool(automatic), "opened": opened,
                           "times": {}, "where": _where(number, visit, form, item, f"{group}:{row_no}")}
        for qid, kind, username, role, text, utc in rows(
                "SELECT m.query_id, m.kind, m.username, m.role, m.text, m.utc FROM query_message m{of_queries} "
                "ORDER BY m.id"):
            if qid in stored:
                message = (kind, username, role, f"query #{qid} {kind}: {text}"[:2000])
                stored[qid]["messages"][message] += 1
                stored[qid]["times"].setdefault(message, []).append(utc)
        for qid, query in stored.items():
            expected = self.queries.get(qid)
            if expected is None:
                note(query["where"], f"query #{qid} is not in the trail")
                continue
            if query["where"] != _where(*expected["where"]):
                note(query["where"], f"query #{qid} is on this item; the trail says it was raised on "
                                     f"{_where(*expected['where'])}")
            if expected["status"] != query["status"]:
                note(query["where"], f"query #{qid} is '{query['status']}'; the trail says '{expected['status']}'")
            if expected["automatic"] != query["automatic"]:
                note(query["where"], f"query #{qid} is " + ("" if query["automatic"] else "not ") + "automatic; the "
                     "trail says it was raised by " + ("the program" if expected["automatic"] else "a person"))
            self._compare_query_times(qid, query, expected, note)
            for key, count in (query["messages"] - expected["messages"]).items():
                note(query["where"], f"query #{qid}: {count} message(s) '{key[0]}' by '{key[1]}' as '{key[2]}' not "
                                     "in the trail")
            for key, count in (expected["messages"] - query["messages"]).items():
                note(query["where"], f"query #{qid}: {count} message(s) '{key[0]}' by '{key[1]}' as '{key[2]}' "
                                     "recorded in the trail are missing")
        for qid in set(self.queries) - set(stored):
            where = self.queries[qid]["where"]
            note(_where(*where), f"query #{qid} recorded in the trail is missing")
