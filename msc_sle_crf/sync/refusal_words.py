"""Why a packet was refused, in the reader's language: the checks (sync/packets.py, services/replay.py, audit.py)
say what they found in English, one technical line ("subject 01-001 / visit SCR / form demographics / item WEIGHT /
row dm:0: stored '63'; the trail says '64'"); the French refusal must be French from end to end and still name what
was found (where, what is stored, what the trail says). The checks keep their English (the CLI's log, the tests);
the French line is made here, phrase by phrase, from that English. Whatever phrase this table does not know comes
out as a French sentence naming the place and the values found, never as English inside the French line.
"""

from __future__ import annotations

import re

from msc_sle_crf.access import Role
from msc_sle_crf.i18n import L, Lang

_QUOTED = re.compile(r"(?<!\w)'([^']*)'(?!\w)")  # a value as the checks quote it (not "dr.a's key")

# Ordered: the longer phrases first. Each is a regular expression on the English line and its French.
_PHRASES: list[tuple[str, str]] = [
    # the packet as a whole
    (r"its rows are not what its records say: ", "ses lignes ne sont pas ce que disent ses enregistrements : "),
    (r"was altered after it was written", "a été modifié après son écriture"),
    (r"is not signed", "n'est pas signé"),
    (r"changes signer within a transaction", "change de signataire au milieu d'une transaction"),
    (r"the manifest is not signed by (\S+)'s key bound in this trail",
     r"le manifeste n'est pas signé par la clé de \1 liée dans cette piste d'audit"),
    (r"claims to copy this workstation's record #(\d+), which is not here",
     r"dit copier l'enregistrement n° \1 de ce poste, qui n'est pas ici"),
    (r"names no form", "ne désigne aucun formulaire"),
    (r"claims to be a copy but its origin is not readable", "dit être une copie mais son origine est illisible"),
    (r"whose content differs from the original \(edited[^)]*\)", "dont le contenu diffère de l'original (modifié)"),
    (r"that does not follow the copy before it \(([^)]*)\): a record of the original transaction is missing",
     r"qui ne suit pas la copie précédente (\1) : un enregistrement de la transaction d'origine manque"),
    (r"is in the name of (« [^»]* ») but was signed by (« [^»]* »)", r"est au nom de \1 mais a été signé par \2"),
    (r"whose signature is not (\S+)'s \(forged, or signed with a key (\S+) did not bind to \S+ at that time, as far "
     r"as its packets applied here tell\)", r"dont la signature n'est pas celle de \1 (falsifiée, ou faite avec une "
                                            r"clé que \2 n'avait pas liée à \1 à ce moment, d'après ses paquets "
                                            "appliqués ici)"),
    (r"\(a copy of (\S+) #(\d+)\)", r"(copie de \1 n° \2)"),
    (r"is a copy of (\S+) #(\d+)", r"est une copie de \1 n° \2"),
    # values, rows, forms, subjects (services/replay.py)
    (r"converted value (« [^»]* »|None); the trail says (« [^»]* »|None)",
     r"valeur convertie \1 ; la piste d'audit dit \2"),
    (r"stored (« [^»]* »|None); the trail says (« [^»]* »|None)",
     r"valeur enregistrée \1 ; la piste d'audit dit \2"),
    (r"value (« [^»]* ») was never entered \(no audit record\)",
     r"la valeur \1 n'a jamais été saisie (aucun enregistrement d'audit)"),
    (r"value (« [^»]* ») recorded in the trail is missing", r"la valeur \1 de la piste d'audit manque"),
    (r"shown as confirmed by the site \(([^)]*)\); the trail says no warning on this value was confirmed",
     r"montrée comme confirmée par le site (\1) ; selon la piste d'audit, aucun avertissement sur cette valeur "
     "n'a été confirmé"),
    (r"the row is removed; the trail never added it", "la ligne est supprimée ; la piste d'audit ne l'a jamais "
                                                      "ajoutée"),
    (r"the row is present; the trail never added it", "la ligne est présente ; la piste d'audit ne l'a jamais "
                                                      "ajoutée"),
    (r"the row is removed; the trail says present", "la ligne est supprimée ; selon la piste d'audit, elle est "
                                                    "présente"),
    (r"the row is present; the trail says removed", "la ligne est présente ; selon la piste d'audit, elle est "
                                                    "supprimée"),
    (r"the row recorded in the trail is missing", "la ligne de la piste d'audit manque"),
    (r"the subject recorded in the trail is missing \(deleted\)", "le patient de la piste d'audit manque (supprimé)"),
    (r"the subject is not in the trail", "le patient n'est pas dans la piste d'audit"),
    (r"the form is not in the trail", "le formulaire n'est pas dans la piste d'audit"),
    (r"its state is (« [^»]* »); the trail says (« [^»]* »)", r"son état est \1 ; la piste d'audit dit \2"),
    (r"its definition is (\w+); the trail says it was created under (\w+) \(what its values mean changed\)",
     r"sa définition est \1 ; selon la piste d'audit, il a été créé avec \2 (le sens de ses valeurs a changé)"),
    (r"its text does not match its hash \(edited\)", "son texte ne correspond pas à son empreinte (modifié)"),
    # signatures, verification marks, infusion-day events
    (r"(\d+) signature\(s\) by (« [^»]* ») as (« [^»]* ») \(([^)]*)\) not in the trail",
     r"\1 signature(s) de \2 en tant que \3 (\4) absente(s) de la piste d'audit"),
    (r"(\d+) signature\(s\) by (« [^»]* ») recorded in the trail are missing",
     r"\1 signature(s) de \2 de la piste d'audit manque(nt)"),
    (r"the verification mark by (« [^»]* ») claims the value (« [^»]* »), which the trail says was never the value "
     r"verified", r"la marque de vérification de \1 porte sur la valeur \2, qui selon la piste d'audit n'a jamais "
                  "été la valeur vérifiée"),
    (r"the source-data verification mark by (« [^»]* ») is dated (\S+); the trail recorded it at (\S+)",
     r"la marque de vérification sur source de \1 est datée du \2 ; la piste d'audit l'a enregistrée le \3"),
    (r"(\d+) source-data verification mark\(s\) by (« [^»]* ») not in the trail",
     r"\1 marque(s) de vérification sur source de \2 absente(s) de la piste d'audit"),
    (r"(\d+) source-data verification mark\(s\) recorded in the trail are missing",
     r"\1 marque(s) de vérification sur source de la piste d'audit manque(nt)"),
    (r"(\d+) infusion-day event\(s\) (« [^»]* ») at (\S+) by (« [^»]* ») not in the trail",
     r"\1 événement(s) de perfusion \2 à \3 par \4 absent(s) de la piste d'audit"),
    (r"(\d+) infusion-day event\(s\) (« [^»]* ») recorded in the trail are missing",
     r"\1 événement(s) de perfusion \2 de la piste d'audit manque(nt)"),
    # queries and conflicts between workstations
    (r"(\d+) message\(s\) (« [^»]* ») by (« [^»]* ») as (« [^»]* ») recorded in the trail are missing",
     r"\1 message(s) \2 de \3 en tant que \4 de la piste d'audit manque(nt)"),
    (r"(\d+) message\(s\) (« [^»]* ») by (« [^»]* ») as (« [^»]* ») not in the trail",
     r"\1 message(s) \2 de \3 en tant que \4 absent(s) de la piste d'audit"),
    (r"its (« [^»]* ») message by (« [^»]* ») is dated (\S+); the trail recorded it at (\S+)",
     r"son message \1 de \2 est daté du \3 ; la piste d'audit l'a enregistré le \4"),
    (r"between workstations is not in the trail \(it voids the form's signatures\)",
     "entre postes n'est pas dans la piste d'audit (il invalide les signatures du formulaire)"),
    (r"is on this item; the trail says it was (?:opened|raised) on ", "est sur cet item ; selon la piste d'audit, "
                                                                      "il a été ouvert sur "),
    (r"its (kept|other) value is not what the trail says", r"sa valeur \1 n'est pas ce que dit la piste d'audit"),
    (r"is not automatic; the trail says it was raised by the program",
     "n'est pas automatique ; selon la piste d'audit, le programme l'a ouverte"),
    (r"is automatic; the trail says it was raised by a person",
     "est automatique ; selon la piste d'audit, une personne l'a ouverte"),
    (r"is (« [^»]* ») \(([^)]*)\); the trail says resolved by (\S+)", r"est \1 (\2) ; selon la piste d'audit, "
                                                                    r"résolu par \3"),
    (r"resolved at (\S+); the trail says at ", r"résolu le \1 ; selon la piste d'audit, le "),
    (r"opened at (\S+); the trail says ", r"ouvert le \1 ; la piste d'audit dit "),
    (r"merge_conflict record #(\d+) by (« [^»]* ») is not valid: ",
     r"l'enregistrement de conflit n° \1 de \2 n'est pas valable : "),
    (r"recorded in the trail is missing", "de la piste d'audit manque"),
    (r"is not in the trail", "n'est pas dans la piste d'audit"),
    # accounts, settings, certificates
    (r"the account is not in the trail", "le compte n'est pas dans la piste d'audit"),
    (r"it is not a readable certificate", "ce n'est pas un certificat lisible"),
    (r"its fingerprint is (\S+); the trail says ", r"son empreinte est \1 ; la piste d'audit dit "),
    (r"replaced by someone who is not an administrator", "remplacé par quelqu'un qui n'est pas administrateur"),
    (r"(\w+) is (« [^»]* »|True|False|None|\d+); the trail says ", r"\1 vaut \2 ; la piste d'audit dit "),
    (r"\bis (« [^»]* »|None); the trail says ", r"vaut \1 ; la piste d'audit dit "),
    # the place (services/replay.py _where) and the numbers
    (r"\bsubject (\S+)", r"patient \1"), (r"\bvisit (\S+)", r"visite \1"),
    (r"\bform definition (\w+)", r"définition de formulaire \1"), (r"\bform (\S+)", r"formulaire \1"),
    (r"\brow (\S+)", r"ligne \1"), (r"\baccount (\S+)", r"compte \1"),
    (r"\bsite setting (\S+)", r"réglage du site \1"), (r"\bsite CA certificate", "certificat de l'autorité du site"),
    (r"\bcertificate of (\S+)", r"certificat de \1"),
    (r"\brecord #(\d+)", r"enregistrement n° \1"), (r"\brecords #(\d+)-#(\d+)", r"enregistrements n° \1 à \2"),
    (r"\bsignature #(\d+)", r"signature n° \1"), (r"\bquery #(\d+)", r"query n° \1"),
    (r"\bconflict #(\d+)", r"conflit n° \1"),
    (r"\bthe trail says ", "la piste d'audit dit "), (r"\bNone\b", "aucun"), (r"\bTrue\b", "oui"),
    (r"\bFalse\b", "non"), (r"(?<! ); ", " ; "), (r"(?<! ): ", " : "),
]
_COMPILED = [(re.compile(pattern), french) for pattern, french in _PHRASES]
_ENGLISH = re.compile(r"\b(the|is|are|was|were|not|by|its|which|has|have|what|says|said|recorded|missing|stored|"
                      r"value|trail|records?|claims?|copy|of|and|or|with|this|that|it|at)\b", re.IGNORECASE)
