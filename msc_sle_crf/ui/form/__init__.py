"""The form screen: every data-entry screen generated from its form definition.

``view.FormView`` composes a ``header`` (title, state, lifecycle, signatures), one ``sections.Section`` per item
group made of ``field_row.FieldEditor`` rows (each with its editor from ``editors``), the ``scores`` panel and the
``footer`` (blockers, Mark complete); ``writes`` runs the user's changes through ``ops.run`` and ``refresh`` decides
from each change record what to redraw. ``dialogs`` holds the reason, missing, history, query and sign dialogs;
``window.FormWindow`` shows a form in its own scrollable window. Children emit signals; only the view decides.
"""

from msc_sle_crf.ui.form.dialogs import HistoryDialog, QueryDialog
from msc_sle_crf.ui.form.editors import RadioEditor
from msc_sle_crf.ui.form.view import FormView
from msc_sle_crf.ui.form.window import FormWindow

__all__ = ["FormView", "FormWindow", "HistoryDialog", "QueryDialog", "RadioEditor"]
