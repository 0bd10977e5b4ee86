"""A dataset's individuals: Beacon individual records, checked field by field, stored whole.

The runtime checks only the fields the Beacon uses (id, sex, diseases, phenotypicFeatures,
geographicOrigin) with their ontology prefixes; the tests also check the same records against
the Beacon v2 default model's JSON schema. An upload replaces the dataset's individuals as a
whole, in one transaction: one bad record and nothing changes.
"""

import json
from dataclasses import dataclass

from django.db import transaction

from gdi_archive.audit import services as audit
from gdi_archive.catalogue.models import Dataset
from gdi_archive.common.errors import InvalidInput

from . import ontology
from .models import Individual

MAX_INDIVIDUALS = 200_000
MAX_BYTES = 64 * 1024 * 1024
DISEASE_PREFIXES = ("ICD10", "NCIT", "MONDO", "HP", "ORPHA", "OMIM", "SNOMED")
PHENOTYPE_PREFIXES = ("HP", "NCIT", "MONDO", "SNOMED")


@dataclass(frozen=True)
class BadRecord:
    line: int
    id: str
    reason: str

    def as_dict(self) -> dict:
        return {"line": self.line, "id": self.id, "reason": self.reason}


class InvalidIndividuals(InvalidInput):
    def __init__(self, problems: list[BadRecord]):
        shown = "; ".join(f"line {p.line}: {p.reason}" for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{len(problems)} record(s) are not valid, nothing was imported: {shown}{more}")
        self.problems = problems


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def split_records(body: bytes, *, ndjson: bool) -> list[tuple[int, object]]:
    """(line, parsed value) for each record of a JSON array or of JSON Lines."""
    if len(body) > MAX_BYTES:
        raise InvalidInput(f"The upload is larger than {MAX_BYTES // (1024 * 1024)} MiB.")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("The upload is not UTF-8 text.") from None
    records: list[tuple[int, object]] = []
    if ndjson:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append((number, json.loads(line)))
            except ValueError as exc:
                raise InvalidIndividuals([BadRecord(number, "", f"not JSON ({exc.msg})")]) from None
        return records
    decoder = json.JSONDecoder()
    position = len(text) - len(text.lstrip())
    if not text[position : position + 1] == "[":
        raise InvalidInput("Send a JSON array of Beacon individuals, or JSON Lines as application/x-ndjson.")
    position += 1
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position >= len(text):
            raise InvalidIndividuals([BadRecord(_line_of(text, position), "", "the JSON array is not closed")])
        if text[position] == "]":
            break
        try:
            value, end = decoder.raw_decode(text, position)
        except ValueError as exc:
            raise InvalidIndividuals([BadRecord(_line_of(text, exc.pos), "", f"not JSON ({exc.msg})")]) from None
        records.append((_line_of(text, position), value))
        position = end
    if text[position + 1 :].strip():
        raise InvalidIndividuals([BadRecord(_line_of(text, position + 1), "", "text after the end of the JSON array")])
    return records


def _term(value, where: str, prefixes: tuple[str, ...] | None = None) -> str:
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        raise ValueError(f'{where} must be an ontology term {{"id", "label"}}')
    if "label" in value and not isinstance(value["label"], str):
        raise ValueError(f"{where}.label must be text")
    term = value["id"].strip()
    if not ontology.TERM.match(term):
        raise ValueError(f"{where}.id {term[:40]!r} is not a CURIE such as NCIT:C16576")
    term = ontology.normalise(term)
    if prefixes and term.split(":", 1)[0] not in prefixes:
        raise ValueError(f"{where}.id {term} must be one of {', '.join(prefixes)}")
    return term


def _list(record: dict, key: str) -> list:
    value = record.get(key, [])
    if not isinstance(value, list):
        raise ValueError(f"{key} must be a list")
    return value


def check_record(record) -> dict:
    """The fields we store for one record; ValueError with the reason if it is not valid."""
    if not isinstance(record, dict):
        raise ValueError("a record must be a JSON object")
    ident = record.get("id")
    if not isinstance(ident, str) or not ident.strip() or len(ident) > 200:
        raise ValueError("id must be a non-empty text of at most 200 characters (the VCF sample id)")
    if "sex" not in record:
        raise ValueError("sex is required (NCIT:C16576 female, NCIT:C20197 male, NCIT:C17998 unknown)")
    sex_term = _term(record["sex"], "sex", ("NCIT",))
    if sex_term not in ontology.SEX_CODES:
        raise ValueError(f"sex {sex_term} must be NCIT:C16576, NCIT:C20197 or NCIT:C17998")
    terms, onsets = [sex_term], []
    for n, disease in enumerate(_list(record, "diseases")):
        where = f"diseases[{n}]"
        if not isinstance(disease, dict):
            raise ValueError(f"{where} must be an object")
        terms.append(_term(disease.get("diseaseCode"), f"{where}.diseaseCode", DISEASE_PREFIXES))
        onset = disease.get("ageOfOnset")
        if onset is not None:
            if not isinstance(onset, dict):
                raise ValueError(f"{where}.ageOfOnset must be an object")
            if "iso8601duration" in onset:
                days = ontology.duration_days(str(onset["iso8601duration"]))
                if days is None or not isinstance(onset["iso8601duration"], str):
                    raise ValueError(f"{where}.ageOfOnset.iso8601duration must be an ISO 8601 duration such as P45Y")
                onsets.append(days)
            elif "id" in onset:
                terms.append(_term(onset, f"{where}.ageOfOnset"))
    for n, feature in enumerate(_list(record, "phenotypicFeatures")):
        where = f"phenotypicFeatures[{n}]"
        if not isinstance(feature, dict):
            raise ValueError(f"{where} must be an object")
        if feature.get("excluded") is True:
            _term(feature.get("featureType"), f"{where}.featureType", PHENOTYPE_PREFIXES)
            continue  # an excluded feature is checked but never matches a filter
        terms.append(_term(feature.get("featureType"), f"{where}.featureType", PHENOTYPE_PREFIXES))
    country = ""
    if record.get("geographicOrigin") is not None:
        origin = record["geographicOrigin"]
        terms.append(_term(origin, "geographicOrigin", ("GAZ",)))
        country = ontology.country_of(origin)
    return {
        "individual_id": ident.strip(),
        "sex": ontology.SEX_CODES[sex_term],
        "country": country,
        "terms": sorted(set(terms)),
        "onset_days": sorted(onsets),
        "record": record,
    }


def check_records(records: list[tuple[int, object]]) -> list[dict]:
    if len(records) > MAX_INDIVIDUALS:
        raise InvalidInput(f"At most {MAX_INDIVIDUALS} individuals per dataset.")
    problems, clean, seen = [], [], {}
    for line, record in records:
        ident = record.get("id", "") if isinstance(record, dict) else ""
        ident = ident if isinstance(ident, str) else ""
        try:
            row = check_record(record)
        except ValueError as exc:
            problems.append(BadRecord(line, ident, str(exc)))
            continue
        if row["individual_id"] in seen:
            problems.append(BadRecord(line, ident, f"id {ident!r} is also on line {seen[row['individual_id']]}"))
            continue
        seen[row["individual_id"]] = line
        clean.append(row)
    if problems:
        raise InvalidIndividuals(problems)
    return clean


def replace_individuals(*, dataset: Dataset, body: bytes, ndjson: bool, actor, request=None) -> int:
    """Check every record, then replace the dataset's individuals with them (all or nothing).

    The dataset's variants are loaded again afterwards, because population counts (sex,
    country) come from the individuals.
    """
    rows = check_records(split_records(body, ndjson=ndjson))
    with transaction.atomic():
        Dataset.objects.select_for_update().filter(pk=dataset.pk).first()
        Individual.objects.filter(dataset=dataset).delete()
        Individual.objects.bulk_create([Individual(dataset=dataset, **row) for row in rows], batch_size=2000)
        audit.record(
            action="beacon.individuals.replaced",
            actor=actor,
            target=dataset,
            request=request,
            details={"individuals": len(rows)},
        )
        from . import loading

        transaction.on_commit(lambda: loading.schedule_dataset(dataset.pk))
    return len(rows)
