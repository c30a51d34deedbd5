"""What the bedside asks before it acts: the start and the stop name the subject and the time, the undo of a stop
and a pause need a reason, a time correction a real time and a reason, a set of vital signs with unusual values one
confirmation listing them all. Each question is asked in the window's sheet; the write runs on confirmation
through ``ops.run`` (a refusal stays in the sheet, with what was typed). Also the trend plot's data.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from msc_sle_crf.access import Role
from msc_sle_crf.infusion import timer as T
from msc_sle_crf.infusion.monitor import mmss
from msc_sle_crf.infusion.vitals import Flag
from msc_sle_crf.services.bedside import VitalsNeedConfirmation
from msc_sle_crf.services.workspace import Workspace
from msc_sle_crf.ui.bedside.sheet import Ask, AskField
from msc_sle_crf.ui.bedside.style import BAD, GOOD, local_hm, stored_time
from msc_sle_crf.ui.common import tr

if TYPE_CHECKING:
    from msc_sle_crf.ui.bedside.window import BedsideWindow

SHORT = {"baseline": ("baseline", "référence"), "dose_mismatch": ("dose check", "contrôle de dose"),
         "eligibility": ("the eligibility criteria", "les critères d'éligibilité")}
TIMER_NAMES = {T.Kind.START: ("Start", "Début"), T.Kind.PAUSE: ("Pause", "Pause"), T.Kind.RESUME: ("Resume", "Reprise"),
               T.Kind.STOP: ("Stop", "Arrêt")}


def may_override(ws: Workspace) -> bool:
    """Whether this user may start without what may be overridden (an investigator, with a reason)."""
    return ws.actor.role is Role.INVESTIGATOR


def _who(w: BedsideWindow) -> str:
    s = w.state
    return f"{w.subject} ({s.initials}, {s.birth_year})" if s is not None else w.subject


def _now_hm(w: BedsideWindow) -> str:
    return local_hm(w._clock(), w._clock().now())


def timer_action(w: BedsideWindow, kind: T.Kind) -> None:
    """Start and Stop ask for a confirmation naming the subject and the time; Pause and the undo of a stop ask why;
    Resume is routine."""
    subject, now = _who(w), _now_hm(w)
    timer = w.current().timer if w.state is not None else None

    def run(reason: str | None = None, override: str | None = None) -> bool:
        return w.run(lambda: w.bedside.timer(w.subject, kind, reason, override_reason=override),
                     in_sheet=True) is not None

    if kind is T.Kind.START:
        readiness = w.readiness
        if readiness is not None and readiness.overridable and not readiness.blocking:
            missing = "; ".join(u.message.get() for u in readiness.overridable)
            w.ask(Ask(tr("Start without a condition", "Démarrer sans une condition"),
                      tr(f"Start the infusion for subject {subject} now, at {now}, although {missing}? As the "
                         "investigator, give the reason (it is recorded).",
                         f"Démarrer la perfusion du patient {subject} maintenant, à {now}, alors que {missing} ? En "
                         "tant qu'investigateur, donnez le motif (il est enregistré)."),
                      tr("Start the infusion", "Démarrer la perfusion"),
                      (AskField(tr("Reason", "Motif")),), danger=True),
                  lambda values: run(override=values[0]))
            return
        product = w.state.product if w.state is not None else None
        bag = (tr(f" Bag {product.detail.get('bag_id')}, lot {product.detail.get('lot')}.",
                  f" Poche {product.detail.get('bag_id')}, lot {product.detail.get('lot')}.") if product else "")
        w.ask(Ask(tr("Start the infusion", "Démarrer la perfusion"),
                  tr(f"Start the infusion for subject {subject} now, at {now}?", f"Démarrer la perfusion du patient "
                                                                               f"{subject} maintenant, à {now} ?")
                  + bag, tr("Start the infusion", "Démarrer la perfusion")), lambda _values: run())
    elif kind is T.Kind.STOP:
        ran = mmss(timer.running_seconds) if timer is not None else ""
        w.ask(Ask(tr("Stop the infusion", "Arrêter la perfusion"),
                  tr(f"Stop the infusion for subject {subject} now, at {now}? It has run {ran}. The readings after "
                     "the end follow from this time.",
                     f"Arrêter la perfusion du patient {subject} maintenant, à {now} ? Elle a duré {ran}. Les mesures "
                     "après la fin partent de cette heure."),
                  tr("Stop the infusion", "Arrêter la perfusion"), danger=True), lambda _values: _stopped(w, run()))
    elif kind is T.Kind.PAUSE:
        w.ask(Ask(tr("Pause", "Pause"), tr(f"Pause the infusion for subject {subject} at {now}. Why?",
                                           f"Mettre en pause la perfusion du patient {subject} à {now}. Pourquoi ?"),
                  tr("Pause the infusion", "Mettre en pause"), (AskField(tr("Reason", "Motif")),)),
              lambda values: run(values[0]))
    elif kind is T.Kind.UNDO_STOP:
        stop = timer.stopped if timer is not None else None
        at = local_hm(w._clock(), stop) if stop is not None else ""
        w.ask(Ask(tr("Undo the stop", "Annuler l'arrêt"),
                  tr(f"Undo the stop made at {at} for subject {subject}? The infusion is counted as running again "
                     "from where it was (both stay in the record).",
                     f"Annuler l'arrêt fait à {at} pour le patient {subject} ? La perfusion est de nouveau comptée "
                     "en cours, là où elle en était (les deux restent au dossier)."),
                  tr("Undo the stop", "Annuler l'arrêt"), (AskField(tr("Reason", "Motif")),)),
              lambda values: run(values[0]))
    else:
        run()


def _stopped(w: BedsideWindow, done: bool) -> bool:
    """After a stop: a duration outside the protocol is a deviation to comment (asked next, never blocking)."""
    timer = w.state.timer if w.state is not None else None
    if done and timer is not None and timer.deviation is not None:
        deviation = timer.deviation.get()
        question = Ask(tr("Protocol deviation", "Déviation au protocole"), deviation,
                       tr("Save the comment", "Enregistrer le commentaire"), (AskField(tr("Comment", "Commentaire")),))
        w.sheet.finish()
        w.ask(question, lambda values: w.run(lambda: w.bedside.comment(w.subject, values[0]),
                                                in_sheet=True) is not None)
        return False  # the sheet now holds the next question
    return done


def correct_time(w: BedsideWindow) -> None:
    """Change the clock time of a timer event (e.g. the pump's clock was right): which event, the real time and a
    reason, all required."""
    if w.state is None:
        return
    clock = w._clock()
    events = {f"{tr(*TIMER_NAMES[e.kind])} — {stored_time(clock, e.wall)}": e.id
              for e in w.state.timer_events if e.kind in TIMER_NAMES}
    if not events:
        return
    w.ask(Ask(tr("Correct a time", "Corriger une heure"),
              tr(f"Subject {_who(w)}: the recorded time and the corrected one both stay in the record.",
                 f"Patient {_who(w)} : l'heure enregistrée et l'heure corrigée restent toutes deux au dossier."),
              tr("Correct the time", "Corriger l'heure"),
              (AskField(tr("Event", "Événement"), choices=tuple(events)),
               AskField(tr("Actual time (hh:mm)", "Heure réelle (hh:mm)"), placeholder="10:05"),
               AskField(tr("Reason for change", "Motif de modification")))),
          lambda values: w.run(lambda: w.bedside.correct_time(w.subject, events[values[0]], values[1], values[2]),
                               in_sheet=True) is not None)


def mark_not_done(w: BedsideWindow) -> None:
    point = w.selected_point
    if not point:
        return
    label = next((p.label.get() for p in w.current().points if p.point.id == point), point)
    w.ask(Ask(tr("Reading not done", "Mesure non faite"),
              tr(f"Subject {_who(w)}: {label} not done. Why?", f"Patient {_who(w)} : {label} non faite. Pourquoi ?"),
              tr("Record as not done", "Enregistrer comme non faite"), (AskField(tr("Reason", "Motif")),)),
          lambda values: _not_done(w, point, values[0]))


def _not_done(w: BedsideWindow, point: str, reason: str) -> bool:
    if w.run(lambda: w.bedside.not_done(w.subject, point, reason), in_sheet=True) is None:
        return False
    w.selected_point = None
    return True


def confirm_unusual(w: BedsideWindow, exc: VitalsNeedConfirmation, point: str | None,
                    values: dict[str, str]) -> None:
    """One question listing every unusual value and flag of the set; the set is saved only on confirmation."""
    lines = "\n".join("• " + p.get() for p in exc.problems)

    def save(_answers: list[str]) -> bool:
        saved = w.run(lambda: w.bedside.record_vitals(w.subject, point, values, confirm=True), in_sheet=True)
        if saved is None:
            return False
        w.sheet.finish()
        w._saved_reading()
        return False  # already closed

    if exc.early is not None:  # taken well before its time point: that time point only if she says so
        unusual = tr(f"\nThis reading has unusual values:\n{lines}", f"\nCette mesure a des valeurs inhabituelles :"
                     f"\n{lines}") if exc.problems else ""
        w.ask(Ask(tr("Reading before its time", "Mesure avant l'heure"),
                  tr(f"Subject {_who(w)}: ", f"Patient {_who(w)} : ") + exc.early_line.get() + unusual,
                  tr(f"Save as {exc.early.label.en}", f"Enregistrer comme {exc.early.label.fr}"),
                  cancel_first=True), save)
        w.sheet.cancel_button.setText(tr("Correct the values", "Corriger les valeurs") if exc.problems else
                                      tr("Back to the reading", "Revenir à la mesure"))
        return
    w.ask(Ask(tr("Unusual values", "Valeurs inhabituelles"),
              tr(f"Subject {_who(w)}: this reading has unusual values:\n{lines}\nSave them as measured?",
                 f"Patient {_who(w)} : cette mesure a des valeurs inhabituelles :\n{lines}\nLes enregistrer telles "
                 "que mesurées ?"),
              tr("Save as measured", "Enregistrer telles que mesurées"), cancel_first=True), save)
    w.sheet.cancel_button.setText(tr("Correct the values", "Corriger les valeurs"))


def ask_adverse_event_reason(w: BedsideWindow, flag: Flag, refusal: str) -> None:
    """A flag's adverse event on a complete log: the reason for change, then the row and its form."""
    def add(values: list[str]) -> bool:
        opened = w.run(lambda: w.bedside.prefill_adverse_event(w.subject, flag, reason=values[0]), in_sheet=True)
        if opened is None:
            return False
        w.sheet.finish()
        w._open_form(opened.ref, focus=opened.grade_key)
        return False  # already closed

    w.ask(Ask(tr(f"Adverse event: {flag.ae_term}", f"Événement indésirable : {flag.ae_term}"),
              tr(f"Subject {_who(w)}: {refusal}\nGive the reason to add {flag.ae_term} to the log (it is recorded).",
                 f"Patient {_who(w)} : {refusal}\nDonnez le motif pour ajouter {flag.ae_term} au registre (il est "
                 "enregistré)."),
              tr("Add the adverse event", "Ajouter l'événement indésirable"), (AskField(tr("Reason", "Motif")),)),
          add)


def draw_plot(w: BedsideWindow) -> None:
    """The trend plot over the whole monitoring period, in the workstation's local time."""
    state, now = w.state, getattr(w, "_monitor", None)
    if state is None or now is None:
        return
    clock = w._clock()

    def local(wall: dt.datetime) -> dt.datetime:
        return (wall + dt.timedelta(minutes=clock.local_offset_minutes())).replace(tzinfo=None)

    origin = local(now.timer.started) if now.timer.started else local(clock.now()).replace(second=0, microsecond=0)
    end = local(now.timer.stopped) if now.timer.stopped else None
    key = (origin, end, len(state.readings), id(state))
    if getattr(w, "_plotted", None) == key:
        return  # once a second only the countdowns change: the plot is redrawn when its data does
    w._plotted = key  # type: ignore[attr-defined]
    readings = []
    for r in state.readings:
        if r.time is None:
            continue
        when = dt.datetime.combine(origin.date(), r.time)
        if when - origin > dt.timedelta(hours=12):  # the baseline read before midnight, the start after
            when -= dt.timedelta(days=1)
        readings.append((when, w.vs.by_name(r.values)))
    planned = [(p.point.id, local(p.planned)) for p in now.points if p.planned is not None and p.point.id != "BASE"]
    w.plot.show_day(protocol=w.bedside.protocol, origin=origin, end=end, planned=planned, readings=readings)


def show_readiness(w: BedsideWindow) -> None:
    """Before the start: what is still missing (or that all is ready), beside the Start button."""
    readiness = w.readiness
    if readiness is None:
        w.readiness_label.hide()
        return
    w.readiness_label.show()
    if readiness.ready:
        w.readiness_label.setText(tr("Ready to start: every check before the infusion is done.",
                                     "Prêt à démarrer : toutes les vérifications avant la perfusion sont faites."))
        w.readiness_label.setStyleSheet(GOOD)
        return
    w.readiness_label.setText(tr("Before the start: ", "Avant le début : ")
                              + tr("; ", " ; ").join(u.message.get() for u in readiness.unmet) + ".")
    w.readiness_label.setStyleSheet(BAD)


def start_label(w: BedsideWindow) -> tuple[bool, str | None]:
    """Whether Start can be pressed now by this user, and what it says."""
    readiness = w.readiness
    if readiness is None or readiness.ready:
        return readiness is not None, None
    if readiness.blocking or not may_override(w.ws):
        return False, tr("Start (see what is missing)", "Démarrer (voir ce qui manque)")
    return True, tr("Start without ", "Démarrer sans ") + ", ".join(
        tr(*SHORT.get(u.code, (u.code, u.code))) for u in readiness.overridable) + "…"
