"""The audit trail in words for people (PDF appendix, history): every action code as a short phrase in French and
English, the texts the program itself writes into the trail (details, automatic reasons) in the reader's language.

What a user typed (a reason for change, a query text) is shown as typed."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from msc_sle_crf.clock import format_stored
from msc_sle_crf.i18n import L, Lang

ACTIONS: dict[str, L] = {
    "site_init": L("Site created", "Site créé"), "schema_upgrade": L("Database upgraded", "Base mise à niveau"),
    "create": L("Created", "Création"), "update": L("Updated", "Mise à jour"), "delete": L("Deleted", "Suppression"),
    "status_change": L("State changed", "Changement d'état"), "sign": L("Signed", "Signature"),
    "sign_failed": L("Signature refused", "Signature refusée"),
    "signature_invalidated": L("Signature made invalid", "Signature invalidée"),
    "source_verified": L("Source-verified (SDV)", "Vérifié sur source (SDV)"), "query": L("Query", "Query"),
    "draft_save": L("Draft kept", "Brouillon conservé"), "data_entry": L("Entered", "Saisie"),
    "data_change": L("Changed", "Modification"), "row_add": L("Row added", "Ligne ajoutée"),
    "row_remove": L("Row removed", "Ligne supprimée"), "infusion_event": L("Infusion", "Perfusion"),
    "product_check": L("Product check", "Contrôle du produit"),
    "two_person_check": L("Second-person check", "Double contrôle"),
    "draft_discard": L("Draft discarded", "Brouillon abandonné"), "login": L("Signed in", "Connexion"),
    "login_failed": L("Sign-in failed", "Échec de connexion"), "account_locked": L("Account locked", "Compte bloqué"),
    "logout": L("Signed out", "Déconnexion"), "lock": L("Locked", "Verrouillage"),
    "unlock": L("Unlocked", "Déverrouillage"), "user_switch": L("User switched", "Changement d'utilisateur"),
    "user_add": L("Account added", "Compte ajouté"), "user_disable": L("Account disabled", "Compte désactivé"),
    "user_enable": L("Account enabled again", "Compte réactivé"),
    "backup_verified": L("Backup checked", "Sauvegarde contrôlée"),
    "backup_failed": L("Backup failed", "Échec de la sauvegarde"),
    "password_change": L("Password changed", "Mot de passe changé"),
    "password_reset": L("Password reset", "Mot de passe réinitialisé"),
    "recovery_code_used": L("Recovery code used", "Code de secours utilisé"),
    "setting_change": L("Setting changed", "Paramètre modifié"), "access_denied": L("Refused", "Refus"),
    "export": L("Exported", "Export"), "print": L("Printed", "Impression"), "backup": L("Backup", "Sauvegarde"),
    "restore": L("Restored", "Restauration"), "audit_verify": L("Trail checked", "Piste vérifiée"),
    "step_recovered": L("Interrupted step finished", "Étape interrompue terminée"),
    "trail_loss_detected": L("Lost writes detected", "Écritures perdues détectées"),
    "key_bind": L("Keys bound", "Clés associées"), "key_rotation": L("Keys rotated", "Clés renouvelées"),
    "keyfile_rollback": L("Old key file refused", "Ancien fichier de clés refusé"),
    "receipt": L("Receipt", "Reçu"), "certificate": L("Certificate", "Certificat"),
    "workstation_add": L("Workstation added", "Poste ajouté"),
    "workstation_open": L("Workstation set up", "Poste mis en service"),
    "subject_handover": L("Subject handed over", "Patient transféré"),
    "packet_export": L("Packet written", "Paquet écrit"), "packet_import": L("Packet applied", "Paquet appliqué"),
    "merge_conflict": L("Conflict between workstations", "Conflit entre postes"),
    "conflict_resolved": L("Conflict resolved", "Conflit résolu"),
    "packet_secret": L("Packet secret of the site made", "Secret des paquets du site créé"),
    "row_times": L("Exact times from here", "Heures exactes à partir d'ici"),
}

# Texts the program writes into the trail itself.
DETAILS: dict[str, L] = {
    "locked": L("locked", "verrouillé"), "unlocked": L("unlocked", "déverrouillé"),
    "wrong password": L("wrong password", "mot de passe incorrect"),
    "signed data changed": L("signed data changed", "données signées modifiées"),
    "signed data changed: row removed": L("signed data changed: row removed",
                                          "données signées modifiées : ligne supprimée"),
    "signed data changed: row added": L("signed data changed: row added",
                                        "données signées modifiées : ligne ajoutée"),
    "not applicable (condition not met) at completion": L("not applicable (condition not met) at completion",
                                                          "sans objet (condition non remplie) à la complétion"),
    "not applicable (condition not met)": L("not applicable (condition not met)",
                                            "sans objet (condition non remplie)"),
    "closed": L("closed", "close"),
    "all checks passed": L("all checks passed", "tous les contrôles sont satisfaits"),
    "conflict between workstations: the signed data is in question": L(
        "conflict between workstations: the signed data is in question",
        "conflit entre postes : les données signées sont mises en doute"),
}
_QUERY_STEP = re.compile(r"^query #(\d+) (open|answer|close|reopen): ?(.*)$", re.DOTALL)
_CREATED = re.compile(r"^form instance created under version (\S+) \((\w+)\)$")
_RESOLVED = re.compile(r"^conflict #(\d+) resolved$")
_HANDED = re.compile(r"^entry handed over from (\S+) to (\S+)$")
_AUTO = re.compile(r"^query #(\d+) auto: (.*)$", re.DOTALL)
_SIGNED = re.compile(r"^meaning: ([a-z_]+); sha256: ([0-9a-f]{64})$")  # services/lifecycle.py's sign detail
# The meanings of a signature (formdef/definitions.py's defaults) as one word; a study's own code is said as stored.
MEANINGS: dict[str, L] = {"author": L("author", "auteur"), "review": L("review", "relecture"),
                          "approval": L("approval", "approbation")}
_STEPS = {"open": L("opened", "ouverture"), "answer": L("answered", "réponse"), "close": L("closed", "clôture"),
          "reopen": L("re-opened", "réouverture")}


def action_label(action: str, lang: Lang) -> str:
    label = ACTIONS.get(action)
    return label.get(lang) if label is not None else action.replace("_", " ")


# ----- conflicts between workstations (issue 18): rendered from the stored facts, never the stored English ------------
Side = Mapping[str, Any]  # one side of a conflict: text, user, ws, utc (sync/merge.py ``Change.as_dict``)
ValueText = Callable[[Side], str]  # how a side's value reads (the form passes the item's own formatting)


def when_text(utc: str | None, offset_min: int) -> str:
    """A stored UTC time as the reader's local date and time, dd/mm/yyyy HH:MM."""
    try:
        return format_stored(str(utc), offset_min, seconds=False, offset=False)
    except (TypeError, ValueError):
        return str(utc or "?")


