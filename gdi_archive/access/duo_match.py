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

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gdi_archive.catalogue.duo import MODIFIER, PERMISSION, TERMS

NRES, GRU, HMB, DS, POA = "DUO:0000004", "DUO:0000042", "DUO:0000006", "DUO:0000007", "DUO:0000011"
NPOA, CC = "DUO:0000044", "DUO:0000043"
_MONDO = re.compile(r"^MONDO:\d{7}$")

# Each permission and the permissions directly above it.
_PARENT = {GRU: NRES, HMB: GRU, POA: GRU, DS: HMB, NRES: None}

# What each condition asks of the applicant (shown to the DAC next to the code).
CONDITIONS = {
    "DUO:0000012": gettext_lazy("use is limited to studies of a certain research type"),
    "DUO:0000015": gettext_lazy("no general methods research"),
    "DUO:0000016": gettext_lazy("genetic studies only"),
    "DUO:0000018": gettext_lazy("not-for-profit organisations and non-commercial use only"),
    "DUO:0000019": gettext_lazy("results must be published for the wider scientific community"),
    "DUO:0000020": gettext_lazy("collaboration with the primary study investigators is required"),
    "DUO:0000021": gettext_lazy("documentation of ethics (IRB/ERB) approval is required"),
    "DUO:0000022": gettext_lazy("use is limited to a geographical region"),
    "DUO:0000024": gettext_lazy("results may not be published before a set date"),
    "DUO:0000025": gettext_lazy("use is approved for a limited time"),
    "DUO:0000026": gettext_lazy("use is limited to approved users"),
    "DUO:0000027": gettext_lazy("use is limited to the approved project"),
    "DUO:0000028": gettext_lazy("use is limited to approved institutions"),
    "DUO:0000029": gettext_lazy("derived or enriched data must be returned to the resource"),
    "DUO:0000043": gettext_lazy("clinical care use is allowed"),
    "DUO:0000044": gettext_lazy("population origins or ancestry research is not allowed"),
    "DUO:0000045": gettext_lazy("use is limited to not-for-profit organisations"),
    "DUO:0000046": gettext_lazy("non-commercial use only"),
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
    Compatible means no issue other than conditions.
    """
    use = _split(requested)
    issues: list[dict] = []
    if not use[0]:
        issues.append(
            _issue(
                "NoIntendedUse",
                _("The request states no intended use (a DUO data use permission such as GRU, HMB or DS)."),
            )
        )
    for accession, codes in datasets:
        issues += _dataset_issues(accession, _split(codes), use)
    return {"compatible": not any(not issue["condition"] for issue in issues), "issues": issues}


def _dataset_issues(accession, dataset, use) -> list[dict]:
    """What keeps the intended use out of one dataset, then the conditions its modifiers set."""
    permissions, diseases, modifiers = dataset
    uses, use_diseases, use_modifiers = use
    issues: list[dict] = []
    if not permissions:
        issues.append(
            _issue(
                "NoDatasetPermission",
                _("%(acc)s states no data use permission; check its terms by hand.") % {"acc": accession},
                dataset=accession,
            )
        )
    for allowed in permissions[:1]:
        for requested in uses:
            if allowed not in _ancestors(requested):
                issues.append(
                    _issue(
                        requested,
                        _("%(use)s is not within %(acc)s's %(allowed)s.")
                        % {"use": _name(requested), "acc": accession, "allowed": _name(allowed)},
                        dataset=accession,
                    )
                )
            elif requested == DS and allowed == DS and diseases:
                issues += _disease_issues(accession, diseases, use_diseases)
    if NPOA in modifiers and POA in uses:
        issues.append(
            _issue(
                NPOA,
                _("%(acc)s forbids population origins or ancestry research.") % {"acc": accession},
                dataset=accession,
            )
        )
    if CC in use_modifiers and CC not in modifiers and NRES not in permissions:
        issues.append(
            _issue(CC, _("%(acc)s does not allow clinical care use.") % {"acc": accession}, dataset=accession)
        )
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
    return issues


def _disease_issues(accession, diseases, use_diseases) -> list[dict]:
    """Disease specific research fits a DS dataset only for the diseases it names."""
    if not use_diseases:
        return [
            _issue(
                DS,
                _("%(acc)s allows research on %(diseases)s only; the request names no disease.")
                % {"acc": accession, "diseases": ", ".join(sorted(diseases))},
                dataset=accession,
            )
        ]
    outside = sorted(use_diseases - diseases)
    if not outside:
        return []
    return [
        _issue(
            outside[0],
            _("%(acc)s allows research on %(diseases)s only, not %(outside)s.")
            % {"acc": accession, "diseases": ", ".join(sorted(diseases)), "outside": ", ".join(outside)},
            dataset=accession,
        )
    ]


def for_request(access_request) -> dict:
    """The check for a saved request (its `duo` against each of its datasets)."""
    datasets = sorted(((d.accession, d.duo) for d in access_request.datasets.all()), key=lambda pair: pair[0])
    return check(access_request.duo, datasets)
