"""The audit log in the admin: read-only for operators, filterable by action, time and target."""

from django.contrib import admin

from gdi_archive.common.admin import ReadOnlyAdminMixin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at", "actor_name", "action", "target_type", "target_id", "client_address"]
    list_filter = ["action", "target_type", ("at", admin.DateFieldListFilter)]
    search_fields = ["actor_name", "action", "target_id"]
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
    list_per_page = 100

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and (request.user.is_superuser or request.user.has_perm("audit.view_auditevent"))