_ROLE = re.compile(r"en tant que « ([a-z_]+) »")
_PLACE = re.compile(r"^((?:patient|visite|formulaire|item|ligne) \S+(?: / (?:patient|visite|formulaire|item|ligne) "
                    r"\S+)*)")


def in_french(detail: str) -> str:
    """The French of one check's English line (see the module's docstring)."""
    text = _QUOTED.sub(lambda m: f"« {m.group(1)} »", detail)
    for pattern, french in _COMPILED:
        text = pattern.sub(french, text)
    text = _ROLE.sub(lambda m: f"en tant que « {_role_fr(m.group(1))} »", text)
    if not _ENGLISH.search(_guillemets_out(text)):
        return text
    # A phrase this table does not know: the place and the values found, in a French sentence.
    lead = "ses lignes ne sont pas ce que disent ses enregistrements : "
    prefix = lead if lead in text else ""
    place = _PLACE.search(text.split(lead)[-1])
    values = ", ".join(f"« {v} »" for v in _QUOTED.findall(detail))
    said = "ce qui est enregistré ne correspond pas à la piste d'audit" + (f" ({values})" if values else "")
    return prefix + (f"{place.group(1)} : {said}" if place else said)


def _role_fr(code: str) -> str:
    return Role(code).label(Lang.FR) if code in tuple(Role) else code


def _guillemets_out(text: str) -> str:
    return re.sub(r"« [^»]* »", "", text)


def detail_words(detail: str) -> L:
    """A check's English line as a bilingual detail for a refusal message."""
    return L(detail, in_french(detail))
