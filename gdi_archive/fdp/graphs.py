"""The FAIR Data Point records, built with rdflib from the same rows that govern access.

One graph per record (FDP spec v1.2): the FDP itself, its catalog, a dataset, a distribution
(one per file format of a dataset, with its access services described inside it), a data
service (htsget, DRS) and a profile per record type. Navigation is by LDP direct containers.
What each class carries is what the GDI metadata v1.1 shapes ask (design.md 7); nothing about
files or people beyond that: no file names, no storage locations, no submitters. What the
records share (their IRIs, the agents, the RDF helpers) is in metadata.py, imported here.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Max, Min
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, PROF, RDF, RDFS, SKOS, XSD

from gdi_archive.catalogue.models import DAC, Dataset, File

from .metadata import (
    CATALOG_ID,
    add_container,
    add_iris,
    agent_node,
    catalog_ids,
    catalog_url,
    contact_kind,
    count_literal,
    dataservice_url,
    dataset_url,
    distribution_url,
    effective_metadata,
    fdp_url,
    gdi_identifier,
    new_graph,
    node_publisher,
    profile_url,
    text_literal,
    when_literal,
)
from .vocab import (
    ACCESS_RIGHT,
    ADMS,
    DATA_THEME,
    DATASET_STATUS,
    DCATAP,
    DISTRIBUTION_STATUS,
    DPV,
    DRS_SPEC,
    FDP_SPEC,
    FDPO,
    FORMATS,
    GDI,
    HEALTH,
    HTSGET_SPEC,
    OBO,
    OCTET_STREAM,
    SHACL_SPEC,
    SPDX,
    TURTLE,
)

PROFILES = {
    # type: (label, shape files, the shape that names the record's class)
    "catalog": ("Catalog", ["Catalog.ttl"], GDI.CatalogShape),
    "dataset": (
        "Dataset",
        ["Dataset.ttl", "AgentCreator.ttl", "AgentHdab.ttl", "Kind.ttl", "Identifier.ttl"],
        GDI.DatasetShape,
    ),
    "distribution": ("Distribution", ["Distribution.ttl"], GDI.DistributionShape),
    "dataservice": ("Data Service", ["DataService.ttl"], GDI.DataServiceShape),
}
SERVICES = {
    "htsget": (
        "htsget: streaming of BAM, CRAM, VCF and BCF regions",
        "/htsget",
        HTSGET_SPEC,
        {"BAM", "CRAM", "VCF", "BCF"},
    ),
    "drs": ("GA4GH Data Repository Service (DRS)", "/ga4gh/drs/v1", DRS_SPEC, None),
}
DATA_FORMATS = ("BAM", "CRAM", "VCF", "BCF", "OTHER")


# --- datasets and their distributions ----------------------------------------------------------------


def released_datasets():
    return Dataset.objects.filter(status=Dataset.Status.RELEASED).select_related("dac").order_by("accession")


def data_files(dataset: Dataset) -> list[File]:
    return list(dataset.files.filter(status=File.Status.READY, index_of__isnull=True).order_by("accession"))


@dataclass
class Distribution:
    dataset: Dataset
    fmt: str
    files: list[File]

    @property
    def url(self) -> str:
        return distribution_url(self.dataset.accession, self.fmt)


def distributions(dataset: Dataset, files: list[File] | None = None) -> list[Distribution]:
    files = data_files(dataset) if files is None else files
    by_format: dict[str, list[File]] = {}
    for file in files:
        fmt = file.format if file.format in DATA_FORMATS else "OTHER"
        by_format.setdefault(fmt, []).append(file)
    return [Distribution(dataset, fmt, by_format[fmt]) for fmt in DATA_FORMATS if fmt in by_format]


def _description(dataset: Dataset, dists: list[Distribution]) -> str:
    """The steward's description, or one the archive can state from what it holds."""
    if dataset.description.strip():
        return dataset.description.strip()
    held = (
        ", ".join(
            f"{len(d.files)} {d.fmt if d.fmt != 'OTHER' else 'other'} file{'s' if len(d.files) != 1 else ''}"
            for d in dists
        )
        or "no files yet"
    )
    return (
        f"Controlled-access human genomic data ({held}). Access is decided by the Data Access "
        f"Committee {dataset.dac.name}."
    )


def unique_individuals(files: list[File]) -> int | None:
    """Distinct sample ids over the files whose samples were read; None when none were."""
    known = [f.samples for f in files if f.samples is not None]
    if not known:
        return None
    return len({sample for samples in known for sample in samples})


