"""The study's outcomes window: outcome tables by dose cohort, cohort safety reviews, plots, completeness.

``open_outcomes(ws, parent, ops)`` is what the main window's menu calls."""

from msc_sle_crf.ui.outcomes.window import OutcomesWindow, open_outcomes

__all__ = ["OutcomesWindow", "open_outcomes"]
