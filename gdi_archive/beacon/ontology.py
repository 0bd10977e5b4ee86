"""The little the Beacon knows about ontologies: a built-in is-a hierarchy for the terms the
archive meets (the demo's and common GDI ones), ICD-10's own code structure, NCIT sex codes,
GAZ countries as ISO 3166-1 alpha-2, and ISO 8601 durations.

A filter on a term matches the term and its descendants where the hierarchy is known here;
for any other term it matches that term exactly.
"""

import re

FEMALE, MALE, UNKNOWN_SEX = "NCIT:C16576", "NCIT:C20197", "NCIT:C17998"
SEX_CODES = {FEMALE: "F", MALE: "M", UNKNOWN_SEX: ""}
AGE = "PATO:0000011"  # "age": alphanumeric filters on diseases[].ageOfOnset
PREFIXES = ("ICD10", "NCIT", "MONDO", "HP", "HPO", "GAZ", "PATO", "ORPHA", "SNOMED", "OMIM", "EFO")

# child -> parents (is-a). Small on purpose: what the demo and typical GDI queries use.
PARENTS: dict[str, tuple[str, ...]] = {
    "MONDO:0005148": ("MONDO:0005015",),  # type 2 diabetes mellitus -> diabetes mellitus
    "MONDO:0005147": ("MONDO:0005015",),  # type 1 diabetes mellitus -> diabetes mellitus
    "MONDO:0005015": ("MONDO:0005151",),  # diabetes mellitus -> endocrine system disorder
    "MONDO:0007254": ("MONDO:0004992",),  # breast cancer -> cancer
    "MONDO:0005575": ("MONDO:0004992",),  # colorectal cancer -> cancer
    "MONDO:0005044": ("MONDO:0005385",),  # hypertensive disorder -> vascular disease
    "MONDO:0100096": ("MONDO:0005550",),  # COVID-19 -> infectious disease
    "NCIT:C4872": ("NCIT:C2916",),  # breast carcinoma -> carcinoma
    "NCIT:C2955": ("NCIT:C2916",),  # colorectal carcinoma -> carcinoma
    "NCIT:C2916": ("NCIT:C3262",),  # carcinoma -> neoplasm
    "NCIT:C26747": ("NCIT:C2985",),  # type 2 diabetes mellitus -> diabetes mellitus
    "NCIT:C2986": ("NCIT:C2985",),  # type 1 diabetes mellitus -> diabetes mellitus
    "HP:0001250": ("HP:0012638",),  # seizure -> abnormal nervous system physiology
    "HP:0012638": ("HP:0000707",),  # -> abnormality of the nervous system
    "HP:0000707": ("HP:0000118",),  # -> phenotypic abnormality
    "HP:0000822": ("HP:0030972",),  # hypertension -> abnormal systemic blood pressure
    "HP:0030972": ("HP:0001626",),  # -> abnormality of the cardiovascular system
    "HP:0001626": ("HP:0000118",),
    "HP:0001513": ("HP:0004324",),  # obesity -> increased body weight
    "HP:0004324": ("HP:0000118",),
    "HP:0003074": ("HP:0011015",),  # hyperglycemia -> abnormal blood glucose concentration
    "HP:0011015": ("HP:0000118",),
}
LABELS = {
    "MONDO:0005148": "type 2 diabetes mellitus",
    "MONDO:0005147": "type 1 diabetes mellitus",
    "MONDO:0005015": "diabetes mellitus",
    "MONDO:0007254": "breast cancer",
    "MONDO:0005575": "colorectal cancer",
    "MONDO:0005044": "hypertensive disorder",
    "MONDO:0004992": "cancer",
    "MONDO:0100096": "COVID-19",
    "NCIT:C4872": "Breast Carcinoma",
    "NCIT:C2916": "Carcinoma",
    "NCIT:C3262": "Neoplasm",
    "NCIT:C26747": "Type 2 Diabetes Mellitus",
    "NCIT:C2985": "Diabetes Mellitus",
    FEMALE: "female",
    MALE: "male",
    UNKNOWN_SEX: "unknown",
    "HP:0001250": "Seizure",
    "HP:0000822": "Hypertension",
    "HP:0001513": "Obesity",
    "HP:0003074": "Hyperglycemia",
    "ICD10:E11": "Type 2 diabetes mellitus",
    "ICD10:E10": "Type 1 diabetes mellitus",
    "ICD10:I10": "Essential (primary) hypertension",
    "ICD10:C50": "Malignant neoplasm of breast",
    "ICD10:U07.1": "COVID-19",
    AGE: "age",
}
# GAZ countries -> ISO 3166-1 alpha-2 (also matched by label, for records that give only that).
GAZ_COUNTRIES = {
    "GAZ:00002959": "EE",
    "GAZ:00002937": "FI",
    "GAZ:00002958": "LV",
    "GAZ:00002960": "LT",
    "GAZ:00002729": "SE",
    "GAZ:00002699": "NO",
    "GAZ:00005852": "DK",
    "GAZ:00002646": "DE",
    "GAZ:00002939": "PL",
    "GAZ:00002946": "NL",
    "GAZ:00002938": "BE",
    "GAZ:00002947": "LU",
    "GAZ:00003940": "FR",
    "GAZ:00000591": "ES",
    "GAZ:00004126": "PT",
    "GAZ:00002650": "IT",
    "GAZ:00002637": "GB",
    "GAZ:00002459": "US",
}
COUNTRY_LABELS = {
    "estonia": "EE",
    "finland": "FI",
    "latvia": "LV",
    "lithuania": "LT",
    "sweden": "SE",
    "norway": "NO",
    "denmark": "DK",
    "germany": "DE",
    "poland": "PL",
    "netherlands": "NL",
    "belgium": "BE",
    "luxembourg": "LU",
    "france": "FR",
    "spain": "ES",
    "portugal": "PT",
    "italy": "IT",
    "united kingdom": "GB",
    "ireland": "IE",
    "austria": "AT",
    "switzerland": "CH",
    "czechia": "CZ",
    "czech republic": "CZ",
    "slovakia": "SK",
    "hungary": "HU",
    "slovenia": "SI",
    "greece": "GR",
    "romania": "RO",
    "bulgaria": "BG",
    "iceland": "IS",
    "cyprus": "CY",
    "malta": "MT",
    "croatia": "HR",
}

