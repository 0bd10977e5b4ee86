from django.urls import path

from . import api, coapplicants, views, workbench

urlpatterns = [
    # API (design.md section 4)
    path("api/access-requests", api.AccessRequestList.as_view(), name="api-access-requests"),
    path("api/access-requests/<int:pk>", api.AccessRequestDetail.as_view(), name="api-access-request"),
    *[
        path(f"api/access-requests/<int:pk>/{action}", api.action_view(action), name=f"api-access-request-{action}")
        for action in ("submit", "withdraw", "approve", "reject", "return")
    ],
    path("api/access-requests/<int:pk>/members", api.AccessRequestMembers.as_view(), name="api-access-request-members"),
    path(
        "api/access-requests/<int:pk>/members/<str:username>",
        api.AccessRequestMember.as_view(),
        name="api-access-request-member",
    ),
    path("api/access-requests/<int:pk>/remark", api.AccessRequestRemark.as_view(), name="api-access-request-remark"),
    path("api/access-requests/<int:pk>/copy", api.AccessRequestCopy.as_view(), name="api-access-request-copy"),
    path(
        "api/access-requests/<int:pk>/attachments",
        api.AccessRequestAttachments.as_view(),
        name="api-access-request-attachments",
    ),
    path("api/invitations/<str:token>/accept", api.InvitationAccept.as_view(), name="api-invitation-accept"),
    path("api/dacs/<str:accession>/blocks", api.DACBlocks.as_view(), name="api-dac-blocks"),
    path("api/dacs/<str:accession>/blocks/<str:block_id>", api.DACBlockDetail.as_view(), name="api-dac-block"),
    path("api/entitlements", api.EntitlementList.as_view(), name="api-entitlements"),
    path("api/entitlements/<int:pk>/revoke", api.EntitlementRevoke.as_view(), name="api-entitlement-revoke"),
    # Applicant pages
    path("requests", views.my_requests, name="my-requests"),
    path("requests/new", views.new_request, name="request-new"),
    path("requests/<int:pk>", views.request_detail, name="request-detail"),
    path("requests/<int:pk>/edit", views.edit_request, name="request-edit"),
    path("requests/<int:pk>/submit", views.submit, name="request-submit"),
    path("requests/<int:pk>/withdraw", views.withdraw, name="request-withdraw"),
    path("requests/<int:pk>/comment", views.comment, name="request-comment"),
    path("requests/<int:pk>/attachments", views.upload_attachment, name="request-attach"),
    path("requests/<int:pk>/attachments/<int:attachment_pk>", views.download_attachment, name="request-attachment"),
    path("requests/<int:pk>/members", coapplicants.invite, name="request-invite"),
    path("requests/<int:pk>/members/<int:member_pk>/remove", coapplicants.remove_member, name="request-member-remove"),
    path("requests/<int:pk>/copy", views.copy, name="request-copy"),
    path("invitations/<str:token>", coapplicants.invitation, name="invitation"),
    path("access", views.my_access, name="my-access"),
    # DAC workbench
    path("dac/", workbench.inbox, name="dac-inbox"),
    path("dac/requests/<int:pk>", workbench.request_page, name="dac-request"),
    path("dac/requests/<int:pk>/approve", workbench.approve, name="dac-approve"),
    path("dac/requests/<int:pk>/reject", workbench.reject, name="dac-reject"),
    path("dac/requests/<int:pk>/return", workbench.send_back, name="dac-return"),
    path("dac/requests/<int:pk>/remark", workbench.remark, name="dac-remark"),
    path("dac/requests/<int:pk>/review", workbench.review, name="dac-review"),
    path("dac/entitlements/<int:pk>/revoke", workbench.revoke, name="dac-revoke"),
]