def dataset_graph(dataset: Dataset) -> Graph:
    """The dataset's record from the (possibly not yet saved) instance: the release check and a
    released dataset's edits are validated before they are kept."""
    graph = new_graph()
    subject = URIRef(dataset_url(dataset.accession))
    files = data_files(dataset)
    dists = distributions(dataset, files)
    meta = effective_metadata(dataset)

    graph.add((subject, RDF.type, DCAT.Dataset))
    graph.add((subject, DCTERMS.title, text_literal(dataset.title)))
    graph.add((subject, DCTERMS.description, text_literal(_description(dataset, dists))))
    graph.add((subject, DCTERMS.identifier, Literal(gdi_identifier(dataset.accession), datatype=XSD.string)))
    other = BNode()
    graph.add((subject, ADMS.identifier, other))
    graph.add((other, RDF.type, ADMS.Identifier))
    graph.add((other, SKOS.notation, Literal(dataset.accession, datatype=XSD.string)))
    graph.add(
        (
            other,
            ADMS.schemaAgency,
            Literal(meta["publisher"]["name"] if meta["publisher"] else "gdi-archive", datatype=XSD.string),
        )
    )
    # Controlled access: access right RESTRICTED; the DUO terms beside it (never in its place).
    graph.add((subject, DCTERMS.accessRights, ACCESS_RIGHT.RESTRICTED))
    for code in dataset.duo or []:
        if code.startswith("DUO:"):
            graph.add((subject, DCTERMS.rights, OBO[code.replace(":", "_")]))
    graph.add((subject, DCAT.landingPage, URIRef(dataset.url)))
    if meta["publisher"]:
        graph.add((subject, DCTERMS.publisher, agent_node(graph, meta["publisher"], with_contact=True)))
    for creator in meta["creator"]:
        graph.add((subject, DCTERMS.creator, agent_node(graph, creator)))
    if meta["contact_point"]:
        graph.add((subject, DCAT.contactPoint, contact_kind(graph, meta["contact_point"])))
    if meta["hdab"]:
        graph.add((subject, HEALTH.hdab, agent_node(graph, meta["hdab"], with_contact=True)))
    add_iris(graph, subject, HEALTH.healthCategory, meta["health_category"])
    add_iris(graph, subject, DCAT.theme, meta["theme"])
    add_iris(graph, subject, DCATAP.applicableLegislation, meta["applicable_legislation"])
    add_iris(graph, subject, DPV.hasLegalBasis, meta["legal_basis"])
    add_iris(graph, subject, DCTERMS.conformsTo, meta["conforms_to"])
    add_iris(graph, subject, DCTERMS.isReferencedBy, meta["is_referenced_by"])
    if meta["type"]:
        graph.add((subject, DCTERMS.type, URIRef(meta["type"])))
    for keyword in meta["keywords"]:
        graph.add((subject, DCAT.keyword, text_literal(keyword)))
    if meta["population_coverage"]:
        graph.add((subject, HEALTH.populationCoverage, text_literal(meta["population_coverage"])))
    graph.add((subject, ADMS.status, DATASET_STATUS.COMPLETED))
    graph.add((subject, DCTERMS.issued, when_literal(dataset.released_at)))
    graph.add((subject, DCTERMS.modified, when_literal(dataset.updated_at)))
    graph.add((subject, FDPO.metadataIdentifier, subject))
    graph.add((subject, FDPO.metadataIssued, when_literal(dataset.released_at)))
    graph.add((subject, FDPO.metadataModified, when_literal(dataset.updated_at)))
    graph.add((subject, DCTERMS.isPartOf, URIRef(catalog_url())))
    if settings.FDP_CATALOG_PER_DAC:
        graph.add((subject, DCTERMS.isPartOf, URIRef(catalog_url(dataset.dac.accession))))
    # Each data file is one record (subject-level data); individuals from the files' sample ids.
    graph.add((subject, HEALTH.numberOfRecords, count_literal(len(files))))
    individuals = unique_individuals(files)
    if individuals is not None:
        graph.add((subject, HEALTH.numberOfUniqueIndividuals, count_literal(individuals)))
    for dist in dists:
        graph.add((subject, DCAT.distribution, URIRef(dist.url)))
    add_container(
        graph,
        f"{dataset_url(dataset.accession)}/distribution/",
        "Distributions",
        subject,
        DCAT.distribution,
        [d.url for d in dists],
    )
    return graph


def _service(graph: Graph, service: str, served: list[str]) -> URIRef:
    title, path, spec, _ = SERVICES[service]
    node = URIRef(dataservice_url(service))
    graph.add((node, RDF.type, DCAT.DataService))
    graph.add((node, DCTERMS.title, text_literal(title)))
    graph.add((node, DCAT.endpointURL, URIRef(f"{settings.BASE_URL}{path}")))
    graph.add((node, DCTERMS.conformsTo, URIRef(spec)))
    graph.add((node, DCTERMS.accessRights, ACCESS_RIGHT.RESTRICTED))
    for accession in served:
        graph.add((node, DCAT.servesDataset, URIRef(dataset_url(accession))))
    return node


