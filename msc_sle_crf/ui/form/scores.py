"""The score panel under a form: the scores the form feeds, from the saved data of the whole subject (so SRI-4
compares with inclusion), with what each is made of and the rule (and its version) used."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QTextBrowser, QWidget

from msc_sle_crf.errors import CrfError
from msc_sle_crf.i18n import current_lang
from msc_sle_crf.scoring.common import ScoreResult, rule_text
from msc_sle_crf.services.entry import FormRef
from msc_sle_crf.services.workspace import Workspace
from msc_sle_crf.ui.common import tr


def _detail(r: ScoreResult) -> str:
    """What a score is made of, in words."""
    if r.name == "selena_sledai" and r.computable:
        points = [p for p in r.breakdown if p.points not in (None, 0)]
        return ", ".join(f"{p.label.get()} ({p.points})" for p in points) or tr("no descriptor", "aucun")
    if r.name.startswith("bilag_total"):
        return ", ".join(f"{p.label.get()} {p.value}" for p in r.breakdown if p.value not in (None, "E"))
    if r.name == "eligibility":
        return "; ".join(f"{p.label.get()}: {p.value}" for p in r.breakdown if p.value != "met")
    if r.name == "sri4" or r.name.startswith("not_tolerated"):
        return "; ".join(p.label.get() for p in r.breakdown)
    if r.name.startswith("sf36_"):
        answered = sum(1 for p in r.breakdown if p.points is not None)
        return tr(f"{answered}/{len(r.breakdown)} items", f"{answered}/{len(r.breakdown)} items")
    return ""


def score_results_html(results: list[ScoreResult]) -> str:
    """Scores with what they are made of and the rule (and version) used."""
    lang = current_lang()
    parts = [f"<b>{tr('Scores (from the saved values)', 'Scores (valeurs enregistrées)')}</b><table>"]
    for r in results:
        color = "#1d2b3a" if r.computable else "#8a94a0"
        parts.append(f'<tr><td style="padding-right:12px">{html.escape(r.label.get(lang))}</td>'
                     f'<td style="color:{color}; padding-right:12px"><b>{html.escape(r.text(lang))}</b></td>'
                     f'<td style="color:#33414e">{html.escape(_detail(r))}</td></tr>'
                     '<tr><td></td><td colspan="2" style="color:#5f6b76; font-size:9pt">'
                     f'{html.escape(rule_text(r.rule, lang))}</td></tr>')
    parts.append("</table>")
    return "".join(parts)


class ScorePanel(QTextBrowser):
    """Hidden for forms that feed no score."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("scorePanel")
        self.setVisible(False)

    def refresh(self, ws: Workspace, ref: FormRef, form_id: str) -> None:
        from msc_sle_crf.scoring.subject import form_scores, scores_for_form

        bindings = ws.study.meta.bindings  # a form set without bindings has no scores to show
        if bindings is None or form_id not in form_scores(bindings):
            return
        try:
            overview = ws.overview.subject(ref.subject)
        except CrfError:  # a reader's view of what they may not see: no panel rather than an error
            return
        results = scores_for_form(overview.scores, bindings, ref.event, form_id)
        if not results:
            return
        self.setHtml(score_results_html(results))
        self.setVisible(True)
        doc_height = int(self.document().size().height()) + 16
        self.setFixedHeight(min(max(doc_height, 80), 420))
