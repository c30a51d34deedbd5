"""The conflict marker on a field (issue 18): two workstations changed the item differently; the field says so,
with both values and who, where and when (its tooltip), until someone enters the right value."""

from __future__ import annotations

import html
from typing import Any

from msc_sle_crf.errors import CrfError
from msc_sle_crf.sync.service import ConflictInfo, Packets
from msc_sle_crf.ui.common import tr

MARK = "conflict"


def load(ws: Any, ref: Any) -> dict[tuple[str, int, str], ConflictInfo]:
    try:
        return Packets(ws.ctx, None).conflicts(ref)
    except CrfError:  # not this user's to see: no marks
        return {}


def show(field: Any, info: ConflictInfo | None) -> None:
    """After ``field.show_marks``: the marker and its explanation, or nothing."""
    if info is None:
        if field._marks is not None and field._marks.property(MARK):
            field._marks.setToolTip("")
            field._marks.setProperty(MARK, False)
        return
    label = field.marks
    text = tr("Conflict", "Conflit")
    label.setText(f'{label.text()} <span style="color:#b00020"><b>⚠ {html.escape(text)}</b></span>'.strip())
    label.setToolTip(info.describe().get())
    label.setProperty(MARK, True)
