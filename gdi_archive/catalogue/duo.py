"""The GA4GH Data Use Ontology (DUO) terms a dataset may carry, and how a list of them is checked.

A dataset's `duo` is a list of strings: at most one *permission* (what the data may be used
for: GRU, HMB, DS, POA, NRES) and any number of *modifiers* (extra conditions: NCU, IRB, ...).
Labels and shorthands are DUO's own (EBISPOT/DUO `duo.csv`, as shown by EGA). Only the terms
below are accepted, so a typo cannot silently tag a dataset with a condition nobody enforces.

Disease-specific research (DS, DUO:0000007) should say which disease. DUO recommends MONDO for
that, so the list may also hold MONDO ids (`MONDO:` + 7 digits) — but only next to DS, e.g.
`["DUO:0000007", "MONDO:0005015"]`. We check their shape, not that the disease exists.
"""

import re
from dataclasses import dataclass

from django.utils.translation import gettext, gettext_noop

from gdi_archive.common.errors import InvalidInput

PERMISSION, MODIFIER = "permission", "modifier"
DISEASE_SPECIFIC = "DUO:0000007"
_MONDO = re.compile(r"^MONDO:\d{7}$")


@dataclass(frozen=True)
class Term:
    code: str
    shorthand: str
    label: str
    kind: str


TERMS: dict[str, Term] = {
    term.code: term
    for term in [
        Term("DUO:0000042", "GRU", "general research use", PERMISSION),
        Term("DUO:0000006", "HMB", "health or medical or biomedical research", PERMISSION),
        Term("DUO:0000007", "DS", "disease specific research", PERMISSION),
        Term("DUO:0000011", "POA", "population origins or ancestry research only", PERMISSION),
        Term("DUO:0000004", "NRES", "no restriction", PERMISSION),
        Term("DUO:0000012", "RS", "research specific restrictions", MODIFIER),
        Term("DUO:0000015", "NMDS", "no general methods research", MODIFIER),
        Term("DUO:0000016", "GSO", "genetic studies only", MODIFIER),
        Term("DUO:0000018", "NPUNCU", "not for profit, non commercial use only", MODIFIER),
        Term("DUO:0000019", "PUB", "publication required", MODIFIER),
        Term("DUO:0000020", "COL", "collaboration required", MODIFIER),
        Term("DUO:0000021", "IRB", "ethics approval required", MODIFIER),
        Term("DUO:0000022", "GS", "geographical restriction", MODIFIER),
        Term("DUO:0000024", "MOR", "publication moratorium", MODIFIER),
        Term("DUO:0000025", "TS", "time limit on use", MODIFIER),
        Term("DUO:0000026", "US", "user specific restriction", MODIFIER),
        Term("DUO:0000027", "PS", "project specific restriction", MODIFIER),
        Term("DUO:0000028", "IS", "institution specific restriction", MODIFIER),
        Term("DUO:0000029", "RTN", "return to database or resource", MODIFIER),
        Term("DUO:0000043", "CC", "clinical care use", MODIFIER),
        Term("DUO:0000044", "NPOA", "population origins or ancestry research prohibited", MODIFIER),
        Term("DUO:0000045", "NPU", "not for profit organisation use only", MODIFIER),
        Term("DUO:0000046", "NCU", "non-commercial use only", MODIFIER),
    ]
}


def validate_duo(codes) -> list[str]:
    """The list cleaned (trimmed, upper-cased, duplicates dropped, order kept), or InvalidInput."""
    if codes is None:
        return []
    if not isinstance(codes, (list, tuple)) or not all(isinstance(code, str) for code in codes):
        raise InvalidInput('"duo" must be a list of DUO codes such as ["DUO:0000042"].')
    cleaned: list[str] = []
    for code in codes:
        code = code.strip().upper()
        if code and code not in cleaned:
            cleaned.append(code)
    diseases = [code for code in cleaned if _MONDO.match(code)]
    unknown = [code for code in cleaned if code not in TERMS and code not in diseases]
    if unknown:
        raise InvalidInput(f"Unknown DUO code(s): {', '.join(unknown)}. Known codes: {', '.join(sorted(TERMS))}.")
    permissions = [code for code in cleaned if code in TERMS and TERMS[code].kind == PERMISSION]
    if len(permissions) > 1:
        raise InvalidInput(
            f"A dataset has at most one data-use permission; got {', '.join(permissions)}. "
            "Add further conditions as modifiers."
        )
    if diseases and DISEASE_SPECIFIC not in permissions:
        raise InvalidInput(
            f"MONDO disease ids ({', '.join(diseases)}) only go with disease specific research ({DISEASE_SPECIFIC})."
        )
    return cleaned


def describe(code: str) -> str:
    """`GRU (general research use)` for people; unknown codes (MONDO ids) as they are."""
    term = TERMS.get(code)
    return f"{term.shorthand} ({term.label})" if term else code


# The labels above, marked for translation (makemessages): pages show them in the reader's
# language through `describe_local`; the APIs (Beacon, FDP) keep DUO's own English labels.
_TRANSLATED_LABELS = (
    gettext_noop("general research use"),
    gettext_noop("health or medical or biomedical research"),
    gettext_noop("disease specific research"),
    gettext_noop("population origins or ancestry research only"),
    gettext_noop("no restriction"),
    gettext_noop("research specific restrictions"),
    gettext_noop("no general methods research"),
    gettext_noop("genetic studies only"),
    gettext_noop("not for profit, non commercial use only"),
    gettext_noop("publication required"),
    gettext_noop("collaboration required"),
    gettext_noop("ethics approval required"),
    gettext_noop("geographical restriction"),
    gettext_noop("publication moratorium"),
    gettext_noop("time limit on use"),
    gettext_noop("user specific restriction"),
    gettext_noop("project specific restriction"),
    gettext_noop("institution specific restriction"),
    gettext_noop("return to database or resource"),
    gettext_noop("clinical care use"),
    gettext_noop("population origins or ancestry research prohibited"),
    gettext_noop("not for profit organisation use only"),
    gettext_noop("non-commercial use only"),
)


def describe_local(code: str) -> str:
    """`describe` for web pages: the label in the active language (GRU (üldine teadustöö))."""
    term = TERMS.get(code)
    return f"{term.shorthand} ({gettext(term.label)})" if term else code
