"""The audit trail in words for people (PDF appendix, history): every action code as a short phrase in French and
English, the texts the program itself writes into the trail (details, automatic reasons) in the reader's language.

What a user typed (a reason for change, a query text) is shown as typed."""

from __future__ import annotations

import re

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
}

# Texts the program writes into the trail itself.
DETAILS: dict[str, L] = {
    "locked": L("locked", "verrouillé"), "unlocked": L("unlocked", "déverrouillé"),
    "wrong password": L("wrong password", "mot de passe incorrect"),
    "signed data changed": L("signed data changed", "données signées modifiées"),
    "signed data changed: row removed": L("signed data changed: row removed",
                                          "données signées modifiées : ligne supprimée"),
    "not applicable (condition not met) at completion": L("not applicable (condition not met) at completion",
                                                          "sans objet (condition non remplie) à la complétion"),
    "closed": L("closed", "close"),
}
_QUERY_STEP = re.compile(r"^query #(\d+) (open|answer|close|reopen): ?(.*)$", re.DOTALL)
_CREATED = re.compile(r"^form instance created under version (\S+) \((\w+)\)$")
_STEPS = {"open": L("opened", "ouverture"), "answer": L("answered", "réponse"), "close": L("closed", "clôture"),
          "reopen": L("re-opened", "réouverture")}


def action_label(action: str, lang: Lang) -> str:
    label = ACTIONS.get(action)
    return label.get(lang) if label is not None else action.replace("_", " ")


def detail_text(text: str, lang: Lang) -> str:
    """A trail detail or automatic reason in the reader's language ("query #3 answer: ..." -> "query n°3, réponse :
    ..."); a text a user typed comes back as typed."""
    known = DETAILS.get(text)
    if known is not None:
        return known.get(lang)
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
