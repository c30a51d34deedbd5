"""One error catalogue: every error a user can see has a code and a message in English and French.

Known errors (``CrfError``) are shown as their message, one line, never a traceback. Anything else is an
internal error: the user gets a generic message and an incident id, and the traceback goes to a log that
never contains trial data (see ``msc_sle_crf.logging_setup``).
"""

from __future__ import annotations

import string
from enum import Enum
from typing import Any

from msc_sle_crf.i18n import L, Lang, current_lang

_MULTILINE = frozenset({"problems", "errors"})  # lists the program builds itself, one problem per line


def _visible(value: Any) -> Any:
    """What a user typed, shown inside a message: control and direction characters escaped (a name with a newline
    or an escape sequence cannot break the one-line message or the terminal)."""
    if not isinstance(value, str):
        return value
    return "".join(ch if ch.isprintable() and ch not in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                   else ch.encode("unicode_escape").decode("ascii") for ch in value)


class Msg(Enum):
    """Message templates: (English, French). Placeholders must be the same in both."""

    # Authentication
    BAD_CREDENTIALS = (
        "Sign-in failed: unknown user name or wrong password.",
        "Échec de la connexion : nom d'utilisateur inconnu ou mot de passe incorrect.",
    )
    ACCOUNT_LOCKED = (
        "Too many failed attempts: this account is locked for {minutes} more minute(s).",
        "Trop d'échecs : ce compte est verrouillé encore {minutes} minute(s).",
    )
    BAD_RECOVERY_CODE = (
        "The recovery code is not valid.",
        "Le code de récupération n'est pas valide.",
    )
    PASSWORD_TOO_SHORT = (
        "Password: must be at least {min_length} characters long.",
        "Mot de passe : au moins {min_length} caractères sont requis.",
    )
    PASSWORD_SAME_AS_USER = (
        "Password: must not contain the user name.",
        "Mot de passe : ne doit pas contenir le nom d'utilisateur.",
    )
    PASSWORD_MISMATCH = (
        "Password: the two entries differ.",
        "Mot de passe : les deux saisies sont différentes.",
    )
    PASSWORD_UNCHANGED = (
        "Password: the new password must differ from the current one.",
        "Mot de passe : le nouveau mot de passe doit être différent de l'actuel.",
    )
    PASSWORD_CHANGE_REQUIRED = (
        "You must choose a new password before going on.",
        "Vous devez choisir un nouveau mot de passe avant de continuer.",
    )
    # Permissions
    PERMISSION_DENIED = (
        "Not allowed: the role '{role}' may not {action}.",
        "Action refusée : le rôle « {role} » ne peut pas {action}.",
    )
    NOT_SIGNED_IN = ("No user is signed in.", "Aucun utilisateur n'est connecté.")
    # Users
    USER_NAME_INVALID = (
        "User name: 3 to 32 characters, lower-case letters, digits, '.', '-' or '_', starting with a letter.",
        "Nom d'utilisateur : 3 à 32 caractères, lettres minuscules, chiffres, « . », « - » ou « _ », "
        "commençant par une lettre.",
    )
    USER_EXISTS = ("User name: '{user}' is already taken.", "Nom d'utilisateur : « {user} » est déjà pris.")
    USER_UNKNOWN = ("No active user named '{user}'.", "Aucun utilisateur actif nommé « {user} ».")
    USER_ALREADY_ACTIVE = ("User '{user}': already active.", "Utilisateur « {user} » : déjà actif.")
    FULL_NAME_REQUIRED = ("Full name: required.", "Nom complet : obligatoire.")
    ROLE_INVALID = (
        "Role: must be one of {choices}.",
        "Rôle : doit être l'un de {choices}.",
    )
    LAST_ADMIN = (
        "'{user}' is the last active administrator and cannot be disabled.",
        "« {user} » est le dernier administrateur actif et ne peut pas être désactivé.",
    )
    CANNOT_DISABLE_SELF = (
        "You cannot disable your own account.",
        "Vous ne pouvez pas désactiver votre propre compte.",
    )
    DISABLE_REASON_REQUIRED = (
        "Reason: required to disable an account (it is kept in the audit trail).",
        "Motif : obligatoire pour désactiver un compte (il est conservé dans la piste d'audit).",
    )
    ENABLE_REASON_REQUIRED = (
        "Reason: required to enable an account again (it is kept in the audit trail).",
        "Motif : obligatoire pour réactiver un compte (il est conservé dans la piste d'audit).",
    )
    # Subjects and settings
    FIELD_REQUIRED = ("{field}: required.", "{field} : obligatoire.")
    FIELD_PATTERN = ("{field}: {rule}.", "{field} : {rule}.")
    FIELD_RANGE = (
        "{field}: must be between {low} and {high}.",
        "{field} : doit être compris entre {low} et {high}.",
    )
    SETTING_UNKNOWN = ("Unknown site setting '{key}'.", "Paramètre de site inconnu « {key} ».")
    REASON_REQUIRED = (
        "Reason for change: required when changing recorded data.",
        "Motif de modification : obligatoire pour modifier une donnée enregistrée.",
    )
    # Form data
    VALUE_REFUSED = ("{problem}. The value was not saved.", "{problem}. La valeur n'a pas été enregistrée.")
    VALUE_NEEDS_CONFIRMATION = (
        "{problem}. Confirm the value to save it.",
        "{problem}. Confirmez la valeur pour l'enregistrer.",
    )
    CHANGE_REASON_REQUIRED = (
        "{field}: the form is complete; a reason for the change is required.",
        "{field} : le formulaire est complet ; un motif de modification est obligatoire.",
    )
    CHANGE_REASON_REQUIRED_VERIFIED = (
        "{field}: the form is source-verified; a reason for the change is required, and the verification will no "
        "longer hold for the changed value.",
        "{field} : le formulaire est vérifié (SDV) ; un motif de modification est obligatoire, et la vérification ne "
        "vaudra plus pour la valeur modifiée.",
    )
    CHANGE_REASON_REQUIRED_SIGNED = (
        "{field}: the form is signed; a reason for the change is required, and the signature will no longer be "
        "valid (the form must be signed again).",
        "{field} : le formulaire est signé ; un motif de modification est obligatoire, et la signature ne sera plus "
        "valide (le formulaire devra être signé à nouveau).",
    )
    MISSING_CODE_NOT_ALLOWED = (
        "{field}: '{code}' is not allowed for this item.",
        "{field} : « {code} » n'est pas admis pour cet élément.",
    )
    MISSING_REASON_REQUIRED = ("{field}: '{code}' needs a reason.", "{field} : « {code} » nécessite une raison.")
    FORM_INCOMPLETE = (
        "The form cannot be marked complete ({count} problem(s)):\n{problems}",
        "Le formulaire ne peut pas être marqué complet ({count} problème(s)) :\n{problems}",
    )
    FORM_NOT_IN_EVENT = (
        "Form '{form}' is not part of visit '{event}'.",
        "Le formulaire « {form} » ne fait pas partie de la visite « {event} ».",
    )
    SUBJECT_UNKNOWN = ("No subject numbered '{subject}'.", "Aucun patient portant le numéro « {subject} ».")
    ITEM_UNKNOWN = ("Form '{form}' has no item '{item}'.", "Le formulaire « {form} » n'a pas d'élément « {item} ».")
    ITEM_CALCULATED = ("{field}: calculated, it cannot be typed.", "{field} : calculé, il ne peut pas être saisi.")
    ROW_UNKNOWN = ("{group}: row {row} does not exist.", "{group} : la ligne {row} n'existe pas.")
    ROW_LIMIT = ("{group}: at most {count} row(s).", "{group} : au plus {count} ligne(s).")
    FORMS_INVALID = (
        "The form definitions in {path} contain {count} error(s); the program cannot start:\n{errors}",
        "Les définitions de formulaires dans {path} contiennent {count} erreur(s) ; le programme ne peut pas "
        "démarrer :\n{errors}",
    )
    # Lifecycle and signatures
    FORM_LOCKED = ("The form is locked: unlock it (with a reason) to change it.",
                   "Le formulaire est verrouillé : le déverrouiller (avec un motif) pour le modifier.")
    FORM_WRONG_STATE = ("Not possible: the form is {state}.", "Impossible : le formulaire est {state}.")
    SIGNER_MISMATCH = ("Sign with your own user name ({user}).",
                       "Signez avec votre propre nom d'utilisateur ({user}).")
    SIGNATURE_MEANING_UNKNOWN = ("Signature meaning: choose one of {choices}.",
                                 "Signification de la signature : choisir parmi {choices}.")
    SUBJECT_NOT_READY = ("The subject cannot be locked: these forms are not signed: {forms}.",
                         "Le patient ne peut pas être verrouillé : ces formulaires ne sont pas signés : {forms}.")
    QUERY_UNKNOWN = ("No query number {query}.", "Aucune query numéro {query}.")
    QUERY_TEXT_REQUIRED = ("Query: a text is required.", "Query : un texte est obligatoire.")
    QUERY_ALREADY_CLOSED = ("Query #{query} is already closed: nothing to close.",
                            "La query n°{query} est déjà close : rien à clore.")
    QUERY_NOT_CLOSED = ("Query #{query} is open: only a closed query can be re-opened.",
                        "La query n°{query} est ouverte : seule une query close peut être rouverte.")
    PDF_WRITE_FAILED = ("Cannot write the PDF to {path}: {reason}. Nothing was written there.",
                        "Impossible d'écrire le PDF dans {path} : {reason}. Rien n'y a été écrit.")
    # Bedside
    BEDSIDE_REFUSED = ("{problem}", "{problem}")
    SECOND_CHECKER_SAME = (
        "The second check must be done by another member of staff, not {user}.",
        "La double vérification doit être faite par une autre personne que {user}.",
    )
    SECOND_CHECKER_ROLE = (
        "The second check needs a nurse or an investigator, not the role '{role}'.",
        "La double vérification demande un(e) infirmier(ère) ou un investigateur, pas le rôle « {role} ».",
    )
    # Store
    DB_NOT_FOUND = (
        "Database not found: {path}. Check the path, or create one with 'msc-sle-crf init'.",
        "Base de données introuvable : {path}. Vérifiez le chemin ou créez-la avec « msc-sle-crf init ».",
    )
    DB_EXISTS = (
        "A database already exists at {path}; refusing to overwrite it.",
        "Une base de données existe déjà à {path} ; elle ne sera pas écrasée.",
    )
    DB_NOT_A_DATABASE = (
        "{path} is not an MSC-SLE database, or it is damaged beyond reading. "
        "Restore the latest backup ('msc-sle-crf restore').",
        "{path} n'est pas une base MSC-SLE, ou elle est trop endommagée pour être lue. "
        "Restaurez la dernière sauvegarde (« msc-sle-crf restore »).",
    )
    DB_TRUNCATED = (
        "The database {path} is truncated (incomplete file). Restore the latest backup ('msc-sle-crf restore').",
        "La base {path} est tronquée (fichier incomplet). Restaurez la dernière sauvegarde "
        "(« msc-sle-crf restore »).",
    )
    DB_CORRUPT = (
        "The database {path} is damaged ({detail}). Nothing was written. "
        "Restore the latest backup ('msc-sle-crf restore').",
        "La base {path} est endommagée ({detail}). Rien n'a été écrit. "
        "Restaurez la dernière sauvegarde (« msc-sle-crf restore »).",
    )
    DB_IN_USE = (
        "The database {path} is already open in another window or program. Close it there first.",
        "La base {path} est déjà ouverte dans une autre fenêtre ou un autre programme. Fermez-la d'abord.",
    )
    DB_TOO_NEW = (
        "The database {path} was written by a newer version of this program (schema {found}). "
        "Install the newer version.",
        "La base {path} a été écrite par une version plus récente de ce programme (schéma {found}). "
        "Installez cette version.",
    )
    DB_WRITE_FAILED = (
        "Could not save to the database: {detail}. Your last change was not recorded.",
        "Enregistrement impossible dans la base : {detail}. Votre dernière modification n'a pas été "
        "enregistrée.",
    )
    KEYFILE_MISSING = (
        "The key file {path} is missing: the database cannot be unlocked without it. "
        "Restore the database and its key file from a backup ('msc-sle-crf restore').",
        "Le fichier de clés {path} est manquant : la base ne peut pas être déverrouillée sans lui. "
        "Restaurez la base et son fichier de clés depuis une sauvegarde (« msc-sle-crf restore »).",
    )
    KEYFILE_CORRUPT = (
        "The key file {path} is damaged ({detail}). Restore it from a backup ('msc-sle-crf restore'); "
        "if only one account fails, an administrator or the recovery code can reset its password.",
        "Le fichier de clés {path} est endommagé ({detail}). Restaurez-le depuis une sauvegarde "
        "(« msc-sle-crf restore ») ; si un seul compte échoue, un administrateur ou le code de "
        "récupération peut réinitialiser son mot de passe.",
    )
    KEYFILE_MISMATCH = (
        "The key file {path} does not belong to this database (or the start of the database is damaged). "
        "Restore the matching pair from a backup.",
        "Le fichier de clés {path} ne correspond pas à cette base (ou le début de la base est endommagé). "
        "Restaurez la paire correspondante depuis une sauvegarde.",
    )
    KEYFILE_TOO_NEW = (
        "The key file {path} has format version {found}, newer than this program understands.",
        "Le fichier de clés {path} est au format {found}, plus récent que ce que ce programme comprend.",
    )
    # Backup
    BACKUP_INVALID = (
        "The backup {path} is not valid: {detail}.",
        "La sauvegarde {path} n'est pas valide : {detail}.",
    )
    BACKUP_FOLDER_UNSET = (
        "No backup folder is set: an administrator chooses one in Administration > Backups.",
        "Aucun dossier de sauvegarde n'est défini : un administrateur le choisit dans Administration > Sauvegardes.",
    )
    BACKUP_FOLDER_MISSING = (
        "The backup folder {path} is not available (drive not connected, share not mounted?): no backup was made.",
        "Le dossier de sauvegarde {path} n'est pas disponible (clé non branchée, partage non monté ?) : aucune "
        "sauvegarde n'a été faite.",
    )
    BACKUP_CANCELLED = (
        "Backup cancelled: nothing was written.",
        "Sauvegarde annulée : rien n'a été écrit.",
    )
    OUTPUT_EXISTS = (
        "{path} already exists; choose another file name.",
        "{path} existe déjà ; choisissez un autre nom de fichier.",
    )
    OUTPUT_NOT_WRITABLE = (
        "Cannot write {path}: {detail}.",
        "Impossible d'écrire {path} : {detail}.",
    )
    # Audit
    AUDIT_BROKEN = (
        "Audit trail check FAILED at record #{record}: {detail}.",
        "Échec du contrôle de la piste d'audit à l'enregistrement n° {record} : {detail}.",
    )
    # Generic
    INTERNAL = (
        "An unexpected error occurred (incident {incident}). Nothing was lost; "
        "please report the incident number.",
        "Une erreur inattendue s'est produite (incident {incident}). Rien n'a été perdu ; "
        "signalez le numéro d'incident.",
    )
    INPUT_NOT_INTERACTIVE = (
        "A password is needed: run in a terminal or use --password-stdin.",
        "Un mot de passe est nécessaire : lancez dans un terminal ou utilisez --password-stdin.",
    )
    # ----- issue 15: outputs, limits, interrupted steps, states (kept together to ease merging) -----
    OUTPUT_REFUSED = (
        "Cannot write {path}: {reason}. Nothing was written and nothing was changed.",
        "Impossible d'écrire {path} : {reason}. Rien n'a été écrit ni modifié.",
    )
    TEXT_TOO_LONG = (
        "{field}: at most {limit} characters ({count} given).",
        "{field} : {limit} caractères au plus ({count} saisis).",
    )
    TEXT_TOO_MANY_BYTES = (
        "{field}: at most {limit} bytes once encoded (accented letters count 2, some signs 3; {count} given).",
        "{field} : {limit} octets au plus une fois encodé (une lettre accentuée compte 2, certains signes 3 ; "
        "{count} saisis).",
    )
    TEXT_FORBIDDEN_CHARACTER = (
        "{field}: must not contain control, invisible or direction-changing characters ({found}).",
        "{field} : ne doit pas contenir de caractères de contrôle, invisibles ou changeant le sens d'écriture "
        "({found}).",
    )
    INPUT_UNREADABLE = (
        "Cannot read {path}: {reason}.",
        "Impossible de lire {path} : {reason}.",
    )
    FINGERPRINT_MALFORMED = (
        "--fingerprint: a site CA fingerprint is 64 hexadecimal digits (32 pairs AB:CD:…, as `cert show` prints "
        "it); '{given}' has {digits}.",
        "--fingerprint : l'empreinte de l'AC du site compte 64 chiffres hexadécimaux (32 paires AB:CD:…, comme "
        "l'affiche `cert show`) ; « {given} » en a {digits}.",
    )
    DB_PATH_INVALID = (
        "Database {path}: {reason}.",
        "Base de données {path} : {reason}.",
    )
    KEYFILE_SAVE_FAILED = (
        "Cannot save the key file {path}: {detail}. The previous key file is unchanged.",
        "Impossible d'enregistrer le fichier de clés {path} : {detail}. L'ancien fichier de clés est inchangé.",
    )
    STEP_COMPLETED = (
        "An interrupted {step} (started {started}) was completed when the site was opened.",
        "Une opération interrompue ({step}, commencée le {started}) a été terminée à l'ouverture du site.",
    )
    STEP_ROLLED_BACK = (
        "An interrupted {step} (started {started}) was undone when the site was opened; nothing of it remains.",
        "Une opération interrompue ({step}, commencée le {started}) a été annulée à l'ouverture du site ; "
        "il n'en reste rien.",
    )
    STEP_NOT_RECOVERABLE = (
        "An interrupted {step} could not be finished or undone: {detail}. The journal {path} and the files it "
        "names were left as they are; restore the latest backup or ask for support.",
        "Une opération interrompue ({step}) n'a pu être ni terminée ni annulée : {detail}. Le journal {path} et "
        "les fichiers qu'il cite ont été laissés en l'état ; restaurez la dernière sauvegarde ou demandez de l'aide.",
    )
    SUBJECT_LOCKED = (
        "Subject {subject} is locked: nothing can be changed until the subject is unlocked (with a reason).",
        "Le patient {subject} est verrouillé : rien ne peut être modifié avant son déverrouillage (avec un motif).",
    )
    ACCOUNT_DISABLED = (
        "Your account has been disabled: this session has ended.",
        "Votre compte a été désactivé : cette session est terminée.",
    )
    SCREEN_LOCKED = (
        "The screen is locked: sign in again to go on.",
        "L'écran est verrouillé : reconnectez-vous pour continuer.",
    )
    VISIT_UNKNOWN = (
        "Visit '{visit}' does not exist; the visits are: {choices}.",
        "La visite « {visit} » n'existe pas ; les visites sont : {choices}.",
    )
    NOTHING_TO_PRINT = (
        "Nothing to print: subject {subject} has no form started{where}.",
        "Rien à imprimer : le patient {subject} n'a aucun formulaire commencé{where}.",
    )
    TRAIL_WRITES_LOST = (
        "Writes after {last_time} may have been lost: record #{head} (written {head_time}) was recorded outside "
        "the database before it closed, but the trail ends at record #{last}.",
        "Des écritures postérieures à {last_time} ont pu être perdues : l'enregistrement n° {head} (écrit le "
        "{head_time}) avait été noté hors de la base, mais la piste s'arrête à l'enregistrement n° {last}.",
    )
    YAML_REFUSED = (
        "{path}: {reason}.",
        "{path} : {reason}.",
    )
    # Outcome reports (issue 17)
    REPORT_VISIT_UNKNOWN = (
        "Visit: '{visit}' has no outcome table; choose one of {choices}.",
        "Visite : « {visit} » n'a pas de tableau de critères ; choisir parmi {choices}.",
    )
    REPORT_COHORT_UNKNOWN = (
        "Cohort: '{cohort}' is not a dose cohort of the study; choose one of {choices}.",
        "Cohorte : « {cohort} » n'est pas une cohorte de dose de l'étude ; choisir parmi {choices}.",
    )
    SAFETY_REVIEW_NOT_READY = (
        "The safety review of cohort {cohort} cannot be signed yet: {waiting}. A provisional review can be printed "
        "now, marked as such.",
        "La revue de tolérance de la cohorte {cohort} ne peut pas encore être signée : {waiting}. Une revue "
        "provisoire peut être imprimée maintenant, marquée comme telle.",
    )
    REPORT_FORMAT_NEEDS_FILE = (
        "--format {format}: give the file to write with --out.",
        "--format {format} : indiquer le fichier à écrire avec --out.",
    )
    # Bedside (infusion day): the start gate, undo of a stop, one confirmation for a set of vital signs
    START_REFUSED = (
        "The infusion cannot start: {missing}.",
        "La perfusion ne peut pas démarrer : {missing}.",
    )
    START_OVERRIDE_NEEDS_INVESTIGATOR = (
        "The infusion cannot start: {missing}. Only an investigator may start without it, with a reason.",
        "La perfusion ne peut pas démarrer : {missing}. Seul un investigateur peut démarrer sans, avec un motif.",
    )
    START_OVERRIDE_NEEDS_REASON = (
        "Starting without {missing}: a reason is required.",
        "Démarrer sans {missing} : un motif est obligatoire.",
    )
    UNDO_STOP_REASON_REQUIRED = (
        "Undo the stop: a reason is required.",
        "Annuler l'arrêt : un motif est obligatoire.",
    )
    VITALS_NEED_CONFIRMATION = (
        "Unusual values in this reading: {problems}. Confirm to save them as measured.",
        "Valeurs inhabituelles dans cette mesure : {problems}. Confirmez pour les enregistrer telles que mesurées.",
    )
    VITALS_EARLY_NEED_CONFIRMATION = (
        "{point} is planned at {planned}, in {minutes} min: confirm to record this reading as {point}, or save it as "
        "an extra reading.{problems}",
        "{point} est prévue à {planned}, dans {minutes} min : confirmez pour enregistrer cette mesure comme {point}, "
        "ou enregistrez-la comme mesure supplémentaire.{problems}",
    )
    TIMEPOINT_ALREADY_DONE = (
        "{point}: already recorded. Record an extra reading instead, or correct the row on the form.",
        "{point} : déjà saisie. Saisir une mesure supplémentaire, ou corriger la ligne sur le formulaire.",
    )

    # Issue 14: personal keys, the site CA, revocation, lockout
    KEYFILE_ROLLED_BACK = (
        "The key file {path} is older than the database (generation {found}; the database last saw {expected}): an "
        "older copy was put back. Sign-in refused and recorded. Put the current key file back, or restore a backup.",
        "Le fichier de clés {path} est plus ancien que la base (génération {found} ; la base a vu la {expected}) : "
        "une copie ancienne a été remise en place. Connexion refusée et enregistrée. Remettez le fichier de clés "
        "actuel, ou restaurez une sauvegarde.",
    )
    CERTIFICATE_MISSING = (
        "No personal signing certificate for '{user}' yet: an administrator issues it (Administration menu, or "
        "'msc-sle-crf user certify').",
        "Pas encore de certificat de signature personnel pour « {user} » : un administrateur le délivre (menu "
        "Administration, ou « msc-sle-crf user certify »).",
    )
    CA_NOT_IN_TRAIL = (
        "The site certificate authority stored in the database is not the one an administrator recorded in the audit "
        "trail (fingerprint {found}, the trail says {recorded}): nothing is signed or trusted with it; run 'verify'.",
        "L'autorité de certification du site enregistrée dans la base n'est pas celle qu'un administrateur a inscrite "
        "dans la piste d'audit (empreinte {found}, la piste indique {recorded}) : rien n'est signé ni accepté avec "
        "elle ; lancez « verify ».",
    )
    CA_MISSING = (
        "This site has no certificate authority yet: an administrator creates it ('msc-sle-crf user certify', or "
        "Administration menu).",
        "Ce site n'a pas encore d'autorité de certification : un administrateur la crée (« msc-sle-crf user "
        "certify », ou menu Administration).",
    )
    DEFINITION_DAMAGED = (
        "The definition stored with the data of form '{form}' is damaged ({detail}): the form cannot be shown; run "
        "'verify' and restore the last good backup.",
        "La définition enregistrée avec les données du formulaire « {form} » est endommagée ({detail}) : le "
        "formulaire ne peut pas être affiché ; lancez « verify » et restaurez la dernière bonne sauvegarde.",
    )
    PASSWORD_TOO_WEAK = (
        "Password: too easy to guess. {feedback}",
        "Mot de passe : trop facile à deviner. {feedback}",
    )
    ROTATION_BLOCKED = (
        "Keys cannot be rotated: {reason}.",
        "Rotation des clés impossible : {reason}.",
    )
    # ----- issue 16: data out -----
    EXPORT_INVALID = (
        "The export was stopped: {name} is not valid against the official ODM 1.3.2 schema ({detail}). Nothing was "
        "written under the target name; please report it.",
        "Export arrêté : {name} n'est pas valide selon le schéma officiel ODM 1.3.2 ({detail}). Rien n'a été écrit "
        "sous le nom choisi ; merci de le signaler.",
    )
    PACKET_OTHER_SITE = (
        "Packet refused: {path} comes from another site (database {other}), not from this one.",
        "Paquet refusé : {path} vient d'un autre site (base {other}), pas de celui-ci.",
    )
    PACKET_ALTERED = (
        "Packet refused: {path} is damaged or was altered ({detail}); nothing was applied.",
        "Paquet refusé : {path} est endommagé ou a été modifié ({detail}) ; rien n'a été appliqué.",
    )
    PACKET_FORGED = (
        "Packet refused: {path} does not hold as its author's ({detail}); nothing was applied.",
        "Paquet refusé : {path} n'est pas authentique ({detail}) ; rien n'a été appliqué.",
    )
    PACKET_SIGNATURE_FORGED = (
        "Packet refused: {path} brings an electronic signature of subject {subject} / visit {visit} / form {form} "
        "in the name of '{signer}' that is not {signer}'s own (forged or edited); nothing was applied.",
        "Paquet refusé : {path} apporte une signature électronique du patient {subject} / visite {visit} / "
        "formulaire {form} au nom de « {signer} » qui n'est pas celle de {signer} (falsifiée ou modifiée) ; rien "
        "n'a été appliqué.",
    )
    PACKET_ROWS_UNEXPLAINED = (
        "Packet refused: {path} brings {kind} about {subject}, which none of its records explain; nothing was "
        "applied.",
        "Paquet refusé : {path} apporte {kind} sur {subject}, qu'aucun de ses enregistrements n'explique ; rien "
        "n'a été appliqué.",
    )
    PACKET_ROLE = (
        "Packet refused: {path}: record #{record} is in the name of '{account}' as '{claimed}', but the trail binds "
        "'{account}' to the role '{bound}' at that time; nothing was applied.",
        "Paquet refusé : {path} : l'enregistrement n° {record} est au nom de « {account} » avec le rôle "
        "« {claimed} », mais la piste attribue à « {account} » le rôle « {bound} » à ce moment ; rien n'a été "
        "appliqué.",
    )
    PACKET_ROLE_NOT_ALLOWED = (
        "Packet refused: {path}: record #{record} ({action}) is by '{account}', whose role '{bound}' may not do "
        "that; nothing was applied.",
        "Paquet refusé : {path} : l'enregistrement n° {record} ({action}) est de « {account} », dont le rôle "
        "« {bound} » ne le permet pas ; rien n'a été appliqué.",
    )
    PACKET_GAP = (
        "Packet refused: {path} is packet {seq} of {ws}, but the next expected from {ws} is {expected} "
        "(import the missing packets first, in order).",
        "Paquet refusé : {path} est le paquet {seq} de {ws}, mais le suivant attendu de {ws} est le {expected} "
        "(importez d'abord les paquets manquants, dans l'ordre).",
    )
    PACKET_BROKEN_CHAIN = (
        "Packet refused: {path} does not continue what was imported from {ws} ({detail}).",
        "Paquet refusé : {path} ne fait pas suite à ce qui a été importé de {ws} ({detail}).",
    )
    PACKET_OWN = (
        "Packet refused: {path} was written by this workstation ({ws}); import it on another one.",
        "Paquet refusé : {path} a été écrit par ce poste ({ws}) ; importez-le sur un autre poste.",
    )
    PACKET_WS_NEVER_ADDED = (
        "Packet refused: {ws} was never added to this site (no workstation_add record by an administrator here or in "
        "{path}): a workstation exists only once 'msc-sle-crf workstation add' made it (docs/workstations.md).",
        "Paquet refusé : le poste {ws} n'a jamais été ajouté à ce site (aucun enregistrement workstation_add d'un "
        "administrateur ici ni dans {path}) : un poste n'existe qu'une fois créé par « msc-sle-crf workstation add » "
        "(docs/workstations.md).",
    )
    PACKET_WS_UNOPENED = (
        "Packet refused: {path} names an opening of {ws}'s workstation file (instance {other}) that no "
        "workstation_open record presenting the file's one-time token supports: it is not the {ws} the site added "
        "(a copy of another workstation given its name?); see docs/workstations.md.",
        "Paquet refusé : {path} nomme une ouverture du fichier du poste {ws} (instance {other}) qu'aucun "
        "enregistrement workstation_open présentant le jeton à usage unique du fichier n'atteste : ce n'est pas le "
        "{ws} ajouté au site (une copie d'un autre poste renommée ?) ; voir docs/workstations.md.",
    )
    PACKET_HANDOVER_INVALID = (
        "Packet refused: in {path}, the handover of subject {subject} by '{author}' on {ws} to {target} is not "
        "valid: {why}. Nothing was applied.",
        "Paquet refusé : dans {path}, le transfert du patient {subject} par « {author} » sur {ws} vers {target} "
        "n'est pas valable : {why}. Rien n'a été appliqué.",
    )
    PACKET_DEFINITION_DIFFERS = (
        "Packet refused: in {path}, form {form} version {version} of subject {subject} was entered under another "
        "definition than this site's for that version (definition {other} instead of {known}): a form's version names "
        "one definition (a changed forms folder?). Nothing was applied.",
        "Paquet refusé : dans {path}, le formulaire {form} version {version} du patient {subject} a été saisi selon "
        "une autre définition que celle de ce site pour cette version (définition {other} au lieu de {known}) : une "
        "version de formulaire désigne une seule définition (dossier de formulaires modifié ?). Rien n'a été "
        "appliqué.",
    )
    PACKET_DEFINITION_UNKNOWN = (
        "Packet refused: in {path}, form {form} of subject {subject} was entered under version {version}, which this "
        "workstation neither runs (it runs version {runs}) nor has received before: install the study's amended forms "
        "here first if the study changed, else the other workstation used forms that are not the study's. Nothing "
        "was applied.",
        "Paquet refusé : dans {path}, le formulaire {form} du patient {subject} a été saisi en version {version}, que "
        "ce poste n'utilise pas (il utilise la version {runs}) et n'a jamais reçue : installez d'abord ici les "
        "formulaires modifiés de l'étude si elle a changé, sinon l'autre poste a utilisé des formulaires qui ne sont "
        "pas ceux de l'étude. Rien n'a été appliqué.",
    )
    STUDY_DEFINITION_DIFFERS = (
        "The forms in {path} cannot be used with this database: form {form} version {version} differs from the "
        "definition this database recorded for that version (definition {known}, these forms {other}); use the "
        "study's forms (is MSC_SLE_CRF_FORMS_DIR set?) or give the changed form a new version.",
        "Les formulaires de {path} ne peuvent pas servir avec cette base : le formulaire {form} version {version} "
        "diffère de la définition que cette base a enregistrée pour cette version (définition {known}, ces "
        "formulaires {other}) ; utilisez les formulaires de l'étude (MSC_SLE_CRF_FORMS_DIR est-il défini ?) ou "
        "donnez une nouvelle version au formulaire modifié.",
    )
    PACKET_AUTHOR_DISABLED = (
        "Packet refused: in {path}, record #{record} by '{author}' on {ws} ({when}) was written after that account "
        "was disabled on {where} ({disabled}): a disabled account's later records are accepted from no workstation. "
        "Nothing was applied. If the file comes from a copy of {ws}'s database, set it aside: the site's {ws} goes "
        "on sending its own packets (docs/workstations.md, 'A disabled account's copy').",
        "Paquet refusé : dans {path}, l'enregistrement n°{record} de « {author} » sur {ws} ({when}) a été écrit après "
        "la désactivation de ce compte sur {where} ({disabled}) : les enregistrements ultérieurs d'un compte désactivé "
        "ne sont acceptés d'aucun poste. Rien n'a été appliqué. Si le fichier vient d'une copie de la base de {ws}, "
        "mettez-le de côté : le poste {ws} du site continue d'envoyer ses propres paquets (docs/workstations.md, « A "
        "disabled account's copy »).",
    )
    PACKET_SUBJECT_NUMBER = (
        "Packet refused: in {path}, subject {subject} registered by '{author}' on {ws} does not have a number of "
        "{ws}'s: {why}. Nothing was applied; that number's own workstation keeps working.",
        "Paquet refusé : dans {path}, le patient {subject} inscrit par « {author} » sur {ws} n'a pas un numéro de "
        "{ws} : {why}. Rien n'a été appliqué ; le poste à qui ce numéro revient continue normalement.",
    )
    PACKET_TWIN = (
        "Packet refused: {path} comes from a second database opened from the same workstation file {ws} (opened "
        "{other_when}, instance {other}); the site's {ws} is {known_where} (opened {when}, instance {known}). Keep "
        "entering on that one only; the second one's data do not come back by packet: read or export them there "
        "('msc-sle-crf export --db THAT.crfdb') and enter them again on the site's {ws} (docs/workstations.md).",
        "Paquet refusé : {path} vient d'une seconde base ouverte depuis le même fichier de poste {ws} (ouverte le "
        "{other_when}, instance {other}) ; le {ws} du site est {known_where} (ouverte le {when}, instance {known}). "
        "Ne saisissez que sur celle-là ; les données de la seconde ne reviennent pas par paquet : consultez-les ou "
        "exportez-les sur place (« msc-sle-crf export --db CELLE-CI.crfdb ») et saisissez-les à nouveau sur le {ws} "
        "du site (docs/workstations.md).",
    )
    PACKET_TWIN_OWN = (
        "Packet refused: {path} was written by another database opened from this workstation's file {ws} (opened "
        "{other_when}, instance {other}; this one: opened {when}, instance {known}). Only one of the two is the "
        "site's {ws}: the one whose packets the other workstations took first (their refusal of the other names it); "
        "see docs/workstations.md.",
        "Paquet refusé : {path} a été écrit par une autre base ouverte depuis le fichier de ce poste {ws} (ouverte le "
        "{other_when}, instance {other} ; celle-ci : ouverte le {when}, instance {known}). Une seule des deux est le "
        "{ws} du site : celle dont les autres postes ont reçu les paquets en premier (leur refus de l'autre la "
        "nomme) ; voir docs/workstations.md.",
    )
    PACKET_TWIN_HERE = (
        "Packet refused: this database is a second opening of the workstation file {ws} (opened {when}, instance "
        "{known}): {sender} knows the site's {ws} as the one opened {other_when} (instance {other}). Stop entering "
        "here; its data do not go back by packet: export them ('msc-sle-crf export --db THIS.crfdb') and enter them "
        "again on the site's {ws} (docs/workstations.md).",
        "Paquet refusé : cette base est une seconde ouverture du fichier de poste {ws} (ouverte le {when}, instance "
        "{known}) : {sender} connaît le {ws} du site comme celle ouverte le {other_when} (instance {other}). Ne "
        "saisissez plus ici ; ses données ne repartent pas par paquet : exportez-les (« msc-sle-crf export --db "
        "CETTE-BASE.crfdb ») et saisissez-les à nouveau sur le {ws} du site (docs/workstations.md).",
    )
    PACKET_SENDER_RESTORED = (
        "Packet refused: {path} is packet {seq} of {ws}, but a different packet {seq} of {ws} was imported here on "
        "{when}: {ws} was restored from a backup older than what it already sent, or the packet imported here came "
        "from a copy of {ws}'s database files (the packets cannot tell which). Nothing was applied; on {ws}, "
        "restore a backup taken after its packet {seq} if there is one, else stop entering there and see "
        "docs/workstations.md ('Restored from a backup').",
        "Paquet refusé : {path} est le paquet {seq} de {ws}, mais un autre paquet {seq} de {ws} a été importé ici le "
        "{when} : le poste {ws} a été restauré depuis une sauvegarde plus ancienne que ce qu'il avait déjà envoyé, "
        "ou le paquet importé ici venait d'une copie des fichiers de la base de {ws} (les paquets ne permettent pas de "
        "le savoir). "
        "Rien n'a été appliqué ; sur {ws}, restaurez une sauvegarde prise après son paquet {seq} s'il y en a une, "
        "sinon n'y saisissez plus et voyez docs/workstations.md (« Restauré depuis une sauvegarde »).",
    )
    PACKET_RESTORED_HERE = (
        "Packet refused: {path} holds this workstation's record #{record}, which is no longer here: this workstation "
        "({ws}) was restored from a backup older than what it already sent ({sent}). Nothing was applied; restore a "
        "backup taken after its last packet if there is one, else stop entering here and see docs/workstations.md "
        "('Restored from a backup').",
        "Paquet refusé : {path} contient l'enregistrement n° {record} de ce poste, qui n'est plus ici : ce poste "
        "({ws}) a été restauré depuis une sauvegarde plus ancienne que ce qu'il avait déjà envoyé ({sent}). Rien n'a "
        "été appliqué ; restaurez une sauvegarde prise après son dernier paquet s'il y en a une, sinon ne saisissez "
        "plus ici et voyez docs/workstations.md (« Restauré depuis une sauvegarde »).",
    )
    PACKET_IS_WORKSTATION_FILE = (
        "{path} is a workstation file, not a packet: open it on its laptop with 'msc-sle-crf workstation open "
        "{path} --db NEW.crfdb' (once). Nothing was applied.",
        "{path} est un fichier de poste, pas un paquet : ouvrez-le sur son ordinateur avec « msc-sle-crf workstation "
        "open {path} --db NOUVELLE.crfdb » (une seule fois). Rien n'a été appliqué.",
    )
    PACKET_IS_BACKUP = (
        "{path} is a backup, not a packet: restore it with 'msc-sle-crf restore'. Nothing was applied.",
        "{path} est une sauvegarde, pas un paquet : restaurez-la avec « msc-sle-crf restore ». Rien n'a été "
        "appliqué.",
    )
    PACKET_FILE_EXISTS = (
        "No packet written: {path} already exists with other content (this workstation's packet {seq} was written "
        "before: was it restored from a backup, or is that file from a second database opened from its workstation "
        "file?). Keep that file; nothing was changed.",
        "Aucun paquet écrit : {path} existe déjà avec un autre contenu (le paquet {seq} de ce poste a déjà été écrit : "
        "a-t-il été restauré depuis une sauvegarde, ou ce fichier vient-il d'une seconde base ouverte depuis son "
        "fichier de poste ?). Gardez ce fichier ; rien n'a été modifié.",
    )
    RESTORE_WORKSTATION_FILE = (
        "{path} is a workstation file (another laptop of the site), not a backup: open it on that laptop with "
        "'msc-sle-crf workstation open {path} --db NEW.crfdb' (once). Nothing was changed.",
        "{path} est un fichier de poste (un autre ordinateur du site), pas une sauvegarde : ouvrez-le sur cet "
        "ordinateur avec « msc-sle-crf workstation open {path} --db NOUVELLE.crfdb » (une seule fois). Rien n'a été "
        "modifié.",
    )
    DB_IS_BACKUP_FILE = (
        "{path} is {kind}, not a database: {what}. Nothing was opened.",
        "{path} est {kind}, pas une base : {what}. Rien n'a été ouvert.",
    )
    MERGE_FORM_STATE_KEPT = (
        "{form}: the form changed on both workstations (its state or its values) since they last exchanged: "
        "'{kept}' is kept, not '{other}' (the less advanced: a form is never left signed or locked over a change "
        "its signer did not see). Check the form, then complete and sign it again.",
        "{form} : le formulaire a changé sur les deux postes (son état ou ses valeurs) depuis leur dernier échange : "
        "« {kept} » est conservé, pas « {other} » (le moins avancé : un formulaire ne reste jamais signé ou verrouillé "
        "sur une modification que son signataire n'a pas vue). Vérifiez le formulaire, puis complétez-le et "
        "signez-le à nouveau.",
    )
    MERGE_ROW_KEPT = (
        "{row}: removed on {removed_on} while a value of it changed on {changed_on}: the row is kept, with the "
        "changed value. Remove it again if it must go (a reason is required).",
        "{row} : supprimée sur le poste {removed_on} alors qu'une de ses valeurs changeait sur le poste "
        "{changed_on} : la ligne est conservée, avec la valeur modifiée. Supprimez-la à nouveau si elle doit "
        "disparaître (un motif est requis).",
    )
    PACKET_UNREADABLE = (
        "Packet refused: {path} is not a packet of this program ({detail}).",
        "Paquet refusé : {path} n'est pas un paquet de ce programme ({detail}).",
    )
    PACKET_SECRET_UNREADABLE = (
        "The site's packet secret does not open with this database's key (the setting was altered, or this database "
        "was put together from two); no packet was written or applied: run 'verify' and restore the last good backup.",
        "Le secret des paquets du site ne s'ouvre pas avec la clé de cette base (le paramètre a été modifié, ou la "
        "base est faite de deux) ; aucun paquet n'a été écrit ni appliqué : lancez « verify » et restaurez la "
        "dernière bonne sauvegarde.",
    )
    PACKET_SECRET_CODE_NEEDED = (
        "Packet refused: {path} is encrypted with the site's packet secret renewed on {ws} on {when} (an account was "
        "disabled or the keys rotated there); type the one-time code shown to {ws}'s administrator then (if it "
        "followed a disable, disable that account here too); nothing was applied.",
        "Paquet refusé : {path} est chiffré avec le secret des paquets du site renouvelé sur {ws} le {when} (un compte "
        "y a été désactivé ou les clés renouvelées) ; saisissez le code à usage unique montré alors à "
        "l'administrateur de {ws} (si c'était une désactivation, désactivez aussi ce compte ici) ; rien n'a été "
        "appliqué.",
    )
    PACKET_SECRET_CODE_WRONG = (
        "Packet refused: the code typed does not open the site's packet secret renewed on {ws} on {when} ({path}); "
        "type the one-time code shown to {ws}'s administrator then; nothing was applied.",
        "Paquet refusé : le code saisi n'ouvre pas le secret des paquets du site renouvelé sur {ws} le {when} "
        "({path}) ; saisissez le code à usage unique montré alors à l'administrateur de {ws} ; rien n'a été appliqué.",
    )
    EXPORT_CANCELLED = (
        "Export cancelled: nothing was written under {path}.",
        "Export annulé : rien n'a été écrit sous {path}.",
    )
    EXPORT_VERIFY_FAILED = (
        "Export {path}: check FAILED: {problems}.",
        "Export {path} : contrôle en ÉCHEC : {problems}.",
    )
    PDF_UNTRUSTED = (
        "{path}: {reason}.",
        "{path} : {reason}.",
    )
    # ----- issue 18: workstations of one site -----
    SUBJECT_ELSEWHERE = (
        "Subject {subject} is entered on {owner} (this is {here}): its new forms, rows and infusion day are done "
        "there; ask for a handover.",
        "Le patient {subject} est saisi sur le poste {owner} (celui-ci est {here}) : ses nouveaux formulaires, "
        "lignes et sa journée de perfusion se font là-bas ; demandez son transfert.",
    )
    SUBJECT_RANGE_EXHAUSTED = (
        "No subject number left on {ws}: its numbers {site}-{low:03d} to {site}-{high:03d} are all used; register "
        "the subject on another workstation.",
        "Plus aucun numéro de patient sur {ws} : ses numéros {site}-{low:03d} à {site}-{high:03d} sont tous pris ; "
        "inscrivez le patient sur un autre poste.",
    )
    WORKSTATION_NUMBER_TAKEN = (
        "Workstation number {number}: {ws} is already handed out (free: {free}).",
        "Numéro de poste {number} : {ws} a déjà été attribué (libre : {free}).",
    )
    WORKSTATION_NO_SUBJECT_NUMBERS = (
        "No block of subject numbers is left under 999 for {ws} (held: {taken}); nothing was written.",
        "Plus aucun bloc de numéros de patients sous 999 pour {ws} (déjà attribués : {taken}) ; rien n'a été "
        "écrit.",
    )
    WORKSTATION_FILE_INVALID = (
        "{path} is not a workstation file of a site: {detail}. Nothing was changed.",
        "{path} n'est pas un fichier de poste d'un site : {detail}. Rien n'a été modifié.",
    )
    WORKSTATION_UNKNOWN = (
        "Workstation '{ws}': write it WS-nn (e.g. WS-02); the ones handed out here are {known}.",
        "Poste « {ws} » : l'écrire WS-nn (ex. WS-02) ; ceux attribués ici sont {known}.",
    )
    WORKSTATION_NOT_KNOWN_HERE = (
        "Workstation {ws} is not known here: the ones this database knows are {known} (a workstation added on "
        "another one becomes known here when that one's packet is imported).",
        "Le poste {ws} n'est pas connu ici : ceux que cette base connaît sont {known} (un poste ajouté sur un autre "
        "poste est connu ici une fois le paquet de celui-ci importé).",
    )
    HANDOVER_SAME = (
        "Subject {subject} is already entered on {ws}.",
        "Le patient {subject} est déjà saisi sur {ws}.",
    )
    HANDOVER_NOT_OWNER = (
        "Subject {subject} is entered on {owner}: the handover is done there (this is {here}).",
        "Le patient {subject} est saisi sur le poste {owner} : le transfert se fait là-bas (celui-ci est {here}).",
    )

    def render(self, lang: Lang | None = None, **params: Any) -> str:
        en, fr = self.value
        lang = lang or current_lang()
        template = fr if lang is Lang.FR else en
        localized = {k: (v.get(lang) if isinstance(v, L) else _visible(v) if k not in _MULTILINE else v)
                     for k, v in params.items()}
        return template.format(**localized)

    def placeholders(self) -> tuple[set[str], set[str]]:
        en, fr = self.value
        fmt = string.Formatter()
        return (
            {name for _, name, _, _ in fmt.parse(en) if name},
            {name for _, name, _, _ in fmt.parse(fr) if name},
        )


class CrfError(Exception):
    """An error a user can understand and act on. ``exit_code`` is used by the CLI."""

    exit_code = 1

    def __init__(self, msg: Msg, **params: Any) -> None:
        self.msg = msg
        self.params = params
        super().__init__(msg.render(Lang.EN, **params))

    def message(self, lang: Lang | None = None) -> str:
        return self.msg.render(lang, **self.params)


class AuthenticationError(CrfError):
    exit_code = 3


class PermissionDenied(CrfError):
    exit_code = 4


class ValidationError(CrfError):
    exit_code = 2


class StoreError(CrfError):
    exit_code = 5


class KeyFileError(StoreError):
    pass


class AuditIntegrityError(CrfError):
    exit_code = 6
