"""Catalogue API: thin views over the selectors (reading) and the services (stewardship)."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from gdi_archive.accounts.permissions import is_steward
from gdi_archive.common.errors import NotFound
from gdi_archive.common.grants import granted_datasets
from gdi_archive.common.pagination import PAGE_PARAMETERS, paged_response, paged_rows
from gdi_archive.common.schema import errors
from gdi_archive.common.serializers import validated

from . import selectors, services
from .models import DAC, Dataset
from .serializers import (
    DACChangeInput,
    DACInput,
    DACOut,
    DatasetInput,
    DatasetOut,
    DatasetPatchInput,
    DatasetSummaryOut,
    FileOut,
    FilesInput,
    MemberInput,
    WithdrawInput,
)


class IsSteward(BasePermission):
    """Data stewards and superusers (anonymous callers get 401 from DRF, others 403)."""

    message = "Only data stewards may do this."

    def has_permission(self, request, view):
        return is_steward(request.user)


class StewardOnWrite(APIView):
    """Reading needs a signed-in user or a token; writing needs a steward."""

    def get_permissions(self):
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return [IsAuthenticated()]
        return [IsAuthenticated(), IsSteward()]


def _dataset(accession: str) -> Dataset:
    """For stewards, who may see every dataset."""
    try:
        return Dataset.objects.select_related("dac").get(accession=accession)
    except Dataset.DoesNotExist:
        raise NotFound(f"No dataset {accession}.") from None


class DACListView(APIView):
    permission_classes = [IsAuthenticated, IsSteward]

    @extend_schema(
        responses={200: DACOut(many=True), **errors(400, 401, 403)},
        parameters=PAGE_PARAMETERS,
        summary="All DACs (stewards)",
    )
    def get(self, request):
        dacs = DAC.objects.prefetch_related("members")
        return paged_response(request, dacs, ("id",), lambda rows: DACOut(rows, many=True).data)

    @extend_schema(
        request=DACInput, responses={201: DACOut, **errors(400, 401, 403, 409)}, summary="Create a DAC (stewards)"
    )
    def post(self, request):
        data = validated(DACInput, request)
        dac = services.create_dac(actor=request.user, request=request, **data)
        return Response(DACOut(dac).data, status=status.HTTP_201_CREATED)


class DACDetailView(APIView):
    """Read and change one DAC: stewards; the DAC's own members may read it and set its required_documents."""

    def _dac(self, request, accession) -> DAC:
        dac = DAC.objects.filter(accession=accession).first()
        user = request.user
        if dac is None or not (user.is_steward or dac.members.filter(pk=user.pk).exists()):
            raise NotFound(f"No DAC {accession}.")
        return dac

    @extend_schema(responses={200: DACOut, **errors(401, 404)}, summary="One DAC (stewards, its members)")
    def get(self, request, accession):
        return Response(DACOut(self._dac(request, accession)).data)

    @extend_schema(
        request=DACChangeInput,
        responses={200: DACOut, **errors(400, 401, 403, 404)},
        summary="Change a DAC; fields left out stay as they are",
    )
    def patch(self, request, accession):
        dac = self._dac(request, accession)
        data = validated(DACChangeInput, request)
        dac = services.update_dac(
            actor=request.user,
            dac=dac,
            description=data.get("description", dac.description),
            contact_email=data.get("contact_email", dac.contact_email),
            required_documents=data.get("required_documents"),
            request=request,
        )
        return Response(DACOut(dac).data)

    @extend_schema(
        request=DACChangeInput, responses={200: DACOut, **errors(400, 401, 403, 404)}, summary="Same as PATCH"
    )
    def post(self, request, accession):
        return self.patch(request, accession)


