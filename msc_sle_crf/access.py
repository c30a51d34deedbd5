"""Roles and what each may do. Checked in the service layer; the UI only hides what a role cannot use."""

from __future__ import annotations

from enum import StrEnum

from msc_sle_crf.i18n import Lang


class Role(StrEnum):
    ADMIN = "admin"
    INVESTIGATOR = "investigator"
    NURSE = "nurse"
    MONITOR = "monitor"

    def label(self, lang: Lang) -> str:
        return _ROLE_LABELS[self][1 if lang is Lang.FR else 0]


_ROLE_LABELS = {
    Role.ADMIN: ("Administrator", "Administrateur"),
    Role.INVESTIGATOR: ("Investigator", "Investigateur"),
    Role.NURSE: ("Research nurse", "Infirmier(ère) de recherche"),
    Role.MONITOR: ("Monitor", "Moniteur (ARC)"),
}


class Perm(StrEnum):
    MANAGE_USERS = "manage_users"
    EDIT_SITE_SETTINGS = "edit_site_settings"
    VIEW_DATA = "view_data"
    REGISTER_SUBJECT = "register_subject"
    ENTER_NURSING_DATA = "enter_nursing_data"
    ENTER_CLINICAL_DATA = "enter_clinical_data"
    SIGN_INVESTIGATOR_FORMS = "sign_investigator_forms"
    VERIFY_SOURCE_DATA = "verify_source_data"
    MANAGE_QUERIES = "manage_queries"
    PRINT = "print"
    EXPORT = "export"
    BACKUP = "backup"
    VIEW_AUDIT = "view_audit"
    VERIFY_AUDIT = "verify_audit"
    LOCK_FORMS = "lock_forms"
    VIEW_OUTCOMES = "view_outcomes"  # the study's outcome tables and cohort safety reviews (aggregated, all subjects)
    MANAGE_WORKSTATIONS = "manage_workstations"  # fork another workstation of the site (issue 18)
    HAND_OVER_SUBJECT = "hand_over_subject"  # give a subject's entry to another workstation (issue 18)

    def describe(self, lang: Lang) -> str:
        return _PERM_LABELS[self][1 if lang is Lang.FR else 0]


_PERM_LABELS = {
    Perm.MANAGE_USERS: ("manage user accounts", "gérer les comptes utilisateurs"),
    Perm.EDIT_SITE_SETTINGS: ("change site settings", "modifier les paramètres du site"),
    Perm.VIEW_DATA: ("view trial data", "consulter les données de l'essai"),
    Perm.REGISTER_SUBJECT: ("register a subject", "inscrire un patient"),
    Perm.ENTER_NURSING_DATA: ("enter nursing data", "saisir les données infirmières"),
    Perm.ENTER_CLINICAL_DATA: ("enter or change clinical data", "saisir ou modifier des données cliniques"),
    Perm.SIGN_INVESTIGATOR_FORMS: ("sign investigator forms", "signer les formulaires de l'investigateur"),
    Perm.VERIFY_SOURCE_DATA: ("verify source data", "vérifier les données source"),
    Perm.MANAGE_QUERIES: ("raise or close queries", "ouvrir ou clore des queries"),
    Perm.PRINT: ("print CRFs", "imprimer des CRF"),
    Perm.EXPORT: ("export data", "exporter des données"),
    Perm.BACKUP: ("back up or restore the database", "sauvegarder ou restaurer la base"),
    Perm.VIEW_AUDIT: ("read the audit trail", "consulter la piste d'audit"),
    Perm.VERIFY_AUDIT: ("verify the audit trail", "vérifier la piste d'audit"),
    Perm.LOCK_FORMS: ("lock or unlock forms", "verrouiller ou déverrouiller des formulaires"),
    Perm.VIEW_OUTCOMES: ("view the study's outcomes and safety reviews",
                         "consulter les critères de jugement et les revues de tolérance de l'étude"),
    Perm.MANAGE_WORKSTATIONS: ("add a workstation of the site", "ajouter un poste du site"),
    Perm.HAND_OVER_SUBJECT: ("hand a subject over to another workstation", "transférer un patient à un autre poste"),
}

PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.ADMIN: frozenset({
        Perm.MANAGE_USERS, Perm.EDIT_SITE_SETTINGS, Perm.BACKUP, Perm.VIEW_AUDIT, Perm.VERIFY_AUDIT,
        Perm.MANAGE_WORKSTATIONS, Perm.HAND_OVER_SUBJECT,
    }),
    Role.INVESTIGATOR: frozenset({
        Perm.VIEW_DATA, Perm.REGISTER_SUBJECT, Perm.ENTER_NURSING_DATA, Perm.ENTER_CLINICAL_DATA,
        Perm.SIGN_INVESTIGATOR_FORMS, Perm.PRINT, Perm.EXPORT, Perm.BACKUP, Perm.VIEW_AUDIT, Perm.VERIFY_AUDIT,
        Perm.LOCK_FORMS, Perm.VIEW_OUTCOMES, Perm.HAND_OVER_SUBJECT,
    }),
    Role.NURSE: frozenset({
        Perm.VIEW_DATA, Perm.REGISTER_SUBJECT, Perm.ENTER_NURSING_DATA, Perm.PRINT,
    }),
    Role.MONITOR: frozenset({
        Perm.VIEW_DATA, Perm.VERIFY_SOURCE_DATA, Perm.MANAGE_QUERIES, Perm.PRINT, Perm.EXPORT,
        Perm.VIEW_AUDIT, Perm.VERIFY_AUDIT, Perm.LOCK_FORMS, Perm.VIEW_OUTCOMES,
    }),
}


def allowed(role: Role, perm: Perm) -> bool:
    return perm in PERMISSIONS[role]
