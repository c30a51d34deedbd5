"""CTCAE v5.0: the term catalogue (837 terms, 26 SOCs), grade definitions per term, French search words, and the
fever grade from a temperature (clinical-reference.md section 7).

A grade the term does not have (a ``-`` cell, e.g. Anaphylaxis grade 1) cannot be chosen.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from msc_sle_crf.i18n import L
from msc_sle_crf.scoring.common import ScoreResult, not_computable
from msc_sle_crf.shipped import resources_dir

VERSION = "CTCAE v5.0"
CSV_PATH = resources_dir() / "ctcae" / "CTCAE_v5.0.csv"
CSV_SHA256 = "22259a50470ad548e828523003a922840c4452b844dd1002ea89f60330b5d4b2"
_LOST_CHAR_FIXES = {"requiring ? 40% O2": "requiring >= 40% O2", "BP ?120/80": "BP >=120/80", "?ULN": ">=ULN"}


@dataclass(frozen=True)
class Term:
    code: str  # MedDRA code
    soc: str
    term: str
    grades: dict[int, str]  # only the grades that exist for this term
    definition: str
    note: str

    def allows(self, grade: int) -> bool:
        return grade in self.grades


# French words a nurse or physician would type, mapped to CTCAE terms (search aid, not a translation).
FRENCH_WORDS: dict[str, tuple[str, ...]] = {
    "fievre": ("Fever",), "hyperthermie": ("Fever",), "frisson": ("Chills",), "frissons": ("Chills",),
    "reaction a la perfusion": ("Infusion related reaction",), "reaction perfusion": ("Infusion related reaction",),
    "hypotension": ("Hypotension",), "hypertension": ("Hypertension",), "malaise": ("Malaise",),
    "cephalee": ("Headache",), "cephalees": ("Headache",), "mal de tete": ("Headache",),
    "nausee": ("Nausea",), "nausees": ("Nausea",), "vomissement": ("Vomiting",), "vomissements": ("Vomiting",),
    "diarrhee": ("Diarrhea",), "dyspnee": ("Dyspnea",), "essoufflement": ("Dyspnea",), "hypoxie": ("Hypoxia",),
    "desaturation": ("Hypoxia",), "tachycardie": ("Sinus tachycardia",), "bradycardie": ("Sinus bradycardia",),
    "anaphylaxie": ("Anaphylaxis",), "allergie": ("Allergic reaction",), "urticaire": ("Urticaria",),
    "eruption": ("Rash maculo-papular",), "prurit": ("Pruritus",), "fatigue": ("Fatigue",),
    "asthenie": ("Fatigue",), "douleur": ("Pain",), "toux": ("Cough",), "embolie": ("Thromboembolic event",),
    "thrombose": ("Thromboembolic event",), "infection": ("Sepsis", "Lung infection", "Urinary tract infection"),
    "anemie": ("Anemia",), "neutropenie": ("Neutrophil count decreased",),
    "thrombopenie": ("Platelet count decreased",), "syndrome de relargage": ("Cytokine release syndrome",),
    "orage cytokinique": ("Cytokine release syndrome",), "point de ponction": ("Injection site reaction",),
}

# The same French words as written (accents), shown beside the official English term (not a translation).
_FRENCH_SPELLING = {"fievre": "fièvre", "reaction a la perfusion": "réaction à la perfusion",
                    "reaction perfusion": "", "cephalee": "céphalée", "cephalees": "", "mal de tete": "mal de tête",
                    "nausee": "nausée", "nausees": "", "vomissements": "", "diarrhee": "diarrhée",
                    "dyspnee": "dyspnée", "desaturation": "désaturation", "eruption": "éruption",
                    "asthenie": "asthénie", "anemie": "anémie", "neutropenie": "neutropénie",
                    "thrombopenie": "thrombopénie", "frisson": ""}


# The 26 MedDRA system organ classes of CTCAE v5.0 by their French MedDRA names (CTCAE itself is English only).
SOC_FR: dict[str, str] = {
    "Blood and lymphatic system disorders": "Affections hématologiques et du système lymphatique",
    "Cardiac disorders": "Affections cardiaques",
    "Congenital, familial and genetic disorders": "Affections congénitales, familiales et génétiques",
    "Ear and labyrinth disorders": "Affections de l'oreille et du labyrinthe",
    "Endocrine disorders": "Affections endocriniennes",
    "Eye disorders": "Affections oculaires",
    "Gastrointestinal disorders": "Affections gastro-intestinales",
    "General disorders and administration site conditions": "Troubles généraux et anomalies au site d'administration",
    "Hepatobiliary disorders": "Affections hépatobiliaires",
    "Immune system disorders": "Affections du système immunitaire",
    "Infections and infestations": "Infections et infestations",
    "Injury, poisoning and procedural complications": "Lésions, intoxications et complications liées aux procédures",
    "Investigations": "Investigations",
    "Metabolism and nutrition disorders": "Troubles du métabolisme et de la nutrition",
    "Musculoskeletal and connective tissue disorders": "Affections musculosquelettiques et du tissu conjonctif",
    "Neoplasms benign, malignant and unspecified (incl cysts and polyps)":
        "Tumeurs bénignes, malignes et non précisées (incl. kystes et polypes)",
    "Nervous system disorders": "Affections du système nerveux",
    "Pregnancy, puerperium and perinatal conditions": "Affections gravidiques, puerpérales et périnatales",
    "Psychiatric disorders": "Affections psychiatriques",
    "Renal and urinary disorders": "Affections du rein et des voies urinaires",
    "Reproductive system and breast disorders": "Affections des organes de reproduction et du sein",
    "Respiratory, thoracic and mediastinal disorders": "Affections respiratoires, thoraciques et médiastinales",
    "Skin and subcutaneous tissue disorders": "Affections de la peau et du tissu sous-cutané",
    "Social circumstances": "Caractéristiques socio-environnementales",
    "Surgical and medical procedures": "Actes médicaux et chirurgicaux",
    "Vascular disorders": "Affections vasculaires",
    "(term not in CTCAE v5.0)": "(terme absent de la CTCAE v5.0)",
}


def soc_label(soc: str) -> L:
    """An organ class in the reader's language (as stored when it has no French name)."""
    return L(soc, SOC_FR.get(soc, soc))