_DECIMAL = re.compile(r"^(-?\d+)\.(\d+)((?: \S+)?)$")


def value_words(text: str | None, lang: Lang) -> str:
    """A value as the trail stores it ("12.4", "12.4 g/L") as the reader writes it ("12,4 g/L" in French)."""
    if not text:
        return "—"
    match = _DECIMAL.match(text)
    if match and lang is Lang.FR:
        return f"{match.group(1)},{match.group(2)}{match.group(3)}"
    return text


def _value(side: Side, value_text: ValueText | None, lang: Lang) -> str:
    shown = value_text(side) if value_text is not None else None
    return shown or value_words(side.get("text"), lang)


def conflict_side(side: Side, lang: Lang, offset_min: int, value_text: ValueText | None = None) -> str:
    """“12,4” entered by dr.a on WS-02, 02/12/2026 10:15."""
    value, user, ws, when = _value(side, value_text, lang), side.get("user") or "?", side.get("ws") or "?", \
        when_text(side.get("utc"), offset_min)
    return L(f"“{value}” by {user} on {ws}, {when}",
             f"« {value} » par {user} sur le poste {ws}, le {when}").get(lang)


def conflict_text(kept: Side, other: Side, lang: Lang, offset_min: int,
                  value_text: ValueText | None = None) -> str:
    """The automatic query of a conflict, in the reader's language and local time."""
    k, o = conflict_side(kept, lang, offset_min, value_text), conflict_side(other, lang, offset_min, value_text)
    shown = _value(kept, value_text, lang)
    return L(f"Conflict between workstations: {k}; {o}. “{shown}” (recorded first) is shown until someone enters "
             "the right value, with a reason.",
             f"Conflit entre postes : {k} ; {o}. « {shown} » (enregistrée en premier) est affichée jusqu'à ce que "
             "quelqu'un saisisse la bonne valeur, avec un motif.").get(lang)


