"""The form screen: every data-entry screen generated from its form definition."""

from msc_sle_crf.ui.form.view import FormView, FormWindow, HistoryDialog, QueryDialog, RadioEditor

__all__ = ["FormView", "FormWindow", "HistoryDialog", "QueryDialog", "RadioEditor"]
