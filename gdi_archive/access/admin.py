"""DAC decisions in the admin. Members see only their own DAC's requests and entitlements
(querysets filtered), and act through the same services as the pages and the API."""

from django import forms
from django.contrib import admin, messages
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gdi_archive.accounts.permissions import is_admin_dac_member
from gdi_archive.common.admin import ReadOnlyAdminMixin
from gdi_archive.common.errors import ArchiveError

from . import selectors, services
from .models import AccessRequest, DACBlock, Decision, Entitlement, RequestEvent


def _member_or_operator(user) -> bool:
    return bool(user.is_active and user.is_staff and (user.is_superuser or is_admin_dac_member(user)))


def _run_each(request, objects, action, success):
    for obj in objects:
        try:
            action(obj)
        except ArchiveError as exc:
            messages.error(request, f"#{obj.pk}: {exc.detail}")
        else:
            messages.success(request, success % {"id": obj.pk})


class DACScopedAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only views, scoped to the member's DACs; changes go through the decision forms."""

    dac_path = "dac"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{f"{self.dac_path}__members": request.user}).distinct()

    def has_module_permission(self, request):
        return _member_or_operator(request.user)

    def has_view_permission(self, request, obj=None):
        return _member_or_operator(request.user)


class EventInline(admin.TabularInline):
    model = RequestEvent
    fields = ["at", "kind", "by", "comment"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = gettext_lazy("Timeline")

    def has_add_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return True

    @admin.display(description=gettext_lazy("By"))
    def by(self, obj):
        person = getattr(obj, "actor", None) or getattr(obj, "member", None)
        return person.username if person else "-"


class DecisionInline(EventInline):
    model = Decision
    fields = ["at", "round", "by", "verdict", "comment", "end"]
    readonly_fields = fields
    verbose_name_plural = gettext_lazy("Decisions")


class DecisionForm(forms.Form):
    verdict = forms.ChoiceField(
        label=gettext_lazy("Decision"), choices=Decision.Verdict.choices, widget=forms.RadioSelect
    )
    end = forms.DateField(
        label=gettext_lazy("Access ends (approval; empty = the dataset's longest period)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    comment = forms.CharField(
        label=gettext_lazy("Reason or comment (required to reject or return)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
    )


@admin.register(AccessRequest)
class AccessRequestAdmin(DACScopedAdmin):
    list_display = ["id", "title", "applicant", "dac", "status", "submitted_at", "decided_at"]
    list_display_links = ["id", "title"]
    list_filter = ["status", ("dac", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["title", "applicant__username", "applicant__email", "institution", "datasets__accession"]
    fields = [
        "applicant_details",
        "committee",
        "dataset_list",
        "title",
        "purpose",
        "institution",
        "intended_use",
        "status",
        "approvals",
        "round",
        "created_at",
        "submitted_at",
        "decided_at",
        "attachment_links",
    ]
    readonly_fields = fields
    inlines = [DecisionInline, EventInline]
    change_form_template = "admin/access/accessrequest/change_form.html"
    actions = ["approve_selected"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_approve_permission(self, request):
        return request.user.is_active and request.user.dacs.exists()

    @admin.action(
        description=gettext_lazy("Approve selected requests (longest access period)"), permissions=["approve"]
    )
    def approve_selected(self, request, queryset):
        """Each through the service, so quorum, state and membership rules hold for every one."""
        _run_each(
            request,
            queryset,
            lambda req: services.approve_request(access_request=req, member=request.user, request=request),
            _("Approval recorded for request #%(id)s."),
        )

    def get_queryset(self, request):
        # A draft is the applicant's own until it is submitted.
        return super().get_queryset(request).exclude(status=AccessRequest.Status.DRAFT)

    @admin.display(description=gettext_lazy("Applicant"))
    def applicant_details(self, obj):
        user = obj.applicant
        name = user.get_full_name()
        return f"{name} ({user.username}, {user.email})" if name else f"{user.username} ({user.email})"

    @admin.display(description=gettext_lazy("Committee (DAC)"))
    def committee(self, obj):
        return f"{obj.dac.accession} {obj.dac.name}"

    @admin.display(description=gettext_lazy("Datasets"))
    def dataset_list(self, obj):
        from django.utils.html import format_html, format_html_join

        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} {} (terms v{}, at most {} days)</li>",
                ((d.accession, d.title, d.terms_version, d.max_access_days) for d in obj.datasets.all()),
            ),
        )

    @admin.display(description=gettext_lazy("Intended use"))
    def intended_use(self, obj):
        from gdi_archive.catalogue.duo import describe

        return ", ".join(describe(code) for code in obj.duo) or "-"

    @admin.display(description=gettext_lazy("Approvals"))
    def approvals(self, obj):
        given, required = selectors.approval_tally(obj)
        return f"{given} / {required}"

    @admin.display(description=gettext_lazy("Attachments"))
    def attachment_links(self, obj):
        from django.utils.html import format_html, format_html_join

        items = format_html_join(
            "",
            '<li><a href="{}">{}</a> ({} bytes)</li>',
            ((reverse("request-attachment", args=[obj.pk, a.pk]), a.name, a.size) for a in obj.attachments.all()),
        )
        return format_html("<ul>{}</ul>", items) if items else "-"

    def get_urls(self):
        return [
            path("<int:pk>/decide/", self.admin_site.admin_view(self.decide_view), name="access_accessrequest_decide"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        obj = self.get_queryset(request).filter(pk=object_id).first()
        if obj is not None:
            extra_context["can_decide"] = selectors.may_decide(request.user, obj)
        return super().change_view(request, object_id, form_url, extra_context)

    def decide_view(self, request, pk):
        req = self.get_queryset(request).filter(pk=pk).select_related("dac", "applicant").first()
        if req is None:
            raise Http404
        form = DecisionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            verdict, comment, end = form.cleaned_data["verdict"], form.cleaned_data["comment"], form.cleaned_data["end"]
            try:
                if verdict == Decision.Verdict.APPROVE:
                    services.approve_request(
                        access_request=req, member=request.user, end=end, comment=comment, request=request
                    )
                elif verdict == Decision.Verdict.REJECT:
                    services.reject_request(access_request=req, member=request.user, reason=comment, request=request)
                else:
                    services.return_request(access_request=req, member=request.user, comment=comment, request=request)
            except ArchiveError as exc:
                form.add_error(None, exc.detail)
            else:
                req.refresh_from_db()
                messages.success(
                    request,
                    _("Your decision was recorded; the request is now %(status)s.")
                    % {"status": req.get_status_display()},
                )
                return redirect("admin:access_accessrequest_change", req.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": req,
            "form": form,
            "title": _("Decide on request #%(id)s") % {"id": req.pk},
            "datasets": req.datasets.all(),
        }
        return TemplateResponse(request, "admin/access/accessrequest/decide.html", context)


class RevokeForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 60})
    )


@admin.register(Entitlement)
class EntitlementAdmin(DACScopedAdmin):
    dac_path = "dataset__dac"
    list_display = ["id", "user", "dataset", "status", "start", "end", "granted_by"]
    list_filter = ["status", ("dataset", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "dataset__accession"]
    fields = [
        "holder",
        "dataset_name",
        "status",
        "start",
        "end",
        "granted_by_name",
        "granted_at",
        "request_link",
        "revoked_at",
        "revoked_by_name",
        "revoke_reason",
        "reminder_sent_at",
    ]
    readonly_fields = fields
    change_form_template = "admin/access/entitlement/change_form.html"
    actions = ["revoke_selected"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_revoke_permission(self, request):
        return request.user.is_active and request.user.dacs.exists()

    @admin.action(description=gettext_lazy("Revoke selected entitlements"), permissions=["revoke"])
    def revoke_selected(self, request, queryset):
        """Asks for the reason on an intermediate page, then revokes each through the service."""
        form = RevokeForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            reason = form.cleaned_data["reason"]
            _run_each(
                request,
                queryset,
                lambda ent: services.revoke_entitlement(
                    entitlement=ent, member=request.user, reason=reason, request=request
                ),
                _("Entitlement #%(id)s was revoked."),
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "entitlements": queryset,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "title": _("Revoke entitlements"),
        }
        return TemplateResponse(request, "admin/access/entitlement/revoke_selected.html", context)

    @admin.display(description=gettext_lazy("Holder"))
    def holder(self, obj):
        return f"{obj.user.username} ({obj.user.email})"

    @admin.display(description=gettext_lazy("Dataset"))
    def dataset_name(self, obj):
        return f"{obj.dataset.accession} {obj.dataset.title}"

    @admin.display(description=gettext_lazy("Granted by"))
    def granted_by_name(self, obj):
        return obj.granted_by.username if obj.granted_by else "-"

    @admin.display(description=gettext_lazy("Revoked by"))
    def revoked_by_name(self, obj):
        return obj.revoked_by.username if obj.revoked_by else "-"

    @admin.display(description=gettext_lazy("Request"))
    def request_link(self, obj):
        from django.utils.html import format_html

        if not obj.access_request_id:
            return "-"
        return format_html(
            '<a href="{}">#{}</a>',
            reverse("admin:access_accessrequest_change", args=[obj.access_request_id]),
            obj.access_request_id,
        )

    def get_urls(self):
        return [
            path("<int:pk>/revoke/", self.admin_site.admin_view(self.revoke_view), name="access_entitlement_revoke"),
            *super().get_urls(),
        ]

    def revoke_view(self, request, pk):
        ent = self.get_queryset(request).filter(pk=pk).select_related("dataset", "user").first()
        if ent is None:
            raise Http404
        form = RevokeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.revoke_entitlement(
                    entitlement=ent, member=request.user, reason=form.cleaned_data["reason"], request=request
                )
            except ArchiveError as exc:
                form.add_error(None, exc.detail)
            else:
                messages.success(request, _("The entitlement was revoked."))
                return redirect("admin:access_entitlement_change", ent.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": ent,
            "form": form,
            "title": _("Revoke entitlement #%(id)s") % {"id": ent.pk},
        }
        return TemplateResponse(request, "admin/access/entitlement/revoke.html", context)


@admin.register(DACBlock)
class DACBlockAdmin(DACScopedAdmin):
    """A DAC's blocks of people, for its members (and operators): who, why, by whom, lifted or
    standing. Blocks are made and lifted through POST/DELETE /api/dacs/{acc}/blocks (or the
    "lift" action here), through the same services, so each is audited."""

    list_display = ["id", "dac", "person", "reason", "created_by", "created_at", "standing", "lifted_at"]
    list_filter = [("dac", admin.RelatedOnlyFieldListFilter), ("lifted_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username", "subject", "issuer", "reason", "dac__accession"]
    fields = ["dac", "person", "reason", "created_by", "created_at", "lifted_at", "lifted_by"]
    readonly_fields = fields
    actions = ["lift_selected"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_lift_permission(self, request):
        return _member_or_operator(request.user)

    @admin.display(description=gettext_lazy("Person"))
    def person(self, obj):
        return obj.user.get_username() if obj.user_id else f"{obj.subject} @ {obj.issuer}"

    @admin.display(description=gettext_lazy("Standing"), boolean=True)
    def standing(self, obj):
        return obj.active

    @admin.action(description=gettext_lazy("Lift selected blocks"), permissions=["lift"])
    def lift_selected(self, request, queryset):
        _run_each(
            request,
            queryset.filter(lifted_at__isnull=True),
            lambda block: services.lift_block(block=block, actor=request.user, request=request),
            _("Block #%(id)s lifted."),
        )