_CONFLICT_QUERY = "Conflict between workstations:"  # how sync/merge.py writes a conflict's automatic query
_SIGNED_IN_QUESTION = "conflict between workstations: the signed data is in question"


def written_by_an_import(action: str, detail: str | None) -> bool:
    """A record the import of a packet wrote for a conflict between workstations: the conflict itself, its automatic
    query, the signature it put in question. Its user is who applied the packet, not who changed the value."""
    if action == "merge_conflict":
        return True
    text = detail or ""
    if action == "query":
        match = _AUTO.match(text)
        return bool(match and match.group(2).startswith(_CONFLICT_QUERY))
    return action == "signature_invalidated" and text == _SIGNED_IN_QUESTION


def applied_by(who: str, lang: Lang) -> str:
    """The user of a record an import wrote for a conflict, so that nobody reads it as their change."""
    return L(f"conflict between workstations, applied by {who}",
             f"conflit entre postes, appliqué par {who}").get(lang)


def who_text(who: str, action: str, detail: str | None, lang: Lang) -> str:
    """The Who of a trail line: the user (with the role), or, for a record a packet's import wrote for a conflict,
    "conflict between workstations, applied by <user>"."""
    return applied_by(who, lang) if written_by_an_import(action, detail) else who


def _merge_detail(data: Mapping[str, Any], lang: Lang, offset_min: int) -> str | None:
    """A ``merge_conflict`` record's detail (JSON the import writes) in words."""
    kind = data.get("kind")
    if kind == "item" and isinstance(data.get("kept"), dict) and isinstance(data.get("other"), dict):
        return conflict_text(data["kept"], data["other"], lang, offset_min)
    if kind == "form":
        return L(f"form state: the less advanced one is kept (the packet of {data.get('from')} had "
                 f"{data.get('incoming')})",
                 f"état du formulaire : le moins avancé est conservé (le paquet de {data.get('from')} indiquait "
                 f"{data.get('incoming')})").get(lang)
    if kind == "row":  # sync/merge.py ``_row`` (h69)
        removed_on, changed_on = ((data.get(n) or {}).get("ws") if isinstance(data.get(n), dict) else None
                                  for n in ("removal", "change"))
        return L(f"row removed on {removed_on} while a value of it changed on {changed_on}: the row is kept",
                 f"ligne supprimée sur le poste {removed_on} alors qu'une de ses valeurs changeait sur le poste "
                 f"{changed_on} : la ligne est conservée").get(lang)
    if kind == "query":
        return L(f"query #{data.get('query')}: the less advanced state is kept (packet of {data.get('from')})",
                 f"query n°{data.get('query')} : l'état le moins avancé est conservé (paquet de "
                 f"{data.get('from')})").get(lang)
    return None


# ----- a value's warnings (soft checks), stored in English in automatic queries and "confirmed: ..." details -------
_NUMBER = r"-?\d+(?:\.\d+)?"
_UNUSUAL = re.compile(rf"^(?P<label>.+?): (?P<value>{_NUMBER})(?P<unit> .+?)? is unusually (?P<way>high|low) "
                      rf"\(expected at (?:most|least) (?P<limit>{_NUMBER})(?: .+?)?\): please confirm$", re.DOTALL)
_WINDOW = re.compile(r"^(?P<label>.+?): outside the visit window (?P<low>\S+) - (?P<high>\S+): please confirm$")
_CONFIRMED = "confirmed: "


def _label(text: str, labels: Mapping[str, L] | None, lang: Lang) -> str:
    """An item's label (or several, "A / B") as stored in English, in the reader's language when it is known."""
    if not labels:
        return text
    return " / ".join(labels[p].get(lang) if p in labels else p for p in text.split(" / "))


