"""The authorisation matrix: every URL in the URL conf, called as every persona, against the table
below. A URL pattern without an entry fails the test, so a new endpoint cannot ship unreviewed.

Each call runs in a savepoint that is rolled back, so every persona meets the same state:
alice (applicant) has a submitted request and an active entitlement to a released dataset of
the Rare Disease DAC (carol is its member, dave sits on another DAC); sam is a steward, root an
operator; "bearer" is alice's passport token alone (no session), minted over POST /api/tokens.
Admin URLs are one family, checked separately: every model's changelist and add page.

Set RECORD_MATRIX=1 to print the statuses seen, in the table's format (to review, not to paste
blindly: every cell is a decision about who may do what).
"""

import base64
import copy
import hashlib
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from tests.conftest import client_for
from tests.downloads import genomic_data
from tests.downloads.conftest import ClientKeyPair, entitle, release, store_ready_file

from .conftest import mint_token

INVITATION_TOKEN = "matrix-invitation-token"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PERSONAS = ("anonymous", "applicant", "other_applicant", "dac_member", "other_dac_member", "steward", "admin", "bearer")


def url_patterns(resolver=None, prefix=""):
    """Every route in the URL conf as its pattern string, recursing into includes."""
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            yield from url_patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


@dataclass
class Call:
    method: str
    path: str
    data: dict | bytes | Callable | None = None  # a callable makes fresh data (uploads) per persona
    json: bool = True
    headers: dict = field(default_factory=dict)