def services_for(fmt: str) -> list[str]:
    return [name for name, (*_, formats) in SERVICES.items() if formats is None or fmt in formats]


def distribution_graph(dist: Distribution) -> Graph:
    graph = new_graph()
    subject = URIRef(dist.url)
    dataset = dist.dataset
    label = dist.fmt if dist.fmt != "OTHER" else "Other"
    graph.add((subject, RDF.type, DCAT.Distribution))
    graph.add((subject, DCTERMS.title, text_literal(f"{label} files of {dataset.title}")))
    graph.add(
        (
            subject,
            DCTERMS.description,
            text_literal(
                f"{len(dist.files)} {label} file{'s' if len(dist.files) != 1 else ''}, Crypt4GH-encrypted; "
                "access follows a decision of the dataset's Data Access Committee."
            ),
        )
    )
    graph.add((subject, DCAT.accessURL, URIRef(dataset.url)))
    add_iris(graph, subject, DCATAP.applicableLegislation, effective_metadata(dataset)["applicable_legislation"])
    graph.add((subject, ADMS.status, DISTRIBUTION_STATUS.COMPLETED))
    graph.add((subject, DCTERMS.accessRights, ACCESS_RIGHT.RESTRICTED))
    if dist.fmt in FORMATS:
        graph.add((subject, DCTERMS.format, FORMATS[dist.fmt]))
    # IANA registers no type for BAM, CRAM, VCF or BCF (dct:format names those, in EDAM); what
    # the services hand out are Crypt4GH bodies, which IANA knows only as bytes.
    graph.add((subject, DCAT.mediaType, URIRef(OCTET_STREAM)))
    graph.add((subject, DCAT.byteSize, count_literal(sum(f.plaintext_size or 0 for f in dist.files))))
    if len(dist.files) == 1 and dist.files[0].sha256:
        checksum = BNode()
        graph.add((subject, SPDX.checksum, checksum))
        graph.add((checksum, RDF.type, SPDX.Checksum))
        graph.add((checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256))
        graph.add((checksum, SPDX.checksumValue, Literal(dist.files[0].sha256, datatype=XSD.hexBinary)))
    graph.add((subject, DCTERMS.isPartOf, URIRef(dataset_url(dataset.accession))))
    graph.add((subject, FDPO.metadataIdentifier, subject))
    graph.add((subject, FDPO.metadataIssued, when_literal(dataset.released_at)))
    graph.add((subject, FDPO.metadataModified, when_literal(dataset.updated_at)))
    for service in services_for(dist.fmt):
        graph.add((subject, DCAT.accessService, _service(graph, service, [dataset.accession])))
    return graph


def find_distribution(dist_id: str) -> Distribution | None:
    """A released dataset's distribution by `{accession}-{format}`; None if there is none."""
    accession, _, fmt = dist_id.rpartition("-")
    dataset = released_datasets().filter(accession=accession).first()
    if dataset is None:
        return None
    return next((d for d in distributions(dataset) if d.fmt.lower() == fmt), None)


def dataservice_graph(service: str) -> Graph:
    graph = new_graph()
    served = [
        d.accession for d in released_datasets() if any(service in services_for(dist.fmt) for dist in distributions(d))
    ]
    node = _service(graph, service, served)
    graph.add((node, FDPO.metadataIdentifier, node))
    graph.add((node, DCTERMS.isPartOf, URIRef(catalog_url())))
    return graph


# --- the FDP and its catalog ---------------------------------------------------------------------------


def _dates(dac: DAC | None = None):
    """When the published content began and last changed (withdrawals change it too)."""
    shown = Dataset.objects.exclude(status=Dataset.Status.DRAFT)
    if dac is not None:
        shown = shown.filter(dac=dac)
    span = shown.aggregate(first=Min("released_at"), last=Max("updated_at"))
    return span["first"], span["last"]


def _node_agent(graph: Graph) -> BNode:
    publisher = node_publisher() or {"name": "gdi-archive"}
    return agent_node(graph, publisher, with_contact=True)


def _common(graph: Graph, subject: URIRef, title: str, description: str, dac: DAC | None = None) -> None:
    first, last = _dates(dac)
    graph.add((subject, DCTERMS.title, text_literal(title)))
    graph.add((subject, RDFS.label, text_literal(title)))
    graph.add((subject, DCTERMS.description, text_literal(description)))
    graph.add((subject, DCTERMS.publisher, _node_agent(graph)))
    graph.add((subject, DCTERMS.language, URIRef(settings.FDP_LANGUAGE)))
    graph.add((subject, DCTERMS.license, URIRef(settings.FDP_LICENSE)))
    add_iris(graph, subject, DCATAP.applicableLegislation, settings.FDP_APPLICABLE_LEGISLATION)
    publisher = node_publisher()
    if publisher and publisher.get("email"):
        graph.add((subject, DCAT.contactPoint, contact_kind(graph, publisher)))
    graph.add((subject, FDPO.metadataIdentifier, subject))
    graph.add((subject, FDPO.metadataIssued, when_literal(first)))
    graph.add((subject, FDPO.metadataModified, when_literal(last)))