def warning_text(text: str, lang: Lang, labels: Mapping[str, L] | None = None) -> str:
    """One or more warnings ("; "-joined) as stored in English ("Temperature: 38.6 °C is unusually high (expected
    at most 38.0 °C): please confirm") in the reader's language; ``labels``: the form's item labels by their
    English text. A warning of an unknown shape comes back as stored."""
    if lang is Lang.EN:
        return text
    out = []
    for part in text.split("; "):
        if part.startswith("= "):  # the value in the item's main unit, after a value given in another one
            out.append("= " + value_words(part[2:], lang))
            continue
        match = _UNUSUAL.match(part)
        if match:
            label, unit = _label(match["label"], labels, lang), match["unit"] or ""
            value, limit = (value_words(match[k], lang) for k in ("value", "limit"))
            way = L("unusually high (expected at most", "inhabituellement haut (attendu au plus") \
                if match["way"] == "high" else \
                L("unusually low (expected at least", "inhabituellement bas (attendu au moins")
            out.append(L(f"{label}: {value}{unit} is {way.en} {limit}{unit}): please confirm",
                         f"{label} : {value}{unit} est {way.fr} {limit}{unit}) : à confirmer").get(lang))
            continue
        match = _WINDOW.match(part)
        if match:
            label = _label(match["label"], labels, lang)
            out.append(L(f"{label}: outside the visit window {match['low']} - {match['high']}: please confirm",
                         f"{label} : hors de la fenêtre de visite {match['low']} - {match['high']} : à confirmer"
                         ).get(lang))
            continue
        out.append(part)
    return "; ".join(out)


def _one_pattern(text: str, lang: Lang) -> str | None:
    """A signature's detail, a conflict resolved, an entry handed over: in the reader's language (None: another)."""
    match = _SIGNED.match(text)
    if match:
        meaning = MEANINGS[match[1]].get(lang) if match[1] in MEANINGS else match[1]
        return L(f"meaning: {meaning}; sha256: {match[2]}",
                 f"signification : {meaning} ; sha256 : {match[2]}").get(lang)
    match = _RESOLVED.match(text)
    if match:
        return L(f"conflict #{match.group(1)} resolved", f"conflit n°{match.group(1)} résolu").get(lang)
    match = _HANDED.match(text)
    if match:
        return L(f"entry handed over from {match.group(1)} to {match.group(2)}",
                 f"saisie transférée du poste {match.group(1)} au poste {match.group(2)}").get(lang)
    return None


def detail_text(text: str, lang: Lang, *, offset_min: int = 0,  # noqa: PLR0911 - one branch per kind of text
                conflicts: Mapping[int, tuple[Side, Side]] | None = None,
                labels: Mapping[str, L] | None = None) -> str:
    """A trail detail or automatic reason in the reader's language ("query #3 answer: ..." -> "query n°3, réponse :
    ..."); a text a user typed comes back as typed. ``conflicts`` (id -> kept, other) lets an automatic conflict
    query be said again in the reader's language; ``offset_min``: the local time of the times inside."""
    known = DETAILS.get(text)
    if known is not None:
        return known.get(lang)
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        said = _merge_detail(data, lang, offset_min) if isinstance(data, dict) else None
        if said is not None:
            return said
    said = _one_pattern(text, lang)
    if said is not None:
        return said
    match = _AUTO.match(text)
    if match:
        qid, said = int(match.group(1)), match.group(2)
        if conflicts is not None and qid in conflicts:
            said = conflict_text(*conflicts[qid], lang, offset_min)
        else:
            said = warning_text(said, lang, labels)
        return L(f"query #{qid}, opened automatically: {said}",
                 f"query n°{qid}, ouverte automatiquement : {said}").get(lang)
    if text.startswith(_CONFIRMED):  # "confirmed: <warnings>[; = <canonical> <unit>]"
        said = warning_text(text[len(_CONFIRMED):], lang, labels)
        return L(f"confirmed: {said}", f"confirmé : {said}").get(lang)
    match = _CREATED.match(text)
    if match:
        return L(f"form started under version {match.group(1)} ({match.group(2)})",
                 f"formulaire commencé sous la version {match.group(1)} ({match.group(2)})").get(lang)
    match = _QUERY_STEP.match(text)
    if match:
        number, step, said = match.groups()
        said = DETAILS[said].get(lang) if said in DETAILS else said
        head = L(f"query #{number}, {_STEPS[step].en}", f"query n°{number}, {_STEPS[step].fr}").get(lang)
        return f"{head}{' : ' if lang is Lang.FR else ': '}{said}" if said else head
    return text
