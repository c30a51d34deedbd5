"""Primary endpoint: the infusion is "not tolerated" if any toxicity of grade >= 3 occurs in the immediate-tolerance
window (D0-D10 inclusive; ``scoring.toxicity`` in study.yaml). Computed for all adverse events and for related ones
only (CONFIRM WITH SPONSOR which one the protocol means), each with the events that drive it.

"Tolerated" is an answer only once the window is over: ``today`` is required, so a caller cannot forget it and get
"tolerated" on day 3.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from msc_sle_crf.scoring.common import ScoreResult
from msc_sle_crf.scoring.rules import ToxicityRules, published_rules
from msc_sle_crf.scoring.toxicity import AdverseEvent, not_tolerated_result, window_toxicity

__all__ = ["AdverseEvent", "not_tolerated"]


def not_tolerated(events: Sequence[AdverseEvent], day0: dt.date | None, *, related_only: bool, today: dt.date,
                  rules: ToxicityRules | None = None, reviewed: bool | None = None) -> ScoreResult:
    """``reviewed``: whether the window's review form (D1-D10 tolerance) is complete; None when not known to the
    caller (then only the dates decide)."""
    rules = rules if rules is not None else published_rules().toxicity
    tox = window_toxicity(events, day0, rules.primary, rules, today=today, reviewed=reviewed)
    return not_tolerated_result(tox, rules, related_only=related_only)
