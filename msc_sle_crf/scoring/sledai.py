"""SELENA-SLEDAI: 24 descriptors with fixed weights (0-105), and the physician global assessment (PGA 0-3).

Source: clinical-reference.md section 1 (descriptors, weights and paraphrased definitions; the sponsor's official
SELENA definitions replace the help texts when supplied). A descriptor counts once, at its weight, if present at
the visit or in the 10 days before it and due to lupus. The total is not computable if any descriptor is
unanswered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from msc_sle_crf.i18n import L
from msc_sle_crf.scoring.common import Part, ScoreInputError, ScoreResult, missing_list, not_computable, to_decimal

RULE = "SELENA-SLEDAI, 24 descriptors, 0-105"


@dataclass(frozen=True)
class Descriptor:
    key: str
    item: str  # form item id
    weight: int
    label: L
    definition: L


DESCRIPTORS: tuple[Descriptor, ...] = (
    Descriptor("seizure", "SLSEIZ", 8, L("Seizure", "Convulsions"), L(
        "Recent onset. Metabolic, infectious and drug causes excluded.",
        "Début récent. Causes métaboliques, infectieuses et médicamenteuses exclues.")),
    Descriptor("psychosis", "SLPSYCH", 8, L("Psychosis", "Psychose"), L(
        "Severe disturbance in the perception of reality (hallucinations, incoherence, marked loose associations, "
        "bizarre or catatonic behaviour). Uraemia and drugs excluded.",
        "Trouble sévère de la perception de la réalité (hallucinations, incohérence, relâchement marqué des "
        "associations, comportement bizarre ou catatonique). Urémie et médicaments exclus.")),
    Descriptor("organic_brain_syndrome", "SLOBS", 8, L("Organic brain syndrome", "Syndrome cérébral organique"), L(
        "Altered mental function (orientation, memory) with rapid onset and fluctuating course, clouding of "
        "consciousness, plus at least 2 of: perceptual disturbance, incoherent speech, insomnia or daytime "
        "drowsiness, altered psychomotor activity. Metabolic, infectious and drug causes excluded.",
        "Altération des fonctions mentales (orientation, mémoire) d'installation rapide et d'évolution fluctuante, "
        "obnubilation, et au moins 2 parmi : troubles perceptifs, discours incohérent, insomnie ou somnolence "
        "diurne, activité psychomotrice modifiée. Causes métaboliques, infectieuses et médicamenteuses exclues.")),
    Descriptor("visual_disturbance", "SLVIS", 8, L("Visual disturbance", "Troubles visuels"), L(
        "Lupus retinal changes (cytoid bodies, retinal haemorrhages, serous exudate or choroidal haemorrhage) or "
        "optic neuritis. Hypertension, infection and drugs excluded.",
        "Atteinte rétinienne lupique (nodules dysoriques, hémorragies rétiniennes, exsudats séreux ou hémorragie "
        "choroïdienne) ou névrite optique. HTA, infection et médicaments exclus.")),
    Descriptor("cranial_nerve_disorder", "SLCRAN", 8, L("Cranial nerve disorder", "Atteinte des nerfs crâniens"), L(
        "New sensory or motor neuropathy of cranial nerves (SELENA also counts vertigo due to lupus).",
        "Neuropathie sensitive ou motrice nouvelle des nerfs crâniens (SELENA compte aussi un vertige lupique).")),
    Descriptor("lupus_headache", "SLHEAD", 8, L("Lupus headache", "Céphalée lupique"), L(
        "Severe, persistent headache, possibly migrainous, not responding to narcotic analgesia.",
        "Céphalée sévère et persistante, éventuellement migraineuse, résistant aux antalgiques morphiniques.")),
    Descriptor("cva", "SLCVA", 8, L("CVA", "AVC"), L(
        "New cerebrovascular accident(s). Arteriosclerosis excluded (SELENA also excludes hypertensive causes).",
        "Accident(s) vasculaire(s) cérébral(aux) nouveau(x). Artériosclérose exclue (SELENA exclut aussi les causes "
        "hypertensives).")),
    Descriptor("vasculitis", "SLVASC", 8, L("Vasculitis", "Vascularite"), L(
        "Ulceration, gangrene, tender finger nodules, periungual infarction, splinter haemorrhages, or vasculitis "
        "proven by biopsy or angiogram.",
        "Ulcération, gangrène, nodules digitaux douloureux, infarctus péri-unguéaux, hémorragies en flammèches, ou "
        "vascularite prouvée par biopsie ou angiographie.")),
    Descriptor("arthritis", "SLARTH", 4, L("Arthritis", "Arthrite"), L(
        "More than 2 joints with pain and signs of inflammation (tenderness, swelling or effusion).",
        "Plus de 2 articulations douloureuses avec signes inflammatoires (sensibilité, gonflement ou épanchement).")),
    Descriptor("myositis", "SLMYOS", 4, L("Myositis", "Myosite"), L(
        "Proximal muscle aching or weakness with raised CK or aldolase, EMG changes, or a biopsy showing myositis.",
        "Douleurs ou faiblesse musculaires proximales avec CPK ou aldolase élevées, anomalies EMG, ou biopsie "
        "montrant une myosite.")),
    Descriptor("urinary_casts", "SLCAST", 4, L("Urinary casts", "Cylindres urinaires"), L(
        "Heme-granular or red-cell casts.", "Cylindres hématiques ou granuleux hémoglobiniques.")),
    Descriptor("hematuria", "SLHEMAT", 4, L("Haematuria", "Hématurie"), L(
        "More than 5 RBC per high-power field. Stone, infection and other causes excluded.",
        "Plus de 5 hématies par champ. Lithiase, infection et autres causes exclues.")),
    Descriptor("proteinuria", "SLPROT", 4, L("Proteinuria", "Protéinurie"), L(
        "More than 0.5 g/24 h (SELENA: new onset, or a recent increase of more than 0.5 g/24 h).",
        "Plus de 0,5 g/24 h (SELENA : apparition récente ou augmentation récente de plus de 0,5 g/24 h).")),
    Descriptor("pyuria", "SLPYUR", 4, L("Pyuria", "Leucocyturie"), L(
        "More than 5 WBC per high-power field. Infection excluded.",
        "Plus de 5 leucocytes par champ. Infection exclue.")),
    Descriptor("rash", "SLRASH", 2, L("Rash", "Éruption cutanée"), L(
        "Inflammatory lupus rash.", "Éruption lupique inflammatoire.")),
    Descriptor("alopecia", "SLALOP", 2, L("Alopecia", "Alopécie"), L(
        "Abnormal patchy or diffuse hair loss.", "Chute de cheveux anormale, en plaques ou diffuse.")),
    Descriptor("mucosal_ulcers", "SLULC", 2, L("Mucosal ulcers", "Ulcérations muqueuses"), L(
        "Oral or nasal ulcers.", "Ulcérations buccales ou nasales.")),
    Descriptor("pleurisy", "SLPLEUR", 2, L("Pleurisy", "Pleurésie"), L(
        "Pleuritic chest pain with rub, effusion or pleural thickening (SELENA: classic, severe pleuritic pain or "
        "rub or effusion or new pleural thickening).",
        "Douleur thoracique pleurale avec frottement, épanchement ou épaississement pleural (SELENA : douleur "
        "pleurale typique et sévère, ou frottement, ou épanchement, ou épaississement pleural nouveau).")),
    Descriptor("pericarditis", "SLPERIC", 2, L("Pericarditis", "Péricardite"), L(
        "Pericardial pain with rub, effusion or ECG/echo confirmation (SELENA: classic, severe pain or rub or "
        "effusion or ECG confirmation).",
        "Douleur péricardique avec frottement, épanchement ou confirmation ECG/échographique (SELENA : douleur "
        "typique et sévère, ou frottement, ou épanchement, ou confirmation ECG).")),
    Descriptor("low_complement", "SLCOMP", 2, L("Low complement", "Complément bas"), L(
        "CH50, C3 or C4 below the laboratory's lower limit of normal.",
        "CH50, C3 ou C4 sous la limite inférieure de la normale du laboratoire.")),
    Descriptor("increased_dna_binding", "SLDNA", 2, L("Increased DNA binding", "Anti-ADN augmentés"), L(
        "Anti-dsDNA above the laboratory's normal range (more than 25% binding by Farr assay).",
        "Anti-ADNdb au-dessus de la normale du laboratoire (plus de 25 % de liaison en test de Farr).")),
    Descriptor("fever", "SLFEVER", 1, L("Fever", "Fièvre"), L(
        "Above 38 °C. Infection excluded.", "Au-dessus de 38 °C. Infection exclue.")),
    Descriptor("thrombocytopenia", "SLTHROM", 1, L("Thrombocytopenia", "Thrombopénie"), L(
        "Platelets below 100 x 10^9/L (SELENA: drug causes excluded).",
        "Plaquettes < 100 x 10^9/L (SELENA : causes médicamenteuses exclues).")),
    Descriptor("leukopenia", "SLLEUK", 1, L("Leukopenia", "Leucopénie"), L(
        "WBC below 3 x 10^9/L (SELENA: drug causes excluded).",
        "Leucocytes < 3 x 10^9/L (SELENA : causes médicamenteuses exclues).")),
)

BY_KEY = {d.key: d for d in DESCRIPTORS}
BY_ITEM = {d.item: d for d in DESCRIPTORS}
MAXIMUM = sum(d.weight for d in DESCRIPTORS)  # 105


def selena_sledai(answers: Mapping[str, bool | None]) -> ScoreResult:
    """Total of the weights of the descriptors ticked. ``answers`` maps descriptor key (or item id) to
    True/False/None (unanswered)."""
    by_key: dict[str, bool | None] = {}
    for name, value in answers.items():
        d = BY_KEY.get(name) or BY_ITEM.get(name)
        if d is None:
            raise ScoreInputError(L(f"unknown SELENA-SLEDAI descriptor '{name}'",
                                    f"descripteur SELENA-SLEDAI inconnu « {name} »"))
        if value is not None and not isinstance(value, bool):
            raise ScoreInputError(L(f"{d.label.en}: yes or no expected", f"{d.label.fr} : oui ou non attendu"))
        by_key[d.key] = value
    parts = tuple(Part(d.key, d.label, by_key.get(d.key), d.weight if by_key.get(d.key) else 0)
                  for d in DESCRIPTORS)
    missing = [d.label for d in DESCRIPTORS if by_key.get(d.key) is None]
    if missing:
        return not_computable("selena_sledai", RULE, missing_list(missing), parts)
    return ScoreResult("selena_sledai", sum(int(p.points or 0) for p in parts), RULE, parts)


PGA_NAME = L("Physician global assessment", "Évaluation globale du médecin")


def check_pga(value: object) -> Decimal:
    """PGA on 0-3 in steps of 0.1; anything else is refused (never clamped)."""
    pga = to_decimal(value, PGA_NAME)
    if not Decimal(0) <= pga <= Decimal(3) or pga != pga.quantize(Decimal("0.1")):
        raise ScoreInputError(L(f"PGA: {pga} is outside 0-3 in steps of 0.1",
                                f"PGA : {pga} est hors de 0-3 par pas de 0,1"))
    return pga
