"""Admin pieces shared by the apps, and the admin's branding (it is for stewards and operators;
DAC members decide on the workbench at /dac/)."""

from django.contrib import admin

admin.site.site_header = "gdi-archive administration"
admin.site.site_title = "gdi-archive admin"
admin.site.index_title = "Stewardship and operations"


class ReadOnlyAdminMixin:
    """For admin pages that show records and never write them (history, audit, decisions):
    no add, change or delete, whoever asks; viewing is left to the class using it."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
