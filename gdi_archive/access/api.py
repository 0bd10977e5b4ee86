"""The access request API (design.md sections 4 and 6): thin views over `services`.

Who may see an object is settled by the selectors (404 otherwise); who may act on it by the
services (403 for a persona who sees it but may not decide, 409 for a state that does not allow it).
"""

from django.utils import translation
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from gdi_archive.common.schema import errors
from gdi_archive.common.serializers import validated

from . import attachments, selectors, services
from .models import AccessRequest, Entitlement
from .serializers import (
    AcceptInvitationBody,
    AccessRequestSerializer,
    ApproveBody,
    AttachmentBody,
    AttachmentOut,
    BlockBody,
    BlockOut,
    CommentBody,
    CopyBody,
    EntitlementSerializer,
    EventOut,
    MemberBody,
    MemberOut,
    NewAccessRequestBody,
    RejectBody,
    RemarkBody,
    ReturnBody,
    RevokeBody,
    event_out,
)

ACTION_BODIES = {
    "submit": CommentBody,
    "withdraw": CommentBody,
    "approve": ApproveBody,
    "reject": RejectBody,
    "return": ReturnBody,
}


def _answer(req, code=status.HTTP_200_OK, request=None):
    req = AccessRequest.objects.select_related("dac", "applicant").get(pk=req.pk)
    return Response(AccessRequestSerializer(req, context={"request": request}).data, status=code)


class AccessRequestList(APIView):
    @extend_schema(
        operation_id="access_requests_list", responses={200: AccessRequestSerializer(many=True), **errors(401)}
    )
    def get(self, request):
        reqs = (
            AccessRequest.objects.visible_to(request.user)
            .select_related("dac", "applicant")
            .prefetch_related("datasets")
        )
        return Response([AccessRequestSerializer(r, context={"request": request}).data for r in reqs])

    @extend_schema(
        operation_id="access_requests_create",
        request=NewAccessRequestBody,
        responses={201: AccessRequestSerializer, **errors(400, 401, 403, 409)},
    )
    def post(self, request):
        body = validated(NewAccessRequestBody, request)
        req = services.create_request(
            applicant=request.user,
            datasets=body.get("datasets"),
            title=body.get("title"),
            purpose=body.get("purpose"),
            institution=body.get("institution") or "",
            duo=body.get("duo"),
            accept_terms=body.get("accept_terms"),
            language=translation.get_language() or "en",
            request=request,
        )
        return _answer(req, status.HTTP_201_CREATED, request)


class AccessRequestDetail(APIView):
    @extend_schema(
        operation_id="access_requests_retrieve", responses={200: AccessRequestSerializer, **errors(401, 404)}
    )
    def get(self, request, pk):
        return _answer(selectors.get_request_for(user=request.user, pk=pk), request=request)


class AccessRequestAction(APIView):
    action = ""

    def post(self, request, pk):
        req = selectors.get_request_for(user=request.user, pk=pk)
        body = validated(ACTION_BODIES[self.action], request)
        user = request.user
        if self.action == "submit":
            req = services.submit_request(
                access_request=req, applicant=user, comment=body.get("comment") or "", request=request
            )
        elif self.action == "withdraw":
            req = services.withdraw_request(
                access_request=req, applicant=user, comment=body.get("comment") or "", request=request
            )
        elif self.action == "approve":
            req = services.approve_request(
                access_request=req, member=user, end=body.get("end"), comment=body.get("comment") or "", request=request
            )
        elif self.action == "reject":
            req = services.reject_request(access_request=req, member=user, reason=body.get("reason"), request=request)
        elif self.action == "return":
            req = services.return_request(access_request=req, member=user, comment=body.get("comment"), request=request)
        return _answer(req, request=request)


def action_view(action: str):
    """One view class per action, so the OpenAPI description shows each body."""

    @extend_schema(
        operation_id=f"access_requests_{action}",
        request=ACTION_BODIES[action],
        responses={200: AccessRequestSerializer, **errors(400, 401, 403, 404, 409)},
        description="409 when the request's state does not allow this; 403 for a persona who may see it but not do this.",
    )
    def post(self, request, pk):
        return AccessRequestAction.post(self, request, pk)

    return type(f"AccessRequest{action.title()}", (AccessRequestAction,), {"action": action, "post": post}).as_view()


class EntitlementList(APIView):
    @extend_schema(responses={200: EntitlementSerializer(many=True), **errors(401)})
    def get(self, request):
        ents = Entitlement.objects.visible_to(request.user).select_related(
            "dataset", "user", "granted_by", "revoked_by"
        )
        return Response(EntitlementSerializer(ents, many=True).data)


class EntitlementRevoke(APIView):
    @extend_schema(request=RevokeBody, responses={200: EntitlementSerializer, **errors(400, 401, 403, 404, 409)})
    def post(self, request, pk):
        ent = selectors.get_entitlement_for(user=request.user, pk=pk)
        body = validated(RevokeBody, request)
        ent = services.revoke_entitlement(
            entitlement=ent, member=request.user, reason=body.get("reason") or "", request=request
        )
        return Response(EntitlementSerializer(ent).data)


