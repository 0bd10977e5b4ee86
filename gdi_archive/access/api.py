"""The access request API (design.md sections 4 and 6): thin views over `services`.

Who may see an object is settled by the selectors (404 otherwise); who may act on it by the
services (403 for a persona who sees it but may not decide, 409 for a state that does not allow it).
"""

from django.utils import translation
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from gdi_archive.common.schema import errors
from gdi_archive.common.serializers import validated

from . import selectors, services
from .models import AccessRequest, Entitlement
from .serializers import (
    AccessRequestSerializer,
    ApproveBody,
    CommentBody,
    EntitlementSerializer,
    NewAccessRequestBody,
    RejectBody,
    ReturnBody,
    RevokeBody,
)

ACTION_BODIES = {"submit": CommentBody, "withdraw": CommentBody, "approve": ApproveBody, "reject": RejectBody, "return": ReturnBody}


def _answer(req, code=status.HTTP_200_OK):
    req = AccessRequest.objects.select_related("dac", "applicant").get(pk=req.pk)
    return Response(AccessRequestSerializer(req).data, status=code)


class AccessRequestList(APIView):
    @extend_schema(operation_id="access_requests_list", responses={200: AccessRequestSerializer(many=True), **errors(401)})
    def get(self, request):
        reqs = AccessRequest.objects.visible_to(request.user).select_related("dac", "applicant").prefetch_related("datasets")
        return Response([AccessRequestSerializer(r).data for r in reqs])

    @extend_schema(operation_id="access_requests_create", request=NewAccessRequestBody,
                   responses={201: AccessRequestSerializer, **errors(400, 401, 403, 409)})
    def post(self, request):
        body = validated(NewAccessRequestBody, request)
        req = services.create_request(
            applicant=request.user, datasets=body.get("datasets"), title=body.get("title"), purpose=body.get("purpose"),
            institution=body.get("institution") or "", duo=body.get("duo"), accept_terms=body.get("accept_terms"),
            language=translation.get_language() or "en", request=request,
        )
        return _answer(req, status.HTTP_201_CREATED)


class AccessRequestDetail(APIView):
    @extend_schema(operation_id="access_requests_retrieve", responses={200: AccessRequestSerializer, **errors(401, 404)})
    def get(self, request, pk):
        return _answer(selectors.get_request_for(user=request.user, pk=pk))


class AccessRequestAction(APIView):
    action = ""

    def post(self, request, pk):
        req = selectors.get_request_for(user=request.user, pk=pk)
        body = validated(ACTION_BODIES[self.action], request)
        user = request.user
        if self.action == "submit":
            req = services.submit_request(access_request=req, applicant=user, comment=body.get("comment") or "", request=request)
        elif self.action == "withdraw":
            req = services.withdraw_request(access_request=req, applicant=user, comment=body.get("comment") or "", request=request)
        elif self.action == "approve":
            req = services.approve_request(access_request=req, member=user, end=body.get("end"),
                                           comment=body.get("comment") or "", request=request)
        elif self.action == "reject":
            req = services.reject_request(access_request=req, member=user, reason=body.get("reason"), request=request)
        elif self.action == "return":
            req = services.return_request(access_request=req, member=user, comment=body.get("comment"), request=request)
        return _answer(req)


def action_view(action: str):
    """One view class per action, so the OpenAPI description shows each body."""

    @extend_schema(operation_id=f"access_requests_{action}", request=ACTION_BODIES[action],
                   responses={200: AccessRequestSerializer, **errors(400, 401, 403, 404, 409)},
                   description="409 when the request's state does not allow this; 403 for a persona who may see it but not do this.")
    def post(self, request, pk):
        return AccessRequestAction.post(self, request, pk)

    return type(f"AccessRequest{action.title()}", (AccessRequestAction,), {"action": action, "post": post}).as_view()


class EntitlementList(APIView):
    @extend_schema(responses={200: EntitlementSerializer(many=True), **errors(401)})
    def get(self, request):
        ents = Entitlement.objects.visible_to(request.user).select_related("dataset", "user", "granted_by", "revoked_by")
        return Response(EntitlementSerializer(ents, many=True).data)


class EntitlementRevoke(APIView):
    @extend_schema(request=RevokeBody, responses={200: EntitlementSerializer, **errors(400, 401, 403, 404, 409)})
    def post(self, request, pk):
        ent = selectors.get_entitlement_for(user=request.user, pk=pk)
        body = validated(RevokeBody, request)
        ent = services.revoke_entitlement(entitlement=ent, member=request.user, reason=body.get("reason") or "", request=request)
        return Response(EntitlementSerializer(ent).data)