# (pattern, method) -> expected status for each persona, in PERSONAS order:
# anonymous, applicant, other_applicant, dac_member, other_dac_member, steward, admin, bearer
# A cell "201+" means the call succeeded and changed state; a bare number means nothing changed.
EXPECTED: dict[tuple[str, str], tuple[int | str, ...]] = {
    ("", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    (".well-known/jwks.json", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("api/jwk", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("access", "GET"): (302, 200, 200, 200, 200, 200, 200, 302),
    ("account/tokens", "GET"): (302, 200, 200, 200, 200, 200, 200, 302),
    # the confirmation page and the revocation of one of alice's own tokens: nobody else's
    ("account/tokens/<int:pk>/revoke", "GET"): (302, 200, 404, 404, 404, 404, 404, 302),
    ("account/tokens/<int:pk>/revoke", "POST"): (302, "302+", 404, 404, 404, 404, 404, 302),
    ("api/access-requests", "GET"): (401, 200, 200, 200, 200, 200, 200, 200),
    ("api/access-requests", "POST"): (
        401,
        409,
        "201+",
        "201+",
        "201+",
        "201+",
        "201+",
        409,
    ),  # alice already has an open request: 409
    ("api/access-requests/<int:pk>", "GET"): (401, 200, 404, 200, 404, 404, 200, 200),
    ("api/access-requests/<int:pk>/approve", "POST"): (401, 403, 404, "200+", 404, 404, 403, 403),
    ("api/access-requests/<int:pk>/reject", "POST"): (401, 403, 404, "200+", 404, 404, 403, 403),
    ("api/access-requests/<int:pk>/return", "POST"): (401, 403, 404, "200+", 404, 404, 403, 403),
    ("api/access-requests/<int:pk>/submit", "POST"): (401, 409, 404, 403, 404, 404, 403, 409),
    ("api/access-requests/<int:pk>/withdraw", "POST"): (401, "200+", 404, 403, 404, 404, 403, "200+"),
    ("api/archive-key", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("api/blocks/<str:accession>", "GET"): (404, 404, 404, 404, 404, 404, 404, 404),
    ("api/dacs", "POST"): (401, 403, 403, 403, 403, "201+", "201+", 403),
    # Separation of duties: operators and the DAC's own members seat members, not stewards.
    ("api/dacs/<str:accession>/members", "POST"): (401, 403, 403, "201+", 403, 403, "201+", 403),
    # DAC blocks: that DAC's members and operators only (design.md 7)
    ("api/dacs/<str:accession>/blocks", "GET"): (401, 403, 403, 200, 403, 403, 200, 403),
    ("api/dacs/<str:accession>/blocks", "POST"): (401, 403, 403, "201+", 403, 403, "201+", 403),
    ("api/dacs/<str:accession>/blocks/<str:block_id>", "DELETE"): (401, 403, 403, "204+", 403, 403, "204+", 403),
    ("api/datasets", "GET"): (401, 200, 200, 200, 200, 200, 200, 200),
    ("api/datasets", "POST"): (401, 403, 403, 403, 403, "201+", "201+", 403),
    ("api/datasets/<str:accession>/files", "GET"): (401, 200, 404, 404, 404, 404, 404, 200),
    ("api/datasets/<str:accession>/files", "POST"): (401, 403, 403, 403, 403, "200+", "200+", 403),
    ("api/datasets/<str:accession>/release", "POST"): (401, 403, 403, 403, 403, "200+", "200+", 403),
    ("api/docs", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("api/entitlements", "GET"): (401, 200, 200, 200, 200, 200, 200, 200),
    ("api/entitlements/<int:pk>/revoke", "POST"): (401, 403, 404, "200+", 404, 404, 403, 403),
    ("api/exports", "POST"): (401, "202+", 404, 404, 404, 404, 404, "202+"),
    ("api/exports/<str:export_id>", "GET"): (401, 200, 404, 404, 404, 404, 404, 200),
    ("api/exports/<str:export_id>/files/<str:accession>", "GET"): (404, 404, 404, 404, 404, 404, 404, 404),
    ("api/files/<str:accession>", "GET"): (401, 200, 404, 404, 404, 404, 404, 200),
    ("api/files/<str:accession>/content", "GET"): (401, 206, 404, 404, 404, 404, 404, 206),
    ("api/files/<str:accession>/header", "GET"): (401, 200, 404, 404, 404, 404, 404, 200),
    ("api/inbox", "GET"): (401, 200, 200, 200, 200, 200, 200, 200),
    ("api/inbox/<str:name>", "PUT"): (401, 403, 403, 403, 403, "201+", "201+", 403),
    ("api/permissions/<str:username>", "GET"): (401, 200, 404, 404, 404, 404, 200, 401),  # the user, an operator
    ("api/schema", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("api/tokens", "POST"): (
        401,
        "201+",
        "201+",
        "201+",
        "201+",
        "201+",
        "201+",
        401,
    ),  # a token cannot mint another token
    ("dac/", "GET"): (302, 404, 404, 200, 200, 404, 200, 302),
    ("dac/entitlements/<int:pk>/revoke", "GET"): (302, 404, 404, 200, 404, 404, 404, 302),  # a confirmation page
    ("dac/entitlements/<int:pk>/revoke", "POST"): (302, 404, 404, "302+", 404, 404, 404, 302),
    ("dac/requests/<int:pk>", "GET"): (302, 404, 404, 200, 404, 404, 200, 302),
    ("dac/requests/<int:pk>/approve", "POST"): (302, 404, 404, "302+", 404, 404, 403, 302),
    ("dac/requests/<int:pk>/reject", "POST"): (302, 404, 404, "302+", 404, 404, 403, 302),
    ("dac/requests/<int:pk>/remark", "POST"): (302, 404, 404, "302+", 404, 404, 403, 302),
    ("dac/requests/<int:pk>/return", "POST"): (302, 404, 404, "302+", 404, 404, 403, 302),
    ("dac/requests/<int:pk>/review", "POST"): (302, 404, 404, 400, 404, 404, 403, 302),  # "nobody" is no member
    ("datasets", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("datasets/<str:accession>", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("ga4gh/drs/v1/objects/<str:object_id>", "GET"): (401, 200, 404, 404, 404, 404, 404, 200),
    ("ga4gh/drs/v1/objects/<str:object_id>/access/<str:access_id>", "GET"): (401, 200, 404, 404, 404, 404, 404, 200),
    ("ga4gh/drs/v1/service-info", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("health/live", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("health/ready", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("htsget/reads/<str:accession>", "GET"): (401, 200, 404, 404, 404, 404, 404, 200),
    ("htsget/reads/<str:accession>", "POST"): (401, 200, 404, 404, 404, 404, 404, 200),
    ("htsget/reads/service-info", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("htsget/variants/<str:accession>", "GET"): (401, 200, 404, 404, 404, 404, 404, 200),
    ("htsget/variants/service-info", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("i18n/setlang/", "POST"): (302, 302, 302, 302, 302, 302, 302, 302),
    # The token is the secret (emailed to the invitee only): whoever signs in with it may join.
    ("invitations/<str:token>", "GET"): (302, 200, 200, 200, 200, 200, 200, 302),
    ("invitations/<str:token>", "POST"): (302, 200, "302+", "302+", "302+", "302+", "302+", 302),
    ("keys", "GET"): (302, 200, 200, 200, 200, 200, 200, 302),
    ("keys/<int:pk>/revoke", "GET"): (302, 200, 404, 404, 404, 404, 404, 302),
    ("keys/<int:pk>/revoke", "POST"): (302, "302+", 404, 404, 404, 404, 404, 302),
    ("login", "GET"): (200, 302, 302, 302, 302, 302, 302, 200),
    ("logout", "POST"): (302, 302, 302, 302, 302, 302, 302, 302),
    ("metrics", "GET"): (403, 403, 403, 403, 403, 403, 403, 403),  # from another machine without METRICS_TOKEN
    ("oidc/callback", "GET"): (404, 404, 404, 404, 404, 404, 404, 404),
    ("oidc/login", "GET"): (404, 404, 404, 404, 404, 404, 404, 404),  # no OIDC provider configured
    ("requests", "GET"): (302, 200, 200, 200, 200, 200, 200, 302),
    ("requests/<int:pk>", "GET"): (302, 200, 404, 200, 404, 404, 200, 302),
    ("requests/<int:pk>/attachments", "POST"): (302, 302, 404, 302, 404, 404, 302, 302),
    ("requests/<int:pk>/attachments/<int:attachment_pk>", "GET"): (302, 200, 404, 200, 404, 404, 200, 302),
    ("requests/<int:pk>/comment", "POST"): (302, "302+", 404, "302+", 404, 404, 302, 302),
    # alice has open requests for the same dataset already, so a copy is refused (with a message)
    ("requests/<int:pk>/copy", "POST"): (302, 302, 404, 302, 404, 404, 302, 302),
    ("requests/<int:pk>/members", "POST"): (302, "302+", 404, 404, 404, 404, 404, 302),  # on her draft
    ("requests/<int:pk>/members/<int:member_pk>/remove", "POST"): (302, "302+", 404, 404, 404, 404, 404, 302),
    ("requests/<int:pk>/edit", "GET"): (302, 200, 404, 404, 404, 404, 404, 302),
    ("requests/<int:pk>/submit", "POST"): (302, 302, 404, 302, 404, 404, 302, 302),
    ("requests/<int:pk>/withdraw", "GET"): (302, 200, 404, 404, 404, 404, 404, 302),
    ("requests/<int:pk>/withdraw", "POST"): (302, "302+", 404, 302, 404, 404, 302, 302),
    ("requests/new", "GET"): (302, 200, 200, 200, 200, 200, 200, 302),
    ("service-info", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    # Stewardship, the DAC workflow, the FAIR Data Point (public) and the Beacon (answers by granularity, tests/beacon)
    ("api/access-requests/<int:pk>/attachments", "POST"): (401, "201+", 404, 404, 404, 404, 404, "201+"),
    ("api/access-requests/<int:pk>/copy", "POST"): (
        401,
        409,
        404,
        403,
        404,
        404,
        403,
        409,
    ),  # alice has an open request for the dataset already: 409, as for a new request
    ("api/access-requests/<int:pk>/members", "POST"): (401, "201+", 404, 404, 404, 404, 404, "201+"),
    ("api/access-requests/<int:pk>/members/<str:username>", "DELETE"): (401, "204+", 404, 404, 404, 404, 404, "204+"),
    ("api/access-requests/<int:pk>/remark", "POST"): (401, 403, 404, "201+", 404, 404, 403, 403),
    ("api/dacs/<str:accession>", "GET"): (
        401,
        404,
        404,
        200,
        404,
        200,
        200,
        404,
    ),  # members of that DAC, stewards and operators
    ("api/dacs/<str:accession>", "PATCH"): (401, 404, 404, "200+", 404, "200+", "200+", 404),
    ("api/datasets/<str:accession>", "GET"): (401, 403, 403, 403, 403, 200, 200, 403),
    ("api/datasets/<str:accession>", "PATCH"): (401, 403, 403, 403, 403, "200+", "200+", 403),
    ("api/datasets/<str:accession>/individuals", "POST"): (401, 403, 403, 403, 403, "200+", "200+", 403),
    ("api/datasets/<str:accession>/withdraw", "POST"): (401, 403, 403, 403, 403, "200+", "200+", 403),
    ("api/invitations/<str:token>/accept", "POST"): (
        401,
        409,
        "200+",
        "200+",
        "200+",
        "200+",
        "200+",
        409,
    ),  # the emailed token is the invitation: whoever signs in with it joins; the applicant cannot
    ("beacon/v2", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("beacon/v2/", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("beacon/v2/configuration", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("beacon/v2/datasets", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("beacon/v2/datasets", "POST"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("beacon/v2/datasets/<str:dataset_id>", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("beacon/v2/datasets/<str:dataset_id>", "POST"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("beacon/v2/datasets/<str:dataset_id>/g_variants", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("beacon/v2/datasets/<str:dataset_id>/g_variants", "POST"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("beacon/v2/datasets/<str:dataset_id>/individuals", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("beacon/v2/datasets/<str:dataset_id>/individuals", "POST"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("beacon/v2/entry_types", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("beacon/v2/filtering_terms", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("beacon/v2/g_variants", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("beacon/v2/g_variants", "POST"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("beacon/v2/individuals", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("beacon/v2/individuals", "POST"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("beacon/v2/info", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("beacon/v2/map", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("beacon/v2/service-info", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("fdp", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("fdp/catalog/", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("fdp/catalog/<str:catalog_id>", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("fdp/catalog/<str:catalog_id>/dataset/", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("fdp/dataservice/<str:service>", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("fdp/dataset/<str:accession>", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("fdp/dataset/<str:accession>/valid", "GET"): (401, 403, 403, 403, 403, 200, 200, 403),
    ("fdp/dataset/<str:accession>/distribution/", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("fdp/distribution/<str:dist_id>", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("fdp/profile/<str:kind>", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("fdp/profile/<str:kind>/shacl", "GET"): (200, 200, 200, 200, 200, 200, 200, 200),
}


class World:
    """The objects every call refers to, built once per test through the real ingest."""

    def __init__(
        self, tmp_path, *, applicant, other_applicant, dac, other_dac, dac_member, other_dac_member, steward, admin_user
    ):
        from gdi_archive.access import attachments
        from gdi_archive.access.models import AccessRequest, Attachment, DACBlock, RequestMember
        from gdi_archive.accounts.models import PublicKey
        from gdi_archive.catalogue.models import Dataset, File
        from gdi_archive.downloads.models import Export

        folder = tmp_path / "genomic"
        folder.mkdir()
        bam = genomic_data.make_bam(folder, reads_per_ref=300, unmapped=5)
        vcf = genomic_data.make_vcf(folder, records_per_ref=200)
        self.bam = store_ready_file(submitter=steward, path=bam, fmt=File.Format.BAM)
        store_ready_file(submitter=steward, path=bam.with_name(bam.name + ".bai"), index_of=self.bam)
        self.vcf = store_ready_file(submitter=steward, path=vcf, fmt=File.Format.VCF)
        store_ready_file(submitter=steward, path=vcf.with_name(vcf.name + ".tbi"), index_of=self.vcf)
        self.dataset = release(dac=dac, steward=steward, files=[self.bam, self.vcf])
        self.draft = Dataset.objects.create(title="Draft cohort", dac=dac)
        self.draft_file = store_ready_file(submitter=steward, path=_bytes_file(tmp_path / "extra.bin", 5000))
        self.ready_draft = Dataset.objects.create(title="Ready to release", dac=dac)
        self.ready_draft.files.add(self.draft_file)
        self.dac, self.other_dac = dac, other_dac
        dac.required_documents = [{"kind": "ethics", "label": "Ethics approval", "required": True}]
        dac.save(update_fields=["required_documents"])
        self.entitlement = entitle(applicant, self.dataset)
        self.request = AccessRequest.objects.create(
            applicant=applicant,
            dac=dac,
            title="Rare variants",
            purpose="Find causal variants.",
            status=AccessRequest.Status.SUBMITTED,
        )
        self.request.datasets.add(self.dataset)
        self.attachment = Attachment.objects.create(
            access_request=self.request,
            name="ethics.pdf",
            size=len(PDF),
            sha256="0" * 64,
            location=f"matrix/{uuid.uuid4().hex}.pdf",
            uploaded_by=applicant,
        )
        path = attachments.path_of(self.attachment)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(PDF)
        self.keys = ClientKeyPair(tmp_path, "matrix")
        self.public_key = PublicKey.objects.create(
            user=applicant, label="laptop", key=base64.b64encode(self.keys.raw).decode(), fingerprint=uuid.uuid4().hex
        )
        self.export = Export.objects.create(
            requester=applicant,
            subject=applicant.username,
            public_key=base64.b64encode(self.keys.raw).decode(),
            key_fingerprint="0" * 64,
            status=Export.Status.QUEUED,
            expires_at=timezone.now() + timedelta(days=1),
        )
        self.block = DACBlock.objects.create(
            dac=dac,
            issuer="https://broker.example.org",
            subject="mallory",
            reason="Matrix block.",
            created_by=dac_member,
        )
        # A draft with a co-applicant invited (the emailed token is known here) and a decided
        # request to copy, for the co-applicant, document and copy endpoints.
        self.draft_request = AccessRequest.objects.create(
            applicant=applicant, dac=dac, title="Draft request", purpose="Later.", status=AccessRequest.Status.DRAFT
        )
        self.draft_request.datasets.add(self.dataset)
        self.invitee = RequestMember.objects.create(
            access_request=self.draft_request,
            email="invitee@example.org",
            token_sha256=hashlib.sha256(INVITATION_TOKEN.encode()).hexdigest(),
            invited_by=applicant,
        )
        self.decided_request = AccessRequest.objects.create(
            applicant=applicant, dac=dac, title="Old request", purpose="Done.", status=AccessRequest.Status.REJECTED
        )
        self.decided_request.datasets.add(self.dataset)
        self.applicant = applicant
        token = mint_token(applicant)  # after the entitlement, so its visa is in the passport
        from gdi_archive.passports.models import PassportToken

        self.token_pk = PassportToken.objects.filter(user=applicant).latest("created_at").pk
        self.clients = {
            "anonymous": Client(),
            "applicant": client_for(applicant),
            "other_applicant": client_for(other_applicant),
            "dac_member": client_for(dac_member),
            "other_dac_member": client_for(other_dac_member),
            "steward": client_for(steward),
            "admin": client_for(admin_user),
            "bearer": Client(HTTP_AUTHORIZATION=f"Bearer {token}"),
        }
        for client in self.clients.values():
            client.raise_request_exception = False

    def calls(self) -> dict[tuple[str, str], Call]:
        """One concrete call for each (pattern, method) in the table."""
        key = {"HTTP_X_C4GH_PUBLIC_KEY": self.keys.header_value}
        bam, vcf, ds, draft, req = (
            self.bam.accession,
            self.vcf.accession,
            self.dataset.accession,
            self.draft.accession,
            self.request.pk,
        )
        return {
            ("", "GET"): Call("GET", "/"),
            ("service-info", "GET"): Call("GET", "/service-info"),
            ("health/live", "GET"): Call("GET", "/health/live"),
            ("health/ready", "GET"): Call("GET", "/health/ready"),
            ("login", "GET"): Call("GET", "/login"),
            ("logout", "POST"): Call("POST", "/logout", {}, json=False),
            ("keys", "GET"): Call("GET", "/keys"),
            ("keys/<int:pk>/revoke", "GET"): Call("GET", f"/keys/{self.public_key.pk}/revoke"),
            ("keys/<int:pk>/revoke", "POST"): Call("POST", f"/keys/{self.public_key.pk}/revoke", {}, json=False),
            ("i18n/setlang/", "POST"): Call("POST", "/i18n/setlang/", {"language": "et", "next": "/"}, json=False),
            ("api/dacs", "POST"): Call("POST", "/api/dacs", {"name": "Matrix DAC"}),
            ("api/dacs/<str:accession>/members", "POST"): Call(
                "POST", f"/api/dacs/{self.dac.accession}/members", {"username": "bob"}
            ),
            ("api/dacs/<str:accession>/blocks", "GET"): Call("GET", f"/api/dacs/{self.dac.accession}/blocks"),
            ("api/dacs/<str:accession>/blocks", "POST"): Call(
                "POST", f"/api/dacs/{self.dac.accession}/blocks", {"user": "bob", "reason": "Matrix."}
            ),
            ("api/dacs/<str:accession>/blocks/<str:block_id>", "DELETE"): Call(
                "DELETE", f"/api/dacs/{self.dac.accession}/blocks/{self.block.pk}"
            ),
            ("api/datasets", "GET"): Call("GET", "/api/datasets"),
            ("api/datasets", "POST"): Call(
                "POST", "/api/datasets", {"title": "New", "dac": self.dac.accession, "duo": ["DUO:0000042"]}
            ),
            ("api/datasets/<str:accession>/files", "GET"): Call("GET", f"/api/datasets/{ds}/files"),
            ("api/datasets/<str:accession>/files", "POST"): Call(
                "POST", f"/api/datasets/{draft}/files", {"files": [self.draft_file.accession]}
            ),
            ("api/datasets/<str:accession>/release", "POST"): Call(
                "POST", f"/api/datasets/{self.ready_draft.accession}/release", {}
            ),
            ("datasets", "GET"): Call("GET", "/datasets"),
            ("datasets/<str:accession>", "GET"): Call("GET", f"/datasets/{ds}"),
            ("api/archive-key", "GET"): Call("GET", "/api/archive-key"),
            ("api/inbox", "GET"): Call("GET", "/api/inbox"),
            ("api/inbox/<str:name>", "PUT"): Call(
                "PUT", "/api/inbox/new-upload.c4gh", b"crypt4gh-not-really", json=False
            ),
            ("api/access-requests", "GET"): Call("GET", "/api/access-requests"),
            ("api/access-requests", "POST"): Call(
                "POST", "/api/access-requests", {"datasets": [ds], "title": "T", "purpose": "P", "accept_terms": True}
            ),
            ("api/access-requests/<int:pk>", "GET"): Call("GET", f"/api/access-requests/{req}"),
            ("api/access-requests/<int:pk>/submit", "POST"): Call("POST", f"/api/access-requests/{req}/submit", {}),
            ("api/access-requests/<int:pk>/withdraw", "POST"): Call("POST", f"/api/access-requests/{req}/withdraw", {}),
            ("api/access-requests/<int:pk>/approve", "POST"): Call("POST", f"/api/access-requests/{req}/approve", {}),
            ("api/access-requests/<int:pk>/reject", "POST"): Call(
                "POST", f"/api/access-requests/{req}/reject", {"reason": "No."}
            ),
            ("api/access-requests/<int:pk>/return", "POST"): Call(
                "POST", f"/api/access-requests/{req}/return", {"comment": "More."}
            ),
            ("api/entitlements", "GET"): Call("GET", "/api/entitlements"),
            ("api/entitlements/<int:pk>/revoke", "POST"): Call(
                "POST", f"/api/entitlements/{self.entitlement.pk}/revoke", {}
            ),
            ("requests", "GET"): Call("GET", "/requests"),
            ("requests/new", "GET"): Call("GET", f"/requests/new?dataset={ds}"),
            ("requests/<int:pk>", "GET"): Call("GET", f"/requests/{req}"),
            ("requests/<int:pk>/edit", "GET"): Call("GET", f"/requests/{req}/edit"),
            ("requests/<int:pk>/submit", "POST"): Call("POST", f"/requests/{req}/submit", {}, json=False),
            ("requests/<int:pk>/withdraw", "GET"): Call("GET", f"/requests/{req}/withdraw"),
            ("requests/<int:pk>/withdraw", "POST"): Call("POST", f"/requests/{req}/withdraw", {}, json=False),
            ("requests/<int:pk>/comment", "POST"): Call(
                "POST", f"/requests/{req}/comment", {"comment": "Hello"}, json=False
            ),
            ("requests/<int:pk>/attachments", "POST"): Call(
                "POST",
                f"/requests/{req}/attachments",
                lambda: {"attachment": SimpleUploadedFile("ethics2.pdf", PDF, "application/pdf")},
                json=False,
            ),
            ("requests/<int:pk>/attachments/<int:attachment_pk>", "GET"): Call(
                "GET", f"/requests/{req}/attachments/{self.attachment.pk}"
            ),
            ("requests/<int:pk>/members", "POST"): Call(
                "POST", f"/requests/{self.draft_request.pk}/members", {"email": "frida@example.org"}, json=False
            ),
            ("requests/<int:pk>/members/<int:member_pk>/remove", "POST"): Call(
                "POST", f"/requests/{self.draft_request.pk}/members/{self.invitee.pk}/remove", {}, json=False
            ),
            ("requests/<int:pk>/copy", "POST"): Call(
                "POST", f"/requests/{self.decided_request.pk}/copy", {"accept_terms": "on"}, json=False
            ),
            ("invitations/<str:token>", "GET"): Call("GET", f"/invitations/{INVITATION_TOKEN}"),
            ("invitations/<str:token>", "POST"): Call(
                "POST", f"/invitations/{INVITATION_TOKEN}", {"accept_terms": "on"}, json=False
            ),
            ("dac/", "GET"): Call("GET", "/dac/"),
            ("dac/requests/<int:pk>", "GET"): Call("GET", f"/dac/requests/{req}"),
            ("dac/requests/<int:pk>/approve", "POST"): Call(
                "POST", f"/dac/requests/{req}/approve", {"end": ""}, json=False
            ),
            ("dac/requests/<int:pk>/reject", "POST"): Call(
                "POST", f"/dac/requests/{req}/reject", {"reason": "No."}, json=False
            ),
            ("dac/requests/<int:pk>/return", "POST"): Call(
                "POST", f"/dac/requests/{req}/return", {"comment": "More?"}, json=False
            ),
            ("dac/requests/<int:pk>/remark", "POST"): Call(
                "POST", f"/dac/requests/{req}/remark", {"comment": "Looks fine."}, json=False
            ),
            ("dac/requests/<int:pk>/review", "POST"): Call(
                "POST", f"/dac/requests/{req}/review", {"reviewer": "nobody"}, json=False
            ),
            ("dac/entitlements/<int:pk>/revoke", "GET"): Call("GET", f"/dac/entitlements/{self.entitlement.pk}/revoke"),
            ("dac/entitlements/<int:pk>/revoke", "POST"): Call(
                "POST", f"/dac/entitlements/{self.entitlement.pk}/revoke", {"reason": "Ended."}, json=False
            ),
            ("access", "GET"): Call("GET", "/access"),
            (".well-known/jwks.json", "GET"): Call("GET", "/.well-known/jwks.json"),
            ("api/jwk", "GET"): Call("GET", "/api/jwk"),
            ("api/permissions/<str:username>", "GET"): Call("GET", f"/api/permissions/{self.applicant.username}"),
            ("api/tokens", "POST"): Call("POST", "/api/tokens", {}),
            ("account/tokens", "GET"): Call("GET", "/account/tokens"),
            ("account/tokens/<int:pk>/revoke", "GET"): Call("GET", f"/account/tokens/{self.token_pk}/revoke"),
            ("account/tokens/<int:pk>/revoke", "POST"): Call(
                "POST", f"/account/tokens/{self.token_pk}/revoke", {}, json=False
            ),
            ("oidc/login", "GET"): Call("GET", "/oidc/login"),
            ("oidc/callback", "GET"): Call("GET", "/oidc/callback?code=x&state=y"),
            ("api/files/<str:accession>", "GET"): Call("GET", f"/api/files/{bam}?start=0&end=100", headers=key),
            ("api/files/<str:accession>/header", "GET"): Call("GET", f"/api/files/{bam}/header", headers=key),
            ("api/files/<str:accession>/content", "GET"): Call(
                "GET", f"/api/files/{bam}/content", headers={"HTTP_RANGE": "bytes=0-99"}
            ),
            ("api/blocks/<str:accession>", "GET"): Call("GET", f"/api/blocks/{bam}?kind=body&start=0&end=100"),
            ("htsget/reads/service-info", "GET"): Call("GET", "/htsget/reads/service-info"),
            ("htsget/variants/service-info", "GET"): Call("GET", "/htsget/variants/service-info"),
            ("htsget/reads/<str:accession>", "GET"): Call(
                "GET", f"/htsget/reads/{bam}?encryptionScheme=C4GH&referenceName=chr1&start=0&end=100000", headers=key
            ),
            ("htsget/reads/<str:accession>", "POST"): Call(
                "POST",
                f"/htsget/reads/{bam}",
                {"encryptionScheme": "C4GH", "regions": [{"referenceName": "chr1"}]},
                headers=key,
            ),
            ("htsget/variants/<str:accession>", "GET"): Call(
                "GET", f"/htsget/variants/{vcf}?encryptionScheme=C4GH&referenceName=chr2", headers=key
            ),
            ("ga4gh/drs/v1/service-info", "GET"): Call("GET", "/ga4gh/drs/v1/service-info"),
            ("ga4gh/drs/v1/objects/<str:object_id>", "GET"): Call("GET", f"/ga4gh/drs/v1/objects/{bam}"),
            ("ga4gh/drs/v1/objects/<str:object_id>/access/<str:access_id>", "GET"): Call(
                "GET", f"/ga4gh/drs/v1/objects/{bam}/access/c4gh", headers=key
            ),
            ("api/exports", "POST"): Call("POST", "/api/exports", {"files": [bam]}, headers=key),
            ("api/exports/<str:export_id>", "GET"): Call("GET", f"/api/exports/{self.export.pk}"),
            ("api/exports/<str:export_id>/files/<str:accession>", "GET"): Call(
                "GET", f"/api/exports/{self.export.pk}/files/{bam}?exp=1&sig=x"
            ),
            ("metrics", "GET"): Call(
                "GET", "/metrics", headers={"REMOTE_ADDR": "192.0.2.10"}
            ),  # not this machine, no token
            ("api/schema", "GET"): Call("GET", "/api/schema"),
            ("api/docs", "GET"): Call("GET", "/api/docs"),
            **self.workflow_calls(),
            **self.network_calls(),
        }

    def workflow_calls(self) -> dict[tuple[str, str], Call]:
        """Stewardship and the DAC workflow: co-applicants, documents, remarks, copies."""
        ds, dac, req, draft_req = self.dataset.accession, self.dac.accession, self.request.pk, self.draft_request.pk
        return {
            ("api/dacs/<str:accession>", "GET"): Call("GET", f"/api/dacs/{dac}"),
            ("api/dacs/<str:accession>", "PATCH"): Call(
                "PATCH",
                f"/api/dacs/{dac}",
                {
                    "required_documents": [
                        {"kind": "ethics", "label": "Ethics approval", "required": True},
                        {"kind": "funding", "label": "Funding decision", "required": False},
                    ]
                },
            ),
            ("api/datasets/<str:accession>", "GET"): Call("GET", f"/api/datasets/{ds}"),
            ("api/datasets/<str:accession>", "PATCH"): Call(
                "PATCH", f"/api/datasets/{ds}", {"metadata": {"keywords": ["rare disease"]}}
            ),
            ("api/datasets/<str:accession>/withdraw", "POST"): Call(
                "POST", f"/api/datasets/{ds}/withdraw", {"reason": "Consent withdrawn."}
            ),
            ("api/datasets/<str:accession>/individuals", "POST"): Call(
                "POST",
                f"/api/datasets/{ds}/individuals",
                [{"id": "S1", "sex": {"id": "NCIT:C16576", "label": "female"}}],
            ),
            ("api/access-requests/<int:pk>/members", "POST"): Call(
                "POST", f"/api/access-requests/{draft_req}/members", {"email": "colleague@example.org"}
            ),
            ("api/access-requests/<int:pk>/members/<str:username>", "DELETE"): Call(
                "DELETE", f"/api/access-requests/{draft_req}/members/invitee@example.org"
            ),
            ("api/invitations/<str:token>/accept", "POST"): Call(
                "POST", f"/api/invitations/{INVITATION_TOKEN}/accept", {"accept_terms": True}
            ),
            ("api/access-requests/<int:pk>/remark", "POST"): Call(
                "POST", f"/api/access-requests/{req}/remark", {"comment": "Check the ethics approval."}
            ),
            ("api/access-requests/<int:pk>/copy", "POST"): Call(
                "POST", f"/api/access-requests/{self.decided_request.pk}/copy", {"accept_terms": True}
            ),
            ("api/access-requests/<int:pk>/attachments", "POST"): Call(
                "POST",
                f"/api/access-requests/{draft_req}/attachments",
                lambda: {"kind": "ethics", "file": SimpleUploadedFile("ethics.pdf", PDF, "application/pdf")},
                json=False,
            ),
        }

    def network_calls(self) -> dict[tuple[str, str], Call]:
        """The FAIR Data Point (public records of released datasets) and the Beacon."""
        ds = self.dataset.accession
        calls = {
            (pattern, "GET"): Call("GET", "/" + path)
            for pattern, path in (
                ("fdp", "fdp"),
                ("fdp/catalog/", "fdp/catalog/"),
                ("fdp/catalog/<str:catalog_id>", "fdp/catalog/main"),
                ("fdp/catalog/<str:catalog_id>/dataset/", "fdp/catalog/main/dataset/"),
                ("fdp/dataset/<str:accession>", f"fdp/dataset/{ds}"),
                ("fdp/dataset/<str:accession>/valid", f"fdp/dataset/{ds}/valid"),
                ("fdp/dataset/<str:accession>/distribution/", f"fdp/dataset/{ds}/distribution/"),
                ("fdp/distribution/<str:dist_id>", f"fdp/distribution/{ds}-bam"),
                ("fdp/dataservice/<str:service>", "fdp/dataservice/htsget"),
                ("fdp/profile/<str:kind>", "fdp/profile/dataset"),
                ("fdp/profile/<str:kind>/shacl", "fdp/profile/dataset/shacl"),
                ("beacon/v2", "beacon/v2"),
                ("beacon/v2/", "beacon/v2/"),
                ("beacon/v2/info", "beacon/v2/info"),
                ("beacon/v2/service-info", "beacon/v2/service-info"),
                ("beacon/v2/configuration", "beacon/v2/configuration"),
                ("beacon/v2/map", "beacon/v2/map"),
                ("beacon/v2/entry_types", "beacon/v2/entry_types"),
                ("beacon/v2/filtering_terms", "beacon/v2/filtering_terms"),
                ("beacon/v2/datasets", "beacon/v2/datasets"),
                ("beacon/v2/datasets/<str:dataset_id>", f"beacon/v2/datasets/{ds}"),
                (
                    "beacon/v2/datasets/<str:dataset_id>/g_variants",
                    f"beacon/v2/datasets/{ds}/g_variants?referenceName=chr1&start=100",
                ),
                ("beacon/v2/datasets/<str:dataset_id>/individuals", f"beacon/v2/datasets/{ds}/individuals"),
                ("beacon/v2/g_variants", "beacon/v2/g_variants?referenceName=chr1&start=100"),
                ("beacon/v2/individuals", "beacon/v2/individuals"),
            )
        }
        query = {"query": {"requestParameters": {"referenceName": "chr1", "start": [100]}}}
        for pattern in (
            "beacon/v2/datasets",
            "beacon/v2/datasets/<str:dataset_id>",
            "beacon/v2/datasets/<str:dataset_id>/g_variants",
            "beacon/v2/datasets/<str:dataset_id>/individuals",
            "beacon/v2/g_variants",
            "beacon/v2/individuals",
        ):
            calls[(pattern, "POST")] = Call("POST", calls[(pattern, "GET")].path.split("?")[0], query)
        return calls


def _bytes_file(path, size):
    path.write_bytes(os.urandom(size))
    return path


WATCHED = (
    "access.AccessRequest",
    "access.RequestEvent",
    "access.Attachment",
    "access.RequestMember",
    "access.Entitlement",
    "access.DACBlock",
    "accounts.PublicKey",
    "beacon.Individual",
    "catalogue.DAC",
    "catalogue.Dataset",
    "catalogue.File",
    "downloads.Export",
    "passports.PassportToken",
)


def snapshot() -> tuple:
    """A digest of the rows a call could change on purpose (the audit log and sessions aside)."""
    from django.apps import apps
    from django.db import connection

    from gdi_archive.catalogue.models import DAC, Dataset

    tables = [apps.get_model(label)._meta.db_table for label in WATCHED]
    tables += [DAC.members.through._meta.db_table, Dataset.files.through._meta.db_table]
    sql = " UNION ALL ".join(
        f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {connection.ops.quote_name(table)} t"
        for table in tables
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return tuple(row[0] for row in cursor.fetchall())


def perform(client: Client, call: Call):
    """The call in a savepoint that is rolled back: the next persona meets the same state.

    Returns (response, cell): the cell is the status, or "<status>+" when the call changed a
    watched row, so a redirect that did something and one that refused are told apart.
    """
    kwargs = dict(call.headers)
    cookies = copy.deepcopy(client.cookies)  # a logout or a language switch must not leak into the next call
    data = call.data() if callable(call.data) else call.data
    method = getattr(client, call.method.lower())
    with transaction.atomic():
        before = snapshot()
        if data is None:
            response = method(call.path, **kwargs)
        elif isinstance(data, bytes):
            response = method(call.path, data=data, content_type="application/octet-stream", **kwargs)
        elif call.json:
            response = method(call.path, data=data, content_type="application/json", **kwargs)
        else:
            response = method(call.path, data=data, **kwargs)
        if response.streaming:
            b"".join(response.streaming_content)
        changed = snapshot() != before
        transaction.set_rollback(True)
    client.cookies = cookies
    return response, (f"{response.status_code}+" if changed else response.status_code)


@pytest.fixture
def world(db, tmp_path, applicant, other_applicant, dac, other_dac, dac_member, other_dac_member, steward, admin_user):
    return World(
        tmp_path,
        applicant=applicant,
        other_applicant=other_applicant,
        dac=dac,
        other_dac=other_dac,
        dac_member=dac_member,
        other_dac_member=other_dac_member,
        steward=steward,
        admin_user=admin_user,
    )


def test_every_url_pattern_has_an_entry_in_the_table():
    patterns = {p for p in url_patterns() if not p.startswith("admin/")}
    covered = {pattern for pattern, _ in EXPECTED}
    assert sorted(patterns - covered) == [], "New endpoints: add them to EXPECTED after deciding who may call them"
    assert sorted(covered - patterns) == [], "Entries for endpoints that no longer exist"


def _is_clean_refusal(call: Call, response) -> str | None:
    """A refusal on the API must carry a JSON error body (htsget and DRS have their own shapes)."""
    if response.status_code < 400 or response.status_code == 405:
        return None
    if not call.path.startswith(("/api/", "/htsget/", "/ga4gh/")):
        return None
    try:
        body = response.json()
    except ValueError:
        return f"{call.method} {call.path}: {response.status_code} without a JSON body: {response.content[:200]!r}"
    if call.path.startswith("/htsget/"):
        ok = isinstance(body.get("htsget"), dict) and body["htsget"].get("error")
    elif call.path.startswith("/ga4gh/"):
        ok = "msg" in body and "status_code" in body
    else:
        ok = "error" in body and "detail" in body
    return None if ok else f"{call.method} {call.path}: {response.status_code} body is not a clean error: {body}"


def test_every_endpoint_answers_every_persona_as_the_table_says(world):
    calls = world.calls()
    assert set(calls) == set(EXPECTED) or os.environ.get("RECORD_MATRIX"), set(calls) ^ set(EXPECTED)
    seen, wrong, unclean = {}, [], []
    for (pattern, method), call in sorted(calls.items()):
        row = []
        for persona in PERSONAS:
            response, cell = perform(world.clients[persona], call)
            row.append(cell)
            problem = _is_clean_refusal(call, response)
            if problem:
                unclean.append(f"{persona}: {problem}")
        seen[(pattern, method)] = tuple(row)
        expected = EXPECTED.get((pattern, method))
        if expected != tuple(row):
            diff = {
                p: f"{e}->{g}"
                for p, e, g in zip(PERSONAS, expected or (None,) * len(PERSONAS), row, strict=True)
                if e != g
            }
            wrong.append(f"{method} {pattern}: {diff}")
    if os.environ.get("RECORD_MATRIX"):
        print("\n".join(f"    ({p!r}, {m!r}): {row}," for (p, m), row in sorted(seen.items())))
    crashed = {k: v for k, v in seen.items() if any(str(cell).startswith("5") for cell in v)}
    assert not crashed, crashed
    assert not unclean, "\n".join(unclean)
    assert not wrong, "\n".join(wrong)


OTHER_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def test_methods_outside_the_table_change_nothing(world):
    """A method the table does not list for a URL (a DELETE, a PUT on a list...) never writes and
    never fails with a 500, for the operator, a DAC member and a bearer token alike."""
    listed: dict[str, set[str]] = {}
    for pattern, method in EXPECTED:
        listed.setdefault(pattern, set()).add(method)
    calls = world.calls()
    done = set()
    problems = []
    for (pattern, _), call in sorted(calls.items()):
        if pattern in done:
            continue
        done.add(pattern)
        for method in OTHER_METHODS:
            if method in listed[pattern]:
                continue
            for persona in ("admin", "dac_member", "bearer"):
                probe = Call(method, call.path, {} if method != "GET" else None, headers=call.headers)
                response, cell = perform(world.clients[persona], probe)
                if str(cell).endswith("+") or response.status_code >= 500:
                    problems.append(f"{method} {pattern} as {persona}: {cell}")
    assert not problems, "\n".join(problems)


ADMIN_STAFF = ("dac_member", "other_dac_member", "steward", "admin")


def test_the_admin_family_lets_only_staff_in(world):
    """Every registered model's changelist and add page: non-staff go to the admin login;
    staff get the page or a 403, never a 500; the operator sees everything."""
    pages = ["/admin/"]
    for model in admin.site._registry:
        meta = model._meta
        pages += [f"/admin/{meta.app_label}/{meta.model_name}/", f"/admin/{meta.app_label}/{meta.model_name}/add/"]
    for page in pages:
        for persona in PERSONAS:
            response, _ = perform(world.clients[persona], Call("GET", page))
            if persona in ADMIN_STAFF:
                assert response.status_code in (200, 403), (persona, page, response.status_code)
                if persona == "admin" and not page.endswith("/add/"):
                    assert response.status_code == 200, (page, response.status_code)
            else:
                assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), (
                    persona,
                    page,
                    response.status_code,
                )