def _member_out(member) -> dict:
    return {
        "id": member.id,
        "email": member.email,
        "username": member.user.username if member.user else None,
        "status": member.status,
        "terms_accepted": member.status == "accepted",
    }


class AccessRequestMembers(APIView):
    @extend_schema(
        operation_id="access_requests_members_invite",
        request=MemberBody,
        responses={201: MemberOut, **errors(400, 401, 403, 404, 409)},
        description="Invite a co-applicant; the link with the token goes to that email address only.",
    )
    def post(self, request, pk):
        req = selectors.get_request_for(user=request.user, pk=pk)
        member = services.invite_member(
            access_request=req, applicant=request.user, email=validated(MemberBody, request)["email"], request=request
        )
        return Response(_member_out(member), status=status.HTTP_201_CREATED)


class AccessRequestMember(APIView):
    @extend_schema(
        operation_id="access_requests_members_remove",
        responses={204: None, **errors(401, 403, 404, 409)},
        description="The applicant removes a co-applicant (username, or the email of an open invitation).",
    )
    def delete(self, request, pk, username):
        req = selectors.get_request_for(user=request.user, pk=pk)
        services.remove_member(access_request=req, applicant=request.user, who=username, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationAccept(APIView):
    @extend_schema(
        operation_id="invitations_accept",
        request=AcceptInvitationBody,
        responses={200: MemberOut, **errors(400, 401, 404, 409)},
    )
    def post(self, request, token):
        member = services.accept_invitation(
            token=token,
            user=request.user,
            accept_terms=validated(AcceptInvitationBody, request)["accept_terms"],
            request=request,
        )
        return Response(_member_out(member))


class AccessRequestRemark(APIView):
    @extend_schema(
        operation_id="access_requests_remark",
        request=RemarkBody,
        responses={201: EventOut, **errors(400, 401, 403, 404, 409)},
        description="A DAC member's note, no decision; visible to the DAC, not to the applicants.",
    )
    def post(self, request, pk):
        req = selectors.get_request_for(user=request.user, pk=pk)
        event = services.add_remark(
            access_request=req, member=request.user, comment=validated(RemarkBody, request)["comment"], request=request
        )
        return Response(event_out(event), status=status.HTTP_201_CREATED)


class AccessRequestCopy(APIView):
    @extend_schema(
        operation_id="access_requests_copy",
        request=CopyBody,
        responses={201: AccessRequestSerializer, **errors(400, 401, 403, 404, 409)},
        description="A new draft from a decided, withdrawn or expired request (an open one: 409); no documents.",
    )
    def post(self, request, pk):
        req = selectors.get_request_for(user=request.user, pk=pk)
        copy = services.copy_request(
            access_request=req,
            applicant=request.user,
            accept_terms=validated(CopyBody, request)["accept_terms"],
            language=translation.get_language() or "en",
            request=request,
        )
        return _answer(copy, status.HTTP_201_CREATED, request)


class AccessRequestAttachments(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="access_requests_attachments_add",
        request={"multipart/form-data": AttachmentBody},
        responses={201: AttachmentOut, **errors(400, 401, 403, 404, 409, 413)},
        description="A PDF (checked by content); `kind` is one of the DAC's required_documents kinds.",
    )
    def post(self, request, pk):
        req = selectors.get_request_for(user=request.user, pk=pk)
        body = validated(AttachmentBody, request)
        a = attachments.add_attachment(
            access_request=req, applicant=request.user, upload=body["file"], kind=body.get("kind", ""), request=request
        )
        return Response(
            {"id": a.id, "kind": a.kind, "name": a.name, "size": a.size, "sha256": a.sha256},
            status=status.HTTP_201_CREATED,
        )


class DACBlocks(APIView):
    """A DAC's blocks of people (design.md 7): its members and operators list and add them."""

    @extend_schema(operation_id="dacs_blocks_list", responses={200: BlockOut(many=True), **errors(401, 403, 404)})
    def get(self, request, accession):
        dac = selectors.get_dac(accession)
        blocks = services.blocks_for(dac=dac, actor=request.user)
        return Response(BlockOut(blocks, many=True).data)

    @extend_schema(
        operation_id="dacs_blocks_create", request=BlockBody, responses={201: BlockOut, **errors(400, 401, 403, 404)}
    )
    def post(self, request, accession):
        dac = selectors.get_dac(accession)
        body = validated(BlockBody, request)
        block = services.block_person(
            dac=dac,
            actor=request.user,
            reason=body["reason"],
            username=body.get("user", ""),
            iss=body.get("iss", ""),
            sub=body.get("sub", ""),
            request=request,
        )
        return Response(BlockOut(block).data, status=status.HTTP_201_CREATED)


class DACBlockDetail(APIView):
    @extend_schema(operation_id="dacs_blocks_lift", responses={204: None, **errors(401, 403, 404)})
    def delete(self, request, accession, block_id):
        dac = selectors.get_dac(accession)
        services.check_blocker(dac, request.user)
        services.lift_block(block=selectors.get_block(dac=dac, pk=block_id), actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)
