"""What an open form redraws after a write, decided from the write's change record (no Qt here).

Every write made anywhere in the window (this form, the bedside writing vital signs into it, a query answered in
its dialog, a whole subject locked) reaches every open form as a ``Changes``; each form asks it what concerns it.
"""

from __future__ import annotations

from dataclasses import dataclass

from msc_sle_crf.audit import Action
from msc_sle_crf.formdef.engine import CellKey
from msc_sle_crf.services.changes import Changes
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.status import FormStatus

# Values of a subject changed: the scores computed from them may have changed too.
VALUE_ACTIONS = frozenset({Action.DATA_ENTRY, Action.DATA_CHANGE, Action.ROW_ADD, Action.ROW_REMOVE})
# The marks beside a field (ui/form/field_row.py ``show_marks``, ui/form/conflicts.py) follow these.
MARK_ACTIONS = frozenset({Action.QUERY, Action.SOURCE_VERIFIED, Action.MERGE_CONFLICT, Action.CONFLICT_RESOLVED})


@dataclass(frozen=True)
class Refresh:
    rebuild: bool = False  # rows added or removed, locked or unlocked: build the form again
    cells: frozenset[CellKey] = frozenset()  # values written elsewhere: read them again
    status: FormStatus | None = None  # the form's new state, when the change record says it
    signatures: bool = False
    monitoring: bool = False  # queries or source-data verification
    scores: bool = False

    def __bool__(self) -> bool:
        return any((self.rebuild, self.cells, self.status, self.signatures, self.monitoring, self.scores))


def plan(changes: Changes, ref: FormRef, status: FormStatus, *, own: frozenset[CellKey] | None = None,
         signed: bool = False, verified: frozenset[CellKey] = frozenset()) -> Refresh:
    """What a form showing ``ref`` in state ``status`` redraws. ``own``: the cells of a write this form made
    itself (already shown as they are); None when the write was made elsewhere. ``signed``: the form shows
    signatures (a changed value can invalidate them); ``verified``: its source-verified cells."""
    subject, event, form = ref.subject, ref.event, ref.form
    if subject not in changes.subjects:
        return Refresh()
    here = [c for c in changes.records if (c.subject, c.event, c.form) == (subject, event, form)]
    whole_subject = any(c.subject == subject and c.form == "subject" and c.action is Action.STATUS_CHANGE
                        for c in changes.records)  # a subject locked or unlocked: every form's state moved
    scores = any(c.subject == subject and c.action in VALUE_ACTIONS for c in changes.records)
    moved = changes.status_of(subject, event, form)
    new_status = FormStatus(moved) if moved is not None else None
    if new_status == status:
        new_status = None
    rows = bool(changes.rows_changed(subject, event, form))
    lock_moved = new_status is not None and FormStatus.LOCKED in (status, new_status)
    if whole_subject or rows or lock_moved:
        return Refresh(rebuild=True, status=new_status, scores=scores)
    cells = changes.cells(subject, event, form)
    elsewhere = cells if own is None else cells - own
    # a query, an SDV mark, or a conflict between workstations found (import) or resolved (a value entered)
    item_marks = any(c.action in MARK_ACTIONS and c.item is not None for c in here)
    return Refresh(
        cells=elsewhere,
        status=new_status,
        signatures=new_status is not None or any(c.action in (Action.SIGN, Action.SIGNATURE_INVALIDATED)
                                                 for c in here) or (signed and bool(cells)),
        # a value confirmed elsewhere opened an automatic query; a verified value that changed is no longer so
        monitoring=item_marks or bool(elsewhere) or bool(cells & verified),
        scores=scores,
    )
