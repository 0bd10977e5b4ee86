"""Does the use an applicant states fit the datasets' DUO terms? (design.md section 7, `duo_match`)

Pure: codes in, an answer out; no database. The permissions nest as in the Data Use Ontology
(EBISPOT/DUO): NRES (no restriction) above everything; GRU (general research use) above HMB
(health/medical/biomedical) and POA (population origins or ancestry); HMB above DS (disease
specific). HMB "does not include the study of population origins or ancestry", so POA does not
fit an HMB or DS dataset. A use fits a dataset when every permission asked for sits at or below
the dataset's permission. DS with MONDO disease ids fits a DS dataset that names diseases only
for those same ids.

The dataset's modifiers (IRB, NCU, PUB, ...) are conditions the applicant must meet; they are
listed in `issues` and leave `compatible` alone. Two modifiers forbid a use outright and do
change it: NPOA (population origins research prohibited) against a POA use, and a clinical care
use (CC) asked for on a dataset that does not allow it.
"""

import re

from gdi_archive.catalogue.duo import MODIFIER, PERMISSION, TERMS

NRES, GRU, HMB, DS, POA = "DUO:0000004", "DUO:0000042", "DUO:0000006", "DUO:0000007", "DUO:0000011"
NPOA, CC = "DUO:0000044", "DUO:0000043"
_MONDO = re.compile(r"^MONDO:\d{7}$")

# Each permission and the permissions directly above it.
_PARENT = {GRU: NRES, HMB: GRU, POA: GRU, DS: HMB, NRES: None}

# What each condition asks of the applicant (shown to the DAC next to the code).
CONDITIONS = {
    "DUO:0000012": "use is limited to studies of a certain research type",
    "DUO:0000015": "no general methods research",
    "DUO:0000016": "genetic studies only",
    "DUO:0000018": "not-for-profit organisations and non-commercial use only",
    "DUO:0000019": "results must be published for the wider scientific community",
    "DUO:0000020": "collaboration with the primary study investigators is required",
    "DUO:0000021": "documentation of ethics (IRB/ERB) approval is required",
    "DUO:0000022": "use is limited to a geographical region",
    "DUO:0000024": "results may not be published before a set date",
    "DUO:0000025": "use is approved for a limited time",
    "DUO:0000026": "use is limited to approved users",
    "DUO:0000027": "use is limited to the approved project",
    "DUO:0000028": "use is limited to approved institutions",
    "DUO:0000029": "derived or enriched data must be returned to the resource",
    "DUO:0000043": "clinical care use is allowed",
    "DUO:0000044": "population origins or ancestry research is not allowed",
    "DUO:0000045": "use is limited to not-for-profit organisations",
    "DUO:0000046": "non-commercial use only",
}


def _ancestors(code: str) -> list[str]:
    chain = []
    while code:
        chain.append(code)
        code = _PARENT.get(code)
    return chain


def _name(code: str) -> str:
    term = TERMS.get(code)
    return term.shorthand if term else code


def _split(codes) -> tuple[list[str], set[str], list[str]]:
    codes = [c.strip().upper() for c in (codes or []) if isinstance(c, str)]
    permissions = [c for c in codes if c in TERMS and TERMS[c].kind == PERMISSION]
    diseases = {c for c in codes if _MONDO.match(c)}
    modifiers = [c for c in codes if c in TERMS and TERMS[c].kind == MODIFIER]
    return permissions, diseases, modifiers


def _issue(code: str, detail: str, *, dataset: str = "", condition: bool = False) -> dict:
    return {"code": code, "detail": detail, "dataset": dataset, "condition": condition}


def check(requested, datasets) -> dict:
    """`requested`: the DUO codes of the intended use (permissions, MONDO ids, CC/NCU/NPU...).
    `datasets`: [(accession, duo codes)]. Returns {"compatible": bool, "issues": [...]}, each
    issue {"code", "detail", "dataset", "condition"} (condition: a modifier to meet, not a misfit).
    """
    uses, use_diseases, use_modifiers = _split(requested)
    issues: list[dict] = []
    compatible = True
    if not uses:
        issues.append(
            _issue(
                "NoIntendedUse",
                "The request states no intended use (a DUO data use permission such as GRU, HMB or DS).",
            )
        )
        compatible = False
    for accession, codes in datasets:
        permissions, diseases, modifiers = _split(codes)
        if not permissions:
            issues.append(
                _issue(
                    "NoDatasetPermission",
                    f"{accession} states no data use permission; check its terms by hand.",
                    dataset=accession,
                )
            )
            compatible = False
        for allowed in permissions[:1]:
            for use in uses:
                if allowed not in _ancestors(use):
                    issues.append(
                        _issue(use, f"{_name(use)} is not within {accession}'s {_name(allowed)}.", dataset=accession)
                    )
                    compatible = False
                elif use == DS and allowed == DS and diseases:
                    outside = sorted(use_diseases - diseases)
                    if not use_diseases:
                        issues.append(
                            _issue(
                                DS,
                                f"{accession} allows research on {', '.join(sorted(diseases))} only; the request names no disease.",
                                dataset=accession,
                            )
                        )
                        compatible = False
                    elif outside:
                        issues.append(
                            _issue(
                                outside[0],
                                f"{accession} allows research on {', '.join(sorted(diseases))} only, not {', '.join(outside)}.",
                                dataset=accession,
                            )
                        )
                        compatible = False
        if NPOA in modifiers and POA in uses:
            issues.append(
                _issue(NPOA, f"{accession} forbids population origins or ancestry research.", dataset=accession)
            )
            compatible = False
        if CC in use_modifiers and CC not in modifiers and NRES not in permissions:
            issues.append(_issue(CC, f"{accession} does not allow clinical care use.", dataset=accession))
            compatible = False
        for modifier in modifiers:
            if modifier == NPOA and POA in uses:
                continue
            issues.append(
                _issue(
                    modifier,
                    f"{accession}: {_name(modifier)}, {CONDITIONS.get(modifier, TERMS[modifier].label)}.",
                    dataset=accession,
                    condition=True,
                )
            )
    return {"compatible": compatible, "issues": issues}


def for_request(access_request) -> dict:
    """The check for a saved request (its `duo` against each of its datasets)."""
    datasets = sorted(((d.accession, d.duo) for d in access_request.datasets.all()), key=lambda pair: pair[0])
    return check(access_request.duo, datasets)