_CHILDREN: dict[str, set[str]] = {}
for _child, _parents in PARENTS.items():
    for _parent in _parents:
        _CHILDREN.setdefault(_parent, set()).add(_child)

TERM = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*:[A-Za-z0-9_.:-]+$")
_DURATION = re.compile(
    r"^P(?!$)(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)


def normalise(term: str) -> str:
    """`HPO:0001250` and `hp:0001250` -> `HP:0001250`; `icd10:e11.9` -> `ICD10:E11.9`."""
    prefix, _, local = term.strip().partition(":")
    prefix = prefix.upper()
    if prefix == "HPO":
        prefix = "HP"
    if prefix == "ICD10":
        local = local.upper()
    return f"{prefix}:{local}"


def descendants(term: str) -> set[str]:
    """The term and everything known to be below it."""
    found, todo = {term}, [term]
    while todo:
        for child in _CHILDREN.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def matches(filter_term: str, terms) -> bool:
    """Whether any of `terms` is `filter_term` or below it (ICD-10: `E11` covers `E11.9`)."""
    wanted = descendants(filter_term)
    icd = filter_term.startswith("ICD10:")
    for term in terms:
        if term in wanted:
            return True
        if (
            icd
            and term.startswith("ICD10:")
            and term.startswith(filter_term)
            and term[len(filter_term) :][:1] in (".", "")
        ):
            return True
    return False


def ancestors(term: str) -> set[str]:
    found, todo = set(), [term]
    while todo:
        for parent in PARENTS.get(todo.pop(), ()):
            if parent not in found:
                found.add(parent)
                todo.append(parent)
    return found


def country_of(origin) -> str:
    """ISO 3166-1 alpha-2 for a GAZ geographicOrigin ({"id", "label"}); "" when unmapped."""
    if not isinstance(origin, dict):
        return ""
    code = GAZ_COUNTRIES.get(str(origin.get("id", "")).strip().upper())
    if code:
        return code
    return COUNTRY_LABELS.get(str(origin.get("label", "")).strip().lower(), "")


def duration_days(value: str) -> float | None:
    """ISO 8601 duration (P45Y, P30Y6M, P2M4D, P10W) in days; None when not one."""
    match = _DURATION.match((value or "").strip().upper())
    if not match:
        return None
    years, months, weeks, days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return years * 365.25 + months * 30.4375 + weeks * 7 + days + hours / 24 + minutes / 1440 + seconds / 86400
