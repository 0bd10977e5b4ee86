"""Validate FDP records against the GDI shapes with pyshacl, and say what fails in a steward's words."""

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from pyshacl import validate
from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, RDF, SH

from gdi_archive.common.errors import ServiceUnavailable

from .vocab import DATA_THEME, DCATAP, DPV

# What a steward can do about a property the shapes find missing or wrong.
HINTS = {
    "publisher": 'give "publisher" in the dataset\'s metadata, or set FDP_PUBLISHER_NAME for the node',
    "creator": 'give "creator" in the dataset\'s metadata (it defaults to the publisher)',
    "contact point": 'give "contact_point" with an email in the dataset\'s metadata, or set FDP_PUBLISHER_EMAIL',
    "health category": "use one of the GDI health categories, e.g. http://data.gdi.eu/core/p2/HealthCategoryHumanGenomic",
    "type": "only https://publications.europa.eu/resource/authority/dataset-type/SYNTHETIC_DATA is allowed; "
    "leave it out for real data",
    "conforms to": "use http://data.gdi.eu/core/p2/ExternallyGoverned, 1MGCompliant or 1MGCohort",
    "description": "write a description of the dataset",
    "title": "give the dataset a title",
    "identifier": "set GDI_COUNTRY (two capital letters) and GDI_ORGANISATION (capital letters)",
}
COMPONENTS = {
    SH.MinCountConstraintComponent: "is missing",
    SH.MaxCountConstraintComponent: "has too many values",
    SH.InConstraintComponent: "is not one of the allowed values",
    SH.PatternConstraintComponent: "does not have the required form",
    SH.NodeKindConstraintComponent: "has the wrong kind of value",
    SH.DatatypeConstraintComponent: "has the wrong kind of value",
    SH.UniqueLangConstraintComponent: "has two values in the same language",
    SH.ClassConstraintComponent: "is not described as the right kind of thing",
}


class ShapesNotInstalled(ServiceUnavailable):
    """The GDI shapes are not on this machine: nothing can be validated (the operator's to fix)."""

    code = "ShapesNotInstalled"

    def __init__(self):
        super().__init__(
            "The GDI metadata SHACL shapes are not installed on this archive, so FAIR Data Point records "
            "cannot be validated: the operator sets FDP_SHAPES_DIR to the folder of the shapes "
            "(Formulasation(shacl)/core/PiecesShape of GenomicDataInfrastructure/gdi-metadata)."
        )


def shapes_dir() -> Path:
    """The folder of the GDI shapes (settings.FDP_SHAPES_DIR); ShapesNotInstalled when there is none."""
    folder = settings.FDP_SHAPES_DIR
    if not folder or not any(Path(folder).glob("*.ttl")):
        raise ShapesNotInstalled()
    return Path(folder)


PREFIX = re.compile(r"^@prefix\s+([\w-]*):\s*<[^>]*>\s*\.\s*$", re.MULTILINE)


def parse_shape_files(paths: list[Path], siblings: list[Path] | None = None) -> Graph:
    """Parse the shape files into one graph. A file may use a prefix only its siblings declare
    (the GDI Identifier.ttl uses foaf: undeclared): the set's declarations are lent to it."""
    texts = [path.read_text(encoding="utf-8") for path in paths]
    lenders = texts + [path.read_text(encoding="utf-8") for path in siblings or []]
    declared = {match.group(1): match.group(0) for text in lenders for match in PREFIX.finditer(text)}
    graph = Graph()
    for path, text in zip(paths, texts, strict=True):
        own = set(PREFIX.findall(text))
        lent = "\n".join(line for prefix, line in declared.items() if prefix not in own)
        graph.parse(data=f"{lent}\n{text}", format="turtle", publicID=path.as_uri())
    return graph


@functools.lru_cache(maxsize=4)
def _shapes(folder: str) -> Graph:
    graph = parse_shape_files(sorted(Path(folder).glob("*.ttl")))
    if not len(graph):
        raise ShapesNotInstalled()
    return graph


def shapes_graph(folder: Path | None = None) -> Graph:
    """All GDI shapes as one graph, parsed once per process (parsing is the slow part)."""
    return _shapes(str(folder or shapes_dir()))


def shape_files(names: list[str]) -> Graph:
    """Some of the shape files (a profile's), with the set's prefixes lent where they lack one."""
    folder = shapes_dir()
    return parse_shape_files([folder / name for name in names], siblings=sorted(folder.glob("*.ttl")))


