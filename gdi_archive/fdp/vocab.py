"""The vocabularies the GDI shapes name, and the controlled values the archive uses from them."""

from rdflib import Namespace
from rdflib.namespace import DCAT, DCTERMS, FOAF, PROF, RDF, RDFS, SKOS, XSD

ADMS = Namespace("http://www.w3.org/ns/adms#")
DCATAP = Namespace("http://data.europa.eu/r5r/")
DPV = Namespace("https://w3id.org/dpv#")
FDPO = Namespace("https://w3id.org/fdp/fdp-o#")
GDI = Namespace("http://data.gdi.eu/core/p2/")
HEALTH = Namespace("http://healthdataportal.eu/ns/health#")
LDP = Namespace("http://www.w3.org/ns/ldp#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
EDAM = Namespace("http://edamontology.org/")
OBO = Namespace("http://purl.obolibrary.org/obo/")

ACCESS_RIGHT = Namespace("http://publications.europa.eu/resource/authority/access-right/")
DATASET_STATUS = Namespace("http://publications.europa.eu/resource/authority/dataset-status/")
DISTRIBUTION_STATUS = Namespace("http://publications.europa.eu/resource/authority/distribution-status/")
# The Dataset shape spells this authority with https (its `type:` prefix); use exactly that.
DATASET_TYPE = Namespace("https://publications.europa.eu/resource/authority/dataset-type/")
DATA_THEME = "http://publications.europa.eu/resource/authority/data-theme"

SYNTHETIC_DATA = str(DATASET_TYPE.SYNTHETIC_DATA)
FDP_SPEC = "https://specs.fairdatapoint.org/fdp-specs-v1.2.html"
SHACL_SPEC = "https://www.w3.org/TR/shacl/"
TURTLE = "https://www.iana.org/assignments/media-types/text/turtle"
OCTET_STREAM = "https://www.iana.org/assignments/media-types/application/octet-stream"
HTSGET_SPEC = "https://samtools.github.io/hts-specs/htsget.html"
DRS_SPEC = "https://ga4gh.github.io/data-repository-service-schemas/"

# File formats as EDAM terms (IANA registers no media type for these).
FORMATS = {"BAM": EDAM.format_2572, "CRAM": EDAM.format_3462, "VCF": EDAM.format_3016, "BCF": EDAM.format_3020}

PREFIXES = {
    "adms": ADMS,
    "dcat": DCAT,
    "dcatap": DCATAP,
    "dct": DCTERMS,
    "dpv": DPV,
    "fdp-o": FDPO,
    "foaf": FOAF,
    "gdi": GDI,
    "healthdcatap": HEALTH,
    "ldp": LDP,
    "prof": PROF,
    "rdf": RDF,
    "rdfs": RDFS,
    "skos": SKOS,
    "spdx": SPDX,
    "vcard": VCARD,
    "xsd": XSD,
}