def french_words(term: str) -> str:
    """The French words that find ``term`` in the search, written out ("fièvre, hyperthermie"); "" when none."""
    words = []
    for folded, terms in FRENCH_WORDS.items():
        if term in terms:
            shown = _FRENCH_SPELLING.get(folded, folded)
            if shown and shown not in words:
                words.append(shown)
    return ", ".join(words)


def fold(text: str) -> str:
    """Lower case without accents, for search."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Term]:
    """Every CTCAE term by name, read with a real CSV parser (quoted fields hold line breaks)."""
    terms: dict[str, Term] = {}
    with CSV_PATH.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        assert header[2] == "CTCAE Term" and header[3].startswith("Grade 1"), "unexpected CTCAE file"
        for row in reader:
            if len(row) < 11:
                continue
            grades: dict[int, str] = {}
            for g in range(1, 6):
                text = row[2 + g].strip()
                if text and text != "-":
                    for bad, good in _LOST_CHAR_FIXES.items():
                        text = text.replace(bad, good)
                    grades[g] = text
            terms[row[2].strip()] = Term(row[0].strip(), row[1].strip(), row[2].strip(), grades, row[8].strip(),
                                         row[9].strip())
    return terms


@lru_cache(maxsize=1)
def _index() -> list[tuple[str, str, Term]]:
    return [(fold(t.term), fold(t.soc), t) for t in catalogue().values()]


def search(query: str, limit: int = 30) -> list[Term]:
    """Terms matching every word of the query (term, organ class or French word); exact and prefix hits first."""
    q = fold(query).strip()
    if not q:
        return []
    cat = catalogue()
    hits: list[tuple[int, str, Term]] = []
    seen: set[str] = set()
    for word, targets in FRENCH_WORDS.items():
        if word.startswith(q) or q.startswith(word):
            for name in targets:
                if name in cat and name not in seen:
                    hits.append((0, name, cat[name]))
                    seen.add(name)
    words = q.split()
    for term_f, soc_f, term in _index():
        if term.term in seen:
            continue
        if all(w in term_f or w in soc_f for w in words):
            rank = 1 if term_f.startswith(q) else 2 if q in term_f else 3
            hits.append((rank, term.term, term))
            seen.add(term.term)
    hits.sort(key=lambda h: (h[0], h[1]))
    return [h[2] for h in hits[:limit]]


def grade_exists(term: str, grade: int) -> bool:
    found = catalogue().get(term)
    return found is not None and found.allows(grade)


FEVER_RULE = "CTCAE v5.0 Fever: G1 38.0-39.0, G2 >39.0-40.0, G3 >40.0 for <= 24 h, G4 >40.0 for > 24 h"


def fever_grade(temperature_c: Decimal | None, hours_above_40: Decimal | None = None) -> ScoreResult:
    """Grade 0 below 38.0 °C (not a CTCAE fever). Above 40.0 °C the duration decides 3 or 4."""
    if temperature_c is None:
        return not_computable("fever_grade", FEVER_RULE, L("no temperature", "pas de température"))
    t = Decimal(temperature_c)
    if t < Decimal("38.0"):
        grade = 0
    elif t <= Decimal("39.0"):
        grade = 1
    elif t <= Decimal("40.0"):
        grade = 2
    elif hours_above_40 is None:
        return not_computable("fever_grade", FEVER_RULE, L("above 40.0 °C: grade 3 if it lasts 24 h or less, 4 if "
                                                           "longer; the duration is needed",
                                                           "au-dessus de 40,0 °C : grade 3 si 24 h ou moins, 4 "
                                                           "au-delà ; la durée est nécessaire"))
    else:
        grade = 3 if Decimal(hours_above_40) <= 24 else 4
    return ScoreResult("fever_grade", grade, FEVER_RULE)