@dataclass
class Report:
    conforms: bool
    problems: list[str] = field(default_factory=list)
    text: str = ""


def _name(shapes: Graph, node) -> str | None:
    value = shapes.value(node, SH.name)
    return str(value) if value is not None else None


def _shape_name(shapes: Graph, predicate) -> str | None:
    for shape in shapes.subjects(SH.path, predicate):
        name = _name(shapes, shape)
        if name:
            return name
    return None


def _path_name(shapes: Graph, predicate) -> str:
    return _shape_name(shapes, predicate) or (predicate.n3() if isinstance(predicate, URIRef) else str(predicate))


def _owner(data: Graph, shapes: Graph, node) -> str | None:
    """For a nested node (an agent, a contact point), the shaped property that leads to it."""
    for subject, predicate in data.subject_predicates(node):
        name = _shape_name(shapes, predicate) if subject != node else None
        if name:
            return name
    return None


def describe(results: Graph, data: Graph, shapes: Graph) -> list[str]:
    problems, nested_failures = [], set()
    rows = []
    for result in results.subjects(RDF.type, SH.ValidationResult):
        rows.append(
            {
                key: results.value(result, getattr(SH, key))
                for key in (
                    "focusNode",
                    "resultPath",
                    "sourceShape",
                    "sourceConstraintComponent",
                    "value",
                    "resultMessage",
                )
            }
        )
    focus_nodes = {row["focusNode"] for row in rows}
    for row in rows:
        component = row["sourceConstraintComponent"]
        if component == SH.NodeConstraintComponent and row["value"] in focus_nodes:
            nested_failures.add(row["value"])  # its own results say what is wrong
    for row in rows:
        component = row["sourceConstraintComponent"]
        if component == SH.NodeConstraintComponent and row["value"] in nested_failures:
            continue
        what = _name(shapes, row["sourceShape"]) or (
            _path_name(shapes, row["resultPath"]) if row["resultPath"] else "record"
        )
        owner = _owner(data, shapes, row["focusNode"])
        label = f"{owner}: {what}" if owner and owner != what else what
        problem = COMPONENTS.get(component, str(row["resultMessage"] or "does not conform"))
        if component in (SH.InConstraintComponent, SH.PatternConstraintComponent) and row["value"] is not None:
            problem = f": {row['value']} {problem}"
        else:
            problem = f" {problem}"
        hint = HINTS.get(owner or what) or HINTS.get(what)
        text = f"{label}{problem}" + (f" ({hint})" if hint else "")
        if text not in problems:
            problems.append(text)
    return problems


# Values the shapes say "must be from a controlled vocabulary" but leave open (no sh:in): the
# vocabulary each must come from, as the namespaces of its terms, and an example for the steward.
CONTROLLED = (
    (
        DCAT.theme,
        "theme",
        (f"{DATA_THEME}/",),
        f"is not an EU data theme (use one of {DATA_THEME}/..., e.g. {DATA_THEME}/HEAL)",
    ),
    (
        DPV.hasLegalBasis,
        "legal basis",
        ("https://w3id.org/dpv#", "https://w3id.org/dpv/"),
        "is not a DPV legal basis (use an IRI of https://w3id.org/dpv, e.g. https://w3id.org/dpv#Consent)",
    ),
    (
        DCATAP.applicableLegislation,
        "applicable legislation",
        ("http://data.europa.eu/eli/",),
        "is not an ELI of EU legislation (e.g. the EHDS, http://data.europa.eu/eli/reg/2025/327/oj)",
    ),
)


def vocabulary_problems(data: Graph) -> list[str]:
    problems = []
    for predicate, name, namespaces, words in CONTROLLED:
        for value in sorted({str(value) for value in data.objects(None, predicate)}):
            if not value.startswith(namespaces):
                problems.append(f"{name}: {value} {words}")
    return problems


def validate_graph(data: Graph) -> Report:
    """The shapes (pyshacl), then the vocabularies they name but do not list."""
    shapes = shapes_graph()
    conforms, results, text = validate(data, shacl_graph=shapes, inference="none", advanced=False, allow_warnings=True)
    problems = [] if conforms else describe(results, data, shapes)
    words = vocabulary_problems(data)
    if words:
        text += "\nControlled vocabularies:\n" + "\n".join(words)
    return Report(conforms=bool(conforms) and not words, problems=problems + words, text=text)
