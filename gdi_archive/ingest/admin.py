"""Admin for archive files (catalogue.File): ingest progress, status, errors and history.

Stewards and operators only; files are added by uploading (API or `ingest_file`), never here,
and nothing is deleted or edited by hand. The one action restarts a failed ingest whose upload
is still in the inbox.
"""

from django.contrib import admin, messages
from django.template.defaultfilters import filesizeformat

from gdi_archive.accounts.permissions import is_admin_steward
from gdi_archive.catalogue.models import File, FileEvent
from gdi_archive.common.admin import ReadOnlyAdminMixin

from . import services


class FileEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = FileEvent
    fields = ["at", "status", "detail"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "History"

    def has_view_permission(self, request, obj=None):
        return is_admin_steward(request.user)


@admin.register(File)
class FileAdmin(admin.ModelAdmin):
    list_display = ["__str__", "name", "format", "status", "progress", "size", "submitter", "index_of", "created_at"]
    list_filter = ["status", "format", ("index_of", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["accession", "name", "inbox_name", "submitter__username", "sha256", "md5"]
    list_select_related = ["submitter", "index_of"]
    date_hierarchy = "created_at"
    inlines = [FileEventInline]
    actions = ["ingest_again"]
    fieldsets = [
        (None, {"fields": ["accession", "name", "inbox_name", "format", "submitter", "index_of", "datasets_list"]}),
        ("Ingest", {"fields": ["status", "error", "progress", "bytes_done", "bytes_total", "attempt_info"]}),
        ("Checksums", {"fields": ["sha256", "md5", "stored_sha256", "supplied_sha256", "supplied_md5"]}),
        ("Storage", {"fields": ["plaintext_size", "stored_size", "location", "inbox_location", "archive_key_id"]}),
        ("Times", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [f for fieldset in self.fieldsets for f in fieldset[1]["fields"]]

    @admin.display(description="progress")
    def progress(self, file: File) -> str:
        if file.status == File.Status.READY:
            return "100%"
        if not file.bytes_total:
            return "-"
        return f"{100 * file.bytes_done // file.bytes_total}% of {filesizeformat(file.bytes_total)}"

    @admin.display(description="size", ordering="plaintext_size")
    def size(self, file: File) -> str:
        return filesizeformat(file.plaintext_size) if file.plaintext_size is not None else "-"

    @admin.display(description="datasets")
    def datasets_list(self, file: File) -> str:
        return ", ".join(str(d) for d in file.datasets.all()) or "-"

    @admin.display(description="current attempt")
    def attempt_info(self, file: File) -> str:
        job = getattr(file, "ingest_job", None)
        if job is None or not job.attempt:
            return "-"
        text = f"attempt {job.attempt} on {job.worker or '?'}"
        if job.heartbeat_at:
            text += f", last sign of life {job.heartbeat_at:%Y-%m-%d %H:%M:%S %Z}"
        return text

    @admin.action(description="Ingest again (failed files whose upload is still in the inbox)")
    def ingest_again(self, request, queryset):
        restarted = sum(services.restart_ingest(file=file, actor=request.user) for file in queryset)
        skipped = queryset.count() - restarted
        self.message_user(request, f"{restarted} file(s) queued for ingest again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} file(s) skipped: only failed files whose upload is still in the "
                "inbox can be restarted; the others must be uploaded again.",
                messages.WARNING,
            )

    def has_module_permission(self, request):
        return is_admin_steward(request.user)

    def has_view_permission(self, request, obj=None):
        return is_admin_steward(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return is_admin_steward(request.user)  # needed for the action; every field is read-only

    def has_delete_permission(self, request, obj=None):
        return False