class DACMembersView(APIView):
    """Operators and the DAC's own members (separation of duties: not stewards as such)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=MemberInput,
        responses={201: DACOut, **errors(400, 401, 403, 404, 409)},
        summary="Add a DAC member; they become staff (operators, members of that DAC)",
    )
    def post(self, request, accession):
        data = validated(MemberInput, request)
        dac = DAC.objects.filter(accession=accession).first()
        if dac is None:
            raise NotFound(f"No DAC {accession}.")
        dac = services.add_dac_member(actor=request.user, dac=dac, username=data["username"], request=request)
        return Response(DACOut(dac).data, status=status.HTTP_201_CREATED)


class DatasetListView(StewardOnWrite):
    @extend_schema(
        responses={200: DatasetSummaryOut(many=True), **errors(400, 401)},
        parameters=PAGE_PARAMETERS,
        summary="Datasets the token grants",
    )
    def get(self, request):
        granted = granted_datasets(request)
        return paged_rows(
            request,
            lambda after, n: selectors.dataset_summaries(granted, after=after[0] if after else None, limit=n),
            ("accession",),
        )

    @extend_schema(
        request=DatasetInput,
        responses={201: DatasetOut, **errors(400, 401, 403)},
        summary="Create a draft dataset (stewards)",
    )
    def post(self, request):
        data = validated(DatasetInput, request)
        dataset = services.create_dataset(actor=request.user, request=request, **data)
        return Response(DatasetOut(dataset).data, status=status.HTTP_201_CREATED)


class DatasetFilesView(StewardOnWrite):
    @extend_schema(
        responses={200: FileOut(many=True), **errors(400, 401, 404)},
        parameters=PAGE_PARAMETERS,
        summary="Files of a granted dataset",
    )
    def get(self, request, accession):
        files = selectors.files_for_dataset(granted_datasets(request), accession)
        return paged_response(request, files, ("accession",), lambda rows: FileOut(rows, many=True).data)

    @extend_schema(
        request=FilesInput,
        responses={200: DatasetOut, **errors(400, 401, 403, 404, 409)},
        summary="Add ready files to a draft dataset (stewards)",
    )
    def post(self, request, accession):
        data = validated(FilesInput, request)
        dataset = services.add_files_to_dataset(
            actor=request.user,
            dataset=_dataset(accession),
            files=data["files"],
            request=request,
        )
        return Response(DatasetOut(dataset).data)


class DatasetReleaseView(APIView):
    permission_classes = [IsAuthenticated, IsSteward]

    @extend_schema(
        request=None,
        responses={200: DatasetOut, **errors(400, 401, 403, 404, 409)},
        summary="Release a draft dataset; 400 MetadataIncomplete while its FAIR Data Point record fails the GDI shapes (stewards)",
    )
    def post(self, request, accession):
        dataset = services.release_dataset(actor=request.user, dataset=_dataset(accession), request=request)
        return Response(DatasetOut(dataset).data)


class DatasetDetailView(APIView):
    permission_classes = [IsAuthenticated, IsSteward]

    @extend_schema(
        responses={200: DatasetOut, **errors(401, 403, 404)}, summary="A dataset with its files and metadata (stewards)"
    )
    def get(self, request, accession):
        return Response(DatasetOut(_dataset(accession)).data)

    @extend_schema(
        request=DatasetPatchInput,
        responses={200: DatasetOut, **errors(400, 401, 403, 404, 409)},
        summary="Change a dataset's description or FAIR Data Point metadata (stewards)",
    )
    def patch(self, request, accession):
        dataset = _dataset(accession)
        data = validated(DatasetPatchInput, request)
        dataset = services.patch_dataset(actor=request.user, dataset=dataset, changes=data, request=request)
        return Response(DatasetOut(dataset).data)


class DatasetWithdrawView(APIView):
    permission_classes = [IsAuthenticated, IsSteward]

    @extend_schema(
        request=WithdrawInput,
        responses={200: DatasetOut, **errors(400, 401, 403, 404, 409)},
        summary="Withdraw a dataset: nobody can find or download it any more; final (stewards)",
    )
    def post(self, request, accession):
        dataset = _dataset(accession)
        data = validated(WithdrawInput, request)
        dataset = services.withdraw_dataset(actor=request.user, dataset=dataset, reason=data["reason"], request=request)
        return Response(DatasetOut(dataset).data)