def fdp_graph() -> Graph:
    graph = new_graph()
    subject = URIRef(fdp_url())
    for kind in (FDPO.FAIRDataPoint, FDPO.MetadataService, DCAT.DataService):
        graph.add((subject, RDF.type, kind))
    _common(graph, subject, settings.FDP_TITLE, settings.FDP_DESCRIPTION)
    graph.add((subject, DCTERMS.conformsTo, URIRef(profile_url("dataservice"))))
    graph.add((subject, DCAT.endpointURL, subject))
    graph.add((subject, FDPO.conformsToFdpSpec, URIRef(FDP_SPEC)))
    for keyword in settings.FDP_KEYWORDS:
        graph.add((subject, DCAT.keyword, text_literal(keyword)))
    add_iris(graph, subject, DCAT.theme, settings.FDP_THEME)
    catalogs = [catalog_url(catalog_id) for catalog_id in catalog_ids()]
    for catalog in catalogs:
        graph.add((subject, FDPO.metadataCatalog, URIRef(catalog)))
    add_container(graph, f"{fdp_url()}/catalog/", "Catalogs", subject, FDPO.metadataCatalog, catalogs)
    return graph


def catalog_graph(catalog_id: str = CATALOG_ID) -> Graph:
    """The node's catalog, or a DAC's (catalog_id its accession): the same record, its datasets."""
    graph = new_graph()
    subject = URIRef(catalog_url(catalog_id))
    datasets = released_datasets()
    dac = None
    if catalog_id != CATALOG_ID:
        dac = DAC.objects.get(accession=catalog_id)
        datasets = datasets.filter(dac=dac)
    first, last = _dates(dac)
    graph.add((subject, RDF.type, DCAT.Catalog))
    if dac is None:
        _common(graph, subject, settings.FDP_CATALOG_TITLE, settings.FDP_CATALOG_DESCRIPTION)
    else:
        description = dac.description.strip() or (
            f"Controlled-access human genomic datasets whose access the Data Access Committee {dac.name} decides."
        )
        _common(graph, subject, f"{dac.name}: genomic datasets", description, dac)
    graph.add((subject, DCTERMS.conformsTo, URIRef(profile_url("catalog"))))
    graph.add((subject, DCTERMS.isPartOf, URIRef(fdp_url())))
    graph.add((subject, DCAT.themeTaxonomy, URIRef(DATA_THEME)))
    graph.add((subject, FOAF.homepage, URIRef(settings.FDP_HOMEPAGE)))
    graph.add((subject, DCTERMS.issued, when_literal(first)))
    graph.add((subject, DCTERMS.modified, when_literal(last)))
    members = [dataset_url(d.accession) for d in datasets]
    for member in members:
        graph.add((subject, DCAT.dataset, URIRef(member)))
    for service in SERVICES:
        graph.add((subject, DCAT.service, URIRef(dataservice_url(service))))
    add_container(graph, f"{catalog_url(catalog_id)}/dataset/", "Datasets", subject, DCAT.dataset, members)
    return graph


def profile_graph(kind: str) -> Graph:
    """A profile (W3C dx-prof) naming the GDI shape of one record type and where its SHACL is."""
    label, _, shape = PROFILES[kind]
    graph = new_graph()
    subject = URIRef(profile_url(kind))
    graph.add((subject, RDF.type, PROF.Profile))
    graph.add((subject, DCTERMS.title, text_literal(f"GDI metadata v1.1: {label}")))
    graph.add((subject, RDFS.label, text_literal(f"GDI metadata v1.1 (HealthDCAT-AP Release 5): {label}")))
    descriptor = BNode()
    graph.add((subject, PROF.hasResource, descriptor))
    graph.add((descriptor, RDF.type, PROF.ResourceDescriptor))
    graph.add((descriptor, RDFS.label, text_literal(f"SHACL shape {shape.n3(graph.namespace_manager)}")))
    graph.add((descriptor, PROF.hasRole, URIRef("http://www.w3.org/ns/dx/prof/role/validation")))
    graph.add((descriptor, DCTERMS.conformsTo, URIRef(SHACL_SPEC)))
    graph.add((descriptor, DCTERMS.format, URIRef(TURTLE)))
    graph.add((descriptor, PROF.hasArtifact, URIRef(f"{profile_url(kind)}/shacl")))
    graph.add((descriptor, RDFS.seeAlso, shape))
    return graph
